export {
  type Conn,
  type Db,
  type DbKind,
  type DbTarget,
  openDb,
  openPostgres,
  openSqlite,
  SQLITE_PRAGMAS,
  type Tx,
} from './connect.js';
export { isCheckViolation, isUniqueViolation } from './errors.js';
export { MigrationError, migrateToLatest, migrationStatus } from './migrate.js';
export type * from './schema.js';
export { channelOf, type Signals, type Topic } from './signals.js';

import { PostgresAdapter, type SelectQueryBuilder, sql } from 'kysely';
import type { Db, Tx } from './connect.js';

/**
 * Runs `fn` inside a savepoint of the caller's transaction: if it throws, what it wrote is
 * rolled back and the transaction goes on (PostgreSQL and SQLite alike). `name` must be a
 * plain identifier.
 */
export async function withSavepoint<T>(tx: Tx, name: string, fn: () => Promise<T>): Promise<T> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad savepoint name ${name}`);
  await sql.raw(`savepoint ${name}`).execute(tx);
  try {
    const result = await fn();
    await sql.raw(`release savepoint ${name}`).execute(tx);
    return result;
  } catch (err) {
    await sql.raw(`rollback to savepoint ${name}`).execute(tx);
    await sql.raw(`release savepoint ${name}`).execute(tx);
    throw err;
  }
}

/** Runs `fn` in one transaction: everything it writes lands together or not at all. */
export const inTransaction = <T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> =>
  db.kysely.transaction().execute(fn);

/**
 * Locks the rows a select reads until its transaction ends, the way each engine needs it.
 * PostgreSQL: `FOR NO KEY UPDATE` — no transaction changes a key, and a plain `FOR UPDATE`
 * would also wait for the key-share locks that inserts referencing the row take (two orders of
 * one account deadlocked that way); `skipLocked` passes over rows another transaction holds.
 * SQLite: nothing to add, the IMMEDIATE transaction already holds the one write lock.
 */
// biome-ignore lint/suspicious/noExplicitAny: any select, whatever its tables and columns
export function lockRows<Q extends SelectQueryBuilder<any, any, any>>(
  tx: Tx,
  q: Q,
  opts: { skipLocked?: boolean } = {},
): Q {
  if (!(tx.getExecutor().adapter instanceof PostgresAdapter)) return q;
  const locked = q.forNoKeyUpdate();
  return (opts.skipLocked ? locked.skipLocked() : locked) as Q;
}
