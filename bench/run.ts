/**
 * `npm run bench`: reproducible measurements, written to docs/benchmarks.md with the machine
 * and the command. Each benchmark runs on a fresh SQLite file and a fresh PostgreSQL schema.
 * Targets live here, never in timed unit tests.
 *
 * Environment:
 * - BENCH_N: ledger operations per scenario (3000);
 * - BENCH_SERVICES: services in the daily-run book (100000), or several book sizes, comma-separated
 *   (`10000,100000,1000000`): one daily-run benchmark per engine and size;
 * - BENCH_FLOOR_PG: how the daily run's write floor writes on PostgreSQL: `multi-row` (default) or
 *   `per-row` (bench/floor.ts);
 * - BENCH_ONLY: `ledger`, `billing`, `operations` or `billmgr` to run one benchmark;
 * - BENCH_OPS: operations per throughput scenario of the operations benchmark (2000);
 * - BENCH_OPS_WORKERS: worker process counts, comma-separated (1,2,4);
 * - BENCH_OPS_RATE, BENCH_OPS_SECONDS: the latency scenario's enqueue rate per second (50) and
 *   duration (10); BENCH_OPS_POLL_MS: the workers' idle poll (DEFAULT_POLL_MS, as `serve`);
 * - BENCH_MGR_CONNECTIONS, BENCH_MGR_SECONDS, BENCH_MGR_WARMUP: the BILLmanager API loads' autocannon
 *   connections (10), measured seconds (10) and warm-up seconds (2);
 * - BENCH_MGR_ORDERS, BENCH_MGR_ORDER_CONNECTIONS, BENCH_MGR_ORDER_SECONDS: `soft.order.param`
 *   orders per run (1000), the connection counts, one run each (1,4), and a run's time limit (60);
 * - BENCH_MGR_WORK_US: the CPU time the `bare + work` route holds per request, µs (20);
 * - BENCH_ENGINES: `sqlite`, `postgres` or both, comma-separated (both);
 * - BENCH_OUT: where to write the report (docs/benchmarks.md); the daily run's chart goes next to it
 *   (benchmarks-daily-run.svg);
 * - BENCH_CPU_PROF: a directory: the daily-run child writes a V8 CPU profile there (--cpu-prof), and
 *   the BILLmanager API benchmark one of its server per measured load (bench/cpuprofile.ts sums one up).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_POLL_MS } from '../src/modules/services/worker.js';
import { type BillingResult, billingBenchmark } from './billing.js';
import { type BillmgrOptions, type BillmgrResult, billmgrBenchmark } from './billmgr.js';
import { DAILY_RUN_CHART, dailyRunChart } from './chart.js';
import { type EngineName, withEngine } from './engine.js';
import { type LedgerRow, ledgerBenchmarks } from './ledger.js';
import { type OperationsOptions, type OperationsResult, operationsBenchmark } from './operations.js';
import {
  BILLMGR_HEADING,
  billmgrSection,
  OPERATIONS_HEADING,
  operationsSection,
  renderReport,
  sectionOf,
  spliceSection,
} from './report.js';

const LEDGER_NOW = '2021-12-16T10:00:00Z';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

async function main() {
  const N = positiveInt('BENCH_N', 3000);
  const sizes = (process.env.BENCH_SERVICES || '100000').split(',').map((w) => {
    const n = Number(w.trim());
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`BENCH_SERVICES: not a book size: ${w}`);
    return n;
  });
  const pgForm = process.env.BENCH_FLOOR_PG || 'multi-row';
  if (pgForm !== 'multi-row' && pgForm !== 'per-row')
    throw new Error(`BENCH_FLOOR_PG must be multi-row or per-row, got ${pgForm}`);
  const only = process.env.BENCH_ONLY || undefined;
  if (only !== undefined && !['ledger', 'billing', 'operations', 'billmgr'].includes(only))
    throw new Error(`BENCH_ONLY must be ledger, billing, operations or billmgr, got ${only}`);
  const opsOptions: OperationsOptions = {
    ops: positiveInt('BENCH_OPS', 2000),
    workers: (process.env.BENCH_OPS_WORKERS || '1,2,4').split(',').map((w) => {
      const n = Number(w.trim());
      if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`BENCH_OPS_WORKERS: not a worker count: ${w}`);
      return n;
    }),
    rate: positiveInt('BENCH_OPS_RATE', 50),
    seconds: positiveInt('BENCH_OPS_SECONDS', 10),
    pollMs: positiveInt('BENCH_OPS_POLL_MS', DEFAULT_POLL_MS),
  };
  const mgrOptions: BillmgrOptions = {
    connections: positiveInt('BENCH_MGR_CONNECTIONS', 10),
    seconds: positiveInt('BENCH_MGR_SECONDS', 10),
    warmupSeconds: positiveInt('BENCH_MGR_WARMUP', 2),
    orders: positiveInt('BENCH_MGR_ORDERS', 1000),
    orderConnections: (process.env.BENCH_MGR_ORDER_CONNECTIONS || '1,4').split(',').map((w) => {
      const n = Number(w.trim());
      if (!Number.isSafeInteger(n) || n <= 0)
        throw new Error(`BENCH_MGR_ORDER_CONNECTIONS: not a count: ${w}`);
      return n;
    }),
    orderSeconds: positiveInt('BENCH_MGR_ORDER_SECONDS', 60),
    workMicros: positiveInt('BENCH_MGR_WORK_US', 20),
  };
  const engines = (process.env.BENCH_ENGINES || 'sqlite,postgres').split(',').map((e) => e.trim());
  for (const e of engines)
    if (e !== 'sqlite' && e !== 'postgres') throw new Error(`BENCH_ENGINES: unknown engine ${e}`);

  const loadStart = os.loadavg()[0]!;
  const ledger: LedgerRow[] = [];
  const billing: BillingResult[] = [];
  const operations: OperationsResult[] = [];
  const billmgr: BillmgrResult[] = [];
  for (const engine of engines as EngineName[]) {
    if (only === undefined || only === 'ledger') {
      process.stderr.write(`[${engine}] ledger benchmarks (BENCH_N=${N})…\n`);
      ledger.push(...(await withEngine(engine, LEDGER_NOW, ({ ctx }) => ledgerBenchmarks(engine, ctx, N))));
    }
    if (only === undefined || only === 'billing')
      for (const services of [...sizes].sort((a, b) => a - b))
        billing.push(await withEngine(engine, LEDGER_NOW, (h) => billingBenchmark(h, services, { pgForm })));
    if (only === undefined || only === 'operations')
      for (const w of opsOptions.workers) {
        process.stderr.write(`[${engine}] operations benchmark, ${w} worker process(es)…\n`);
        operations.push(await withEngine(engine, LEDGER_NOW, (h) => operationsBenchmark(h, w, opsOptions)));
      }
    if (only === undefined || only === 'billmgr') {
      process.stderr.write(`[${engine}] BILLmanager API benchmark…\n`);
      billmgr.push(await withEngine(engine, LEDGER_NOW, (h) => billmgrBenchmark(h, mgrOptions)));
    }
  }

  const env = [
    ...(only === undefined || only === 'ledger' ? [`BENCH_N=${N}`] : []),
    ...(only === undefined || only === 'billing'
      ? [
          `BENCH_SERVICES=${sizes.join(',')}`,
          ...(process.env.BENCH_FLOOR_PG ? [`BENCH_FLOOR_PG=${process.env.BENCH_FLOOR_PG}`] : []),
        ]
      : []),
    ...(only === undefined || only === 'operations'
      ? (
          [
            'BENCH_OPS',
            'BENCH_OPS_WORKERS',
            'BENCH_OPS_RATE',
            'BENCH_OPS_SECONDS',
            'BENCH_OPS_POLL_MS',
          ] as const
        )
          .filter((k) => process.env[k])
          .map((k) => `${k}=${process.env[k]}`)
      : []),
    ...(only === undefined || only === 'billmgr'
      ? (
          [
            'BENCH_MGR_CONNECTIONS',
            'BENCH_MGR_SECONDS',
            'BENCH_MGR_WARMUP',
            'BENCH_MGR_ORDERS',
            'BENCH_MGR_ORDER_CONNECTIONS',
            'BENCH_MGR_ORDER_SECONDS',
            'BENCH_MGR_WORK_US',
          ] as const
        )
          .filter((k) => process.env[k])
          .map((k) => `${k}=${process.env[k]}`)
      : []),
    ...(only ? [`BENCH_ONLY=${only}`] : []),
    ...(process.env.BENCH_ENGINES ? [`BENCH_ENGINES=${process.env.BENCH_ENGINES}`] : []),
  ];
  const command = `${env.join(' ')} npm run bench`;
  const load: [number, number] = [loadStart, os.loadavg()[0]!];
  const file = path.resolve(process.env.BENCH_OUT || path.join(process.cwd(), 'docs/benchmarks.md'));
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  let report: string;
  if (only === 'operations' && existing !== null) {
    // Only this section was measured: the others stay as they were (with the header that describes them).
    report = spliceSection(
      existing,
      OPERATIONS_HEADING,
      operationsSection(operations, opsOptions, { command, load }),
    );
  } else if (only === 'billmgr' && existing !== null) {
    report = spliceSection(existing, BILLMGR_HEADING, billmgrSection(billmgr, mgrOptions, { command, load }));
  } else {
    report = renderReport({
      command,
      ledger,
      billing,
      operations,
      operationsOptions: opsOptions,
      billmgr,
      billmgrOptions: mgrOptions,
      load,
    });
    // A run of another benchmark alone keeps the sections with their own header already measured.
    for (const [heading, measured] of [
      [OPERATIONS_HEADING, operations.length > 0],
      [BILLMGR_HEADING, billmgr.length > 0],
    ] as const) {
      const kept = !measured && existing !== null ? sectionOf(existing, heading) : null;
      if (kept !== null) report = spliceSection(report, heading, kept);
    }
    // The ledger section has no header of its own: kept from the last run that measured it,
    // in its place before the daily run, with the date it was measured.
    const ledgerKept = ledger.length === 0 && existing !== null ? sectionOf(existing, '## Ledger') : null;
    if (ledgerKept !== null && !report.includes('\n## Ledger\n')) {
      const at = report.indexOf('\n## Daily billing run');
      if (at >= 0) report = `${report.slice(0, at + 1)}${ledgerKept.trimEnd()}\n\n${report.slice(at + 1)}`;
    }
  }
  fs.writeFileSync(file, report);
  // The daily run's chart, next to the report that links it.
  const chart = dailyRunChart(billing);
  if (chart !== null) {
    const svg = path.join(path.dirname(file), DAILY_RUN_CHART);
    fs.writeFileSync(svg, chart);
    process.stderr.write(`chart written to ${svg}\n`);
  }
  process.stdout.write(`${report}\nwritten to ${file}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
