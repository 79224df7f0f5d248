import { sql } from 'kysely';
import { type MigrationDb, withId } from './helpers.js';

const PERIODS = sql`period in (-100, 1, 3, 6, 12, 24, 36)`;

/** Product types (seeded), enumerations, tariff plans with period prices, addons, and the tariff change history. */
export async function up(db: MigrationDb): Promise<void> {
  await withId(db, db.schema.createTable('product_types'))
    .addColumn('code', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('deletion_delay_days', 'integer', (c) =>
      c.notNull().defaultTo(30).check(sql`deletion_delay_days >= 0`),
    )
    .addColumn('client_can_delete', 'integer', (c) =>
      c.notNull().defaultTo(1).check(sql`client_can_delete in (0, 1)`),
    )
    .addColumn('refund_unused_days', 'integer', (c) =>
      c.notNull().defaultTo(0).check(sql`refund_unused_days in (0, 1)`),
    )
    .addColumn('service_params', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  const now = new Date().toISOString();
  const seed = [
    ['vds', 'VPS', ['hostname', 'os_template']],
    ['dedic', 'Dedicated server', ['hostname', 'os_template']],
    ['soft', 'ISPsystem licenses', ['ip', 'licname']],
    ['softexternal', 'Third-party licenses', ['ip', 'licname']],
    ['platform', 'VMmanager/DCImanager licenses', []],
  ] as const;
  for (const [code, name, params] of seed) {
    await db
      .insertInto('product_types')
      .values({ code, name, service_params: JSON.stringify(params), created_at: now, updated_at: now })
      .execute();
  }

  await withId(db, db.schema.createTable('enumerations'))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await withId(db, db.schema.createTable('enumeration_values'))
    .addColumn('enumeration_id', 'bigint', (c) =>
      c.notNull().references('enumerations.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('internal_name', 'text', (c) => c.notNull())
    .addColumn('sort_order', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'disabled')`))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('enumeration_values_internal_name', ['enumeration_id', 'internal_name'])
    .execute();

  await withId(db, db.schema.createTable('tariffs'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('product_type_id', 'bigint', (c) => c.notNull().references('product_types.id'))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'hidden', 'archived')`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('setup_fee_minor', 'bigint', (c) => c.check(sql`setup_fee_minor >= 0`))
    .addColumn('expires_on', 'text')
    .addColumn('trial_days', 'integer', (c) => c.check(sql`trial_days > 0`))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('tariffs_product_type').on('tariffs').column('product_type_id').execute();

  await db.schema
    .createTable('tariff_periods')
    .addColumn('tariff_id', 'bigint', (c) => c.notNull().references('tariffs.id').onDelete('cascade'))
    .addColumn('period', 'integer', (c) => c.notNull().check(PERIODS))
    .addColumn('price_minor', 'bigint', (c) => c.check(sql`price_minor >= 0`))
    .addPrimaryKeyConstraint('tariff_periods_pk', ['tariff_id', 'period'])
    .execute();

  await withId(db, db.schema.createTable('addons'))
    .addColumn('tariff_id', 'bigint', (c) => c.notNull().references('tariffs.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('control_panel', 'cpu', 'ram', 'disk', 'ipv4', 'generic')`),
    )
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('value_type', 'text', (c) =>
      c.notNull().check(sql`value_type in ('boolean', 'integer', 'enumeration')`),
    )
    .addColumn('required', 'integer', (c) => c.notNull().defaultTo(0).check(sql`required in (0, 1)`))
    .addColumn('default_value', 'text')
    .addColumn('unit', 'text')
    .addColumn('included', 'integer')
    .addColumn('min_value', 'integer')
    .addColumn('max_value', 'integer')
    .addColumn('step', 'integer', (c) => c.check(sql`step > 0`))
    .addColumn('enumeration_id', 'bigint', (c) => c.references('enumerations.id'))
    .addColumn('sort_order', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint(
      'addons_integer_range',
      sql`min_value is null or max_value is null or min_value <= max_value`,
    )
    .addCheckConstraint(
      'addons_enumeration_link',
      sql`(value_type = 'enumeration') = (enumeration_id is not null)`,
    )
    .execute();
  await db.schema.createIndex('addons_tariff').on('addons').column('tariff_id').execute();

  await db.schema
    .createTable('addon_values')
    .addColumn('addon_id', 'bigint', (c) => c.notNull().references('addons.id').onDelete('cascade'))
    .addColumn('enumeration_value_id', 'bigint', (c) => c.notNull().references('enumeration_values.id'))
    .addColumn('offered', 'integer', (c) => c.notNull().check(sql`offered in (0, 1)`))
    .addPrimaryKeyConstraint('addon_values_pk', ['addon_id', 'enumeration_value_id'])
    .execute();
  await db.schema
    .createIndex('addon_values_value')
    .on('addon_values')
    .column('enumeration_value_id')
    .execute();

  // Explicit prices only: a period without a row costs the monthly price × months.
  await withId(db, db.schema.createTable('addon_prices'))
    .addColumn('addon_id', 'bigint', (c) => c.notNull().references('addons.id').onDelete('cascade'))
    .addColumn('enumeration_value_id', 'bigint', (c) => c.references('enumeration_values.id'))
    .addColumn('period', 'integer', (c) => c.notNull().check(PERIODS))
    .addColumn('price_minor', 'bigint', (c) => c.notNull().check(sql`price_minor >= 0`))
    .execute();
  await db.schema
    .createIndex('addon_prices_key')
    .on('addon_prices')
    .unique()
    .expression(sql`addon_id, coalesce(enumeration_value_id, 0), period`)
    .execute();

  await withId(db, db.schema.createTable('tariff_history'))
    .addColumn('tariff_id', 'bigint', (c) => c.notNull().references('tariffs.id'))
    .addColumn('change', 'text', (c) => c.notNull())
    .addColumn('before_json', 'text')
    .addColumn('after_json', 'text')
    .addColumn('actor_user_id', 'bigint', (c) => c.references('users.id'))
    .addColumn('actor_label', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('tariff_history_tariff')
    .on('tariff_history')
    .columns(['tariff_id', 'id'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  for (const t of [
    'tariff_history',
    'addon_prices',
    'addon_values',
    'addons',
    'tariff_periods',
    'tariffs',
    'enumeration_values',
    'enumerations',
    'product_types',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
