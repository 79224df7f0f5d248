import type { MigrationDb } from './helpers.js';

/**
 * A staff task is found by its operation: the queue's "failed operations without an open task"
 * (`GET /operations?openTask=false`), and every retry, cancel or completion that closes the
 * operation's open task. Without this index each of them reads the open tasks whole.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createIndex('staff_tasks_operation')
    .on('staff_tasks')
    .columns(['operation_id', 'status'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropIndex('staff_tasks_operation').execute();
}
