import type { MigrationDb } from './helpers.js';

/**
 * The daily run's housekeeping (src/modules/accounts/housekeeping.ts) deletes sign-in attempts
 * older than their retention and BILLmanager API sessions idle past their hour, by age: these
 * indexes find them without reading either table whole. A busy reseller's integration signs in
 * (`func=auth`) on every sync, so `mgr_sessions` gains a row each time.
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema.createIndex('login_attempts_created').on('login_attempts').column('created_at').execute();
  await db.schema.createIndex('mgr_sessions_last_seen').on('mgr_sessions').column('last_seen_at').execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropIndex('mgr_sessions_last_seen').execute();
  await db.schema.dropIndex('login_attempts_created').execute();
}
