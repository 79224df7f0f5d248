import { sql } from 'kysely';
import type { MigrationDb } from './helpers.js';

/**
 * Sign-in attempts are counted before their password or key is checked (D-login-limits):
 *
 * - `login_limit_keys`: one row per email and per client IP that has tried to sign in, the row
 *   an attempt locks while it counts its email's and IP's failures and reserves its own place
 *   among them, so concurrent attempts (several connections, several processes) take turns.
 *   The rows carry nothing else.
 * - `login_attempts.settled_at`: null while the attempt's check is running (it counts as a
 *   failure meanwhile), the instant it was settled afterwards. Earlier rows were settled when
 *   they were written.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('login_limit_keys')
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('email', 'ip')`))
    .addColumn('key', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('login_limit_keys_pk', ['scope', 'key'])
    .execute();
  await db.schema.alterTable('login_attempts').addColumn('settled_at', 'text').execute();
  await db
    .updateTable('login_attempts')
    .set({ settled_at: sql.ref('created_at') })
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.alterTable('login_attempts').dropColumn('settled_at').execute();
  await db.schema.dropTable('login_limit_keys').execute();
}
