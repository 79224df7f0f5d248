export {
  type Conn,
  type Db,
  type DbKind,
  type DbTarget,
  openDb,
  openPostgres,
  openSqlite,
  type Tx,
} from './connect.js';
export { isCheckViolation, isUniqueViolation } from './errors.js';
export { MigrationError, migrateToLatest, migrationStatus } from './migrate.js';
export type * from './schema.js';

import type { Db, Tx } from './connect.js';

/** Runs `fn` in one transaction: everything it writes lands together or not at all. */
export const inTransaction = <T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> =>
  db.kysely.transaction().execute(fn);
