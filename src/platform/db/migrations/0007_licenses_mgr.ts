import { sql } from 'kysely';
import type { MigrationDb } from './helpers.js';

/**
 * Selling licenses: the keys Billfold issues (module type `license-issuer`), the caller's own
 * id for a service (`remoteid` of the BILLmanager API), and the BILLmanager API's sessions
 * and one-time login keys.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema.alterTable('services').addColumn('remote_id', 'text').execute();
  await db.schema
    .createIndex('services_remote_id')
    .on('services')
    .columns(['account_id', 'remote_id'])
    .where(sql.ref('remote_id'), 'is not', null)
    .execute();

  await db.schema
    .createTable('issued_licenses')
    .addColumn('service_id', 'bigint', (c) => c.primaryKey().references('services.id'))
    .addColumn('license_key', 'text', (c) => c.notNull().unique())
    .addColumn('ip_changed_on', 'text')
    .addColumn('key_changed_on', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('mgr_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('mgr_sessions_user').on('mgr_sessions').column('user_id').execute();

  await db.schema
    .createTable('mgr_login_keys')
    .addColumn('key_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_by_user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('mgr_login_keys').execute();
  await db.schema.dropTable('mgr_sessions').execute();
  await db.schema.dropTable('issued_licenses').execute();
  await db.schema.dropIndex('services_remote_id').execute();
  await db.schema.alterTable('services').dropColumn('remote_id').execute();
}
