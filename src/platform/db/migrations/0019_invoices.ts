import { sql } from 'kysely';
import { isPostgres, type MigrationDb, withId } from './helpers.js';

/**
 * Invoices and receipts (issue 16, item 5).
 *
 * - `provider`: the seller's legal details printed on documents, and its VAT rate in basis
 *   points (2000 = 20 %; null: no VAT is charged). Prices are VAT-inclusive (D-invoices).
 * - `accounts`: the buyer's billing details (legal name, address, tax id, VAT number).
 * - `document_counters`: one row per provider holding the next document number. Issuing a
 *   document locks it in the transaction that records the payment or charge, so a rolled
 *   back payment never consumes a number (a sequence/identity would leave a gap).
 * - `documents`: the issued receipts and invoices, numbered gap-free per provider, one per
 *   ledger entry, with the snapshot of their content (`content`, JSON) taken at issue time.
 *   Triggers refuse any update or delete: an issued document is immutable.
 */
export async function up(db: MigrationDb): Promise<void> {
  for (const column of ['legal_name', 'legal_address', 'tax_id', 'vat_number']) {
    await db.schema.alterTable('provider').addColumn(column, 'text').execute();
    await db.schema.alterTable('accounts').addColumn(column, 'text').execute();
  }
  await db.schema
    .alterTable('provider')
    .addColumn('vat_rate_bp', 'integer', (c) => c.check(sql`vat_rate_bp >= 0 and vat_rate_bp <= 10000`))
    .execute();

  await db.schema
    .createTable('document_counters')
    .addColumn('provider_id', 'integer', (c) => c.primaryKey().references('provider.id'))
    .addColumn('next_number', 'bigint', (c) => c.notNull().check(sql`next_number >= 1`))
    .execute();
  await sql`insert into document_counters (provider_id, next_number) select id, 1 from provider`.execute(db);

  await withId(db, db.schema.createTable('documents'))
    .addColumn('provider_id', 'integer', (c) => c.notNull().references('provider.id'))
    .addColumn('number', 'bigint', (c) => c.notNull().check(sql`number >= 1`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('receipt', 'invoice')`))
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('ledger_entry_id', 'bigint', (c) => c.notNull().unique().references('ledger_entries.id'))
    .addColumn('payment_id', 'bigint', (c) => c.references('payments.id'))
    .addColumn('order_id', 'bigint', (c) => c.references('orders.id'))
    .addColumn('service_id', 'bigint', (c) => c.references('services.id'))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('net_minor', 'bigint', (c) => c.notNull())
    .addColumn('vat_minor', 'bigint', (c) => c.notNull())
    .addColumn('total_minor', 'bigint', (c) => c.notNull())
    .addColumn('vat_rate_bp', 'integer')
    .addColumn('issued_on', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addCheckConstraint('documents_totals', sql`net_minor + vat_minor = total_minor`)
    .execute();
  await db.schema
    .createIndex('documents_number')
    .on('documents')
    .columns(['provider_id', 'number'])
    .unique()
    .execute();
  await db.schema.createIndex('documents_account').on('documents').columns(['account_id', 'id']).execute();

  if (isPostgres(db)) {
    await sql`create function documents_immutable() returns trigger language plpgsql as $$
      begin raise exception 'documents are immutable'; end $$`.execute(db);
    await sql`create trigger documents_immutable before update or delete on documents
      for each row execute function documents_immutable()`.execute(db);
  } else {
    for (const op of ['update', 'delete']) {
      await sql
        .raw(
          `create trigger documents_no_${op} before ${op} on documents begin select raise(abort, 'documents are immutable'); end`,
        )
        .execute(db);
    }
  }
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropTable('documents').execute();
  if (isPostgres(db)) await sql`drop function documents_immutable()`.execute(db);
  await db.schema.dropTable('document_counters').execute();
  await db.schema.alterTable('provider').dropColumn('vat_rate_bp').execute();
  for (const column of ['legal_name', 'legal_address', 'tax_id', 'vat_number']) {
    await db.schema.alterTable('provider').dropColumn(column).execute();
    await db.schema.alterTable('accounts').dropColumn(column).execute();
  }
}
