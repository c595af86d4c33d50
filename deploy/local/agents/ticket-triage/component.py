# Ticket Triage: a Langflow custom component (standard library only).
#
# Reads one support ticket and decides, with explainable rules, its category,
# priority (P1-P4), sentiment, product area, the team that should own it and
# a first reply. Every decision lists the cues that drove it, so a support
# lead can see why a ticket was ranked P1 and correct the rules if needed.
# No LLM is involved: the answer is deterministic and costs no tokens.
import json
import re

from lfx.custom.custom_component.component import Component
from lfx.io import MessageTextInput, Output
from lfx.schema.message import Message

# Category -> (weighted patterns). A pattern is a regex matched on the
# lower-cased ticket; weights let strong phrases beat incidental words.
CATEGORIES = {
    "outage": [
        (r"\b(is|are|went|goes|seems) down\b", 4), (r"\boutage\b", 4), (r"\bnot loading\b", 2),
        (r"\b50[0234]\b", 2), (r"\bservice unavailable\b", 3), (r"\bgateway time-?out\b", 3),
        (r"\bnothing works\b", 3), (r"\bunreachable\b", 3), (r"\bcompletely (broken|unusable)\b", 3),
        (r"\b(all|every) (requests?|calls?|runs?) (are )?fail", 4), (r"\bstatus page\b", 2),
        (r"\btimes? out\b", 1), (r"\btimeouts?\b", 1), (r"\bdegraded\b", 2),
    ],
    "security": [
        (r"\b(leak(ed)?|exposed|compromised)\b", 4), (r"\bbreach\b", 4), (r"\bsuspicious\b", 3),
        (r"\bunauthori[sz]ed\b", 3), (r"\bphishing\b", 4), (r"\bvulnerab", 4), (r"\bhack(ed|er)?\b", 4),
        (r"\bapi key (was )?(posted|committed|published)\b", 4), (r"\bgdpr\b", 2), (r"\bdata deletion\b", 2),
    ],
    "billing": [
        (r"\binvoice", 3), (r"\bcharged?\b", 3), (r"\bcharges?\b", 2), (r"\brefund", 4), (r"\bbilling\b", 3),
        (r"\bcredit card\b", 3), (r"\bpayment", 3), (r"\bsubscription\b", 2), (r"\bprice|pricing\b", 2),
        (r"\bvat\b", 2), (r"\breceipt\b", 2), (r"\bdouble[- ]charged|charged twice\b", 4),
        (r"\bcredits? (were|was|got)? ?(deducted|debited|taken)\b", 3), (r"\bplan\b", 1), (r"\bdowngrade|upgrade\b", 2),
        (r"\bcancel (my )?(subscription|plan)\b", 3), (r"\$\s?\d", 1), (r"\b\d+([.,]\d{2})? ?(usd|eur|€)\b", 1),
    ],
    "account access": [
        (r"\b(can ?not|can't|cannot|unable to) (log ?in|sign ?in|access)\b", 4), (r"\blog ?in\b", 2), (r"\bsign ?in\b", 2),
        (r"\bpassword\b", 3), (r"\blocked out\b", 4), (r"\b2fa|mfa|two[- ]factor\b", 3), (r"\bsso\b", 2),
        (r"\binvit(e|ation)\b", 2), (r"\baccess denied|forbidden|403\b", 2), (r"\baccount (is )?(locked|disabled|suspended)\b", 4),
        (r"\breset link\b", 3), (r"\bverification email\b", 3),
    ],
    "api key": [
        (r"\bapi[- ]?keys?\b", 3), (r"\b401\b", 2), (r"\bunauthori[sz]ed\b", 1), (r"\bcmp_live_", 3),
        (r"\brevoke", 2), (r"\brotate|rotation\b", 2), (r"\binvalid (api )?key\b", 3),
    ],
    "bug": [
        (r"\bbug\b", 3), (r"\berror\b", 2), (r"\bexception\b", 2), (r"\bcrash", 3), (r"\bbroken\b", 2),
        (r"\bwrong\b", 1), (r"\bunexpected\b", 2), (r"\bstack ?trace\b", 3), (r"\bregression\b", 3),
        (r"\bdoes(n't| not) work\b", 2), (r"\bstopped working\b", 2), (r"\bglitch\b", 2), (r"\bsteps to reproduce\b", 3),
        (r"\bnull|undefined\b", 1), (r"\bincorrect\b", 1), (r"\b4(00|22|29)\b", 1),
    ],
    "feature request": [
        (r"\bfeature request\b", 5), (r"\bwould be (nice|great|helpful)\b", 4), (r"\bplease add\b", 4),
        (r"\bcould you (add|support)\b", 4), (r"\bsupport for\b", 2), (r"\bwish\b", 2), (r"\bsuggest(ion)?\b", 3),
        (r"\broadmap\b", 3), (r"\bintegration with\b", 2), (r"\bdark mode\b", 3), (r"\bexport to\b", 2),
        (r"\bit would help\b", 3), (r"\bany plans?\b", 3),
    ],
    "how-to question": [
        (r"\bhow (do|can|to|should)\b", 3), (r"\bis it possible\b", 3), (r"\bwhere (can|do) i\b", 3),
        (r"\bdocumentation\b", 2), (r"\bwhat is the (best )?way\b", 3), (r"\bexample\b", 1), (r"\?\s*$", 1),
    ],
}

URGENCY_CUES = [
    (r"(?<!not )\burgent(ly)?\b", "says it is urgent", 2), (r"\basap\b", "asks for ASAP", 2), (r"\bimmediately\b", "asks for immediate action", 2),
    (r"\bemergency\b", "calls it an emergency", 3), (r"\bcritical\b", "calls it critical", 2),
    (r"\b(right now|as we speak)\b", "happening right now", 1), (r"\btoday\b", "deadline today", 1),
    (r"\bdeadline\b", "mentions a deadline", 1), (r"\b(since|for) (the last )?\d+ (minutes|hours)\b", "ongoing for a measured time", 1),
    (r"!{2,}", "repeated exclamation marks", 1), (r"\bblock(ed|ing|er)\b", "work is blocked", 2),
]

IMPACT_CUES = [
    (r"\b(all|every|none of (our|the)) (users|customers|requests|calls|runs|agents|team)\b", "affects all users/requests", 3),
    (r"\b(entire|whole) (team|company|organi[sz]ation|platform)\b", "affects a whole team or company", 3),
    (r"\bproduction\b", "production is affected", 2), (r"\b(customers|clients) (are|can't|cannot|complain)", "their customers are affected", 2),
    (r"\blosing (money|revenue|sales|customers)\b", "revenue loss", 3), (r"\brevenue\b", "revenue mentioned", 1),
    (r"\bdata loss|lost (all )?(our )?data\b", "possible data loss", 3), (r"\bsla\b", "SLA at stake", 2),
    (r"\b\d{2,}\s*(users|customers|seats|people)\b", "many users named", 2), (r"\bmultiple (users|customers|accounts)\b", "multiple users", 2),
    (r"\benterprise|pro plan\b", "paid-plan customer", 1),
]

MITIGATION_CUES = [
    (r"\bwork-?around\b", "a workaround exists", -1), (r"\bnot urgent\b", "says it is not urgent", -3),
    (r"\bno rush\b", "says there is no rush", -3), (r"\bwhen you (have|get) (a chance|time)\b", "low time pressure", -2),
    (r"\bminor\b", "calls it minor", -2), (r"\bcosmetic\b", "cosmetic issue", -2), (r"\bjust (a|one) (question|user)\b", "single user or question", -1),
    (r"\bintermittent(ly)?|sometimes|occasionally\b", "intermittent", -1),
]

NEGATIVE_WORDS = {
    "angry", "frustrated", "frustrating", "unacceptable", "terrible", "awful", "horrible", "worst", "disappointed",
    "disappointing", "annoyed", "annoying", "ridiculous", "useless", "furious", "upset", "cancel", "broken", "again",
    "still", "waste", "unhappy", "poor", "bad", "fail", "failed", "failing", "fails", "problem", "issue", "wrong",
}
POSITIVE_WORDS = {
    "thanks", "thank", "great", "love", "awesome", "appreciate", "appreciated", "excellent", "happy", "nice", "good",
    "helpful", "wonderful", "amazing", "please", "kind",
}
NEGATORS = {"not", "no", "never", "isn't", "wasn't", "don't", "doesn't", "didn't", "hardly"}

PRODUCT_AREAS = [
    ("API keys", r"\bapi[- ]?keys?\b|\bcmp_live_"),
    ("Runs API", r"/v1/runs|\bapi\b(?![- ]?keys?)|\bendpoints?\b|\b(api|http) requests?\b|\bsdk\b|\bcurl\b|\bwebhooks?\b"),
    ("Billing & credits", r"\binvoice|\bcredits?\b|\bbilling\b|\bpayment|\bcheckout\b|\bsubscription|\bplan\b|\brefund"),
    ("Sign-in & workspace", r"\blog ?in\b|\bsign ?in\b|\bsso\b|\bpassword\b|\bworkspace\b|\binvit|\b2fa|\bmfa\b"),
    ("Agent store", r"\bstore\b|\bcatalog\b|\blisting\b|\bdemo\b|\bbrowse\b"),
    ("Agent runtime", r"\bagent\b|\bflow\b|\blangflow\b|\bresponse time\b|\blatency\b|\bslow\b|\btimeout"),
    ("Dashboard & usage", r"\bdashboards?\b|\busage\b|\bstatements?\b|\bbalances?\b|\breports?\b"),
]

TEAMS = {
    "outage": "Site Reliability (on-call)",
    "security": "Security & Trust",
    "billing": "Billing Operations",
    "account access": "Identity & Access Support",
    "api key": "Developer Support",
    "bug": "Product Engineering (triage rotation)",
    "feature request": "Product Management",
    "how-to question": "Customer Success",
    "general inquiry": "Customer Success",
}

BASE_PRIORITY_SCORE = {
    "outage": 5, "security": 5, "account access": 2, "api key": 2, "billing": 2, "bug": 2,
    "feature request": 0, "how-to question": 0, "general inquiry": 0,
}

SLA = {"P1": "15 minutes, 24/7", "P2": "2 business hours", "P3": "1 business day", "P4": "3 business days"}


def _find(patterns, text):
    return [(p, w) for p, w in patterns if re.search(p, text)]


def classify(text):
    lower = text.lower()
    scores = {}
    evidence = {}
    for category, patterns in CATEGORIES.items():
        hits = _find(patterns, lower)
        if hits:
            scores[category] = sum(w for _, w in hits)
            evidence[category] = [re.search(p, lower).group(0).strip() for p, _ in hits]
    if not scores:
        return "general inquiry", [], {}
    best = max(scores, key=lambda c: (scores[c], -list(CATEGORIES).index(c)))
    return best, evidence[best], scores


def priority(category, text):
    lower = text.lower()
    reasons = []
    score = BASE_PRIORITY_SCORE[category]
    reasons.append(f"category '{category}' starts at {score}")
    for group in (URGENCY_CUES, IMPACT_CUES, MITIGATION_CUES):
        for pattern, label, weight in group:
            match = re.search(pattern, lower)
            if match:
                score += weight
                reasons.append(f"{label} (\"{match.group(0).strip()}\", {weight:+d})")
    # P1 needs an incident-class category plus wide impact, or overwhelming cues.
    if score >= 8:
        level = "P1"
    elif score >= 4:
        level = "P2"
    elif score >= 1:
        level = "P3"
    else:
        level = "P4"
    # An outage or a security incident that touches everyone is never below P1.
    if category in ("outage", "security") and any("affects all" in r or "production" in r or "data loss" in r for r in reasons):
        level = "P1"
    return level, score, reasons


def sentiment(text):
    words = re.findall(r"[a-z']+", text.lower())
    score = 0
    cues = []
    for i, word in enumerate(words):
        polarity = 1 if word in POSITIVE_WORDS else -1 if word in NEGATIVE_WORDS else 0
        if not polarity:
            continue
        if any(w in NEGATORS for w in words[max(0, i - 2):i]):
            polarity = -polarity
        score += polarity
        cues.append(word)
    shouting = len(re.findall(r"\b[A-Z]{4,}\b", text))
    if shouting >= 2 or "!!" in text:
        score -= 2
        cues.append("shouting")
    if score <= -3:
        label = "angry"
    elif score < 0:
        label = "negative"
    elif score > 1:
        label = "positive"
    else:
        label = "neutral"
    return label, score, cues[:8]


def product_area(text):
    lower = text.lower()
    # Most matches wins; on a tie the earlier (more specific) area in the list wins.
    ranked = sorted(((-len(re.findall(p, lower)), i, name) for i, (name, p) in enumerate(PRODUCT_AREAS)))
    return ranked[0][2] if ranked[0][0] < 0 else "General"


def extract_references(text):
    refs = {}
    # "INV-2024-0931" as written, or the number after "invoice (#|no.|number)"; a reference holds a digit.
    invoices = re.findall(r"\b(INV-?[A-Z0-9-]*\d[A-Z0-9-]*)\b", text, re.IGNORECASE)
    invoices += re.findall(r"\binvoice\s*(?:#|no\.?|number)?\s*:?\s*(?!INV)([A-Z0-9-]*\d[A-Z0-9-]*)\b", text, re.IGNORECASE)
    if invoices:
        refs["invoice"] = sorted(set(invoices))
    codes = re.findall(r"\b(?:HTTP |error |status )?([45]\d\d)\b", text)
    if codes:
        refs["http_status"] = sorted(set(codes))
    emails = re.findall(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b", text)
    if emails:
        refs["email"] = sorted(set(emails))
    run_ids = re.findall(r"\brun[_ -]?(?:id)?[:# ]?\s?([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})\b", text, re.IGNORECASE)
    if run_ids:
        refs["run_id"] = sorted(set(run_ids))
    return refs


def first_reply(category, level, sentiment_label, refs):
    opening = "Hi there,\n\n"
    if sentiment_label in ("angry", "negative"):
        opening += "I'm sorry for the trouble this is causing you, and thank you for the clear report. "
    else:
        opening += "Thanks for reaching out. "
    ref_note = ""
    if refs.get("invoice"):
        ref_note = f" I have noted invoice {', '.join(refs['invoice'])}."
    elif refs.get("run_id"):
        ref_note = f" I have noted run {', '.join(refs['run_id'])}."
    elif refs.get("http_status"):
        ref_note = f" I have noted the HTTP {', '.join(refs['http_status'])} responses."
    bodies = {
        "outage": "Our on-call engineers are investigating the service disruption now; you will get an update within 30 minutes and can follow it on our status page. Please send the approximate start time and one affected request id if you have them.",
        "security": "Our security team is treating this as a priority incident. If an API key may be exposed, revoke it now in Workspace > API keys and create a new one; we will confirm our findings to you directly.",
        "billing": "Our billing team will review the charges on your account and reply within one business day. If a charge was made in error, we refund it to the original payment method.",
        "account access": "Let's get you back in. Please use the 'Forgot password' link on the sign-in page; if you sign in through your company's SSO, your administrator can check that your account is assigned to CMP. Reply with the email address you sign in with if it still fails.",
        "api key": "API keys are shown once when created. If a key returns 401, check that it is sent as 'Authorization: Bearer <key>' and that it has not been revoked; you can create a new key at any time in Workspace > API keys.",
        "bug": "I have passed this to our engineering triage team. To speed things up, please send the steps to reproduce, what you expected, what happened instead, and a run id or screenshot.",
        "feature request": "I have shared your suggestion with our product team, who review requests every week. We will let you know if it makes it onto the roadmap.",
        "how-to question": "Happy to help. Our documentation covers this under Getting started; I have also asked a specialist to send you a short step-by-step answer.",
        "general inquiry": "A member of our team will look at your message and get back to you shortly.",
    }
    closing = f"\n\nYour ticket is filed as {level}; we aim to respond within {SLA[level]}.\n\nBest regards,\nCMP Support"
    return opening + bodies[category] + ref_note + closing


def triage(text):
    category, category_cues, scores = classify(text)
    level, level_score, level_reasons = priority(category, text)
    mood, mood_score, mood_cues = sentiment(text)
    area = product_area(text)
    refs = extract_references(text)
    team = TEAMS[category]
    reply = first_reply(category, level, mood, refs)
    return {
        "category": category,
        "category_cues": category_cues,
        "category_scores": scores,
        "priority": level,
        "priority_score": level_score,
        "priority_reasons": level_reasons,
        "response_target": SLA[level],
        "sentiment": mood,
        "sentiment_score": mood_score,
        "sentiment_cues": mood_cues,
        "product_area": area,
        "suggested_team": team,
        "references": refs,
        "suggested_reply": reply,
    }


def render(result):
    cues = ", ".join(f"\"{c}\"" for c in result["category_cues"]) or "no specific keywords"
    lines = [
        f"## Ticket triage: {result['priority']} · {result['category']}",
        "",
        "| | |",
        "|---|---|",
        f"| **Category** | {result['category']} |",
        f"| **Priority** | {result['priority']} (respond within {result['response_target']}) |",
        f"| **Sentiment** | {result['sentiment']} |",
        f"| **Product area** | {result['product_area']} |",
        f"| **Suggested team** | {result['suggested_team']} |",
        "",
        f"**Why this category:** {cues}.",
        "",
        "**Why this priority:**",
    ]
    lines += [f"- {r}" for r in result["priority_reasons"]]
    if result["references"]:
        lines += ["", "**References found:** " + "; ".join(f"{k}: {', '.join(v)}" for k, v in result["references"].items())]
    lines += ["", "### Suggested first reply", ""]
    lines += ["> " + line if line else ">" for line in result["suggested_reply"].split("\n")]
    machine = {k: result[k] for k in ("category", "priority", "sentiment", "product_area", "suggested_team", "priority_reasons", "references")}
    lines += ["", "```json", json.dumps(machine, indent=2), "```"]
    return "\n".join(lines)


class TicketTriage(Component):
    display_name = "Ticket Triage"
    description = "Classifies a support ticket: category, priority with reasons, sentiment, product area, team and a first reply."
    icon = "ticket"
    name = "TicketTriage"

    inputs = [
        MessageTextInput(name="ticket", display_name="Ticket", info="The support ticket text.", required=True),
    ]
    outputs = [
        Output(display_name="Triage", name="triage", method="build_triage"),
    ]

    def build_triage(self) -> Message:
        text = (self.ticket or "").strip()
        if not text:
            message = Message(text="Please paste the text of a support ticket (subject and body) to triage it.")
        else:
            message = Message(text=render(triage(text)))
        self.status = message
        return message
