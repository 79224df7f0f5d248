import { sql } from 'kysely';
import { type MigrationDb, withId } from './helpers.js';

/**
 * Reselling (issue 12):
 *
 * - `tariff_modules.settings`: the plug-in's own settings for one tariff (an upstream tariff
 *   id, a cluster, an OS list), JSON validated by the plug-in's tariff settings schema;
 * - `tariff_modules.external_id`: the upstream tariff a linked tariff was imported from, one
 *   local tariff per upstream tariff and module, so a re-import finds it again;
 * - `tariff_modules.upstream_prices`: what the upstream charged for each period at the last
 *   import (JSON `{currency, prices: [{period, amount}], importedAt}`), never our price;
 * - `upstream_costs`: what each upstream order and renewal cost, against its service, in the
 *   upstream's currency with 4 decimals (ten-thousandths), written once per operation.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .alterTable('tariff_modules')
    .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute();
  await db.schema.alterTable('tariff_modules').addColumn('external_id', 'text').execute();
  await db.schema.alterTable('tariff_modules').addColumn('upstream_prices', 'text').execute();
  await db.schema
    .createIndex('tariff_modules_external')
    .on('tariff_modules')
    .columns(['module_id', 'external_id'])
    .unique()
    .where(sql.ref('external_id'), 'is not', null)
    .execute();

  await withId(db, db.schema.createTable('upstream_costs'))
    .addColumn('service_id', 'bigint', (c) => c.notNull().references('services.id'))
    .addColumn('module_id', 'bigint', (c) => c.notNull().references('processing_modules.id'))
    .addColumn('operation_id', 'bigint', (c) => c.notNull().unique().references('operations.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('order', 'renewal')`))
    .addColumn('period', 'integer', (c) => c.notNull())
    .addColumn('amount_e4', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('recorded_on', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('upstream_costs_service').on('upstream_costs').column('service_id').execute();
  await db.schema.createIndex('upstream_costs_recorded').on('upstream_costs').column('recorded_on').execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('upstream_costs').execute();
  await db.schema.dropIndex('tariff_modules_external').execute();
  await db.schema.alterTable('tariff_modules').dropColumn('upstream_prices').execute();
  await db.schema.alterTable('tariff_modules').dropColumn('external_id').execute();
  await db.schema.alterTable('tariff_modules').dropColumn('settings').execute();
}
