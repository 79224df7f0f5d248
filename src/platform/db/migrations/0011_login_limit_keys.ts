import { sql } from 'kysely';
import type { MigrationDb } from './helpers.js';

/**
 * One row per email and per client IP that has tried to sign in: the row a login attempt locks
 * while it counts the failures of its email and IP and reserves its own place among them, so
 * concurrent attempts (several connections, several processes) are counted one after another
 * and no more passwords are checked than the limits allow. The rows carry nothing else.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('login_limit_keys')
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('email', 'ip')`))
    .addColumn('key', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('login_limit_keys_pk', ['scope', 'key'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('login_limit_keys').execute();
}
