/**
 * `npm run bench`: reproducible measurements, written to docs/benchmarks.md with the machine
 * and the command. Each scenario runs on a fresh SQLite file and a fresh PostgreSQL schema.
 * Targets live here, never in timed unit tests.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  createAccount,
  findLedgerMismatches,
  postEntry,
  recordPayment,
  systemActor,
} from '../src/modules/accounts/index.js';
import { FixedClock } from '../src/platform/clock.js';
import { loadConfig } from '../src/platform/config.js';
import type { AppContext } from '../src/platform/context.js';
import { createSecretBox } from '../src/platform/crypto.js';
import {
  type Db,
  inTransaction,
  migrateToLatest,
  openPostgres,
  openSqlite,
} from '../src/platform/db/index.js';
import { silentLogger } from '../src/platform/logger.js';

const PG_URL = process.env.BILLFOLD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const staff = systemActor('bench');

interface Row {
  engine: string;
  scenario: string;
  ops: number;
  seconds: number;
}

async function withEngine(engine: 'sqlite' | 'postgres', fn: (ctx: AppContext) => Promise<void>) {
  let db: Db;
  let cleanup: () => Promise<void>;
  if (engine === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'billfold-bench-'));
    db = openSqlite(path.join(dir, 'bench.sqlite'));
    cleanup = async () => {
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  } else {
    const schema = `bf_bench_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`create schema ${schema}`);
    await c.end();
    db = openPostgres(PG_URL, { schema, max: 10 });
    cleanup = async () => {
      await db.close();
      const d = new pg.Client({ connectionString: PG_URL });
      await d.connect();
      await d.query(`drop schema ${schema} cascade`);
      await d.end();
    };
  }
  await migrateToLatest(db);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'billfold-bench-data-'));
  const ctx: AppContext = {
    config: loadConfig({ BILLFOLD_DATA_DIR: dataDir }),
    db,
    clock: new FixedClock('2021-12-16T10:00:00Z'),
    logger: silentLogger(),
    secrets: createSecretBox(randomBytes(32)),
  };
  try {
    await fn(ctx);
    const bad = await findLedgerMismatches(ctx);
    if (bad.length) throw new Error(`ledger out of balance after the benchmark on ${engine}`);
  } finally {
    await cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

const charge = (ctx: AppContext, accountId: number, i: number) =>
  inTransaction(ctx.db, (tx) =>
    postEntry(tx, {
      accountId,
      kind: 'charge',
      amountMinor: -1n,
      description: 'bench',
      idempotencyKey: `b:${accountId}:${i}`,
      now: '2021-12-16T10:00:00.000Z',
    }),
  );

async function main() {
  const rows: Row[] = [];
  const N = Number(process.env.BENCH_N ?? 3000);
  for (const engine of ['sqlite', 'postgres'] as const) {
    await withEngine(engine, async (ctx) => {
      const accounts: number[] = [];
      for (let i = 0; i < 8; i++) {
        const { account } = await createAccount(ctx, staff, { name: `B${i}`, email: `b${i}@bench.test` });
        accounts.push(Number(account.id));
        await recordPayment(ctx, staff, Number(account.id), {
          amount: '1000000.00',
          method: 'bench',
          reference: `seed-${i}`,
        });
      }
      const a0 = accounts[0]!;
      rows.push({
        engine,
        scenario: 'ledger charge, sequential, one account',
        ops: N,
        seconds: await timed(async () => {
          for (let i = 0; i < N; i++) await charge(ctx, a0, i);
        }),
      });
      rows.push({
        engine,
        scenario: 'ledger charge, 8 concurrent, 8 accounts',
        ops: N,
        seconds: await timed(async () => {
          let next = 0;
          await Promise.all(
            accounts.map(async (acc) => {
              while (true) {
                const i = next++;
                if (i >= N) return;
                await charge(ctx, acc, N + i);
              }
            }),
          );
        }),
      });
      rows.push({
        engine,
        scenario: 'ledger charge, 8 concurrent, one account (row lock)',
        ops: N,
        seconds: await timed(async () => {
          let next = 0;
          await Promise.all(
            Array.from({ length: 8 }, async () => {
              while (true) {
                const i = next++;
                if (i >= N) return;
                await charge(ctx, a0, 3 * N + i);
              }
            }),
          );
        }),
      });
      const M = Math.floor(N / 3);
      rows.push({
        engine,
        scenario: 'record payment (unique reference check + ledger)',
        ops: M,
        seconds: await timed(async () => {
          for (let i = 0; i < M; i++)
            await recordPayment(ctx, staff, accounts[i % 8]!, {
              amount: '1.00',
              method: 'bench',
              reference: `p-${i}`,
            });
        }),
      });
    });
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# Benchmarks',
    '',
    'Produced by `npm run bench` (`BENCH_N` sets the operation count). Each scenario runs on a fresh',
    'SQLite file (WAL, synchronous=NORMAL) and a fresh PostgreSQL 15 schema on the same machine; the',
    'ledger invariant is checked after each engine. Numbers are from one run: compare runs on one machine.',
    '',
    `Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`,
    `Date: ${new Date().toISOString().slice(0, 10)}. Command: \`npm run bench\` (BENCH_N=${N}).`,
    '',
    '| engine | scenario | operations | seconds | ops/s |',
    '|---|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.engine} | ${r.scenario} | ${r.ops} | ${r.seconds.toFixed(2)} | ${Math.round(r.ops / r.seconds)} |`,
    ),
    '',
  ];
  const file = path.join(process.cwd(), 'docs/benchmarks.md');
  fs.writeFileSync(file, lines.join('\n'));
  process.stdout.write(`${lines.join('\n')}\nwritten to ${file}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
