// /openapi.json (generated from the same zod schemas that validate requests)
// and /docs, a self-contained API reference page rendered from it.
import { Router } from 'express';
import type { ApiDefinition } from '../openapi';

type Doc = { paths: Record<string, Record<string, { summary?: string; tags?: string[]; security?: unknown[]; parameters?: Array<{ name: string; in: string; required?: boolean }>; requestBody?: unknown; responses: Record<string, { description: string }> }>> };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderReference(doc: Doc): string {
  const byTag = new Map<string, string[]>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = op.tags?.[0] ?? 'Other';
      const params = (op.parameters ?? []).map((p) => `<code>${esc(p.name)}</code> <small>${p.in}${p.required ? ', required' : ''}</small>`).join(' · ');
      const responses = Object.entries(op.responses).map(([s, r]) => `<li><b>${s}</b> ${esc(r.description)}</li>`).join('');
      const html = `<article><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>
        <p>${esc(op.summary ?? '')}${op.security ? ' <small>(authenticated)</small>' : ' <small>(public)</small>'}</p>
        ${params ? `<p>Parameters: ${params}</p>` : ''}${op.requestBody ? '<p><small>JSON body: see /openapi.json</small></p>' : ''}<ul>${responses}</ul></article>`;
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const sections = [...byTag].map(([tag, items]) => `<section><h2>${esc(tag)}</h2>${items.join('')}</section>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>CMP API reference</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1a1f36}h1{color:#635bff}article{border:1px solid #e3e8ee;border-radius:8px;padding:.5rem 1rem;margin:.75rem 0}
.m{display:inline-block;min-width:4.5em;font-size:.8em;padding:.1em .4em;border-radius:4px;color:#fff;background:#635bff;text-align:center}.get{background:#0a7d55}.delete{background:#c0123c}.put,.patch{background:#a15c00}code{font-size:.95em}</style></head>
<body><h1>CMP API reference</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors are <code>application/problem+json</code> (RFC 9457).</p>${sections}</body></html>`;
}

export function createDocsRouter(api: ApiDefinition, serverUrl: string): Router {
  const router = Router();
  let cached: object | undefined;
  const doc = () => (cached ??= api.document(serverUrl));
  router.get('/openapi.json', (_req, res) => {
    res.json(doc());
  });
  router.get('/docs', (_req, res) => {
    // The page has inline styles only; helmet's default CSP allows them for style-src 'unsafe-inline'.
    res.type('html').send(renderReference(doc() as Doc));
  });
  return router;
}
