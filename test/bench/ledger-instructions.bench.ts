// What a ledger operation costs PostgreSQL, in instructions: counted by
// callgrind, so a change's effect shows whatever this machine's speed does
// between runs (it swings by a third; the ledger bench's figures follow).
// Experimental: before migration 20261201_010 its counts were dominated by
// the exact way's scan of every hold ever written (the later measurement's
// learning met more holds), which showed as a one-off cost in some runs;
// since, they repeat within a few per cent, but a batch of 32 counts more per
// operation than one of 16, not yet explained. bench:ledger-write counts
// ledger_write alone, in single-user mode, and repeats within 1 %.
//
// The server runs under callgrind (its backends are forked under it). Each
// measurement is one connection, so one backend, whose count is written when
// it ends: a fresh ledger instance learns every wallet, then runs rounds of
// one batch of 16 holds and one batch of their 16 settlements, as 32 callers
// make them in the throughput bench. Two measurements that differ only in
// their number of rounds give the cost per operation, start-up and learning
// cancelled out. The same for the naive design (a transaction with row locks
// per operation), one pair at a time, as the baseline measured in the same
// run. Only the backend's user-space instructions count: not the kernel
// (fsync, sockets), not this process, and not the full-page images WAL takes
// after a checkpoint (turned off here).
//   npm run bench:ledger-instructions   (CMP_TEST_SLOT 8 unless set; BENCH_BATCH=16 the batch size;
//   KEEP_CALLGRIND=1 keeps the callgrind files, one per backend)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDb, type Db } from '../../core/db';
import { createLedger } from '../../core/ledger';
import { postgresSocketUrl, startPostgres, testLayout } from '../../deploy/local/stack';
import { ensureValgrind } from '../../deploy/local/tools';
import { ledgerPair, naivePair, seedLedgerCluster, type Pair } from './ledger-designs';

const slot = Number(process.env.CMP_TEST_SLOT ?? 8);
const WALLETS = 1_000;
const BATCH = Number(process.env.BENCH_BATCH ?? 16);
/** Rounds of the two measurements of the ledger (their difference is what counts), and of the naive design. */
const LEDGER_ROUNDS = [10, 40] as const;
const NAIVE_ROUNDS = [4, 16] as const;

interface Setup {
  url: string;
  revenue: string;
  wallets: string[];
}

/** Instructions of the one backend that served `work`, read from its callgrind file once it has ended. */
async function backendInstructions(setup: Setup, outDir: string, work: (db: Db) => Promise<void>): Promise<number> {
  // Every measurement starts without the dead row versions the last one left (autovacuum is off): a backend
  // walks them on every visit to a row, so they would make a later measurement cost more than an earlier one.
  const admin = createDb(setup.url, 1);
  await admin.raw('vacuum accounts, transfers');
  await admin.destroy();
  const db = createDb(setup.url, 1);
  let pid: number;
  try {
    pid = (await db.raw<{ rows: { pid: number }[] }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await work(db);
  } finally {
    await db.destroy();
  }
  const file = path.join(outDir, `callgrind.${pid}`);
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const total = /^(?:summary|totals): (\d+)/m.exec(text);
    if (total) return Number(total[1]);
  }
  throw new Error(`callgrind wrote no counts for backend ${pid} (${file})`);
}

/** A ledger instance that knows every wallet, then `rounds` rounds of a batch of holds and a batch of their settlements. */
const ledgerRounds = (setup: Setup, hot: boolean, rounds: number, tag: string) => async (db: Db) => {
  const ledger = createLedger(db);
  const pair = ledgerPair(ledger, setup.revenue);
  // Learnt in rounds of the same shape as those measured, so the learning costs the same in both measurements.
  for (let r = 0; r < WALLETS / BATCH; r++) {
    await Promise.all(setup.wallets.slice(r * BATCH, (r + 1) * BATCH).map((w, i) => pair(w, `learn-${tag}-${r}-${i}`)));
  }
  for (let r = 0; r < rounds; r++) {
    const group = Array.from({ length: BATCH }, (_, i) => setup.wallets[hot ? 0 : (r * BATCH + i) % WALLETS]!);
    // All 16 holds are submitted in one turn of the event loop, so they go as one batch, and so do their settlements.
    await Promise.all(group.map((w, i) => pair(w, `${tag}-${r}-${i}`)));
  }
};

const naiveRounds = (setup: Setup, rounds: number, tag: string) => async (db: Db) => {
  const pair: Pair = naivePair(db, setup.revenue);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < BATCH; i++) await pair(setup.wallets[(r * BATCH + i) % WALLETS]!, `naive-${tag}-${r}-${i}`);
  }
};

async function main(): Promise<void> {
  const valgrind = ensureValgrind();
  const layout = testLayout(slot);
  // A cluster of its own, made anew: the counts depend on what the tables hold.
  fs.rmSync(layout.dataDir, { recursive: true, force: true });
  const seeded = await seedLedgerCluster(layout, WALLETS);
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-callgrind-'));
  fs.chmodSync(outDir, 0o777); // the server runs as the postgres user when we are root
  const pg = await startPostgres(layout, {
    // A forked backend would start with the postmaster's count so far (which grows with time): count only what
    // runs inside PostgresMain, the backend's own loop.
    under: [valgrind, '--tool=callgrind', '--trace-children=yes', '--collect-atstart=no', '--toggle-collect=PostgresMain',
      `--callgrind-out-file=${outDir}/callgrind.%p`],
    // Nothing that depends on when it runs: no autovacuum, and no checkpoint during the run, nor the full-page
    // images a backend writes after one (which pages get them depends on when the last checkpoint was).
    settings: ['jit=off', 'autovacuum=off', 'checkpoint_timeout=1d', 'max_wal_size=100GB', 'full_page_writes=off'],
  });
  try {
    const setup: Setup = { ...seeded, url: postgresSocketUrl(layout) };
    interface Measured { perOp: number; few: number; many: number }
    const perOp = async (measure: (rounds: number, tag: string) => (db: Db) => Promise<void>, [few, many]: readonly [number, number], opsPerRound: number): Promise<Measured> => {
      const a = await backendInstructions(setup, outDir, measure(few, `a${few}`));
      const b = await backendInstructions(setup, outDir, measure(many, `b${many}`));
      return { perOp: Math.round((b - a) / ((many - few) * opsPerRound)), few: a, many: b };
    };
    const spread = await perOp((n, tag) => ledgerRounds(setup, false, n, `spread-${tag}`), LEDGER_ROUNDS, 2 * BATCH);
    const hot = await perOp((n, tag) => ledgerRounds(setup, true, n, `hot-${tag}`), LEDGER_ROUNDS, 2 * BATCH);
    const naive = await perOp((n, tag) => naiveRounds(setup, n, tag), NAIVE_ROUNDS, 2 * BATCH);

    const k = (v: number) => `${(v / 1000).toFixed(1)} k`;
    const m = (v: number) => `${(v / 1e6).toFixed(1)} M`;
    const cols: [string, number][] = [['design', 40], ['instructions/op', 16], ['backend, fewer rounds', 22], ['more rounds', 14]];
    const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(cols[i]![1]) : c.padStart(cols[i]![1]))).join('');
    console.log(`\nledger instructions: PostgreSQL backend, user space, per operation (a pair is two), batches of ${BATCH}\n`);
    console.log(row(cols.map(([c]) => c)));
    for (const [name, r] of [[`ledger, spread over ${WALLETS} wallets`, spread], ['ledger, one hot wallet', hot], ['naive (row locks, a transaction per op)', naive]] as const) {
      console.log(row([name, k(r.perOp), m(r.few), m(r.many)]));
    }
    console.log('');
    console.log(JSON.stringify({
      bench: 'ledger_instructions', spread_instructions_per_op: spread.perOp, hot_instructions_per_op: hot.perOp,
      naive_instructions_per_op: naive.perOp, naive_over_spread: Math.round((naive.perOp / spread.perOp) * 100) / 100,
    }));
  } finally {
    await pg.stop();
    if (process.env.KEEP_CALLGRIND) console.log('callgrind files kept in', outDir);
    else fs.rmSync(outDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
