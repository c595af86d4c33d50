# FAQ Answerer: a Langflow custom component (standard library only).
#
# Answers a question from a markdown knowledge base with BM25 retrieval over
# normalised, Porter-stemmed terms (titles and tags weigh more than body
# text). It returns the best entry, its source titles and a confidence, and
# says plainly when nothing in the knowledge base matches instead of guessing.
# The knowledge base is a field of the node, so a deployment can swap it with
# a tweak without touching the code.
import math
import re
import unicodedata

from lfx.custom.custom_component.component import Component
from lfx.io import MessageTextInput, MultilineInput, Output
from lfx.schema.message import Message

STOPWORDS = set(
    """a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers how
    i if in into is it its itself just me more most my no nor not now of off on once only or other our ours out over
    own same she should so some such than that the their theirs them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your yours yourself
    cmp please tell know want need get got also use using many much can
    work works working worked""".split()
)
# ("How do credits work?": "work" says nothing of the topic, yet, rarer than "credit" in the entries, it
# outweighed it and picked an entry that mentions an instance that "keeps working".)

# Everyday words mapped to the vocabulary of the knowledge base.
SYNONYMS = {
    "token": "key", "tokens": "key", "apikey": "api key", "secret": "key",
    "money": "refund", "reimbursement": "refund", "reimburse": "refund", "charged": "charge",
    "expensive": "price", "costs": "cost", "fee": "price", "fees": "price", "subscribe": "subscription",
    "throttled": "rate limit", "throttling": "rate limit", "login": "sign in", "logon": "sign in",
    "signin": "sign in", "log": "sign", "safe": "security", "privacy": "security", "encrypted": "encryption",
    "trial": "demo", "try": "demo", "unsubscribe": "cancel", "quota": "rate limit", "slow": "timeout",
}


class PorterStemmer:
    """The classic Porter (1980) stemmer, so 'charges', 'charged' and 'charging' meet."""

    vowels = frozenset("aeiou")

    def _cons(self, w, i):
        ch = w[i]
        if ch in self.vowels:
            return False
        if ch == "y":
            return i == 0 or not self._cons(w, i - 1)
        return True

    def _m(self, stem):
        forms = "".join("c" if self._cons(stem, i) else "v" for i in range(len(stem)))
        return len(re.findall("vc", re.sub(r"(.)\1+", r"\1", forms)))

    def _has_vowel(self, stem):
        return any(not self._cons(stem, i) for i in range(len(stem)))

    def _double_cons(self, w):
        return len(w) >= 2 and w[-1] == w[-2] and self._cons(w, len(w) - 1)

    def _cvc(self, w):
        return (
            len(w) >= 3 and self._cons(w, len(w) - 3) and not self._cons(w, len(w) - 2)
            and self._cons(w, len(w) - 1) and w[-1] not in "wxy"
        )

    def _replace(self, w, rules, min_m):
        for suffix, repl in rules:
            if w.endswith(suffix):
                stem = w[: len(w) - len(suffix)]
                return stem + repl if self._m(stem) > min_m else w
        return w

    def stem(self, w):
        if len(w) <= 2:
            return w
        # Step 1a
        if w.endswith("sses"):
            w = w[:-2]
        elif w.endswith("ies"):
            w = w[:-2]
        elif w.endswith("ss"):
            pass
        elif w.endswith("s"):
            w = w[:-1]
        # Step 1b
        flag = False
        if w.endswith("eed"):
            if self._m(w[:-3]) > 0:
                w = w[:-1]
        elif w.endswith("ed") and self._has_vowel(w[:-2]):
            w, flag = w[:-2], True
        elif w.endswith("ing") and self._has_vowel(w[:-3]):
            w, flag = w[:-3], True
        if flag:
            if w.endswith(("at", "bl", "iz")):
                w += "e"
            elif self._double_cons(w) and w[-1] not in "lsz":
                w = w[:-1]
            elif self._m(w) == 1 and self._cvc(w):
                w += "e"
        # Step 1c
        if w.endswith("y") and self._has_vowel(w[:-1]):
            w = w[:-1] + "i"
        # Steps 2-4
        w = self._replace(w, [
            ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
            ("abli", "able"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
            ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
            ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
        ], 0)
        w = self._replace(w, [
            ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", ""),
        ], 0)
        for suffix in ("al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
                       "ism", "ate", "iti", "ous", "ive", "ize"):
            if w.endswith(suffix):
                stem = w[: len(w) - len(suffix)]
                if self._m(stem) > 1 and (suffix != "ion" or stem.endswith(("s", "t"))):
                    w = stem
                break
        # Step 5
        if w.endswith("e"):
            stem = w[:-1]
            if self._m(stem) > 1 or (self._m(stem) == 1 and not self._cvc(stem)):
                w = stem
        if self._m(w) > 1 and self._double_cons(w) and w.endswith("l"):
            w = w[:-1]
        return w


STEMMER = PorterStemmer()


def normalise(text):
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def terms(text):
    """Words -> synonyms -> stop words removed -> stems. Numbers such as 402 or 429 are kept."""
    out = []
    for word in re.findall(r"[a-z0-9_]+", normalise(text)):
        for part in SYNONYMS.get(word, word).split():
            if part in STOPWORDS or (len(part) < 2 and not part.isdigit()):
                continue
            out.append(STEMMER.stem(part))
    return out


def parse_knowledge_base(markdown):
    entries = []
    for block in re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]:
        title, _, rest = block.partition("\n")
        tags = ""
        body_lines = []
        for line in rest.strip().splitlines():
            if line.lower().startswith("tags:") and not tags:
                tags = line[5:].strip()
            else:
                body_lines.append(line)
        entries.append({"title": title.strip(), "tags": tags, "body": "\n".join(body_lines).strip()})
    return entries


class Bm25Index:
    """
    Okapi BM25 (k1=1.2, b=0.75); each entry is one document whose title and tags count three times. An entry
    whose every title term is in the question scores half as much again: the question names its subject
    ("How do credits work?" is "What are credits?", not "Credit packs").
    """

    def __init__(self, entries, k1=1.2, b=0.75):
        self.entries = entries
        self.k1, self.b = k1, b
        self.docs = []
        self.titles = [set(terms(e["title"])) for e in entries]
        for e in entries:
            self.docs.append(terms(e["title"]) * 3 + terms(e["tags"]) * 3 + terms(e["body"]))
        self.avgdl = sum(len(d) for d in self.docs) / max(1, len(self.docs))
        self.tf = []
        df = {}
        for d in self.docs:
            counts = {}
            for t in d:
                counts[t] = counts.get(t, 0) + 1
            self.tf.append(counts)
            for t in counts:
                df[t] = df.get(t, 0) + 1
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def score(self, query_terms, asked, i):
        """query_terms: the question's distinct terms in order; asked: the same as a set."""
        counts, dl = self.tf[i], len(self.docs[i])
        total = 0.0
        for t in query_terms:
            f = counts.get(t)
            if f:
                total += self.idf[t] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * dl / self.avgdl))
        if self.titles[i] and self.titles[i] <= asked:
            total *= 1.5
        return total

    def search(self, query, limit=3):
        q = list(dict.fromkeys(terms(query)))
        asked = set(q)
        ranked = sorted(((self.score(q, asked, i), i) for i in range(len(self.docs))), reverse=True)
        return q, [(s, self.entries[i]) for s, i in ranked[:limit] if s > 0]


_INDEX_CACHE = {}


def index_for(markdown):
    # The knowledge base rarely changes between runs: index it once per text.
    key = hash(markdown)
    if key not in _INDEX_CACHE:
        _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = Bm25Index(parse_knowledge_base(markdown))
    return _INDEX_CACHE[key]


def answer(question, markdown):
    index = index_for(markdown)
    query_terms, hits = index.search(question)
    known = [t for t in query_terms if t in index.idf]
    coverage = len(known) / len(query_terms) if query_terms else 0.0
    if not hits:
        return {"matched": False, "confidence": 0.0, "query_terms": query_terms, "sources": []}
    top_score, top = hits[0]
    # The best possible score for these query terms; the confidence is how close the top entry comes to it,
    # damped by the share of the question's words that the knowledge base knows at all.
    ideal = sum(index.idf[t] * (index.k1 + 1) / (1 + index.k1 * (1 - index.b)) for t in known) or 1.0
    strength = min(1.0, top_score / (0.5 * ideal))
    confidence = round(strength * (0.4 + 0.6 * coverage), 2)
    matched = confidence >= 0.25 and top_score >= 1.5
    related = [e for s, e in hits[1:] if s >= 0.75 * top_score]
    return {
        "matched": matched,
        "confidence": confidence,
        "query_terms": query_terms,
        "best": top,
        "related": related,
        "sources": [top["title"]] + [e["title"] for e in related],
        "nearest": [e["title"] for _, e in hits],
    }


def render(question, result):
    if not question.strip():
        return "Please ask a question about CMP, for example: \"How do I create an API key?\""
    if not result["matched"]:
        lines = [
            "I could not find an answer to that in the CMP knowledge base, so I will not guess.",
            "",
            "You can rephrase the question, or contact support from Workspace > Help.",
        ]
        if result.get("nearest"):
            lines += ["", "Topics I do cover that came closest: " + ", ".join(f"*{t}*" for t in result["nearest"]) + "."]
        lines += ["", f"_Confidence: {result['confidence']:.2f} (no match)_"]
        return "\n".join(lines)
    best = result["best"]
    level = "high" if result["confidence"] >= 0.6 else "medium" if result["confidence"] >= 0.4 else "low"
    lines = [f"**{best['title']}**", "", best["body"]]
    for entry in result["related"]:
        lines += ["", f"See also **{entry['title']}**: {entry['body'].split('. ')[0].rstrip('.')}."]
    lines += [
        "",
        "Sources: " + "; ".join(f"\"{t}\"" for t in result["sources"]),
        f"_Confidence: {result['confidence']:.2f} ({level})_",
    ]
    return "\n".join(lines)


class FaqAnswerer(Component):
    display_name = "FAQ Answerer"
    description = "Answers a question from a markdown knowledge base with BM25 retrieval, citing its sources."
    icon = "book-open"
    name = "FaqAnswerer"

    inputs = [
        MessageTextInput(name="question", display_name="Question", info="The user's question.", required=True),
        MultilineInput(
            name="knowledge_base",
            display_name="Knowledge base (markdown)",
            info="Entries as '## Title', an optional 'Tags:' line, then the answer text.",
            advanced=True,
        ),
    ]
    outputs = [
        Output(display_name="Answer", name="answer", method="build_answer"),
    ]

    def build_answer(self) -> Message:
        question = self.question or ""
        result = answer(question, self.knowledge_base or "") if question.strip() else {"matched": False}
        message = Message(text=render(question, result))
        self.status = message
        return message
