// Ports and listeners for tests: a free loopback port for a private server,
// and the TCP sockets a process listens on, read from /proc (Linux): the proof
// that a server binds loopback only, on the ports it was given.
import fs from 'node:fs';
import net from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the system picks it), for a server a test starts itself. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** "address:port" of every listening TCP socket (IPv4 and IPv6) the process holds. */
export function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    const target = (() => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    })();
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1]!);
  }
  const found: string[] = [];
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [local, state, inode] = [cols[1]!, cols[3]!, cols[9]!];
      if (state !== '0A' || !inodes.has(inode)) continue; // 0A: LISTEN
      const [hex, port] = local.split(':') as [string, string];
      found.push(`${v6 ? ipv6(hex) : ipv4(hex)}:${parseInt(port, 16)}`);
    }
  }
  return found.sort();
}

// /proc writes addresses as host-order 32-bit words in hex.
const ipv4 = (hex: string) => [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
const ipv6 = (hex: string) => {
  const words = Array.from({ length: 4 }, (_, w) => hex.slice(w * 8, w * 8 + 8).match(/../g)!.reverse().join(''));
  return `[${words.join('').match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, '')).join(':')}]`;
};
