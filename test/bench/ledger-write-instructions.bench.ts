// What ledger_write costs PostgreSQL, in instructions: PostgreSQL in
// single-user mode (no postmaster, no client, nothing else running) under
// callgrind, fed the same rounds of one batch of holds and one batch of their
// settlements each time. On one seeded cluster counts repeat within 0.02 %;
// each run seeds its own (new ids), and runs agree within about 1 %. Two
// measurements that differ only in their number of rounds give the cost per
// batch; three batch sizes separate what a batch costs whatever its size from
// what each operation adds. The batches are SQL text, so the server also
// parses their literals (the batcher sends binary arrays): use it to compare
// changes to the ledger's SQL, not as the production figure.
//   npm run bench:ledger-write   (CMP_TEST_SLOT 7 unless set)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { asPostgresUser, testLayout } from '../../deploy/local/stack';
import { ensurePostgres, ensureValgrind } from '../../deploy/local/tools';
import { COST, HOLD, seedLedgerCluster } from './ledger-designs';

const slot = Number(process.env.CMP_TEST_SLOT ?? 7);
const WALLETS = 1_000;
const SIZES = [8, 16, 32] as const;
const ROUNDS = [10, 40] as const;

const literal = (values: (string | number | null)[], quote = false) =>
  `'{${values.map((v) => (v === null ? 'NULL' : quote ? `"${v}"` : String(v))).join(',')}}'`;

/** Rounds of a batch of `size` holds on distinct wallets, then a batch of their settlements, as ledger_write calls. */
function rounds(revenue: string, wallets: string[], size: number, count: number, tag: string): string {
  let sql = '';
  for (let r = 0; r < count; r++) {
    const start = (r * size) % wallets.length;
    const ws = start + size <= wallets.length ? wallets.slice(start, start + size) : wallets.slice(0, size);
    const moves = [revenue, ...ws].sort();
    const holds = ws.map((_, i) => `h${tag}-${r}-${i}`);
    const each = <T>(v: T) => ws.map(() => v);
    const byMove = (wallet: number, rev: number) => moves.map((m) => (m === revenue ? rev : wallet));
    sql += `select ledger_write(${[
      literal(holds, true), literal(ws), literal(each(revenue)), literal(each(HOLD)), literal(each('pending'), true), literal(each(null)),
      literal(each(600_000)), literal(each('run'), true), literal(each(null)), literal(each(null)), literal(each('{}'), true),
      literal(moves), literal(byMove(0, 0)), literal(byMove(0, 0)), literal(byMove(HOLD, 0)), literal(byMove(0, size * HOLD)),
      literal(moves.map((m) => (m === revenue ? null : HOLD))), `'{}'`, 'null',
    ].join(', ')});\n\n`;
    sql += `select ledger_write(${[
      literal(holds.map((h) => `${h}:settle`), true), literal(ws), literal(each(revenue)), literal(each(COST)),
      literal(each('post_pending'), true), literal(holds, true), literal(each(null)), literal(each('run'), true), literal(each(null)),
      literal(each(null)), literal(each('{}'), true), literal(moves), literal(byMove(COST, 0)), literal(byMove(0, size * COST)),
      literal(byMove(-HOLD, 0)), literal(byMove(0, -size * HOLD)), literal(moves.map(() => null)),
      literal(each('2100-01-01T00:00:00Z')), 'null',
    ].join(', ')});\n\n`;
  }
  return sql;
}

/** Runs `sql` through a single-user server on `dir`; under callgrind, returns the instructions it counted. */
function singleUser(bin: string, dir: string, sql: string, valgrind?: string): number {
  const server = [path.join(bin, 'postgres'), '--single', '-j', '-D', dir, '-c', 'shared_buffers=256MB', 'cmp'];
  const run = valgrind ? asPostgresUser(valgrind, ['--tool=callgrind', '--callgrind-out-file=/dev/null', ...server]) : asPostgresUser(server[0]!, server.slice(1));
  const out = spawnSync(run.command, run.args, { input: sql, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const text = `${out.stdout}${out.stderr}`;
  if (out.status !== 0 || /\bERROR\b/.test(text)) throw new Error(`single-user PostgreSQL failed:\n${text.slice(0, 3000)}`);
  if (!valgrind) return 0;
  const collected = /Collected : (\d+)/.exec(out.stderr);
  if (!collected) throw new Error(`callgrind printed no count:\n${out.stderr.slice(-2000)}`);
  return Number(collected[1]);
}

async function main(): Promise<void> {
  const valgrind = ensureValgrind();
  const bin = ensurePostgres();
  const layout = testLayout(slot);
  fs.rmSync(layout.dataDir, { recursive: true, force: true });
  const { revenue, wallets } = await seedLedgerCluster(layout, WALLETS);
  const seeded = path.join(layout.dataDir, 'postgres');
  const perBatch: { size: number; batch: number; op: number }[] = [];
  for (const size of SIZES) {
    // Each size from the same seeded cluster, warmed by rounds not counted (plans, caches).
    const dir = path.join(layout.dataDir, `single-${size}`);
    fs.rmSync(dir, { recursive: true, force: true });
    spawnSync('cp', ['-a', seeded, dir]);
    singleUser(bin, dir, rounds(revenue, wallets, size, 3, 'warm'));
    const few = singleUser(bin, dir, rounds(revenue, wallets, size, ROUNDS[0], 'a'), valgrind);
    const many = singleUser(bin, dir, rounds(revenue, wallets, size, ROUNDS[1], 'b'), valgrind);
    const batch = (many - few) / ((ROUNDS[1] - ROUNDS[0]) * 2);
    perBatch.push({ size, batch, op: batch / size });
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // Least squares of batch = fixed + each * size.
  const n = perBatch.length;
  const mx = perBatch.reduce((s, p) => s + p.size, 0) / n;
  const my = perBatch.reduce((s, p) => s + p.batch, 0) / n;
  const each = perBatch.reduce((s, p) => s + (p.size - mx) * (p.batch - my), 0) / perBatch.reduce((s, p) => s + (p.size - mx) ** 2, 0);
  const fixed = my - each * mx;

  const k = (v: number) => `${(v / 1000).toFixed(1)} k`;
  console.log('\nledger_write instructions: single-user PostgreSQL, hold+settle rounds (SQL text batches)\n');
  console.log(`${'batch size'.padEnd(12)}${'per batch'.padStart(14)}${'per op'.padStart(12)}`);
  for (const p of perBatch) console.log(`${String(p.size).padEnd(12)}${k(p.batch).padStart(14)}${k(p.op).padStart(12)}`);
  console.log(`\nwhatever the batch's size: ${k(fixed)} a batch; each operation: ${k(each)}\n`);
  const at = (size: number) => Math.round(perBatch.find((p) => p.size === size)!.op);
  console.log(JSON.stringify({
    bench: 'ledger_write_instructions', per_op_batch_8: at(8), per_op_batch_16: at(16), per_op_batch_32: at(32),
    fixed_per_batch: Math.round(fixed), per_op_marginal: Math.round(each),
  }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
