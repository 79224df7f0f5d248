/** docs/benchmarks.md: machine, date, command, then one section (and table) per benchmark. */
import os from 'node:os';
import { DEFAULT_POLL_MS } from '../src/modules/services/worker.js';
import type { BillingResult } from './billing.js';
import { BILLING_DATE } from './billing.js';
import type { BillmgrOptions, BillmgrResult, LoadRow } from './billmgr.js';
import { DAILY_RUN_CHART } from './chart.js';
import type { LedgerRow } from './ledger.js';
import { mib } from './memory.js';
import type { OperationsOptions, OperationsResult } from './operations.js';

export interface ReportInput {
  readonly command: string;
  readonly ledger: readonly LedgerRow[];
  readonly billing: readonly BillingResult[];
  readonly operations?: readonly OperationsResult[];
  readonly operationsOptions?: OperationsOptions;
  readonly billmgr?: readonly BillmgrResult[];
  readonly billmgrOptions?: BillmgrOptions;
  /** 1-minute load averages when the benchmarks started and ended (others may share the machine). */
  readonly load: readonly [number, number];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US').replace(/,/g, ' ');
const table = (head: string[], align: string[], rows: (string | number)[][]) => [
  `| ${head.join(' | ')} |`,
  `|${align.join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
];

function ledgerSection(rows: readonly LedgerRow[]): string[] {
  if (rows.length === 0) return [];
  return [
    '## Ledger',
    '',
    'Charges through `postEntry` (one transaction each) and payments through `recordPayment`; `BENCH_N`',
    'sets the operation count.',
    '',
    ...table(
      ['engine', 'scenario', 'operations', 'seconds', 'ops/s'],
      ['---', '---', '---:', '---:', '---:'],
      rows.map((r) => [r.engine, r.scenario, r.ops, r.seconds.toFixed(2), Math.round(r.ops / r.seconds)]),
    ),
    '',
  ];
}

function billingSection(all: readonly BillingResult[]): string[] {
  if (all.length === 0) return [];
  // The detail tables describe the largest book; the first table has every size.
  const largest = Math.max(...all.map((r) => r.book.services));
  const results = all.filter((r) => r.book.services === largest);
  const first = results[0]!;
  const sizes = [...new Set(all.map((r) => r.book.services))].sort((a, b) => a - b);
  const b = first.book;
  const pct = (n: number) => `${((100 * n) / b.services).toFixed(2)} %`;
  const x = (n: number) => `${n.toFixed(n < 10 ? 2 : 1)}×`;
  const out = [
    '## Daily billing run',
    '',
    `\`runBilling(ctx, { date: ${BILLING_DATE} })\` (src/modules/billing/run.ts) over a generated book`,
    `of ${sizes.map(int).join(', ')} services (\`BENCH_SERVICES\`) on one account per 10 services, written with bulk inserts`,
    '(bench/book.ts, deterministic: the same book on both engines, planner statistics refreshed with',
    '`ANALYZE`). The run executes in a child process of its own (bench/billing-child.ts) so its memory',
    'is its own; RSS and heap are sampled every 50 ms. The same date is then run again: the rerun must',
    'find every step recorded and write nothing. Afterwards the ledger invariant (`findLedgerMismatches`)',
    'is asserted, renewal failures must be `insufficient_balance` or `tariff_expired` only, and the',
    'rerun must have added no ledger entry and no step.',
    '',
    '### Against the raw write floor',
    '',
    'The **floor** is what the rows the first run wrote cost alone, on the same engine and database, in the',
    'same benchmark (bench/floor.ts). Before the run every table is copied aside; after it, each table is',
    'diffed with its copy by primary key: new keys are the inserted rows, changed columns the updated rows,',
    'keys gone the deleted rows (a row the run wrote several times counts once). After the rerun these',
    'writes are replayed with the simplest batched SQL, 1 000 rows a transaction: the inserted rows into',
    'shadow tables made with the same DDL, indexes and foreign keys (dropped afterwards), the updates on the',
    'real rows (only the changed columns, writing the values they already hold), the deletes from the shadow',
    'tables (their rows put there first, untimed). The floor time is the sum of the write transactions;',
    'reading the captured rows back is outside it. The shadow tables start empty, so their indexes are',
    "smaller than the real tables' (if anything, the floor is a little low).",
    '',
    ...[...new Map(all.map((r) => [r.engine, r.floor.form])).entries()].map(
      ([e, form]) => `- ${e}: ${form}.`,
    ),
    '',
    '"run ÷ floor" is how many times its writes alone the run costs (the first run is measured against',
    'them; the rerun writes only its `billing_runs` row but is compared with the same floor: its target',
    'is ≤ 1×). "book services/s" is the book size divided by the first run\'s wall time; peak RSS is',
    "the run's child process.",
    '',
    `![The daily run against its write floor, and its throughput, by book size](${DAILY_RUN_CHART})`,
    '',
    ...table(
      [
        'engine',
        'book services',
        'run (s)',
        'floor (s)',
        'run ÷ floor',
        'rerun (s)',
        'rerun ÷ floor',
        'book services/s',
        'rows written',
        'floor rows/s',
        'peak RSS (MiB)',
      ],
      ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      all.map((r) => {
        const rows = r.writes.reduce((a, w) => a + w.inserted + w.updated + w.deleted, 0);
        return [
          r.engine,
          int(r.book.services),
          r.first.seconds.toFixed(2),
          r.floor.seconds.toFixed(3),
          x(r.first.seconds / r.floor.seconds),
          r.rerun.seconds.toFixed(2),
          x(r.rerun.seconds / r.floor.seconds),
          int(r.book.services / r.first.seconds),
          int(rows),
          int(rows / r.floor.seconds),
          mib(r.maxRssBytes),
        ];
      }),
    ),
    '',
    `Rows the first run wrote per table, and the floor's time for them (${int(largest)} services; the floor's`,
    "counts are the database's own and equal the captured ones, which the benchmark asserts):",
    '',
    ...table(
      ['engine', 'table', 'inserted', 'updated', 'deleted', 'floor (s)'],
      ['---', '---', '---:', '---:', '---:', '---:'],
      results.flatMap((r) =>
        r.floor.tables.map((t) => [
          r.engine,
          `\`${t.table}\``,
          int(t.inserted),
          int(t.updated),
          int(t.deleted),
          t.seconds.toFixed(3),
        ]),
      ),
    ),
    '',
    `Benchmark process (book generation, snapshot, floor) peak RSS: ${all
      .map((r) => `${r.engine} ${int(r.book.services)} ${mib(r.benchMaxRssBytes)} MiB`)
      .join(', ')}; snapshot and capture took ${all
      .map((r) => `${r.floorPrepSeconds.toFixed(1)} s`)
      .join(', ')} (not timed).`,
    '',
    ...(sizes.length > 1 ? [`The tables below are for the largest book, ${int(largest)} services.`, ''] : []),
    '### The book',
    '',
    ...table(
      ['services', 'count', 'share', 'what the run does'],
      ['---', '---:', '---:', '---'],
      [
        [
          'active, autoprolong, `expiresOn` = date or date + 1',
          int(b.byCategory.due_autorenew),
          pct(b.byCategory.due_autorenew),
          'renew (some cut by the tariff end, some fail → notification)',
        ],
        [
          'active, no autoprolong, `expiresOn` = date or date + 1',
          int(b.byCategory.due_manual),
          pct(b.byCategory.due_manual),
          'reminder; suspension when `expiresOn` = date',
        ],
        ['active, expired 1-5 days ago', int(b.byCategory.expired), pct(b.byCategory.expired), 'suspension'],
        [
          'suspended (expired) 30-90 days ago',
          int(b.byCategory.suspended_old),
          pct(b.byCategory.suspended_old),
          'deletion',
        ],
        [
          'suspended (expired) 1-29 days ago',
          int(b.byCategory.suspended_recent),
          pct(b.byCategory.suspended_recent),
          'nothing',
        ],
        [
          'active, running (`expiresOn` ≥ date + 2)',
          int(b.byCategory.running),
          pct(b.byCategory.running),
          'reminder or low-balance notice 5 and 3 days before',
        ],
      ],
    ),
    '',
    `Due (active, \`expiresOn\` ≤ date + 1): ${int(b.due)}. Periods: ${Object.entries(b.byPeriod)
      .map(([p, n]) => `${p} month${p === '1' ? '' : 's'} ${int(n)}`)
      .join(', ')}. Tariffs: ${Object.entries(b.byTariff)
      .map(([t, n]) => `${t} ${int(n)}`)
      .join(', ')}. Accounts without the balance for a renewal (0.00 or 3.00): ${int(b.poorAccounts)}.`,
    '',
    '### Timings and memory',
    '',
    '"book/s" is the book size divided by the wall time; "due/s" the due services divided by it.',
    '',
    ...table(
      [
        'engine',
        'run',
        'seconds',
        'book services/s',
        'due services/s',
        'RSS before (MiB)',
        'peak RSS (MiB)',
        'peak heap used (MiB)',
        'queries',
      ],
      ['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      results.flatMap((r) =>
        (
          [
            ['first run', r.first],
            ['rerun (same date)', r.rerun],
          ] as const
        ).map(([label, run]) => [
          r.engine,
          label,
          run.seconds.toFixed(1),
          int(r.book.services / run.seconds),
          int(r.book.due / run.seconds),
          mib(run.memory.rssStart),
          mib(run.memory.rssPeak),
          mib(run.memory.heapUsedPeak),
          int(run.queries),
        ]),
      ),
    ),
    '',
    ...table(
      [
        'engine',
        'book generation (s)',
        'renewed',
        'charged',
        'renewal failed',
        'suspended',
        'deleted',
        'reminders',
        'low balance',
        'rerun: already done',
        'child max RSS (MiB)',
      ],
      ['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      results.map((r) => {
        const s = r.first.summary;
        return [
          r.engine,
          r.book.seconds.toFixed(1),
          int(s.renewed),
          `${s.renewedAmount} ${s.currency}`,
          int(s.renewFailed),
          int(s.suspended),
          int(s.deleted),
          int(s.reminders),
          int(s.lowBalance),
          int(r.rerun.summary.alreadyDone),
          mib(r.maxRssBytes),
        ];
      }),
    ),
    '',
    '### Where the time goes',
    '',
    'Per step of `runBilling`: the services the step listed, its wall time (the list query included) and',
    'the queries it sent through Kysely (BEGIN/COMMIT not counted).',
    '',
    ...table(
      ['engine', 'run', 'step', 'services listed', 'seconds', 'queries', 'queries/service'],
      ['---', '---', '---', '---:', '---:', '---:', '---:'],
      results.flatMap((r) =>
        (
          [
            ['first run', r.first],
            ['rerun', r.rerun],
          ] as const
        ).flatMap(([label, run]) =>
          run.steps.map((st) => [
            r.engine,
            label,
            st.step,
            int(st.services),
            st.seconds.toFixed(1),
            int(st.queries),
            st.services ? (st.queries / st.services).toFixed(1) : '-',
          ]),
        ),
      ),
    ),
    '',
    'Most frequent statements in the first run:',
    '',
    ...table(
      ['statement', ...results.map((r) => r.engine)],
      ['---', ...results.map(() => '---:')],
      [...new Set(results.flatMap((r) => r.first.topQueries.map((q) => q.query)))].map((q) => [
        `\`${q}\``,
        ...results.map((r) => int(r.first.topQueries.find((x) => x.query === q)?.count ?? 0)),
      ]),
    ),
    '',
    '### What limits it',
    '',
    '- **SQLite: reading what the floor does not.** Each chunk reads its services (the columns it',
    '  decides on), their accounts, recorded steps and pending operations; the notify step reads',
    '  every active service expiring on a reminder date to find the few that get a notice. The',
    '  floor only writes. Statement by statement (a timing wrapper around better-sqlite3, 1M book):',
    '  commits about 2 s, the chunk reads about 3 s, the inserts and updates about 3 s.',
    '- **Commits are pages.** A chunk of 500 renewals dirties a few thousand pages (scattered account,',
    '  service and index pages); SQLite writes each to the WAL at commit. Checkpoints every 16 384',
    '  pages instead of 1 000 (`SQLITE_PRAGMAS`) stopped nearly every commit from also copying back',
    '  and syncing pages the next chunk writes again (D-run-sqlite).',
    '- **Plans without statistics.** A database never analyzed (or analyzed while a table was empty)',
    '  plans from defaults: the pending-operations read of a chunk used the status index and read',
    '  every pending operation, more with every chunk, until the index led with the service',
    '  (migration 0020).',
    '- **PostgreSQL: round trips and the shared CPU.** A chunk is a few dozen statements; the server',
    '  process, the backend and the benchmark share two cores.',
    '',
    '### What the run recorded',
    '',
  ];
  const recorded = (r: BillingResult) =>
    new Map<string, number>([
      ...r.outcomes.map((o) => [`billing step \`${o.step}\` → \`${o.outcome}\``, o.count] as const),
      ...r.notifications.map((n) => [`notification \`${n.kind}\``, n.count] as const),
      ...r.operations.map((o) => [`operation \`${o.kind}\` queued`, o.count] as const),
    ]);
  const perEngine = results.map(recorded);
  const keys = [...new Set(perEngine.flatMap((m) => [...m.keys()]))];
  out.push(
    ...table(
      ['row', ...results.map((r) => r.engine)],
      ['---', ...results.map(() => '---:')],
      keys.map((k) => [k, ...perEngine.map((m) => int(m.get(k) ?? 0))]),
    ),
    '',
    `Ledger invariant after the runs: ${results.map((r) => `${r.engine} ${int(r.accountsChecked)} accounts, 0 mismatches`).join('; ')}.`,
    '',
  );
  return out;
}

export const OPERATIONS_HEADING = '## Operations engine';

const machine = () =>
  `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;

/**
 * The operations section, with its own machine, date and command: `BENCH_ONLY=operations`
 * splices it into a file whose header describes another run.
 */
export function operationsSection(
  results: readonly OperationsResult[],
  opts: OperationsOptions,
  run: { command: string; load: readonly [number, number] },
): string {
  if (results.length === 0) return '';
  const ms = (n: number) => int(n);
  const lat = results[0]!.latency;
  return [
    OPERATIONS_HEADING,
    '',
    `Machine: ${machine()}. Date: ${new Date().toISOString().slice(0, 10)}. Command: \`${run.command}\`.`,
    `Load average (1 min) at start ${run.load[0].toFixed(1)}, at end ${run.load[1].toFixed(1)}.`,
    '',
    'The durable operations engine (src/modules/services/engine.ts) run by `startWorker` (one slot',
    'per process) through the real dispatch (`resolveHandler`: the service, its module, the',
    "module's config parsed by the plug-in's schema, the service snapshot) to a plug-in that does",
    'nothing: the `noop-bench` module type (bench/operations.ts), every lifecycle function',
    'returning `{}` at once. Each worker is a process of its own (bench/operations-child.ts) with',
    'its own connection (SQLite: the same file, WAL, `BEGIN IMMEDIATE`, `busy_timeout` 10 s;',
    'PostgreSQL: its own pool). A fresh database per engine and worker count holds',
    `${int(opts.ops)} services (\`BENCH_OPS\`) on one tariff linked to one no-op module.`,
    '',
    '- **throughput**: one operation per service (so per-service ordering never holds a worker',
    '  back) is enqueued through `enqueueOperation`, one transaction each, with no worker',
    '  running; then the workers start. Operations/s = operations ÷ (last `completed_at` − the',
    "  start message). `open` is each service's first operation: the module is found through the",
    '  tariff link and recorded on the service, completion activates it. `prolong` follows on the',
    '  same services (module recorded, nothing to change on the service: the fixed cost of an',
    '  operation), with the `open`s done in the table.',
    `- **latency**: the workers idle-poll every ${ms(lat.pollMs)} ms (\`BENCH_OPS_POLL_MS\`; \`serve\` and`,
    `  \`billfold worker\` poll every ${ms(DEFAULT_POLL_MS)} ms) while one producer enqueues a \`prolong\``,
    `  at a time, ${lat.rate}/s for ${opts.seconds} s (${int(lat.ops)} operations). Enqueue → claim is when`,
    "  the worker has the claim's commit (`Date.now()`) minus the operation's `created_at`;",
    '  enqueue → done uses `completed_at`.',
    '- **clock**: every process uses the system clock, not the `FixedClock` of the other',
    '  benchmarks: `created_at` (written by the producer) and `next_attempt_at` are compared with',
    "  the workers' `now`, and latencies are differences of real instants. Leases are real (60 s)",
    '  and never expire here: no operation runs that long. Logging is silent (`serve` logs one',
    '  line per finished operation).',
    '',
    '### Throughput',
    '',
    '"enqueue/s" is the single producer before the workers start. "per worker" is the operations',
    `each process claimed. "worker CPU" is the worker processes' CPU time (summed) over the wall`,
    'time: 100 % is one core busy; the database server (PostgreSQL) is not in it.',
    '',
    ...table(
      [
        'engine',
        'worker processes',
        'operation',
        'operations',
        'enqueue/s',
        'seconds',
        'operations/s',
        'per worker',
        'queries/operation',
        'worker CPU',
      ],
      ['---', '---:', '---', '---:', '---:', '---:', '---:', '---', '---:', '---:'],
      results.flatMap((r) =>
        r.throughput.map((t) => [
          r.engine,
          r.workers,
          `\`${t.kind}\``,
          int(t.ops),
          int(t.ops / t.enqueueSeconds),
          t.seconds.toFixed(2),
          int(t.ops / t.seconds),
          t.perWorker.join(' / '),
          (t.queries / t.ops).toFixed(1),
          `${Math.round((100 * t.workerCpuMs) / 1000 / t.seconds)} %`,
        ]),
      ),
    ),
    '',
    "### Where a worker's time goes",
    '',
    'Per operation, summed over the worker processes: their wall time (wall × workers ÷ operations),',
    'the time inside statements sent through Kysely (from sending to the result, a wait for a lock',
    'inside a statement included), and the rest: BEGIN (on SQLite the wait for the write lock),',
    'COMMIT (the WAL flush), JavaScript, and idle. `select operations` is the claim query (plus the',
    'lease check before completion, a primary-key lookup).',
    '',
    ...table(
      [
        'engine',
        'worker processes',
        'operation',
        'worker ms/op',
        'in statements',
        '`select operations`',
        'slowest other statements (ms/op)',
        'outside statements',
      ],
      ['---', '---:', '---', '---:', '---:', '---:', '---', '---:'],
      results.flatMap((r) =>
        r.throughput.map((t) => {
          const per = (v: number) => v / t.ops;
          const entries = Object.entries(t.statementMs ?? {});
          const inStatements = entries.reduce((a, [, v]) => a + v, 0);
          const wall = (t.seconds * 1000 * r.workers) / t.ops;
          return [
            r.engine,
            r.workers,
            `\`${t.kind}\``,
            wall.toFixed(2),
            per(inStatements).toFixed(2),
            per(t.statementMs?.['select operations'] ?? 0).toFixed(2),
            entries
              .filter(([k]) => k !== 'select operations')
              .sort((a, b) => b[1] - a[1])
              .slice(0, 3)
              .map(([k, v]) => `${k} ${per(v).toFixed(2)}`)
              .join(', '),
            (wall - per(inStatements)).toFixed(2),
          ];
        }),
      ),
    ),
    '',
    '### Latency from enqueue to start',
    '',
    'An enqueue wakes idle workers when its transaction commits (src/platform/db/signals.ts):',
    '`pg_notify` on PostgreSQL reaches workers in any process; on SQLite the signal is in-process',
    'only, so workers in other processes find the operation at their next poll. "worker" says',
    "where the worker ran: the benchmark's worker processes, or one worker in the producer's",
    'own process (as `billfold serve` runs it).',
    '',
    ...table(
      [
        'engine',
        'worker',
        'enqueued',
        'poll (ms)',
        'claim p50 (ms)',
        'claim p95 (ms)',
        'claim p99 (ms)',
        'claim max (ms)',
        'done p50 (ms)',
        'done p99 (ms)',
        'producer lag max (ms)',
      ],
      ['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      results.flatMap((r) =>
        (
          [
            [`${r.workers} other process${r.workers === 1 ? '' : 'es'}`, r.latency],
            ['same process', r.latencyLocal],
          ] as const
        ).map(([where, l]) => [
          r.engine,
          where,
          `${int(l.ops)} at ${l.rate}/s`,
          ms(l.pollMs),
          ms(l.claim.p50),
          ms(l.claim.p95),
          ms(l.claim.p99),
          ms(l.claim.max),
          ms(l.done.p50),
          ms(l.done.p99),
          ms(l.producerLagMs),
        ]),
      ),
    ),
    '',
    ...OPERATIONS_NOTES,
    '',
  ].join('\n');
}

/** What limits each engine: read with the tables above (written from the measured runs). */
export const OPERATIONS_NOTES: readonly string[] = [
  '### What limits throughput',
  '',
  '- **SQLite: one writer.** A claim and a completion are each a `BEGIN IMMEDIATE` transaction,',
  '  and the file has one write lock, so W processes take turns whatever W is. A process that finds',
  "  the lock taken is not woken when it frees: SQLite's busy handler sleeps and retries (1, 2, 5,",
  '  10 … 100 ms), so the lock sits idle between holders. The "outside statements" column (BEGIN',
  '  waiting for the lock) and `update services` in `open` (the autocommit write that records the',
  '  module on the service, waiting inside the statement) grow with W, the per-worker shares are',
  '  uneven, and operations/s fall as workers are added: on SQLite run one worker process. The',
  '  producer\'s enqueue competes for the same lock ("producer lag" in the latency table).',
  '- **The claim query** reads the partial index `operations_pending` (migration 0008: pending',
  '  operations only, in id order) and stops at the first runnable one, on both engines, so its',
  '  cost does not grow with the done operations the table keeps. Before that index (and with',
  '  `operations_due` on status), SQLite with statistics sorted every queued row per claim:',
  '  4.2 ms per claim with 2 000 queued and 2 000 done, 0.06 ms after (measured with',
  '  `EXPLAIN QUERY PLAN` and a timed loop while writing it). With it (and a 500 ms poll), one',
  '  SQLite worker went from 122 to 327 `open`s/s and from 338 to 487 `prolong`s/s.',
  '- **PostgreSQL: round trips and commits.** With one worker the process is busy about a third',
  '  of the time ("worker CPU"): the rest is waiting for 9 (`prolong`) to 13 (`open`) statements',
  '  and 2 to 3 commits, each a WAL flush (`synchronous_commit = on`). Claims skip locked rows, so',
  '  workers never wait for each other (even shares) and more workers overlap their waits; what',
  '  stops the scaling here is the CPU: two cores for W Node processes, W PostgreSQL backends and',
  '  whatever else the machine runs (see the load averages), so the statements themselves get',
  '  slower as W grows.',
  '- **PostgreSQL: the claim plan needs statistics.** This benchmark runs `ANALYZE` after enqueuing.',
  '  On a table last analysed while (nearly) empty, PostgreSQL may plan the claim as a nested-loop',
  '  anti join of two sequential scans, quadratic in the queued operations (15 ms for one claim',
  '  with 100 queued and 200 done, before the partial index); autovacuum analyses a busy table on',
  '  its own. With statistics it scans `operations_pending` and probes `operations_service_status`.',
  '- **Latency is the poll interval.** Nothing wakes an idle worker when an operation is enqueued:',
  '  a worker that finds the queue empty sleeps `pollMs`, so an operation waits for the next poll,',
  '  uniformly between 0 and `pollMs` (p50 ≈ `pollMs`/2, p99 ≈ `pollMs`), whatever the engine.',
  '  More workers do not shorten it: they empty the queue together and fall asleep within',
  '  milliseconds of each other, so their polls stay in step. The time from claim to done is a few',
  '  milliseconds (the "done" columns follow the "claim" ones).',
];

export const BILLMGR_HEADING = '## BILLmanager API';

/**
 * The BILLmanager API section, with its own machine, date and command (`BENCH_ONLY=billmgr`
 * splices it into a file whose header describes another run).
 */
export function billmgrSection(
  results: readonly BillmgrResult[],
  opts: BillmgrOptions,
  run: { command: string; load: readonly [number, number] },
): string {
  if (results.length === 0) return '';
  const ms = (n: number) => n.toFixed(n < 10 ? 2 : 1);
  const rps = (r: LoadRow) => r.load.requests / r.load.seconds;
  const refusedOf = (r: LoadRow) => Object.values(r.load.refused).reduce((a, n) => a + n, 0);
  const cpu = (r: LoadRow, cpuMs: number) => `${Math.round(cpuMs / 10 / r.load.seconds)} %`;
  const scenarioLabel: Record<string, string> = {
    bare: 'bare Fastify `GET /bare`',
    authinfo: '`soft.edit` with `authinfo`',
    session: '`soft.edit` with `auth=<session>`',
    'bare (after)': 'bare Fastify `GET /bare`, again',
    'bare + work': `bare Fastify \`GET /bare-work\`: ${opts.workMicros} µs of CPU first`,
  };
  const perRequest = (r: LoadRow, cpuMs: number | null) =>
    cpuMs === null ? '-' : ((cpuMs * 1000) / (r.load.requests + refusedOf(r))).toFixed(0);
  const statementsOf = (r: BillmgrResult, scenario: string) => {
    const row = r.rows.find((x) => x.scenario === scenario);
    if (!row) return new Map<string, number>();
    const n = row.load.requests + refusedOf(row);
    return new Map(row.statements.map((s) => [s.query, s.count / n]));
  };
  const first = results[0]!;
  const perStatement = (['authinfo', 'session'] as const).map((s) => statementsOf(first, s));
  const orderStatements = statementsOf(first, 'orders');
  return [
    BILLMGR_HEADING,
    '',
    `Machine: ${machine()}. Date: ${new Date().toISOString().slice(0, 10)}. Command: \`${run.command}\`.`,
    `Load average (1 min) at start ${run.load[0].toFixed(1)}, at end ${run.load[1].toFixed(1)}.`,
    '',
    'The BILLmanager-compatible API (src/modules/billmgr) over real HTTP on 127.0.0.1: the whole',
    'application (`buildHttpApp`, every plug-in and hook) listens in the benchmark process; the load',
    'comes from autocannon 8 in a child process of its own (bench/billmgr-child.ts), so the client',
    "does not take the server's event loop. Next to it, in the same process and the same run, a bare",
    'Fastify instance (no plug-ins, no logger) answers `GET /bare` with a constant 56-byte XML document',
    'under the same load: **the ratio to it is the figure to compare across machines**. The bare route',
    'is measured before and after the API (the ratio uses their mean; the gap between them shows the',
    'drift of the machine during the run).',
    '',
    `- **setup** (fresh database per engine): a \`license-issuer\` module, ISPmanager 6 Lite (55227,`,
    '  7.50/month) linked to it, one client account with a password and a payment covering every',
    '  order; `func=auth` gives a session, which orders the license (`soft.order.param`,',
    '  skipbasket) that `soft.edit` then views (its fields and its key, ~450 bytes of XML).',
    `- **loads**: ${opts.connections} connections (\`BENCH_MGR_CONNECTIONS\`), ${opts.warmupSeconds} s of warm-up`,
    `  (\`BENCH_MGR_WARMUP\`) then ${opts.seconds} s measured (\`BENCH_MGR_SECONDS\`), keep-alive, one request`,
    '  in flight per connection. Requests/s = answers ÷ wall time; latencies are per answer, from',
    "  autocannon's own timing (send → complete answer), percentiles over every answer. Every answer",
    '  is checked (HTTP 200, the `<lickey>` element, no `<error>`); one wrong answer fails the run.',
    '- **authinfo** is argon2 by design; Billfold remembers a verified pair for 60 s',
    '  (src/modules/billmgr/auth.ts), so the load measures the steady state: a hit still checks',
    '  the login limits (`login_attempts`) and reloads the user. The first request with the pair,',
    '  timed alone before the load, pays the argon2 verification ("cold" below); `func=auth` too.',
    '- **orders**: `soft.order.param` with `authinfo`, `skipbasket=on`, `sok=ok`, each with its own',
    '  `remoteid` and address (10.x.y.z: one live license per IP is enforced), POSTed by autocannon',
    `  (\`amount\` ${opts.orders} per run, \`BENCH_MGR_ORDERS\`; bodies from \`setupRequest\`) over`,
    `  ${opts.orderConnections.join(' and ')} connections (\`BENCH_MGR_ORDER_CONNECTIONS\`), one run each, a run stopped after`,
    `  ${opts.orderSeconds} s (\`BENCH_MGR_ORDER_SECONDS\`). Each order charges the balance, creates the service`,
    "  and runs the license-issuer's `open` inline (the key exists when the answer comes).",
    '  Orders/s counts placed orders only; a refused order (an `<error>` answer) is counted apart with',
    "  the server's logged cause. Afterwards: every service is active with a key, the account has",
    '  exactly one 7.50 debit per service, and the ledger balances (`findLedgerMismatches`, here and',
    '  again by bench/engine.ts).',
    '- **clock**: the system clock, not the `FixedClock` of the ledger and billing benchmarks: session',
    '  idle expiry (1 h), the throttled `last_seen_at` touch (once a minute), the authinfo cache (60 s)',
    "  and the login limits' window are all measured against `ctx.clock`; with the clock pinned, the",
    '  touch and the cache expiry could never happen and the server would not be the one `serve` runs.',
    '  Within one 10 s load neither expires (the session was touched at sign-in, the pair cached just',
    '  before), so the loads are steady; a longer `BENCH_MGR_SECONDS` includes one argon2 a minute.',
    '- **server CPU** is the CPU time of the benchmark process (server only: the client is the',
    '  child) over the wall time: 100 % is one core. PostgreSQL backends are not in it.',
    `- **bare + work**: the bare route holding the CPU for ${opts.workMicros} µs (\`BENCH_MGR_WORK_US\`) before it`,
    '  answers: the rate a route that does that much more than the bare one can reach here. Read',
    '  with the CPU columns, it says what a ratio to the bare route costs on this machine.',
    '',
    '### `soft.edit` and the bare route',
    '',
    ...table(
      [
        'engine',
        'load',
        'requests',
        'requests/s',
        'p50 (ms)',
        'p90 (ms)',
        'p99 (ms)',
        'max (ms)',
        '× bare req/s',
        '× bare p99',
        'queries/request',
        'server CPU',
        'CPU µs/request: server',
        'client',
        'database',
      ],
      ['---', '---', ...Array.from({ length: 13 }, () => '---:')],
      results.flatMap((r) => {
        const bares = r.rows.filter((x) => x.scenario === 'bare' || x.scenario === 'bare (after)');
        const bareRps = bares.reduce((a, x) => a + rps(x), 0) / bares.length;
        const bareP99 = bares.reduce((a, x) => a + x.load.p99, 0) / bares.length;
        return r.rows
          .filter((x) => x.scenario !== 'orders')
          .map((x) => {
            const isBare = x.scenario === 'bare' || x.scenario === 'bare (after)';
            return [
              r.engine,
              scenarioLabel[x.scenario] ?? x.scenario,
              int(x.load.requests),
              int(rps(x)),
              ms(x.load.p50),
              ms(x.load.p90),
              ms(x.load.p99),
              ms(x.load.max),
              isBare ? '-' : (rps(x) / bareRps).toFixed(3),
              isBare ? '-' : `${(x.load.p99 / bareP99).toFixed(1)}`,
              (x.queries / x.load.requests).toFixed(1),
              cpu(x, x.serverCpuMs),
              perRequest(x, x.serverCpuMs),
              perRequest(x, x.load.clientCpuMs),
              perRequest(x, x.databaseCpuMs),
            ];
          });
      }),
    ),
    '',
    '"× bare req/s" is requests/s over the mean of the two bare loads of the same engine (1 would be',
    'as fast as Fastify answering a constant); "× bare p99" the p99 over their mean p99. "CPU µs/request"',
    'is CPU time over answers: the server (this process), the client (autocannon, its child) and on',
    'PostgreSQL every `postgres` process (/proc, 10 ms ticks summed over the load); on SQLite the',
    "database's work is the server's. The machine has two cores for all three.",
    '',
    ...table(
      ['engine', 'first `soft.edit` with authinfo, cold (ms)', '`func=auth` (ms)'],
      ['---', '---:', '---:'],
      results.map((r) => [r.engine, ms(r.coldAuthinfoMs), ms(r.loginMs)]),
    ),
    '',
    `Statements per \`soft.edit\` (${first.engine}; the same on both engines; BEGIN/COMMIT not counted):`,
    '',
    ...table(
      ['statement', 'with authinfo', 'with a session'],
      ['---', '---:', '---:'],
      [...new Set(perStatement.flatMap((m) => [...m.keys()]))].map((q) => [
        `\`${q}\``,
        ...perStatement.map((m) => (m.get(q) ?? 0).toFixed(1)),
      ]),
    ),
    '',
    '### `soft.order.param` (skipbasket)',
    '',
    ...table(
      [
        'engine',
        'connections',
        'sent',
        'placed',
        'refused',
        'seconds',
        'orders/s',
        'p50 (ms)',
        'p99 (ms)',
        'max (ms)',
        'queries/order',
        'server CPU',
      ],
      ['---', '---:', '---:', '---:', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
      results.flatMap((r) =>
        r.rows
          .filter((x) => x.scenario === 'orders')
          .map((x) => {
            const refused = refusedOf(x);
            const causes = Object.entries(x.serverErrors)
              .map(([k, n]) => `${int(n)} ${k}`)
              .join(', ');
            return [
              r.engine,
              x.connections,
              `${int(x.load.requests + refused)}${x.load.stopped && x.load.requests + refused < opts.orders ? ' (time limit)' : ''}`,
              int(x.load.requests),
              refused ? `${int(refused)}: ${causes || Object.keys(x.load.refused).join(', ')}` : '0',
              x.load.seconds.toFixed(1),
              (x.load.requests / x.load.seconds).toFixed(1),
              ms(x.load.p50),
              ms(x.load.p99),
              ms(x.load.max),
              x.load.requests + refused ? (x.queries / (x.load.requests + refused)).toFixed(1) : '-',
              cpu(x, x.serverCpuMs),
            ];
          }),
      ),
    ),
    '',
    `After the orders: ${results
      .map(
        (r) =>
          `${r.engine} ${int(r.licenses)} licenses active with a key, ${int(r.charges)} debits of 7.50, ${r.ledgerMismatches} ledger mismatches`,
      )
      .join('; ')}.`,
    '',
    `Most frequent statements per order (${first.engine}, over every order sent in the first run):`,
    `${[...orderStatements]
      .slice(0, 10)
      .map(([q, n]) => `\`${q}\` ${n.toFixed(1)}`)
      .join(', ')}.`,
    '',
    ...BILLMGR_NOTES,
    '',
  ].join('\n');
}

/** What limits the API: read with the tables above (written from the measured runs). */
export const BILLMGR_NOTES: readonly string[] = [
  '### What limits it',
  '',
  '- **`soft.edit`: one statement, then HTTP.** The view is one prepared statement (D-billmgr-fast:',
  "  the caller's session or remembered authinfo, the license, its tariff and prices in one query,",
  '  compiled once; a named prepared statement on PostgreSQL), so `queries/request` is 1. Its rows',
  '  are read as arrays and named once per statement, and the answer is built straight into XML',
  '  elements; on SQLite the statement runs at once outside a transaction, without the promise',
  "  chain of Kysely's connection mutex. Server CPU per session request on SQLite went from about",
  '  136 µs to 94 and now 70–87 µs (runs on different hours). What is left is real work: the statement itself (about',
  '  11 µs alone, more under load, most of it making the 25 columns JS values), rendering the',
  '  answer, parsing the request, hashing the session id.',
  '- **What a ratio to the bare route costs here.** The `bare + work` load is the bare route',
  '  holding the CPU for 20 µs first: it reaches about 0.4–0.5× of the bare rate, and its server CPU',
  '  per request goes from about 20 µs to 45, not 40: on these two shared cores a slower server',
  '  pays more for each answer it writes (in a CPU profile, the `writev` of an answer took about',
  '  36 µs under `soft.edit` and 13 µs under the bare route; the client waiting idle must be woken',
  '  each time). So a route reaches 0.5× only if it adds under about 20 µs of work to the bare one;',
  '  a `soft.edit` that reads the database and renders 450 bytes of XML adds about 50. The bare',
  '  rate itself moves from run to run (29 000 to 52 000 requests/s on this machine across days),',
  '  and the ratio with it: compare server µs/request across runs rather than the ratio.',
  '- **authinfo and the session cost the same**: a remembered pair skips argon2 and its login',
  '  limit check is part of the one statement. argon2 shows only in the cold request and in',
  '  `func=auth` (tens of milliseconds, on the libuv thread pool).',
  '- **PostgreSQL `soft.edit`: three processes on two cores.** Per request, the server spends',
  '  about 160 µs (node-postgres about 80 µs of it: the query written to a socket, the backend',
  '  woken, the answer parsed, its field parsers rebuilt for every result), the `postgres`',
  '  processes about 100 µs and the client about 40 µs: about 300 µs of CPU per request, so two',
  '  cores cannot answer more than about 6 600 requests/s whatever the server does, against a',
  '  bare rate of about 50 000.',
  '- **SQLite orders: one writer.** About 52 statements per order (the authinfo checks, the',
  "  quote, the order, the charge, the service, the license-issuer's `open` run inline, the",
  '  operation bookkeeping) and several write transactions; SQLite has one write lock and the',
  '  server is near a full core already with 1 connection, so 4 connections add little throughput',
  '  and each order waits about 3 times as long.',
  '- **PostgreSQL orders, one connection: commits and round trips**, the same 52 statements each a',
  '  round trip, plus a WAL flush per transaction.',
  '- **PostgreSQL orders, concurrent: lock waits.** Orders of one account queue on its row lock',
  '  (`lockAccount`, then `postEntry`, both `FOR NO KEY UPDATE`, which does not conflict with the',
  "  `FOR KEY SHARE` an order's own foreign keys take: the deadlock this benchmark once found is",
  '  fixed, D5), and an order of a license waits on another for the same address (`license_ips`).',
];

/** The section under `heading` (to the next `## ` heading or the end), or null. */
export function sectionOf(doc: string, heading: string): string | null {
  const lines = doc.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) return null;
  let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  if (end < 0) end = lines.length;
  return `${lines.slice(start, end).join('\n').trimEnd()}\n`;
}

/** `doc` with the section under `heading` replaced by `section`, or `section` appended. */
export function spliceSection(doc: string, heading: string, section: string): string {
  const lines = doc.trimEnd().split('\n');
  const body = section.trimEnd().split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) return `${[...lines, '', ...body].join('\n')}\n`;
  let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  if (end < 0) end = lines.length;
  const after = lines.slice(end);
  return `${[...lines.slice(0, start), ...body, ...(after.length ? ['', ...after] : [])].join('\n')}\n`;
}

export function renderReport(input: ReportInput): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return [
    '# Benchmarks',
    '',
    'Produced by `npm run bench` (bench/run.ts); this file is regenerated by it. Each benchmark runs on a',
    'fresh SQLite file (WAL, synchronous=NORMAL) and a fresh PostgreSQL 15 schema on the same machine; the',
    'ledger invariant is checked after each. Numbers are from one run: compare runs on one machine.',
    '',
    `Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`,
    `Date: ${new Date().toISOString().slice(0, 10)}. Command: \`${input.command}\`.`,
    `Load average (1 min) at start ${input.load[0].toFixed(1)}, at end ${input.load[1].toFixed(1)}: a load above the core count means other work shared the CPUs.`,
    '',
    ...ledgerSection(input.ledger),
    ...billingSection(input.billing),
    ...(input.operations?.length && input.operationsOptions
      ? [
          operationsSection(input.operations, input.operationsOptions, {
            command: input.command,
            load: input.load,
          }),
        ]
      : []),
    ...(input.billmgr?.length && input.billmgrOptions
      ? [billmgrSection(input.billmgr, input.billmgrOptions, { command: input.command, load: input.load })]
      : []),
  ].join('\n');
}
