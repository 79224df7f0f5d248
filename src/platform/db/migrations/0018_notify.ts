import { sql } from 'kysely';
import { type MigrationDb, withId } from './helpers.js';

/**
 * Telling people (issue 16, part A):
 * - `deliveries`: ONE outbox for every message that leaves the system — an email or a webhook
 *   call. Written in the transaction that causes it; `dedupe_key` is unique, so one
 *   notification (or one event for one endpoint) is never queued twice. The operations
 *   engine's worker claims rows with a lease (`lease_owner`, `lease_expires_at`) and retries
 *   with its backoff; `held`: an email kept because no SMTP server is configured.
 * - `delivery_attempts`: every try, with its outcome (a webhook's attempts are visible).
 * - `notification_templates`: staff overrides of the built-in templates, per kind + language.
 * - `notification_opt_outs`: reminder kinds a client turned off.
 * - `webhooks`: staff-registered endpoints; the secret is sealed with the master key.
 * - `password_resets`: one-time password-reset tokens, stored as their SHA-256.
 * - `accounts.language`: which language the account's mail is written in.
 */
export async function up(db: MigrationDb): Promise<void> {
  await withId(db, db.schema.createTable('deliveries'))
    .addColumn('channel', 'text', (c) => c.notNull().check(sql`channel in ('email', 'webhook')`))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('account_id', 'bigint', (c) => c.references('accounts.id'))
    .addColumn('notification_id', 'bigint', (c) => c.references('notifications.id'))
    .addColumn('webhook_id', 'bigint')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('queued', 'running', 'retry_wait', 'held', 'done', 'failed')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'text')
    .addColumn('last_error', 'text')
    .addColumn('dedupe_key', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text')
    .execute();
  await db.schema
    .createIndex('deliveries_pending')
    .on('deliveries')
    .columns(['status', 'next_attempt_at'])
    .execute();
  await db.schema.createIndex('deliveries_webhook').on('deliveries').columns(['webhook_id', 'id']).execute();

  await withId(db, db.schema.createTable('delivery_attempts'))
    .addColumn('delivery_id', 'bigint', (c) => c.notNull().references('deliveries.id'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('worker', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull().check(sql`outcome in ('sent', 'held', 'error')`))
    .addColumn('status_code', 'integer')
    .addColumn('error', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('delivery_attempts_delivery')
    .on('delivery_attempts')
    .columns(['delivery_id', 'id'])
    .execute();

  await withId(db, db.schema.createTable('notification_templates'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('language', 'text', (c) => c.notNull().check(sql`language in ('en', 'ru')`))
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('text_body', 'text', (c) => c.notNull())
    .addColumn('html_body', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('notification_templates_key', ['kind', 'language'])
    .execute();

  await db.schema
    .createTable('notification_opt_outs')
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('notification_opt_outs_pk', ['account_id', 'kind'])
    .execute();

  await withId(db, db.schema.createTable('webhooks'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'disabled')`))
    .addColumn('description', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await withId(db, db.schema.createTable('password_resets'))
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();

  await db.schema
    .alterTable('accounts')
    .addColumn('language', 'text', (c) => c.notNull().defaultTo('en').check(sql`language in ('en', 'ru')`))
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('language').execute();
  for (const t of [
    'password_resets',
    'webhooks',
    'notification_opt_outs',
    'notification_templates',
    'delivery_attempts',
    'deliveries',
  ])
    await db.schema.dropTable(t).execute();
}
