import { sql } from 'kysely';
import type { MigrationDb } from './helpers.js';

/**
 * Claims take the oldest pending operation. Done operations are kept (history), so a scan in
 * id order over the whole table slows every claim as they pile up; this partial index holds
 * only the pending ones, in id order, so a claim reads from the oldest and stops at the first
 * runnable one. The claim query repeats the index's condition word for word, which both
 * planners need to use a partial index. `operations_due` (status, next attempt) goes: with
 * statistics SQLite preferred it and then sorted every queued row on each claim.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createIndex('operations_pending')
    .on('operations')
    .column('id')
    .where(sql.ref('status'), 'in', sql`('queued', 'running', 'retry_wait')`)
    .execute();
  await db.schema.dropIndex('operations_due').execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropIndex('operations_pending').execute();
  await db.schema
    .createIndex('operations_due')
    .on('operations')
    .columns(['status', 'next_attempt_at'])
    .execute();
}
