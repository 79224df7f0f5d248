import { sql } from 'kysely';
import { isPostgres, type MigrationDb, withId } from './helpers.js';

/**
 * The lifecycle issue (10):
 * - `provider.time_zone`: "today" is the calendar date in the provider's IANA time zone;
 * - `license_ips`: one live license per (IP, license family), held by the database: a row per
 *   live license address, inserted in the transaction that creates the service or moves its IP
 *   and deleted when the service is deleted, so two concurrent orders cannot both take an IP;
 * - `service_charges.request_key`: a renewal request's idempotency key, unique per service, so
 *   a retried request is recognised however the service moved since;
 * - staff tasks of kind `billing_error`: one service's unexpected failure in the daily run.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .alterTable('provider')
    .addColumn('time_zone', 'text', (c) => c.notNull().defaultTo('UTC'))
    .execute();

  await db.schema
    .createTable('license_ips')
    .addColumn('family', 'text', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('service_id', 'bigint', (c) => c.notNull().unique().references('services.id'))
    .addPrimaryKeyConstraint('license_ips_pk', ['family', 'ip'])
    .execute();
  // Live licenses that already hold an address: the oldest keeps it where two clash (the
  // check outside the transaction that this table replaces could let a second one in).
  const ipOf = isPostgres(db) ? sql`(s.params::json ->> 'ip')` : sql`json_extract(s.params, '$.ip')`;
  await sql`
    insert into license_ips (family, ip, service_id)
    select case when t.code = 'soft' then 'soft' else 'tariff:' || cast(s.tariff_id as text) end, ${ipOf}, s.id
    from services s join product_types t on t.id = s.product_type_id
    where t.code in ('soft', 'softexternal', 'platform') and s.status <> 'deleted'
      and ${ipOf} is not null and ${ipOf} <> '' and ${ipOf} <> '0.0.0.0'
    order by s.id
    on conflict do nothing`.execute(db);

  await db.schema.alterTable('service_charges').addColumn('request_key', 'text').execute();
  await db.schema
    .createIndex('service_charges_request_key')
    .on('service_charges')
    .columns(['service_id', 'request_key'])
    .unique()
    .execute();

  await widenStaffTaskKinds(db, ['operation_failed', 'manual_action', 'billing_error']);

  // An operation that failed or was cancelled gives its idempotency key up, so the same
  // request later makes a new operation instead of finding the dead one (operations.ts).
  await sql`update operations set idempotency_key = idempotency_key || '#released:' || cast(id as text)
    where status in ('failed', 'cancelled')`.execute(db);
}

/** A CHECK constraint cannot be altered in SQLite: the table is rebuilt with the new one. */
async function widenStaffTaskKinds(db: MigrationDb, kinds: string[]): Promise<void> {
  const list = sql.join(kinds.map((k) => sql.lit(k)));
  if (isPostgres(db)) {
    await sql`alter table staff_tasks drop constraint if exists staff_tasks_kind_check`.execute(db);
    await sql`alter table staff_tasks add constraint staff_tasks_kind_check check (kind in (${list}))`.execute(
      db,
    );
    return;
  }
  await withId(db, db.schema.createTable('staff_tasks_new'))
    .addColumn('operation_id', 'bigint', (c) => c.references('operations.id'))
    .addColumn('service_id', 'bigint', (c) => c.references('services.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in (${list})`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('open', 'done', 'cancelled')`))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'text')
    .addColumn('closed_by', 'text')
    .execute();
  await sql`insert into staff_tasks_new select id, operation_id, service_id, kind, status, title, details, created_at, closed_at, closed_by from staff_tasks`.execute(
    db,
  );
  await db.schema.dropTable('staff_tasks').execute();
  await db.schema.alterTable('staff_tasks_new').renameTo('staff_tasks').execute();
  await db.schema.createIndex('staff_tasks_status').on('staff_tasks').columns(['status', 'id']).execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await sql`delete from staff_tasks where kind = 'billing_error'`.execute(db);
  await widenStaffTaskKinds(db, ['operation_failed', 'manual_action']);
  await db.schema.dropIndex('service_charges_request_key').execute();
  await db.schema.alterTable('service_charges').dropColumn('request_key').execute();
  await db.schema.dropTable('license_ips').execute();
  await db.schema.alterTable('provider').dropColumn('time_zone').execute();
}
