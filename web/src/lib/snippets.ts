// Code that calls an agent, exactly as a buyer copies it: POST {API}/v1/runs
// with the API key as a bearer token and {agent, input} as the body. With no
// key given, the snippets read it from the CMP_API_KEY environment variable.

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function curlSnippet(apiUrl: string, agent: string, input: string, key?: string): string {
  const body = JSON.stringify({ agent, input });
  const auth = key ? `Authorization: Bearer ${key}` : 'Authorization: Bearer $CMP_API_KEY';
  return [
    `curl -sS -X POST ${apiUrl}/v1/runs \\`,
    `  -H ${key ? shellQuote(auth) : `"${auth}"`} \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -d ${shellQuote(body)}`,
  ].join('\n');
}

export function javascriptSnippet(apiUrl: string, agent: string, input: string, key?: string): string {
  return `// Node 18+ or any modern browser backend
const res = await fetch('${apiUrl}/v1/runs', {
  method: 'POST',
  headers: {
    Authorization: \`Bearer \${${key ? JSON.stringify(key) : 'process.env.CMP_API_KEY'}}\`,
    'Content-Type': 'application/json',
  },
  body: JSON.stringify(${JSON.stringify({ agent, input }, null, 2).replace(/\n/g, '\n  ')}),
});
const run = await res.json();
if (!res.ok) throw new Error(\`\${res.status}: \${run.detail}\`);
console.log(run.output);
console.log(\`charged \${run.credits_charged} credits\`);`;
}

export function pythonSnippet(apiUrl: string, agent: string, input: string, key?: string): string {
  return `# Python 3, standard library only
import json, os, urllib.request

request = urllib.request.Request(
    "${apiUrl}/v1/runs",
    data=json.dumps(${JSON.stringify({ agent, input })}).encode(),
    headers={
        "Authorization": "Bearer " + ${key ? JSON.stringify(key) : 'os.environ["CMP_API_KEY"]'},
        "Content-Type": "application/json",
    },
    method="POST",
)
with urllib.request.urlopen(request) as response:
    run = json.load(response)
print(run["output"])
print("charged", run["credits_charged"], "credits")`;
}

export function embedSnippet(origin: string, agent: string, name: string): string {
  return `<iframe
  src="${origin}/embed/${agent}?key=YOUR_INSTANCE_KEY"
  title="${name.replace(/"/g, '&quot;')} chat"
  width="380" height="560" loading="lazy"
  style="border:1px solid #e3e8ee;border-radius:12px"></iframe>`;
}

/** The official OpenAI SDK for TypeScript (`npm install openai`), pointed at CMP: model = agent slug. */
export function openAiTypescriptSnippet(apiUrl: string, agent: string, input: string, key?: string): string {
  return `// npm install openai
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: '${apiUrl}/v1', apiKey: ${key ? JSON.stringify(key) : 'process.env.CMP_API_KEY'} });
const stream = await client.chat.completions.create({
  model: ${JSON.stringify(agent)},
  messages: [{ role: 'user', content: ${JSON.stringify(input)} }],
  stream: true,
});
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? '');`;
}

/** The official OpenAI SDK for Python (`pip install openai`), pointed at CMP: model = agent slug. */
export function openAiPythonSnippet(apiUrl: string, agent: string, input: string, key?: string): string {
  return `# pip install openai
import os
from openai import OpenAI

client = OpenAI(base_url="${apiUrl}/v1", api_key=${key ? JSON.stringify(key) : 'os.environ["CMP_API_KEY"]'})
completion = client.chat.completions.create(
    model=${JSON.stringify(agent)},
    messages=[{"role": "user", "content": ${JSON.stringify(input)}}],
)
print(completion.choices[0].message.content)`;
}
