/** docs/benchmarks.md: machine, date, command, then one section (and table) per benchmark. */
import os from 'node:os';
import type { BillingResult } from './billing.js';
import { BILLING_DATE } from './billing.js';
import type { LedgerRow } from './ledger.js';
import { mib } from './memory.js';

export interface ReportInput {
  readonly command: string;
  readonly ledger: readonly LedgerRow[];
  readonly billing: readonly BillingResult[];
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

function billingSection(results: readonly BillingResult[]): string[] {
  const first = results[0];
  if (!first) return [];
  const b = first.book;
  const pct = (n: number) => `${((100 * n) / b.services).toFixed(2)} %`;
  const out = [
    '## Daily billing run',
    '',
    `\`runBilling(ctx, { date: ${BILLING_DATE} })\` (src/modules/billing/run.ts) over a generated book`,
    `of ${int(b.services)} services (\`BENCH_SERVICES\`) on ${int(b.accounts)} accounts, written with bulk inserts`,
    '(bench/book.ts, deterministic: the same book on both engines, planner statistics refreshed with',
    '`ANALYZE`). The run executes in a child process of its own (bench/billing-child.ts) so its memory',
    'is its own; RSS and heap are sampled every 50 ms. The same date is then run again: the rerun must',
    'find every step recorded and write nothing. Afterwards the ledger invariant (`findLedgerMismatches`)',
    'is asserted, renewal failures must be `insufficient_balance` or `tariff_expired` only, and the',
    'rerun must have added no ledger entry and no step.',
    '',
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
  ].join('\n');
}
