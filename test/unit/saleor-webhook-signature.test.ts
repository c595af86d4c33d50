// Saleor webhook verification: JWS with detached unencoded payload, event and
// API URL checks, and a JWKS refresh that forged key ids cannot abuse.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { createSaleorWebhookVerifier, SaleorWebhookError } from '../../core/saleor/webhook-signature';
import { signWebhookBody } from '../../deploy/local/saleor-sandbox/webhooks';

const API_URL = 'https://shop.example.com/graphql/';

async function newKey(): Promise<{ kid: string; privateKey: CryptoKey; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' } };
}

const body = Buffer.from(JSON.stringify({ order: { id: 'T3JkZXI6MQ==', number: '1', lines: [] } }));

async function delivery(key: { kid: string; privateKey: CryptoKey }, raw = body, overrides: Record<string, string | undefined> = {}) {
  return {
    'saleor-event': 'order_fully_paid',
    'saleor-domain': 'shop.example.com',
    'saleor-api-url': API_URL,
    'saleor-signature': await signWebhookBody(raw, key),
    ...overrides,
  };
}

async function rejection(p: Promise<unknown>): Promise<SaleorWebhookError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SaleorWebhookError);
  return err as SaleorWebhookError;
}

describe('Saleor webhook verifier (local key set)', () => {
  let key: Awaited<ReturnType<typeof newKey>>;
  let verifier: ReturnType<typeof createSaleorWebhookVerifier>;

  beforeAll(async () => {
    key = await newKey();
    verifier = createSaleorWebhookVerifier({ saleorApiUrl: API_URL, keySet: createLocalJWKSet({ keys: [key.publicJwk] }) });
  });

  it('accepts a valid delivery and returns the parsed payload', async () => {
    const headers = await delivery(key);
    expect(headers['saleor-signature']).toMatch(/^[\w-]+\.\.[\w-]+$/);
    const verified = await verifier.verify<{ order: { id: string } }>(body, headers);
    expect(verified.payload.order.id).toBe('T3JkZXI6MQ==');
    expect(verified.event).toBe('order_fully_paid');
    expect(verified.kid).toBe(key.kid);
  });

  it('signs header "." raw body with b64=false (RFC 7797)', async () => {
    const [protectedHeader] = (await signWebhookBody(body, key)).split('..');
    expect(JSON.parse(Buffer.from(protectedHeader!, 'base64url').toString())).toEqual({ alg: 'RS256', b64: false, crit: ['b64'], kid: key.kid });
  });

  it('accepts a Headers object and an API URL without the trailing slash', async () => {
    const headers = new Headers(await delivery(key, body, { 'saleor-api-url': 'https://shop.example.com/graphql' }));
    await expect(verifier.verify(body, headers)).resolves.toMatchObject({ event: 'order_fully_paid' });
  });

  it('rejects a body with one changed byte (401)', async () => {
    const headers = await delivery(key);
    const tampered = Buffer.from(body);
    tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 0x01;
    const err = await rejection(verifier.verify(tampered, headers));
    expect([err.reason, err.status]).toEqual(['bad-signature', 401]);
  });

  it('rejects a signature forged with another key under the real kid (401)', async () => {
    const forger = await newKey();
    const headers = await delivery({ kid: key.kid, privateKey: forger.privateKey });
    const err = await rejection(verifier.verify(body, headers));
    expect([err.reason, err.status]).toEqual(['bad-signature', 401]);
  });

  it('rejects an unknown key id (401)', async () => {
    const stranger = await newKey();
    const err = await rejection(verifier.verify(body, await delivery(stranger)));
    expect([err.reason, err.status]).toEqual(['unknown-key', 401]);
  });

  it.each(['saleor-signature', 'saleor-event', 'saleor-api-url'])('rejects a delivery without %s (400)', async (name) => {
    const err = await rejection(verifier.verify(body, await delivery(key, body, { [name]: undefined })));
    expect([err.reason, err.status]).toEqual(['missing-header', 400]);
  });

  it('rejects an event the endpoint does not expect (400)', async () => {
    const err = await rejection(verifier.verify(body, await delivery(key, body, { 'saleor-event': 'order_created' })));
    expect([err.reason, err.status]).toEqual(['unexpected-event', 400]);
  });

  it('rejects a delivery naming another Saleor (400)', async () => {
    const err = await rejection(verifier.verify(body, await delivery(key, body, { 'saleor-api-url': 'https://evil.example.com/graphql/' })));
    expect([err.reason, err.status]).toEqual(['wrong-api-url', 400]);
  });

  it('rejects an attached (non-detached) or non-b64=false signature (400)', async () => {
    const [h, s] = (await signWebhookBody(body, key)).split('..');
    const attached = `${h}.${body.toString('base64url')}.${s}`;
    let err = await rejection(verifier.verify(body, await delivery(key, body, { 'saleor-signature': attached })));
    expect([err.reason, err.status]).toEqual(['malformed-signature', 400]);
    const plainHeader = Buffer.from(JSON.stringify({ alg: 'RS256', kid: key.kid })).toString('base64url');
    err = await rejection(verifier.verify(body, await delivery(key, body, { 'saleor-signature': `${plainHeader}..${s}` })));
    expect(err.reason).toBe('malformed-signature');
  });
});

describe('Saleor webhook verifier (remote JWKS)', () => {
  const keys: JWK[] = [];
  let fetches = 0;
  let server: http.Server;
  let apiUrl: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/.well-known/jwks.json') {
        fetches += 1;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('fetches the JWKS from <Saleor>/.well-known/jwks.json, caches it, refreshes for a rotated key, and cools down on forged kids', async () => {
    // Keys first: RSA generation is slower than the cooldown under test.
    const [first, rotated, ...forgers] = await Promise.all(Array.from({ length: 7 }, () => newKey()));
    keys.push(first!.publicJwk);
    const verifier = createSaleorWebhookVerifier({ saleorApiUrl: apiUrl, jwksCooldownMs: 300 });
    const headersFor = async (k: { kid: string; privateKey: CryptoKey }) => delivery(k, body, { 'saleor-api-url': apiUrl });

    await verifier.verify(body, await headersFor(first!));
    await verifier.verify(body, await headersFor(first!));
    expect(fetches).toBe(1); // cached

    // Forged kids inside the cooldown: rejected without another fetch each.
    const forged = await Promise.all(forgers.map(headersFor));
    for (const headers of forged) {
      const err = await rejection(verifier.verify(body, headers));
      expect(err.reason).toBe('unknown-key');
    }
    expect(fetches).toBeLessThanOrEqual(2);

    // Saleor rotates its key: after the cooldown the unknown kid triggers one refresh.
    keys.push(rotated!.publicJwk);
    await new Promise((r) => setTimeout(r, 350));
    const before = fetches;
    await expect(verifier.verify(body, await headersFor(rotated!))).resolves.toMatchObject({ kid: rotated!.kid });
    expect(fetches).toBe(before + 1);
  });

  it('answers 503-class when the JWKS cannot be fetched (Saleor retries later)', async () => {
    const verifier = createSaleorWebhookVerifier({ saleorApiUrl: apiUrl, jwksUrl: 'http://127.0.0.1:1/.well-known/jwks.json' });
    const k = await newKey();
    const err = await rejection(verifier.verify(body, await delivery(k, body, { 'saleor-api-url': apiUrl })));
    expect([err.reason, err.status]).toEqual(['jwks-unavailable', 503]);
  });
});
