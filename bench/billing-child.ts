/**
 * Child process of the daily-run benchmark: opens the database the parent generated, runs
 * `runBilling` for the date twice (the second run is the idempotent rerun) and reports wall
 * time, the summary and memory to the parent over IPC. A process of its own, so its peak RSS
 * is the run's and not the book generator's. Between the two runs it waits for the parent, which
 * captures what the first run wrote for the write floor (bench/floor.ts).
 */
import { performance } from 'node:perf_hooks';
import { Temporal } from 'temporal-polyfill';
import { type RunSummary, runBilling, type Step } from '../src/modules/billing/run.js';
import type { AppContext } from '../src/platform/context.js';
import { type DbTarget, openDb } from '../src/platform/db/index.js';
import { benchContext } from './engine.js';
import { type MemoryPeak, sampleMemory } from './memory.js';
import { QueryCounter } from './query-counter.js';

export interface ChildInput {
  readonly label: string;
  readonly target: DbTarget;
  readonly date: string;
  readonly now: string;
}

export interface ChildRun {
  readonly seconds: number;
  readonly summary: Omit<RunSummary, 'actions'>;
  readonly memory: MemoryPeak;
  /** Rows the run wrote to the ledger and to billing_steps. */
  readonly ledgerEntriesAdded: number;
  readonly stepsAdded: number;
  /** Queries the run sent (BEGIN/COMMIT not counted), and the most frequent statements. */
  readonly queries: number;
  readonly topQueries: { query: string; count: number }[];
  /** Per step: services looked at, seconds, queries. */
  readonly steps: { step: Step; services: number; seconds: number; queries: number }[];
}

const STEPS: readonly Step[] = ['renew', 'suspend', 'delete', 'notify'];

export type ChildMessage =
  | { type: 'result'; runs: ChildRun[]; maxRssBytes: number }
  | { type: 'error'; message: string }
  /** Between the runs: the parent captures what the first run wrote, then sends `continue`. */
  | { type: 'first-run-done' };

/** Tells the parent the first run is over and waits until it says to go on. */
function pauseForParent(): Promise<void> {
  if (!process.send) return Promise.resolve();
  return new Promise((resolve, reject) => {
    process.once('message', (m: { type?: string }) =>
      m?.type === 'continue' ? resolve() : reject(new Error(`unexpected message ${JSON.stringify(m)}`)),
    );
    process.send?.({ type: 'first-run-done' } satisfies ChildMessage);
  });
}

async function counts(ctx: AppContext) {
  const db = ctx.db.kysely;
  const [ledger, steps] = await Promise.all([
    db
      .selectFrom('ledger_entries')
      .select((e) => e.fn.countAll<bigint>().as('n'))
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('billing_steps')
      .select((e) => e.fn.countAll<bigint>().as('n'))
      .executeTakeFirstOrThrow(),
  ]);
  return { ledger: Number(ledger.n), steps: Number(steps.n) };
}

async function main(input: ChildInput): Promise<ChildMessage> {
  const db = openDb(input.target);
  const counter = new QueryCounter();
  const { ctx, dispose } = benchContext({ ...db, kysely: db.kysely.withPlugin(counter) }, input.now);
  const date = Temporal.PlainDate.from(input.date);
  const runs: ChildRun[] = [];
  try {
    for (const pass of ['first run', 'rerun'] as const) {
      const before = await counts(ctx);
      let lastReport = performance.now();
      const t0 = performance.now();
      counter.reset();
      const seen = new Map<Step, { services: number; at: number; queries: number }>();
      const { result, memory } = await sampleMemory(() =>
        runBilling(ctx, {
          date,
          onProgress: (done, total, step) => {
            const t = performance.now();
            seen.set(step, { services: total, at: t, queries: counter.total });
            if (t - lastReport < 10_000 && done !== total) return;
            lastReport = t;
            process.stderr.write(
              `  [${input.label}, ${pass}] ${step} ${done}/${total} at ${((t - t0) / 1000).toFixed(1)} s\n`,
            );
          },
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const queries = counter.total;
      const topQueries = counter.top();
      let prev = { at: t0, queries: 0 };
      const steps = STEPS.map((step) => {
        const end = seen.get(step) ?? { services: 0, ...prev };
        const row = {
          step,
          services: end.services,
          seconds: (end.at - prev.at) / 1000,
          queries: end.queries - prev.queries,
        };
        prev = { at: end.at, queries: end.queries };
        return row;
      });
      const after = await counts(ctx);
      const { actions: _omit, ...summary } = result;
      runs.push({
        seconds,
        summary,
        memory,
        ledgerEntriesAdded: after.ledger - before.ledger,
        stepsAdded: after.steps - before.steps,
        queries,
        topQueries,
        steps,
      });
      if (pass === 'first run') await pauseForParent();
    }
  } finally {
    await db.close();
    dispose();
  }
  // ru_maxrss is in KiB on Linux.
  return { type: 'result', runs, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
}

const input = JSON.parse(process.argv[2] ?? '{}') as ChildInput;
main(input)
  .catch(
    (err: unknown): ChildMessage => ({
      type: 'error',
      message: err instanceof Error ? (err.stack ?? err.message) : String(err),
    }),
  )
  .then((msg) => {
    process.send?.(msg, () => process.disconnect?.());
    if (msg.type === 'error') process.exitCode = 1;
  });
