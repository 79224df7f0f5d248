/**
 * A daily billing run in a process of its own, for run.db.test.ts to kill with SIGKILL half-way.
 * Started as `node --import tsx test/billing/run-child.ts` with:
 * - RUN_CHILD_SQLITE_FILE=<file>, or RUN_CHILD_PG_URL=<url> and RUN_CHILD_PG_SCHEMA=<schema>;
 * - RUN_CHILD_DATE=YYYY-MM-DD (the run's date; the clock stands at 00:30 UTC that day);
 * - RUN_CHILD_CHUNK=<n>: services per chunk transaction (small, so a kill lands between chunks and inside one).
 * Prints `started` once connected, then the run's summary as JSON when it completes.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Temporal } from 'temporal-polyfill';
import { appHooks } from '../../src/app/hooks.js';
import { BUILTIN_MODULE_TYPES } from '../../src/integrations/index.js';
import { runBilling } from '../../src/modules/billing/run.js';
import { createPluginRegistry } from '../../src/modules/provisioning/registry.js';
import { FixedClock } from '../../src/platform/clock.js';
import { loadConfig } from '../../src/platform/config.js';
import type { AppContext } from '../../src/platform/context.js';
import { createSecretBox } from '../../src/platform/crypto.js';
import { type Db, openPostgres, openSqlite } from '../../src/platform/db/index.js';
import { silentLogger } from '../../src/platform/logger.js';

const env = process.env;
const date = Temporal.PlainDate.from(env.RUN_CHILD_DATE ?? '');
let db: Db;
if (env.RUN_CHILD_SQLITE_FILE) db = openSqlite(env.RUN_CHILD_SQLITE_FILE);
else if (env.RUN_CHILD_PG_URL && env.RUN_CHILD_PG_SCHEMA)
  db = openPostgres(env.RUN_CHILD_PG_URL, { schema: env.RUN_CHILD_PG_SCHEMA, max: 2 });
else throw new Error('run-child: RUN_CHILD_SQLITE_FILE or RUN_CHILD_PG_URL + RUN_CHILD_PG_SCHEMA required');

const ctx: AppContext = {
  config: loadConfig({ BILLFOLD_DATA_DIR: join(tmpdir(), 'billfold-test-no-data-dir') }),
  db,
  clock: new FixedClock(`${date.toString()}T00:30:00Z`),
  logger: silentLogger(),
  secrets: createSecretBox(randomBytes(32)),
  plugins: createPluginRegistry(BUILTIN_MODULE_TYPES),
  hooks: appHooks,
};

await db.kysely.selectFrom('provider').select('id').executeTakeFirstOrThrow();
process.stdout.write('started\n');
const chunkSize = env.RUN_CHILD_CHUNK ? Number(env.RUN_CHILD_CHUNK) : undefined;
const summary = await runBilling(ctx, { date, ...(chunkSize ? { chunkSize } : {}) });
process.stdout.write(`${JSON.stringify(summary)}\n`);
await db.close();
