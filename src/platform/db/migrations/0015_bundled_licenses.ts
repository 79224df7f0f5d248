import { sql } from 'kysely';
import { type MigrationDb, withId } from './helpers.js';

/**
 * Control-panel licenses bundled with servers (issue 13), one row per upstream license a
 * server module ordered from its license server (a `billmanager` module):
 *
 * - `service_id`: the server it is bound to; null while it waits in the free-license pool
 *   (PROTOCOL.md §7: upstream it is suspended, named `free.lic`, on `0.0.0.0`).
 * - `state`: `bound` (a server uses it), `free` (in the pool), `gone` (deleted upstream, or
 *   lapsed in the pool). Taking a free license is one conditional update (`state = 'free'`),
 *   so two servers opening at once never take the same one.
 * - `pricelist`: the upstream tariff; `expires_on`, `ip_changed_on`, `key_changed_on` as the
 *   upstream last reported them (the pool's month rules read them).
 */
export async function up(db: MigrationDb): Promise<void> {
  await withId(db, db.schema.createTable('bundled_licenses'))
    .addColumn('license_module_id', 'bigint', (c) => c.notNull().references('processing_modules.id'))
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('pricelist', 'text', (c) => c.notNull())
    .addColumn('service_id', 'bigint', (c) => c.references('services.id'))
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('bound', 'free', 'gone')`))
    .addColumn('name', 'text')
    .addColumn('ip', 'text')
    .addColumn('expires_on', 'text')
    .addColumn('ip_changed_on', 'text')
    .addColumn('key_changed_on', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('bundled_licenses_upstream')
    .on('bundled_licenses')
    .columns(['license_module_id', 'external_id'])
    .unique()
    .execute();
  // A server holds at most one bundled license.
  await db.schema
    .createIndex('bundled_licenses_bound')
    .on('bundled_licenses')
    .column('service_id')
    .unique()
    .where(sql.ref('state'), '=', 'bound')
    .execute();
  await db.schema
    .createIndex('bundled_licenses_pool')
    .on('bundled_licenses')
    .columns(['license_module_id', 'state', 'pricelist', 'id'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('bundled_licenses').execute();
}
