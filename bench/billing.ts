/**
 * The daily billing run over a generated book: generate (bulk inserts), run `runBilling` for the
 * date in a child process (wall time, memory), run it again (the idempotent rerun), then check
 * what it wrote: the ledger invariant, the outcomes per step, and that the rerun did nothing.
 * Around the first run the write floor (bench/floor.ts) snapshots the database and captures
 * what the run wrote; after the rerun it writes the same rows again with plain batched SQL,
 * which gives the run's time as a multiple of its writes' own cost.
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Temporal } from 'temporal-polyfill';
import { findLedgerMismatches } from '../src/modules/accounts/index.js';
import type { ChildInput, ChildMessage, ChildRun } from './billing-child.js';
import { type Book, generateBook } from './book.js';
import type { EngineHandle, EngineName } from './engine.js';
import { type FloorResult, type PgForm, type TableWrites, WriteFloor } from './floor.js';

export const BILLING_DATE = '2021-12-16';
/** The run happens early on its day, as the scheduler would start it. */
export const BILLING_NOW = `${BILLING_DATE}T01:00:00.000Z`;

export interface BillingResult {
  readonly engine: EngineName;
  readonly book: Book;
  readonly first: ChildRun;
  readonly rerun: ChildRun;
  /** Kernel peak RSS of the child process (both runs), bytes. */
  readonly maxRssBytes: number;
  readonly outcomes: readonly { step: string; outcome: string; count: number }[];
  readonly notifications: readonly { kind: string; count: number }[];
  readonly operations: readonly { kind: string; count: number }[];
  readonly accountsChecked: number;
  /** What the first run wrote (rows per table) and the floor's replay of it. */
  readonly writes: readonly TableWrites[];
  readonly floor: FloorResult;
  /** Snapshot before the run plus the capture after it, seconds (not in any timing). */
  readonly floorPrepSeconds: number;
  /** Peak RSS of the benchmark process itself so far (book generation, floor), bytes. */
  readonly benchMaxRssBytes: number;
}

export interface BillingOptions {
  /** PostgreSQL: how the floor writes (bench/floor.ts). */
  readonly pgForm?: PgForm;
}

const EXPECTED_RENEW_FAILURES = new Set(['insufficient_balance', 'tariff_expired']);

function runChild(
  input: ChildInput,
  engine: EngineName,
  betweenRuns: () => Promise<void>,
): Promise<Extract<ChildMessage, { type: 'result' }>> {
  const execArgv = [...process.execArgv];
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir)
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=billing-${engine}.cpuprofile`);
  const child = fork(fileURLToPath(new URL('./billing-child.ts', import.meta.url)), [JSON.stringify(input)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let message: ChildMessage | null = null;
    let failed: unknown = null;
    child.on('message', (m) => {
      const msg = m as ChildMessage;
      if (msg.type !== 'first-run-done') {
        message = msg;
        return;
      }
      betweenRuns().then(
        () => child.send({ type: 'continue' }),
        (err: unknown) => {
          failed = err;
          child.kill();
        },
      );
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const m = message as ChildMessage | null;
      if (failed) reject(failed);
      else if (m?.type === 'result' && code === 0) resolve(m);
      else
        reject(
          new Error(
            `billing benchmark child (${engine}) ended with ${signal ?? `code ${code}`}` +
              (m?.type === 'error' ? `:\n${m.message}` : ''),
          ),
        );
    });
  });
}

export async function billingBenchmark(
  h: EngineHandle,
  services: number,
  opts: BillingOptions = {},
): Promise<BillingResult> {
  const { ctx, engine } = h;
  const date = Temporal.PlainDate.from(BILLING_DATE);
  process.stderr.write(`[${engine}] generating a book of ${services} services…\n`);
  const book = await generateBook(ctx, { services, date });
  process.stderr.write(
    `[${engine}] book ready in ${book.seconds.toFixed(1)} s (${book.due} due); snapshot for the write floor…\n`,
  );
  const floor = await WriteFloor.open(h.target, opts.pgForm ? { pgForm: opts.pgForm } : {});
  let writes: TableWrites[] = [];
  let floorResult: FloorResult;
  let floorPrepSeconds = 0;
  let first: ChildRun;
  let rerun: ChildRun;
  let maxRssBytes: number;
  try {
    let t0 = performance.now();
    await floor.snapshot();
    floorPrepSeconds += (performance.now() - t0) / 1000;
    process.stderr.write(`[${engine}] running the daily run…\n`);
    const child = await runChild(
      { label: engine, target: h.target, date: BILLING_DATE, now: BILLING_NOW },
      engine,
      async () => {
        const t = performance.now();
        writes = await floor.capture();
        floorPrepSeconds += (performance.now() - t) / 1000;
      },
    );
    [first, rerun] = child.runs as [ChildRun, ChildRun];
    maxRssBytes = child.maxRssBytes;
    process.stderr.write(`[${engine}] the write floor: replaying the first run's writes…\n`);
    t0 = performance.now();
    floorResult = await floor.replay();
    process.stderr.write(
      `[${engine}] floor ${floorResult.seconds.toFixed(2)} s in ${floorResult.transactions} transactions ` +
        `(replay ${((performance.now() - t0) / 1000).toFixed(1)} s with the reads; snapshot and capture ${floorPrepSeconds.toFixed(1)} s)\n`,
    );
  } finally {
    await floor.close();
  }
  // The floor wrote what the run wrote, as the database counted it.
  const replayed = new Map(floorResult.tables.map((t) => [t.table, t]));
  for (const w of writes) {
    const r = replayed.get(w.table);
    if (!r || r.inserted !== w.inserted || r.updated !== w.updated || r.deleted !== w.deleted)
      throw new Error(
        `write floor on ${engine}: ${w.table} captured ${JSON.stringify(w)}, replayed ${JSON.stringify(r)}`,
      );
  }

  const db = ctx.db.kysely;
  const bad = await findLedgerMismatches(ctx);
  if (bad.length)
    throw new Error(`ledger out of balance after the daily run on ${engine}: ${bad.length} accounts`);
  const accounts = await db
    .selectFrom('accounts')
    .select((e) => e.fn.countAll<bigint>().as('n'))
    .executeTakeFirstOrThrow();
  const outcomes = (
    await db
      .selectFrom('billing_steps')
      .select(['step', 'outcome', (e) => e.fn.countAll<bigint>().as('n')])
      .groupBy(['step', 'outcome'])
      .orderBy('step')
      .orderBy('outcome')
      .execute()
  ).map((r) => ({ step: r.step, outcome: r.outcome, count: Number(r.n) }));
  const notifications = (
    await db
      .selectFrom('notifications')
      .select(['kind', (e) => e.fn.countAll<bigint>().as('n')])
      .groupBy('kind')
      .orderBy('kind')
      .execute()
  ).map((r) => ({ kind: r.kind, count: Number(r.n) }));
  const operations = (
    await db
      .selectFrom('operations')
      .select(['kind', (e) => e.fn.countAll<bigint>().as('n')])
      .groupBy('kind')
      .orderBy('kind')
      .execute()
  ).map((r) => ({ kind: String(r.kind), count: Number(r.n) }));

  // What the run must have done, and the rerun must not have done again.
  const s = first.summary;
  const problems: string[] = [];
  if (s.renewed === 0 || s.renewFailed === 0 || s.suspended === 0 || s.deleted === 0)
    problems.push(`a step did nothing: ${JSON.stringify(s)}`);
  for (const o of outcomes)
    if (
      o.step === 'renew' &&
      !['renewed', 'replayed'].includes(o.outcome) &&
      !EXPECTED_RENEW_FAILURES.has(o.outcome)
    )
      problems.push(`unexpected renewal outcome ${o.outcome} (${o.count})`);
  const r = rerun.summary;
  if (r.renewed + r.renewFailed + r.suspended + r.deleted + r.reminders + r.lowBalance !== 0)
    problems.push(`the rerun acted again: ${JSON.stringify(r)}`);
  if (rerun.ledgerEntriesAdded !== 0 || rerun.stepsAdded !== 0)
    problems.push(`the rerun wrote ${rerun.ledgerEntriesAdded} ledger entries, ${rerun.stepsAdded} steps`);
  if (problems.length) throw new Error(`daily run benchmark on ${engine}:\n- ${problems.join('\n- ')}`);

  return {
    engine,
    book,
    first,
    rerun,
    maxRssBytes,
    outcomes,
    notifications,
    operations,
    accountsChecked: Number(accounts.n),
    writes,
    floor: floorResult,
    floorPrepSeconds,
    benchMaxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}
