/**
 * `npm run bench`: reproducible measurements, written to docs/benchmarks.md with the machine
 * and the command. Each benchmark runs on a fresh SQLite file and a fresh PostgreSQL schema.
 * Targets live here, never in timed unit tests.
 *
 * Environment:
 * - BENCH_N: ledger operations per scenario (3000);
 * - BENCH_SERVICES: services in the daily-run book (100000);
 * - BENCH_ONLY: `ledger` or `billing` to run one benchmark;
 * - BENCH_ENGINES: `sqlite`, `postgres` or both, comma-separated (both);
 * - BENCH_OUT: where to write the report (docs/benchmarks.md);
 * - BENCH_CPU_PROF: a directory: the daily-run child writes a V8 CPU profile there (--cpu-prof).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BillingResult, billingBenchmark } from './billing.js';
import { type EngineName, withEngine } from './engine.js';
import { type LedgerRow, ledgerBenchmarks } from './ledger.js';
import { renderReport } from './report.js';

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
  const services = positiveInt('BENCH_SERVICES', 100_000);
  const only = process.env.BENCH_ONLY || undefined;
  if (only !== undefined && only !== 'ledger' && only !== 'billing')
    throw new Error(`BENCH_ONLY must be ledger or billing, got ${only}`);
  const engines = (process.env.BENCH_ENGINES || 'sqlite,postgres').split(',').map((e) => e.trim());
  for (const e of engines)
    if (e !== 'sqlite' && e !== 'postgres') throw new Error(`BENCH_ENGINES: unknown engine ${e}`);

  const loadStart = os.loadavg()[0]!;
  const ledger: LedgerRow[] = [];
  const billing: BillingResult[] = [];
  for (const engine of engines as EngineName[]) {
    if (only !== 'billing') {
      process.stderr.write(`[${engine}] ledger benchmarks (BENCH_N=${N})…\n`);
      ledger.push(...(await withEngine(engine, LEDGER_NOW, ({ ctx }) => ledgerBenchmarks(engine, ctx, N))));
    }
    if (only !== 'ledger')
      billing.push(await withEngine(engine, LEDGER_NOW, (h) => billingBenchmark(h, services)));
  }

  const env = [
    `BENCH_N=${N}`,
    `BENCH_SERVICES=${services}`,
    ...(only ? [`BENCH_ONLY=${only}`] : []),
    ...(process.env.BENCH_ENGINES ? [`BENCH_ENGINES=${process.env.BENCH_ENGINES}`] : []),
  ];
  const report = renderReport({
    command: `${env.join(' ')} npm run bench`,
    ledger,
    billing,
    load: [loadStart, os.loadavg()[0]!],
  });
  const file = path.resolve(process.env.BENCH_OUT || path.join(process.cwd(), 'docs/benchmarks.md'));
  fs.writeFileSync(file, report);
  process.stdout.write(`${report}\nwritten to ${file}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
