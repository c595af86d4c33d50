// /healthz answers while the process lives; /readyz reports each dependency
// and turns 503 when one is down or hangs.
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { createLogger } from '../../core/logger';

const app = (probes: Record<string, () => Promise<unknown>>) => createApp({ logger: createLogger('test', 'silent'), webOrigin: 'http://127.0.0.1:3000', probes });

describe('health', () => {
  it('is ready when every dependency answers, and says so per dependency', async () => {
    const res = await request(app({ postgres: async () => 1, temporal: async () => 1 })).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body.checks.postgres.ok).toBe(true);
    expect((await request(app({})).get('/healthz')).status).toBe(200);
  });

  it('answers 503 naming the dependency that is down or hangs', async () => {
    const res = await request(
      app({
        postgres: async () => 1,
        langflow: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:7860');
        },
        s3: () => new Promise(() => undefined),
      }),
    ).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.checks.langflow).toMatchObject({ ok: false, error: expect.stringContaining('ECONNREFUSED') });
    expect(res.body.checks.s3).toMatchObject({ ok: false, error: expect.stringContaining('timed out') });
    expect(res.body.checks.postgres.ok).toBe(true);
  });

  it('answers unknown routes with problem+json 404', async () => {
    const res = await request(app({})).get('/nope');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body.type).toBe('https://cmp.dev/problems/not-found');
  });
});
