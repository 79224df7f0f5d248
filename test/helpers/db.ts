import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Db, migrateToLatest, openPostgres, openSqlite } from '../../src/platform/db/index.js';

/** Which engine the database tests run on: `BILLFOLD_TEST_DB=sqlite|postgres` (default sqlite). */
export const TEST_ENGINE: 'sqlite' | 'postgres' =
  process.env.BILLFOLD_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
export const TEST_PG_URL = process.env.BILLFOLD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDb {
  readonly db: Db;
  /** PostgreSQL: the test's own schema. */
  readonly schema?: string;
  /** A second, independent handle on the same database (a second process, in effect). */
  openAnother(): Db;
  /** Drops what the test created: the PostgreSQL schema, or the SQLite database. */
  destroy(): Promise<void>;
}

/**
 * A fresh, migrated database for one test or one file. PostgreSQL: a schema of its own
 * (`bf_test_<random>`) in the `test` database, dropped afterwards. SQLite: a private
 * in-memory database, or a temporary file when `file` is asked for (several handles).
 */
export async function createTestDb(opts: { file?: boolean } = {}): Promise<TestDb> {
  if (TEST_ENGINE === 'postgres') {
    const schema = `bf_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const db = openPostgres(TEST_PG_URL, { schema, max: 10 });
    const dropSchema = async () => {
      const c = new pg.Client({ connectionString: TEST_PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    };
    try {
      await migrateToLatest(db);
    } catch (err) {
      await db.close();
      await dropSchema();
      throw err;
    }
    const extra: Db[] = [];
    return {
      db,
      schema,
      openAnother() {
        const another = openPostgres(TEST_PG_URL, { schema, max: 10 });
        extra.push(another);
        return another;
      },
      async destroy() {
        await Promise.all([db, ...extra].map((d) => d.close()));
        await dropSchema();
      },
    };
  }
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = opts.file ? mkdtempSync(join(tmpdir(), 'billfold-test-')) : null;
  const file = dir ? join(dir, 'test.sqlite') : ':memory:';
  const db = openSqlite(file);
  await migrateToLatest(db);
  const extra: Db[] = [];
  return {
    db,
    openAnother() {
      if (!dir) throw new Error('openAnother needs createTestDb({ file: true }) on SQLite');
      const another = openSqlite(file);
      extra.push(another);
      return another;
    },
    async destroy() {
      await Promise.all([db, ...extra].map((d) => d.close()));
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
