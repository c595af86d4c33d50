// Ledger throughput: hold+settle pairs per second on one hot wallet and
// spread over 1,000 wallets, at concurrency 1 and 32, with latency
// percentiles per pair and an invariant check at the end. Starts its own
// PostgreSQL on test slot CMP_TEST_SLOT (9 unless set) and a throw-away database.
//   npm run bench:ledger            (BENCH_SECONDS=5 by default per scenario)
import { randomUUID } from 'node:crypto';
import { createDb, migrateLatest, type Db } from '../../core/db';
import { createLedger, type Ledger } from '../../core/ledger';
import { startPostgres, testLayout } from '../../deploy/local/stack';

const slot = Number(process.env.CMP_TEST_SLOT ?? 9);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const WALLETS = 1_000;
const HOLD = 1_000;
const COST = 700;

interface Result {
  scenario: string;
  concurrency: number;
  pairs: number;
  pairsPerS: number;
  p50: number;
  p95: number;
  p99: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function run(ledger: Ledger, revenue: string, scenario: string, wallets: string[], concurrency: number): Promise<Result> {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const wallet = wallets[next++ % wallets.length]!;
      const id = randomUUID();
      const start = performance.now();
      await ledger.hold({ id, debitAccountId: wallet, creditAccountId: revenue, amount: HOLD, reason: 'run', timeoutMs: 600_000 });
      await ledger.settle({ id: `${id}:settle`, pendingId: id, amount: COST });
      latencies.push(performance.now() - start);
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    scenario, concurrency, pairs: latencies.length, pairsPerS: Math.round(latencies.length / elapsed),
    p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99),
  };
}

async function main(): Promise<void> {
  const layout = testLayout(slot);
  const pg = await startPostgres(layout);
  let db: Db | undefined;
  try {
    const admin = createDb(pg.url, 1);
    await admin.raw('drop database if exists cmp_bench with (force)');
    await admin.raw('create database cmp_bench');
    await admin.destroy();
    db = createDb(pg.url.replace(/\/cmp$/, '/cmp_bench'), 10);
    await migrateLatest(db);

    const inFlight = Number(process.env.BENCH_IN_FLIGHT ?? 2);
    const ledger = createLedger(db, { maxInFlight: inFlight });
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

    const results: Result[] = [];
    for (const concurrency of [1, 32]) {
      results.push(await run(ledger, revenue, 'hot wallet', hot, concurrency));
      results.push(await run(ledger, revenue, `spread over ${WALLETS} wallets`, spread, concurrency));
    }
    const { violations } = await ledger.checkInvariants();

    const ms = (v: number) => `${v.toFixed(1)} ms`;
    console.log(`\nledger bench: hold+settle pairs, ${seconds} s per scenario\n`);
    console.log(`${'scenario'.padEnd(28)}${'conc'.padStart(6)}${'pairs'.padStart(9)}${'pairs/s'.padStart(10)}${'p50'.padStart(10)}${'p95'.padStart(10)}${'p99'.padStart(10)}`);
    for (const r of results) {
      console.log(`${r.scenario.padEnd(28)}${String(r.concurrency).padStart(6)}${String(r.pairs).padStart(9)}${String(r.pairsPerS).padStart(10)}${ms(r.p50).padStart(10)}${ms(r.p95).padStart(10)}${ms(r.p99).padStart(10)}`);
    }
    console.log(`\ninvariant violations: ${violations.length}${violations.length ? `\n  ${violations.join('\n  ')}` : ''}\n`);

    const find = (hotWallet: boolean, c: number) => results.find((r) => r.scenario.startsWith(hotWallet ? 'hot' : 'spread') && r.concurrency === c)!;
    const round = (v: number) => Math.round(v * 100) / 100;
    console.log(JSON.stringify({
      bench: 'ledger',
      hot_pairs_per_s: find(true, 32).pairsPerS,
      spread_pairs_per_s: find(false, 32).pairsPerS,
      violations: violations.length,
      hot_p50_ms: round(find(true, 32).p50), hot_p95_ms: round(find(true, 32).p95), hot_p99_ms: round(find(true, 32).p99),
      spread_p50_ms: round(find(false, 32).p50), spread_p95_ms: round(find(false, 32).p95), spread_p99_ms: round(find(false, 32).p99),
      hot_c1_pairs_per_s: find(true, 1).pairsPerS,
      spread_c1_pairs_per_s: find(false, 1).pairsPerS,
      hot_c1_p50_ms: round(find(true, 1).p50), spread_c1_p50_ms: round(find(false, 1).p50),
    }));
    if (violations.length > 0) process.exitCode = 1;
  } finally {
    await db?.destroy();
    await pg.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
