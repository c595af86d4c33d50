// Ledger throughput: hold+settle pairs per second on one hot wallet and
// spread over 1,000 wallets, at concurrency 1 and 32, with latency
// percentiles per pair, the CPU each operation costs (this process and
// PostgreSQL), and an invariant check at the end. In the same run, two
// comparisons: the spread scenario over TCP loopback instead of the Unix
// socket, and a baseline of the naive design (a transaction with row locks
// per operation) on the same wallets, hot and spread. Exits non-zero on an
// invariant violation or when the ledger is less than 10× the naive design,
// hot or spread (docs/ledger.md). Starts its own PostgreSQL on test slot
// CMP_TEST_SLOT (9 unless set) and a throw-away database.
//   npm run bench:ledger            (BENCH_SECONDS=5 by default per scenario)
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createDb, migrateLatest, type Db } from '../../core/db';
import { createLedger, type LedgerObserver } from '../../core/ledger';
import { postgresSocketUrl, startPostgres, testLayout } from '../../deploy/local/stack';
import { ledgerPair, naivePair, type Pair } from './ledger-designs';

const slot = Number(process.env.CMP_TEST_SLOT ?? 9);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const WALLETS = 1_000;
/** The least the ledger must do, hot and spread, as a multiple of the naive design's pairs/s. */
const MIN_VS_NAIVE = 10;

/** What a ledger's batcher did, counted by its observer. */
interface BatchCount {
  batches: number;
  ops: number;
}

function batchCounter(): { count: BatchCount; observer: LedgerObserver } {
  const count = { batches: 0, ops: 0 };
  return {
    count,
    observer: {
      batchCommitted(ops) {
        count.batches += 1;
        count.ops += ops.length;
      },
    },
  };
}

interface Result {
  scenario: string;
  concurrency: number;
  pairs: number;
  pairsPerS: number;
  p50: number;
  p95: number;
  p99: number;
  /** CPU per ledger operation (a pair is two), in µs. */
  nodeUs: number;
  postgresUs: number;
  opsPerBatch: number | null;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** CPU time (ms) of every PostgreSQL process on this machine: backends, WAL writer, autovacuum. */
function postgresCpuMs(): number {
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}

async function run(scenario: string, wallets: string[], concurrency: number, pair: Pair, stats?: BatchCount): Promise<Result> {
  const latencies: number[] = [];
  const before = stats ? { ...stats } : null;
  const cpu0 = process.cpuUsage();
  const pg0 = postgresCpuMs();
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const wallet = wallets[next++ % wallets.length]!;
      const start = performance.now();
      await pair(wallet, randomUUID());
      latencies.push(performance.now() - start);
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const ops = latencies.length * 2;
  latencies.sort((a, b) => a - b);
  const batches = stats && before ? stats.batches - before.batches : 0;
  return {
    scenario, concurrency, pairs: latencies.length, pairsPerS: Math.round(latencies.length / elapsed),
    p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99),
    nodeUs: Math.round((cpu.user + cpu.system) / ops), postgresUs: Math.round(((postgresCpuMs() - pg0) * 1000) / ops),
    opsPerBatch: stats && batches ? Math.round(((stats.ops - before!.ops) / batches) * 10) / 10 : null,
  };
}

async function main(): Promise<void> {
  const layout = testLayout(slot);
  const pg = await startPostgres(layout);
  const dbs: Db[] = [];
  try {
    const admin = createDb(pg.url, 1);
    await admin.raw('drop database if exists cmp_bench with (force)');
    await admin.raw('create database cmp_bench');
    await admin.destroy();
    // The ledger on this machine talks to PostgreSQL through its Unix socket; TCP loopback is compared below.
    const db = createDb(postgresSocketUrl(layout, 'cmp_bench'), 10);
    const tcpDb = createDb(pg.url.replace(/\/cmp$/, '/cmp_bench'), 10);
    dbs.push(db, tcpDb);
    await migrateLatest(db);

    const inFlight = process.env.BENCH_IN_FLIGHT ? Number(process.env.BENCH_IN_FLIGHT) : undefined;
    const counted = batchCounter();
    const ledger = createLedger(db, { maxInFlight: inFlight, observer: counted.observer });
    const promo = (await ledger.ensureSystemAccount('promo')).id;
    const revenue = (await ledger.ensureSystemAccount('revenue')).id;
    const orgs = await db('organizations')
      .insert(Array.from({ length: WALLETS + 1 }, (_, i) => ({ name: `bench org ${i}` })))
      .returning<{ id: string }[]>('id');
    const wallets = await Promise.all(orgs.map((o) => ledger.ensureWallet(o.id)));
    // Enough credits that no pair fails for lack of them.
    await Promise.all(wallets.map((w) => ledger.transfer({
      id: `grant-${w.id}`, debitAccountId: promo, creditAccountId: w.id, amount: 1_000_000_000, reason: 'starter_grant',
    })));
    const hot = [wallets[0]!.id];
    const spread = wallets.slice(1).map((w) => w.id);

    const HOT = 'hot wallet';
    const SPREAD = `spread over ${WALLETS} wallets`;
    const results: Result[] = [];
    for (const concurrency of [1, 32]) {
      results.push(await run(HOT, hot, concurrency, ledgerPair(ledger, revenue), counted.count));
      results.push(await run(SPREAD, spread, concurrency, ledgerPair(ledger, revenue), counted.count));
    }
    const tcpCounted = batchCounter();
    const tcpLedger = createLedger(tcpDb, { maxInFlight: inFlight, observer: tcpCounted.observer });
    results.push(await run('spread, TCP loopback', spread, 32, ledgerPair(tcpLedger, revenue), tcpCounted.count));
    results.push(await run('spread, naive baseline', spread, 32, naivePair(db, revenue)));
    results.push(await run('hot wallet, naive baseline', hot, 32, naivePair(db, revenue)));
    const { violations } = await ledger.checkInvariants();

    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const cols: [string, number][] = [['scenario', 28], ['conc', 6], ['pairs', 9], ['pairs/s', 10], ['p50', 10], ['p95', 10], ['p99', 10], ['node µs/op', 12], ['pg µs/op', 10], ['ops/batch', 11]];
    const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(cols[i]![1]) : c.padStart(cols[i]![1]))).join('');
    console.log(`\nledger bench: hold+settle pairs, ${seconds} s per scenario (CPU per operation; a pair is two)\n`);
    console.log(row(cols.map(([c]) => c)));
    for (const r of results) {
      console.log(row([r.scenario, String(r.concurrency), String(r.pairs), String(r.pairsPerS), ms(r.p50), ms(r.p95), ms(r.p99),
        String(r.nodeUs), String(r.postgresUs), r.opsPerBatch === null ? '—' : String(r.opsPerBatch)]));
    }
    console.log(`\ninvariant violations: ${violations.length}${violations.length ? `\n  ${violations.join('\n  ')}` : ''}\n`);

    const find = (name: string, c = 32) => results.find((r) => r.scenario === name && r.concurrency === c)!;
    const round = (v: number) => Math.round(v * 100) / 100;
    const hot32 = find(HOT);
    const spread32 = find(SPREAD);
    const naiveSpread = find('spread, naive baseline');
    const naiveHot = find('hot wallet, naive baseline');
    const spreadVsNaive = round(spread32.pairsPerS / naiveSpread.pairsPerS);
    const hotVsNaive = round(hot32.pairsPerS / naiveHot.pairsPerS);
    console.log(JSON.stringify({
      bench: 'ledger',
      hot_pairs_per_s: hot32.pairsPerS,
      spread_pairs_per_s: spread32.pairsPerS,
      violations: violations.length,
      hot_p50_ms: round(hot32.p50), hot_p95_ms: round(hot32.p95), hot_p99_ms: round(hot32.p99),
      spread_p50_ms: round(spread32.p50), spread_p95_ms: round(spread32.p95), spread_p99_ms: round(spread32.p99),
      hot_c1_pairs_per_s: find(HOT, 1).pairsPerS,
      spread_c1_pairs_per_s: find(SPREAD, 1).pairsPerS,
      hot_c1_p50_ms: round(find(HOT, 1).p50), spread_c1_p50_ms: round(find(SPREAD, 1).p50),
      spread_node_us_per_op: spread32.nodeUs, spread_postgres_us_per_op: spread32.postgresUs, spread_ops_per_batch: spread32.opsPerBatch,
      tcp_spread_pairs_per_s: find('spread, TCP loopback').pairsPerS,
      naive_spread_pairs_per_s: naiveSpread.pairsPerS,
      naive_hot_pairs_per_s: naiveHot.pairsPerS,
      spread_vs_naive: spreadVsNaive,
      hot_vs_naive: hotVsNaive,
    }));
    const failures = [
      ...(violations.length > 0 ? [`${violations.length} invariant violations`] : []),
      ...(spreadVsNaive < MIN_VS_NAIVE ? [`spread is ${spreadVsNaive}× the naive design (at least ${MIN_VS_NAIVE}× required)`] : []),
      ...(hotVsNaive < MIN_VS_NAIVE ? [`hot is ${hotVsNaive}× the naive design (at least ${MIN_VS_NAIVE}× required)`] : []),
    ];
    if (failures.length > 0) {
      console.error(`ledger bench failed: ${failures.join('; ')}`);
      process.exitCode = 1;
    }
  } finally {
    for (const db of dbs) await db.destroy();
    await pg.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
