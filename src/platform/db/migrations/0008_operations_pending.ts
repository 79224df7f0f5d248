import { sql } from 'kysely';
import type { MigrationDb } from './helpers.js';

/**
 * Claims take the oldest pending operation. Done operations are kept (history), so a scan in
 * id order over the whole table slows every claim as they pile up; this partial index holds
 * only the pending ones. The claim query repeats the index's condition word for word, which
 * both planners need to use a partial index.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createIndex('operations_pending')
    .on('operations')
    .column('id')
    .where(sql.ref('status'), 'in', sql`('queued', 'running', 'retry_wait')`)
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropIndex('operations_pending').execute();
}
