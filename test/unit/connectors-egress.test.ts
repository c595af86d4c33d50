// The egress guard without a network: address classes, the allow-list, DNS
// answers from an injected lookup, and host pinning of operation URLs.
import { describe, expect, it } from 'vitest';
import { EgressGuard, EgressRefusedError, forbiddenReason, operationUrl, parseEgressAllow } from '../../core/connectors';
import { issueRunToken, verifyRunToken } from '../../core/connectors/run-token';
import { openSealedSecret, sealSecret } from '../../core/connectors/secrets';

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as EgressRefusedError;
  }
  throw new Error('expected a refusal');
};

describe('forbiddenReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'], ['10.1.2.3', 'private'], ['172.20.0.1', 'private'], ['192.168.1.1', 'private'], ['169.254.169.254', 'cloud metadata'],
    ['169.254.10.1', 'link-local'], ['100.64.0.1', 'carrier-grade NAT'], ['0.0.0.0', 'unspecified'], ['::1', 'loopback'], ['::', 'unspecified'],
    ['fe80::1', 'link-local'], ['fd12::1', 'unique-local'], ['::ffff:10.0.0.1', 'private'], ['::ffff:7f00:1', 'loopback'], ['fd00:ec2::254', 'cloud metadata'],
  ])('refuses %s (%s)', (address, reason) => expect(forbiddenReason(address)).toBe(reason));

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700::1111'])('lets public %s through', (address) => expect(forbiddenReason(address)).toBeNull());
});

describe('EgressGuard.check', () => {
  const lookup = async (host: string) => {
    const table: Record<string, { address: string; family: 4 | 6 }[]> = {
      'public.example': [{ address: '93.184.216.34', family: 4 }],
      'internal.example': [{ address: '10.0.0.7', family: 4 }],
      'mixed.example': [{ address: '93.184.216.34', family: 4 }, { address: '192.168.0.9', family: 4 }],
      'tools.test': [{ address: '127.0.0.1', family: 4 }],
    };
    const found = table[host];
    if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return found;
  };

  it('accepts a public host and answers the address to pin', async () => {
    expect(await new EgressGuard({ lookup }).check(new URL('https://public.example/x'))).toEqual({ address: '93.184.216.34', family: 4 });
  });

  it('refuses literal private IPs, names that resolve to one, and names with any private address', async () => {
    const guard = new EgressGuard({ lookup });
    for (const url of ['http://127.0.0.1:8080/', 'http://10.2.3.4/', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/', 'http://internal.example/', 'http://mixed.example/']) {
      const err = await refusal(guard.check(new URL(url)));
      expect(err).toBeInstanceOf(EgressRefusedError);
      expect(err).toMatchObject({ type: 'egress-refused', status: 403, reason: 'private-address' });
    }
    expect((await refusal(guard.check(new URL('http://169.254.169.254/')))).message).toContain('cloud metadata');
    expect(await refusal(guard.check(new URL('file:///etc/passwd')))).toMatchObject({ reason: 'scheme' });
    expect(await refusal(guard.check(new URL('http://nowhere.example/')))).toMatchObject({ reason: 'dns-failure' });
  });

  it('lets the operator allow a CIDR or a host:port, and nothing more', async () => {
    const guard = new EgressGuard({ lookup, allow: '10.0.0.0/24, 127.0.0.1:4567' });
    await expect(guard.check(new URL('http://internal.example/'))).resolves.toMatchObject({ address: '10.0.0.7' });
    await expect(guard.check(new URL('http://127.0.0.1:4567/'))).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(guard.check(new URL('http://tools.test:4567/'))).resolves.toMatchObject({ address: '127.0.0.1' });
    expect(await refusal(guard.check(new URL('http://127.0.0.1:4568/')))).toMatchObject({ reason: 'private-address' });
    expect(await refusal(guard.check(new URL('http://10.0.1.1/')))).toMatchObject({ reason: 'private-address' });
  });

  it('rejects allow-list entries it does not understand', () => {
    expect(() => parseEgressAllow('10.0.0.0/33')).toThrow(/bad CIDR/);
    expect(() => parseEgressAllow('just-a-host')).toThrow(/host:port/);
    expect(parseEgressAllow('').hostPorts.size).toBe(0);
  });
});

describe('operationUrl', () => {
  const op = { name: 'get', method: 'GET' as const, path: '/items/{id}', idempotent: true };
  it('fills and encodes placeholders under the base path', () => {
    expect(operationUrl('https://api.example/v2/', op, { id: 'a b/c' }, { q: 'x' }).toString()).toBe('https://api.example/v2/items/a%20b%2Fc?q=x');
  });
  it('never leaves the base path or host', () => {
    expect(() => operationUrl('https://api.example/v2', op, { id: '..' })).toThrow(/may not be/);
    expect(() => operationUrl('https://api.example/v2', op, {})).toThrow(/Missing parameter id/);
    expect(operationUrl('https://api.example/v2', { ...op, path: '//evil.example/x' }).host).toBe('api.example');
  });
});

describe('run tokens and sealed secrets', () => {
  const secret = 'a-signing-secret-of-at-least-32-characters';
  it('verifies its own tokens and refuses forged, foreign and expired ones', async () => {
    const token = await issueRunToken({ orgId: 'o', instanceId: 'i', runId: 'r', ttlMs: 1000, signingSecret: secret });
    expect(await verifyRunToken(token, secret)).toEqual({ orgId: 'o', instanceId: 'i', runId: 'r' });
    await expect(verifyRunToken(token, `${secret}-other`)).rejects.toMatchObject({ status: 401 });
    const [h, p] = token.split('.');
    await expect(verifyRunToken(`${h}.${p}.AAAA`, secret)).rejects.toMatchObject({ status: 401 });
    const old = await issueRunToken({ orgId: 'o', instanceId: 'i', runId: 'r', ttlMs: 0, signingSecret: secret, now: new Date(Date.now() - 3_600_000) });
    await expect(verifyRunToken(old, secret)).rejects.toMatchObject({ status: 401, detail: 'The run token has expired' });
  });

  it('opens a sealed secret only for its own call', () => {
    const sealed = sealSecret(secret, 'call-1', { kind: 'bearer', token: 'tok' });
    expect(sealed).not.toContain('tok');
    expect(openSealedSecret(secret, 'call-1', sealed)).toEqual({ kind: 'bearer', token: 'tok' });
    expect(() => openSealedSecret(secret, 'call-2', sealed)).toThrow();
  });
});
