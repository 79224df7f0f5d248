import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appHooks } from '../../src/app/hooks.js';
import { BUILTIN_MODULE_TYPES } from '../../src/integrations/index.js';
import { findLedgerMismatches } from '../../src/modules/accounts/index.js';
import type { AnyModuleType } from '../../src/modules/provisioning/plugin.js';
import { createPluginRegistry } from '../../src/modules/provisioning/registry.js';
import { FixedClock } from '../../src/platform/clock.js';
import { loadConfig } from '../../src/platform/config.js';
import type { AppContext } from '../../src/platform/context.js';
import { createSecretBox } from '../../src/platform/crypto.js';
import type { Db } from '../../src/platform/db/index.js';
import { type Logger, silentLogger } from '../../src/platform/logger.js';
import { createTestDb, type TestDb } from './db.js';

export interface TestContext extends AppContext {
  readonly clock: FixedClock;
  readonly testDb: TestDb;
}

/** An application context on a fresh test database with a fixed clock (default 2021-12-16T10:00:00Z). */
export async function createTestContext(
  opts: { now?: string; file?: boolean; moduleTypes?: readonly AnyModuleType[]; logger?: Logger } = {},
): Promise<TestContext> {
  const testDb = await createTestDb(opts.file ? { file: true } : {});
  return contextOn(testDb.db, testDb, opts.now, undefined, opts.moduleTypes, opts.logger);
}

export function contextOn(
  db: Db,
  testDb: TestDb,
  now = '2021-12-16T10:00:00Z',
  clock?: FixedClock,
  moduleTypes: readonly AnyModuleType[] = [],
  logger: Logger = silentLogger(),
): TestContext {
  // Nothing in a test context writes to the data directory (the secret box is made here), so
  // none is created: tests leave no folders behind.
  const config = loadConfig({ BILLFOLD_DATA_DIR: join(tmpdir(), 'billfold-test-no-data-dir') });
  return {
    config,
    db,
    clock: clock ?? new FixedClock(now),
    logger,
    secrets: createSecretBox(randomBytes(32)),
    plugins: createPluginRegistry([...BUILTIN_MODULE_TYPES, ...moduleTypes]),
    hooks: appHooks,
    testDb,
  };
}

/** The ledger invariant every database test ends with: stored balance = sum of entries ≥ −credit limit. */
export async function expectLedgerBalanced(ctx: AppContext): Promise<void> {
  const bad = await findLedgerMismatches(ctx);
  if (bad.length > 0) {
    throw new Error(
      `ledger out of balance: ${JSON.stringify(bad, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`,
    );
  }
}
