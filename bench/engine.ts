/**
 * A fresh database per benchmark: a SQLite file in a temporary directory, or a fresh schema in
 * the PostgreSQL database `test` (dropped afterwards). The ledger invariant is checked before
 * the database goes away.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { appHooks } from '../src/app/hooks.js';
import { BUILTIN_MODULE_TYPES } from '../src/integrations/index.js';
import { findLedgerMismatches } from '../src/modules/accounts/index.js';
import { createPluginRegistry } from '../src/modules/provisioning/registry.js';
import { FixedClock } from '../src/platform/clock.js';
import { loadConfig } from '../src/platform/config.js';
import type { AppContext } from '../src/platform/context.js';
import { createSecretBox } from '../src/platform/crypto.js';
import { type Db, type DbTarget, migrateToLatest, openDb } from '../src/platform/db/index.js';
import { silentLogger } from '../src/platform/logger.js';

export const PG_URL = process.env.BILLFOLD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type EngineName = 'sqlite' | 'postgres';

export interface EngineHandle {
  readonly engine: EngineName;
  readonly ctx: AppContext;
  /** How another process opens the same database (the billing benchmark's child). */
  readonly target: DbTarget;
}

/** An application context on `db` with a fixed clock and a throw-away data directory. */
export function benchContext(db: Db, now: string): { ctx: AppContext; dispose: () => void } {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'billfold-bench-data-'));
  const ctx: AppContext = {
    config: loadConfig({ BILLFOLD_DATA_DIR: dataDir }),
    db,
    clock: new FixedClock(now),
    logger: silentLogger(),
    secrets: createSecretBox(randomBytes(32)),
    plugins: createPluginRegistry(BUILTIN_MODULE_TYPES),
    hooks: appHooks,
  };
  return { ctx, dispose: () => fs.rmSync(dataDir, { recursive: true, force: true }) };
}

async function pgQuery(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

export async function withEngine<T>(
  engine: EngineName,
  now: string,
  fn: (h: EngineHandle) => Promise<T>,
): Promise<T> {
  let target: DbTarget;
  let dropStorage: () => Promise<void>;
  if (engine === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'billfold-bench-'));
    target = { kind: 'sqlite', file: path.join(dir, 'bench.sqlite') };
    dropStorage = async () => fs.rmSync(dir, { recursive: true, force: true });
  } else {
    const schema = `bf_bench_${randomBytes(4).toString('hex')}`;
    await pgQuery(`create schema ${schema}`);
    target = { kind: 'postgres', url: PG_URL, schema, max: 10 };
    dropStorage = () => pgQuery(`drop schema ${schema} cascade`);
  }
  const db = openDb(target);
  const { ctx, dispose } = benchContext(db, now);
  try {
    await migrateToLatest(db);
    const result = await fn({ engine, ctx, target });
    const bad = await findLedgerMismatches(ctx);
    if (bad.length)
      throw new Error(`ledger out of balance after the benchmark on ${engine}: ${bad.length} accounts`);
    return result;
  } finally {
    await db.close();
    await dropStorage();
    dispose();
  }
}
