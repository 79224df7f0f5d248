import type { MigrationDb } from './helpers.js';

/**
 * A service's pending operations are looked up by service and status (`pendingOperationsOf`:
 * the daily run asks for 500 services at a time). With `operations_service` on (service_id, id)
 * only, a planner without statistics for `operations` (SQLite, on a table that was empty when
 * last analyzed, or never) rated `operations_finished (status, …)` the better index for
 * `status in (…)` than 500 service ids, and read every pending operation of every service for
 * each chunk: a daily run that queues work slowed down with every chunk (1.7 s of a 15 s run
 * over a million services). With the status in this index, the lookup by service and status is
 * the best index for any statistics, and reads only the operations it returns. A service's
 * operations in id order (its history) are few: sorting them costs nothing.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createIndex('operations_service_status')
    .on('operations')
    .columns(['service_id', 'status', 'id'])
    .execute();
  await db.schema.dropIndex('operations_service').execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.createIndex('operations_service').on('operations').columns(['service_id', 'id']).execute();
  await db.schema.dropIndex('operations_service_status').execute();
}
