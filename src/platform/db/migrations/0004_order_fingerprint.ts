import type { MigrationDb } from './helpers.js';

/** What an order's request said, hashed: the same idempotency key with another request is refused. */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema.alterTable('orders').addColumn('request_hash', 'text').execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.alterTable('orders').dropColumn('request_hash').execute();
}
