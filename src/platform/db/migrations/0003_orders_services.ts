import { sql } from 'kysely';
import { type MigrationDb, withId } from './helpers.js';

/**
 * Orders, services, what each service was charged, its history, the operations queue
 * (lifecycle changes for the provisioning side), the daily billing run's idempotency keys
 * and notification events.
 */
export async function up(db: MigrationDb): Promise<void> {
  await withId(db, db.schema.createTable('orders'))
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('awaiting_payment', 'paid', 'cancelled')`),
    )
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('total_minor', 'bigint', (c) => c.notNull().check(sql`total_minor >= 0`))
    .addColumn('idempotency_key', 'text')
    .addColumn('ledger_entry_id', 'bigint', (c) => c.references('ledger_entries.id'))
    .addColumn('placed_by_user_id', 'bigint', (c) => c.references('users.id'))
    .addColumn('placed_by', 'text', (c) => c.notNull())
    .addColumn('cancel_reason', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('paid_at', 'text')
    .addColumn('cancelled_at', 'text')
    .addUniqueConstraint('orders_idempotency', ['account_id', 'idempotency_key'])
    .execute();
  await db.schema
    .createIndex('orders_account_status')
    .on('orders')
    .columns(['account_id', 'status', 'id'])
    .execute();

  await withId(db, db.schema.createTable('order_items'))
    .addColumn('order_id', 'bigint', (c) => c.notNull().references('orders.id'))
    .addColumn('tariff_id', 'bigint', (c) => c.notNull().references('tariffs.id'))
    .addColumn('period', 'integer', (c) => c.notNull())
    .addColumn('addon_values', 'text', (c) => c.notNull())
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('lines', 'text', (c) => c.notNull())
    .addColumn('amount_minor', 'bigint', (c) => c.notNull().check(sql`amount_minor >= 0`))
    .addColumn('setup_minor', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('granted_days', 'integer', (c) => c.notNull())
    .addColumn('full_days', 'integer', (c) => c.notNull())
    .addColumn('autoprolong', 'integer')
    .addColumn('service_id', 'bigint')
    .execute();
  await db.schema.createIndex('order_items_order').on('order_items').column('order_id').execute();

  await withId(db, db.schema.createTable('services'))
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('tariff_id', 'bigint', (c) => c.notNull().references('tariffs.id'))
    .addColumn('product_type_id', 'bigint', (c) => c.notNull().references('product_types.id'))
    .addColumn('order_item_id', 'bigint', (c) => c.references('order_items.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('ordered', 'processing', 'active', 'suspended', 'deleted')`),
    )
    .addColumn('suspend_reason', 'text', (c) =>
      c.check(sql`suspend_reason in ('expired', 'admin', 'abuse', 'client')`),
    )
    .addColumn('period', 'integer', (c) => c.notNull())
    .addColumn('autoprolong', 'integer')
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('addon_values', 'text', (c) => c.notNull())
    .addColumn('activated_on', 'text')
    .addColumn('period_start', 'text')
    .addColumn('expires_on', 'text')
    .addColumn('suspended_on', 'text')
    .addColumn('deleted_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addCheckConstraint('services_suspension', sql`(status = 'suspended') = (suspend_reason is not null)`)
    .execute();
  await db.schema.createIndex('services_account').on('services').columns(['account_id', 'id']).execute();
  await db.schema
    .createIndex('services_status_expires')
    .on('services')
    .columns(['status', 'expires_on'])
    .execute();

  // What a service was charged or credited, with the priced lines as they were: later price
  // changes never rewrite what a customer paid.
  await withId(db, db.schema.createTable('service_charges'))
    .addColumn('service_id', 'bigint', (c) => c.notNull().references('services.id'))
    .addColumn('kind', 'text', (c) =>
      c
        .notNull()
        .check(sql`kind in ('order', 'renewal', 'tariff_change', 'refund', 'activation_adjustment')`),
    )
    .addColumn('period', 'integer')
    .addColumn('start_on', 'text')
    .addColumn('end_on', 'text')
    .addColumn('amount_minor', 'bigint', (c) => c.notNull())
    .addColumn('lines', 'text', (c) => c.notNull())
    .addColumn('ledger_entry_id', 'bigint', (c) => c.references('ledger_entries.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('service_charges_service')
    .on('service_charges')
    .columns(['service_id', 'id'])
    .execute();

  await withId(db, db.schema.createTable('service_history'))
    .addColumn('service_id', 'bigint', (c) => c.notNull().references('services.id'))
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('from_status', 'text')
    .addColumn('to_status', 'text')
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('actor_user_id', 'bigint', (c) => c.references('users.id'))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('service_history_service')
    .on('service_history')
    .columns(['service_id', 'id'])
    .execute();

  await withId(db, db.schema.createTable('operations'))
    .addColumn('service_id', 'bigint', (c) => c.notNull().references('services.id'))
    .addColumn('kind', 'text', (c) =>
      c.notNull().check(sql`kind in ('open', 'prolong', 'suspend', 'resume', 'close', 'set_param')`),
    )
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('queued', 'running', 'retry_wait', 'done', 'failed', 'cancelled')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('last_error', 'text')
    .addColumn('progress', 'text')
    .addColumn('result', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'text')
    .execute();
  await db.schema.createIndex('operations_service').on('operations').columns(['service_id', 'id']).execute();
  await db.schema
    .createIndex('operations_due')
    .on('operations')
    .columns(['status', 'next_attempt_at'])
    .execute();

  await withId(db, db.schema.createTable('billing_runs'))
    .addColumn('run_date', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('running', 'completed', 'failed')`))
    .addColumn('summary', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .execute();
  await db.schema.createIndex('billing_runs_date').on('billing_runs').columns(['run_date', 'id']).execute();

  // One row per (service, date, step), written in the step's own transaction: a rerun, or a
  // run killed half-way and started again, finds the row and does nothing twice.
  await withId(db, db.schema.createTable('billing_steps'))
    .addColumn('service_id', 'bigint', (c) => c.notNull().references('services.id'))
    .addColumn('run_date', 'text', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('amount_minor', 'bigint')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('billing_steps_key', ['service_id', 'run_date', 'step'])
    .execute();

  await withId(db, db.schema.createTable('notifications'))
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('service_id', 'bigint', (c) => c.references('services.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('dedupe_key', 'text', (c) => c.unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('notifications_account')
    .on('notifications')
    .columns(['account_id', 'id'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  for (const t of [
    'notifications',
    'billing_steps',
    'billing_runs',
    'operations',
    'service_history',
    'service_charges',
    'services',
    'order_items',
    'orders',
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
