// The egress guard: every request the connector gateway sends to a tool goes
// through here. A tool's host is resolved once; if any of its addresses is
// private, loopback, link-local, CGNAT, unique-local, multicast, unspecified
// or a cloud metadata address, the request is refused unless the operator's
// allow-list (CONNECTOR_EGRESS_ALLOW) names it. The connection goes to the
// address that was checked (pinned through the socket's lookup), so a DNS
// answer that changes between check and connect (rebinding) cannot redirect
// it; TLS still verifies the certificate against the hostname. Redirects are
// followed by hand, re-checked, and never leave the binding's host, so the
// secret headers never travel elsewhere.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { EgressRefusedError, ToolRejectedError, ToolTimeoutError, ToolUnavailableError } from './errors';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves every address of a host (dns.lookup with all: true by default); tests inject their own. */
export type LookupAll = (hostname: string) => Promise<ResolvedAddress[]>;

export interface EgressOptions {
  /** Operator allow-list: CIDRs ("10.1.0.0/16", "127.0.0.1") or host:port ("127.0.0.1:4567", "tools.internal:443"). */
  allow?: string[] | string;
  lookup?: LookupAll;
  connectTimeoutMs?: number;
  totalTimeoutMs?: number;
  maxResponseBytes?: number;
  maxRedirects?: number;
}

export interface EgressRequest {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface EgressResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: string;
  /** The address the request was sent to. */
  address: string;
}

// Ranges no tool may live in unless the operator allows them; the label says why in the refusal.
const FORBIDDEN: Array<[cidr: string, label: string]> = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b::/96', 'NAT64'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
];
// Cloud metadata endpoints (AWS, GCP, Azure, Alibaba, AWS IPv6): named in refusals.
const METADATA = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', 'fd00:ec2::254']);

const forbiddenLists = FORBIDDEN.map(([cidr, label]) => {
  const list = new net.BlockList();
  const [addr, bits] = cidr.split('/') as [string, string];
  list.addSubnet(addr, Number(bits), net.isIPv6(addr) ? 'ipv6' : 'ipv4');
  return { list, label };
});

/** IPv4-mapped IPv6 (::ffff:10.0.0.1) is checked as the IPv4 address it is. */
function normalize(address: string): { address: string; type: 'ipv4' | 'ipv6' } {
  const lower = address.toLowerCase().replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return { address: mapped[1]!, type: 'ipv4' };
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hexMapped) {
    const hi = parseInt(hexMapped[1]!, 16);
    const lo = parseInt(hexMapped[2]!, 16);
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, type: 'ipv4' };
  }
  return { address: lower, type: net.isIPv6(lower) ? 'ipv6' : 'ipv4' };
}

/** Why an address is off limits ("loopback", "cloud metadata"…), or null when it is a public address. */
export function forbiddenReason(address: string): string | null {
  const n = normalize(address);
  if (METADATA.has(n.address)) return 'cloud metadata';
  for (const { list, label } of forbiddenLists) if (list.check(n.address, n.type)) return label;
  return null;
}

interface AllowList {
  cidrs: net.BlockList;
  hostPorts: Set<string>;
}

/** Parses CONNECTOR_EGRESS_ALLOW; throws on an entry it does not understand (a typo must not widen egress silently). */
export function parseEgressAllow(allow: string[] | string | undefined): AllowList {
  const entries = (Array.isArray(allow) ? allow : (allow ?? '').split(',')).map((e) => e.trim()).filter(Boolean);
  const cidrs = new net.BlockList();
  const hostPorts = new Set<string>();
  for (const entry of entries) {
    if (entry.includes('/')) {
      const [addr, bits] = entry.split('/') as [string, string];
      const type = net.isIPv6(addr) ? 'ipv6' : net.isIPv4(addr) ? 'ipv4' : undefined;
      const n = Number(bits);
      if (!type || !Number.isInteger(n) || n < 0 || n > (type === 'ipv4' ? 32 : 128)) throw new Error(`CONNECTOR_EGRESS_ALLOW: bad CIDR ${JSON.stringify(entry)}`);
      cidrs.addSubnet(addr, n, type);
    } else if (net.isIP(entry.replace(/^\[|\]$/g, ''))) {
      const addr = entry.replace(/^\[|\]$/g, '');
      cidrs.addAddress(addr, net.isIPv6(addr) ? 'ipv6' : 'ipv4');
    } else {
      const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(entry);
      if (!m) throw new Error(`CONNECTOR_EGRESS_ALLOW: expected a CIDR or host:port, got ${JSON.stringify(entry)}`);
      hostPorts.add(`${m[1]!.replace(/^\[|\]$/g, '').toLowerCase()}:${Number(m[2])}`);
    }
  }
  return { cidrs, hostPorts };
}

const defaultLookup: LookupAll = async (hostname) => {
  const found = await dns.promises.lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

const portOf = (url: URL) => Number(url.port || (url.protocol === 'https:' ? 443 : 80));
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class EgressGuard {
  private readonly allow: AllowList;
  private readonly lookup: LookupAll;
  readonly connectTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly maxRedirects: number;

  constructor(opts: EgressOptions = {}) {
    this.allow = parseEgressAllow(opts.allow);
    this.lookup = opts.lookup ?? defaultLookup;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3_000;
    this.totalTimeoutMs = opts.totalTimeoutMs ?? 10_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 1_048_576;
    this.maxRedirects = opts.maxRedirects ?? 3;
  }

  /** Resolves the URL's host once and checks every address; answers the address to connect to. */
  async check(url: URL): Promise<ResolvedAddress> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new EgressRefusedError('scheme', `Only http and https tools can be called, not ${url.protocol}`);
    }
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const port = portOf(url);
    let addresses: ResolvedAddress[];
    if (net.isIP(host)) addresses = [{ address: host, family: net.isIPv6(host) ? 6 : 4 }];
    else {
      try {
        addresses = await this.lookup(host);
      } catch (err) {
        throw new EgressRefusedError('dns-failure', `The tool's host ${host} could not be resolved (${(err as { code?: string }).code ?? (err as Error).message})`, { host });
      }
      if (addresses.length === 0) throw new EgressRefusedError('dns-failure', `The tool's host ${host} has no address`, { host });
    }
    const hostAllowed = this.allow.hostPorts.has(`${host}:${port}`);
    for (const a of addresses) {
      const reason = forbiddenReason(a.address);
      if (!reason) continue;
      const n = normalize(a.address);
      const allowed = hostAllowed || this.allow.hostPorts.has(`${n.address}:${port}`) || this.allow.cidrs.check(n.address, n.type);
      if (!allowed) {
        throw new EgressRefusedError(
          'private-address',
          `Calls to ${host}${host === a.address ? '' : ` (${a.address})`} are refused: it is a ${reason} address. An operator can allow it in CONNECTOR_EGRESS_ALLOW.`,
          { host, address: a.address, range: reason },
        );
      }
    }
    return addresses[0]!;
  }

  /**
   * Sends one request to `url`, which must be on `allowedHost` (host:port of the binding), and
   * follows up to maxRedirects redirects on that same host, each checked again.
   */
  async request(url: URL, req: EgressRequest, allowedHost: string): Promise<EgressResponse> {
    const deadline = Date.now() + this.totalTimeoutMs;
    let current = url;
    let method = req.method.toUpperCase();
    let body = req.body;
    for (let hop = 0; ; hop++) {
      const target = await this.check(current);
      if (`${current.hostname.toLowerCase()}:${portOf(current)}` !== allowedHost) {
        throw new EgressRefusedError(
          hop === 0 ? 'host-mismatch' : 'redirect-to-other-host',
          `${hop === 0 ? 'Requests' : 'Redirects'} may only go to the binding's host ${allowedHost}, not ${current.host}`,
          { host: current.host },
        );
      }
      const res = await this.send(current, target, { method, headers: req.headers, body }, deadline);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.status) || !location) return res;
      if (hop >= this.maxRedirects) throw new EgressRefusedError('too-many-redirects', `The tool redirected more than ${this.maxRedirects} times`);
      current = new URL(location, current);
      // 303, and 301/302 after a POST (what browsers do), continue as a GET without a body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
    }
  }

  private send(url: URL, target: ResolvedAddress, req: EgressRequest, deadline: number): Promise<EgressResponse> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new ToolTimeoutError(`The tool did not answer within ${this.totalTimeoutMs} ms`));
    const client = url.protocol === 'https:' ? https : http;
    const payload = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
    return new Promise<EgressResponse>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(total);
        request.destroy();
        reject(err);
      };
      const request = client.request(url, {
        method: req.method,
        headers: { ...req.headers, ...(payload ? { 'content-length': String(payload.length) } : {}) },
        // Pin the checked address: the socket never asks DNS again.
        lookup: ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
          if (opts?.all) cb(null, [{ address: target.address, family: target.family }]);
          else cb(null, target.address, target.family);
        }) as unknown as net.LookupFunction,
        agent: false,
      });
      const total = setTimeout(() => fail(new ToolTimeoutError(`The tool did not answer within ${this.totalTimeoutMs} ms`)), remaining);
      request.on('socket', (socket) => {
        if (!socket.connecting) return;
        const connect = setTimeout(() => fail(new ToolTimeoutError(`Could not connect to ${url.host} within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
        socket.once('connect', () => clearTimeout(connect));
        socket.once('close', () => clearTimeout(connect));
      });
      request.on('error', (err) => fail(new ToolUnavailableError(`Could not reach ${url.host}: ${(err as { code?: string }).code ?? err.message}`)));
      request.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxResponseBytes) {
            fail(new ToolRejectedError(`The tool's answer is larger than ${this.maxResponseBytes} bytes`, { reason: 'response-too-large', limit_bytes: this.maxResponseBytes }));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => fail(new ToolUnavailableError(`The tool's answer was cut off: ${err.message}`)));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(total);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks), url: url.toString(), address: target.address });
        });
      });
      request.end(payload);
    });
  }
}
