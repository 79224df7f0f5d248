import { sql } from 'kysely';
import { type MigrationDb, withId } from './helpers.js';

/**
 * Reconciliation (issue 12): what a comparison of a module's upstream items with our services
 * found, one row per (module, kind, subject) for ever — a rerun updates the row, resolves it
 * when it is no longer true and reopens it when it is true again, so findings never duplicate
 * (the unique index holds that against two runs at once as well).
 *
 * - `kind`: `orphan` (an upstream item with no live local service), `missing` (a live local
 *   service whose upstream item is gone or deleted), `differs` (IP, expiry or status differ);
 * - `subject_key`: `item:<upstream id>` for orphans, `service:<id>` otherwise;
 * - `details`: JSON, what was seen (the differences with both values, the upstream item);
 * - `fix` + `action`: the fix offered to staff, in words and as the action id that carries it
 *   out (`accept_upstream`), or a review action staff carry out by hand;
 * - `status`: `open`, `resolved` (no longer true, or fixed) or `dismissed` (staff chose to
 *   leave it), with who resolved it and how.
 */
export async function up(db: MigrationDb): Promise<void> {
  await withId(db, db.schema.createTable('reconciliation_findings'))
    .addColumn('module_id', 'bigint', (c) => c.notNull().references('processing_modules.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('orphan', 'missing', 'differs')`))
    .addColumn('subject_key', 'text', (c) => c.notNull())
    .addColumn('service_id', 'bigint', (c) => c.references('services.id'))
    .addColumn('external_id', 'text')
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('fix', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('open', 'resolved', 'dismissed')`))
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('resolved_at', 'text')
    .addColumn('resolved_by', 'text')
    .addColumn('resolution', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('reconciliation_findings_subject')
    .on('reconciliation_findings')
    .columns(['module_id', 'kind', 'subject_key'])
    .unique()
    .execute();
  await db.schema
    .createIndex('reconciliation_findings_status')
    .on('reconciliation_findings')
    .columns(['status', 'id'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('reconciliation_findings').execute();
}
