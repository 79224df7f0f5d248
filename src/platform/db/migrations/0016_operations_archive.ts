import { sql } from 'kysely';
import { isPostgres, type MigrationDb } from './helpers.js';

/**
 * Finished operations leave the hot table (issue 17): `operations_archive` takes the done and
 * cancelled operations older than the retention period, moved by `archiveOperations`
 * (src/modules/services/retention.ts) in batches after the daily run.
 *
 * The archive has the operations table's columns and keeps each row's id. Rows that point at an
 * operation (a staff task, an upstream cost, a license IP claim) keep pointing at it wherever it
 * lives, so their foreign keys to `operations` go: an upstream cost is recorded for almost
 * every resold open and renewal, and with the key those operations could never be moved.
 * What the key checked is kept by the code that writes these rows, always in the transaction
 * that has the operation in hand.
 */
const REFERRERS = ['staff_tasks', 'upstream_costs', 'license_ips'] as const;

export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('operations_archive')
    .addColumn('id', 'bigint', (c) => c.primaryKey())
    .addColumn('service_id', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('done', 'cancelled')`))
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('last_error', 'text')
    .addColumn('progress', 'text')
    .addColumn('result', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'text')
    .addColumn('archived_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('operations_archive_service')
    .on('operations_archive')
    .columns(['service_id', 'id'])
    .execute();
  // The retention's scan: finished operations by age.
  await db.schema
    .createIndex('operations_finished')
    .on('operations')
    .columns(['status', 'updated_at'])
    .execute();
  for (const table of REFERRERS) await dropForeignKeyTo(db, table, 'operations');
}

/**
 * Drops `table`'s foreign keys to `target`. PostgreSQL names them; SQLite cannot drop a
 * constraint, so the table is rebuilt from its own stored definition with the references
 * removed (every other column, constraint and index as it was).
 */
async function dropForeignKeyTo(db: MigrationDb, table: string, target: string): Promise<void> {
  if (isPostgres(db)) {
    const { rows } = await sql<{ name: string }>`
      select conname as name from pg_constraint
      where contype = 'f' and conrelid = ${table}::regclass and confrelid = ${target}::regclass`.execute(db);
    for (const r of rows)
      await sql`alter table ${sql.table(table)} drop constraint ${sql.ref(r.name)}`.execute(db);
    return;
  }
  const { rows } = await sql<{ type: string; sql: string | null }>`
    select type, sql from sqlite_master where tbl_name = ${table} and type in ('table', 'index')`.execute(db);
  const create = rows.find((r) => r.type === 'table')?.sql;
  if (!create) throw new Error(`no table ${table}`);
  const reference = new RegExp(`\\s+references\\s+"?${target}"?\\s*\\("?id"?\\)`, 'gi');
  if (!reference.test(create)) return;
  const temp = `${table}_rebuilt`;
  const rebuilt = create
    .replace(reference, '')
    .replace(new RegExp(`^create table\\s+"?${table}"?`, 'i'), `create table "${temp}"`);
  await sql.raw(rebuilt).execute(db);
  await sql.raw(`insert into "${temp}" select * from "${table}"`).execute(db);
  await sql.raw(`drop table "${table}"`).execute(db);
  await sql.raw(`alter table "${temp}" rename to "${table}"`).execute(db);
  for (const index of rows) if (index.type === 'index' && index.sql) await sql.raw(index.sql).execute(db);
}

export async function down(db: MigrationDb): Promise<void> {
  const archived = await db
    .selectFrom('operations_archive')
    .select((e) => e.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  if (Number(archived.n) > 0)
    throw new Error('operations_archive holds operations: move them back before going down');
  await db.schema.dropIndex('operations_finished').execute();
  await db.schema.dropTable('operations_archive').execute();
  // The foreign keys are not put back: rows may point at operations that were archived.
}
