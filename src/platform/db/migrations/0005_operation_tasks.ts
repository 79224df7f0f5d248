import { sql } from 'kysely';
import { type MigrationDb, withId } from './helpers.js';

/** Staff tasks: an operation that failed for good (or a manual step) needs a person. */
export async function up(db: MigrationDb): Promise<void> {
  await withId(db, db.schema.createTable('staff_tasks'))
    .addColumn('operation_id', 'bigint', (c) => c.references('operations.id'))
    .addColumn('service_id', 'bigint', (c) => c.references('services.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('operation_failed', 'manual_action')`))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('open', 'done', 'cancelled')`))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'text')
    .addColumn('closed_by', 'text')
    .execute();
  await db.schema.createIndex('staff_tasks_status').on('staff_tasks').columns(['status', 'id']).execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('staff_tasks').execute();
}
