import { sql } from 'kysely';
import { type MigrationDb, withId } from './helpers.js';

/**
 * Processing modules (configured instances of a plug-in), which tariffs they serve, and
 * which module serves each service. Connection secrets are stored as AES-GCM ciphertext in
 * `secrets` (a JSON map of field → sealed text); `params` holds the rest.
 */
export async function up(db: MigrationDb): Promise<void> {
  await withId(db, db.schema.createTable('processing_modules'))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('module_type', 'text', (c) => c.notNull())
    .addColumn('product_types', 'text', (c) => c.notNull())
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('secrets', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1).check(sql`enabled in (0, 1)`))
    .addColumn('sort_order', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('license_server_id', 'bigint', (c) => c.references('processing_modules.id'))
    .addColumn('min_balance_minor', 'bigint')
    .addColumn('last_check_at', 'text')
    .addColumn('last_check_ok', 'integer', (c) => c.check(sql`last_check_ok in (0, 1)`))
    .addColumn('last_check_message', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('tariff_modules')
    .addColumn('tariff_id', 'bigint', (c) => c.notNull().references('tariffs.id').onDelete('cascade'))
    .addColumn('module_id', 'bigint', (c) => c.notNull().references('processing_modules.id'))
    .addColumn('sort_order', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('tariff_modules_pk', ['tariff_id', 'module_id'])
    .execute();
  await db.schema.createIndex('tariff_modules_module').on('tariff_modules').column('module_id').execute();

  await db.schema
    .alterTable('services')
    .addColumn('module_id', 'bigint', (c) => c.references('processing_modules.id'))
    .execute();
  await db.schema.alterTable('services').addColumn('external_id', 'text').execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.alterTable('services').dropColumn('external_id').execute();
  await db.schema.alterTable('services').dropColumn('module_id').execute();
  await db.schema.dropTable('tariff_modules').execute();
  await db.schema.dropTable('processing_modules').execute();
}
