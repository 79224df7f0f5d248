import { type Insertable, sql } from 'kysely';
import { formatAmount } from '../../domain/money.js';
import { providerTimeZone } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { Ref, type WriteBatch } from '../../platform/db/batch.js';
import {
  type Database,
  type DeliveryRow,
  inTransaction,
  type Language,
  lockRows,
  type Tx,
} from '../../platform/db/index.js';
import { conflict, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, requireStaff } from '../accounts/actor.js';
import { backoffMs, DEFAULT_LEASE_MS, MAX_ATTEMPTS, OperationError } from '../services/engine.js';
import { DeliveryError } from './delivery-error.js';
import { sendMail } from './mail.js';
import { BUILTIN, isMailKind, type MailKind, OPTIONAL_KINDS, render, type Template } from './templates.js';
import { sendWebhook } from './webhook-send.js';

/**
 * The delivery outbox (decisions.md D-notify-outbox): every email and webhook call is a
 * `deliveries` row written in the transaction that causes it, drained by the operations
 * worker with the engine's lease, backoff and attempt limit. Delivery is at least once: a
 * worker that dies after the SMTP server (or the endpoint) accepted a message but before
 * `done` was written leaves a lease that expires; the message is sent again, with the same
 * Message-ID (`<delivery-<id>@<host>>`) or `Billfold-Delivery` header, so it can be recognised.
 */

export type Fact = string | number | bigint | null | undefined;

/**
 * Intl formatters by locale, currency and zone: building one costs far more than formatting
 * with it (a daily run renders thousands of mails). Bounded by the few locales, currencies and
 * zones an installation uses.
 */
const formatters = new Map<string, { format(v: number | Date): string }>();
function formatter(key: string, make: () => { format(v: number | Date): string }) {
  let f = formatters.get(key);
  if (!f) {
    if (formatters.size > 200) formatters.clear();
    f = make();
    formatters.set(key, f);
  }
  return f;
}

/**
 * The variables a template sees, formatted for the reader: a `…Minor` amount as money in
 * `currency` (named without the suffix), a `…On` date and an `…At` instant in the provider's
 * time zone, in the account's language. Unset facts are left out.
 */
export function formatVariables(
  facts: Readonly<Record<string, Fact>>,
  f: { language: Language; currency: string; zone: string },
): Record<string, string> {
  const locale = f.language === 'ru' ? 'ru-RU' : 'en-GB';
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(facts)) {
    if (value === null || value === undefined) continue;
    if (key.endsWith('Minor')) {
      const amount = formatAmount(BigInt(value), f.currency);
      // Intl formats a decimal string exactly (no binary floating point).
      out[key.slice(0, -5)] = formatter(
        `n:${locale}:${f.currency}`,
        () => new Intl.NumberFormat(locale, { style: 'currency', currency: f.currency }),
      ).format(amount as unknown as number);
    } else if (key.endsWith('On') && /^\d{4}-\d{2}-\d{2}$/.test(String(value))) {
      out[key] = formatter(
        `d:${locale}`,
        () => new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }),
      ).format(new Date(`${String(value)}T00:00:00Z`));
    } else if (key.endsWith('At') && !Number.isNaN(Date.parse(String(value)))) {
      out[key] = formatter(
        `t:${locale}:${f.zone}`,
        () => new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone: f.zone }),
      ).format(new Date(String(value)));
    } else out[key] = String(value);
  }
  return out;
}

/** The template in force for a kind and language: staff's override, else the built-in one. */
export async function templateFor(tx: Tx, kind: MailKind, language: Language): Promise<Template> {
  const o = await tx
    .selectFrom('notification_templates')
    .selectAll()
    .where('kind', '=', kind)
    .where('language', '=', language)
    .executeTakeFirst();
  return o ? { subject: o.subject, text: o.text_body, html: o.html_body } : BUILTIN[kind][language];
}

export interface MailRequest {
  /** Null: a user without a client account (staff); then `to` is required and the mail is in English. */
  accountId: number | null;
  kind: MailKind;
  facts: Readonly<Record<string, Fact>>;
  dedupeKey: string;
  notificationId?: number | null;
  /** Another address than the account's (a user's login email). */
  to?: string;
}

/** Who a mail is for and what it is rendered with. */
export interface MailAddressee {
  readonly provider: { readonly name: string };
  readonly account: {
    readonly email: string;
    readonly name: string;
    readonly language: Language;
    readonly currency: string;
  };
  readonly zone: string;
  readonly template: Template;
}

/** A mail rendered now, as its outbox row. */
export function mailDeliveryRow(
  m: MailRequest,
  to: MailAddressee,
  now: string,
): Insertable<Database['deliveries']> {
  const vars = {
    providerName: to.provider.name,
    accountName: to.account.name,
    ...formatVariables(m.facts, {
      language: to.account.language,
      currency: to.account.currency,
      zone: to.zone,
    }),
  };
  return {
    channel: 'email',
    kind: m.kind,
    account_id: m.accountId,
    notification_id: m.notificationId ?? null,
    webhook_id: null,
    target: m.to ?? to.account.email,
    payload: JSON.stringify(render(to.template, vars)),
    status: 'queued',
    next_attempt_at: now,
    dedupe_key: `email:${m.dedupeKey}`,
    created_at: now,
    updated_at: now,
  };
}

/**
 * Queues a mail of `kind` to an account, rendered now (in `tx`, the transaction that causes
 * it). Nothing is queued when the account turned this (optional) kind off, or when a mail
 * with `dedupeKey` was queued already. Returns the delivery's id, or null.
 */
export async function queueMail(tx: Tx, ctx: AppContext, m: MailRequest): Promise<number | null> {
  if (m.accountId !== null && (OPTIONAL_KINDS as readonly string[]).includes(m.kind)) {
    const off = await tx
      .selectFrom('notification_opt_outs')
      .select('kind')
      .where('account_id', '=', m.accountId)
      .where('kind', '=', m.kind)
      .executeTakeFirst();
    if (off) return null;
  }
  const provider = await tx
    .selectFrom('provider')
    .select(['name', 'currency'])
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  const account =
    m.accountId === null
      ? { email: m.to!, name: m.to!, language: 'en' as const, currency: provider.currency }
      : await tx
          .selectFrom('accounts')
          .select(['email', 'name', 'language', 'currency'])
          .where('id', '=', m.accountId)
          .executeTakeFirstOrThrow();
  const zone = await providerTimeZone(ctx, tx);
  const template = await templateFor(tx, m.kind, account.language);
  const row = await tx
    .insertInto('deliveries')
    .values(mailDeliveryRow(m, { provider, account, zone, template }, isoNow(ctx.clock)))
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!row) return null;
  // Idle workers drain it as soon as this transaction commits (D-wake).
  await ctx.db.signals.notify(tx, 'operations');
  return toId(row.id);
}

export interface AccountNotice {
  accountId: number;
  serviceId: number | null;
  kind: string;
  payload: Record<string, unknown>;
  dedupeKey: string;
  /** The mail's variables (default: the payload). */
  facts?: Readonly<Record<string, Fact>>;
}

export function notificationRow(n: AccountNotice, now: string): Insertable<Database['notifications']> {
  return {
    account_id: n.accountId,
    service_id: n.serviceId,
    kind: n.kind,
    payload: JSON.stringify(n.payload),
    dedupe_key: n.dedupeKey,
    created_at: now,
  };
}

/** The mail of a notification (none for a kind that has no mail), once its row has an id. */
export function noticeMail(n: AccountNotice, notificationId: number): MailRequest | null {
  if (!isMailKind(n.kind)) return null;
  return {
    accountId: n.accountId,
    kind: n.kind,
    facts: n.facts ?? (n.payload as Record<string, Fact>),
    dedupeKey: `notification:${notificationId}`,
    notificationId,
  };
}

/**
 * A notification row (what the daily run and others record) and its mail, in one
 * transaction; the notification's `dedupeKey` keeps both to one.
 */
export async function notifyAccount(tx: Tx, ctx: AppContext, n: AccountNotice): Promise<void> {
  const row = await tx
    .insertInto('notifications')
    .values(notificationRow(n, isoNow(ctx.clock)))
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!row) return;
  const mail = noticeMail(n, toId(row.id));
  if (mail) await queueMail(tx, ctx, mail);
}

/** Claims the next delivery due for `worker`, or null. */
export async function claimDelivery(
  ctx: AppContext,
  worker: string,
  leaseMs = DEFAULT_LEASE_MS,
): Promise<DeliveryRow | null> {
  for (;;) {
    const now = isoNow(ctx.clock);
    const r = await inTransaction(ctx.db, async (tx) => {
      const candidate = await tx
        .selectFrom('deliveries')
        .selectAll()
        .where('status', 'in', ['queued', 'retry_wait', 'running', 'held'])
        .where((eb) =>
          eb.or([
            eb.and([eb('status', 'in', ['queued', 'retry_wait']), eb('next_attempt_at', '<=', now)]),
            eb.and([eb('status', '=', 'running'), eb('lease_expires_at', '<', now)]),
            // Mail held while no SMTP server was configured goes once one is.
            ...(ctx.config.mail.smtpUrl
              ? [eb.and([eb('status', '=', 'held'), eb('channel', '=', 'email')])]
              : []),
          ]),
        )
        .orderBy('id')
        .limit(1)
        .$call((q) => lockRows(tx, q, { skipLocked: true }))
        .executeTakeFirst();
      if (!candidate) return null;
      // A worker that keeps dying while sending: failed after the attempt limit, not forever.
      if (candidate.status === 'running' && Number(candidate.attempts) >= MAX_ATTEMPTS) {
        await finish(tx, ctx, candidate, {
          status: 'failed',
          lastError: { code: 'worker_lost', message: 'The worker stopped before finishing, too often.' },
        });
        return 'again' as const;
      }
      return tx
        .updateTable('deliveries')
        .set({
          status: 'running',
          lease_owner: worker,
          lease_expires_at: new Date(ctx.clock.now().getTime() + leaseMs).toISOString(),
          attempts: candidate.status === 'held' ? 1 : sql<number>`attempts + 1`,
          updated_at: now,
        })
        .where('id', '=', candidate.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    if (r !== 'again') return r;
  }
}

async function finish(
  tx: Tx,
  ctx: AppContext,
  d: DeliveryRow,
  o: {
    status: DeliveryRow['status'];
    lastError?: { code: string; message: string } | null;
    nextAttemptAt?: string;
    sentAt?: string;
  },
) {
  const now = isoNow(ctx.clock);
  await tx
    .updateTable('deliveries')
    .set({
      status: o.status,
      lease_owner: null,
      lease_expires_at: null,
      ...(o.lastError !== undefined
        ? { last_error: o.lastError ? JSON.stringify({ ...o.lastError, at: now }) : null }
        : {}),
      ...(o.nextAttemptAt ? { next_attempt_at: o.nextAttemptAt } : {}),
      ...(o.sentAt ? { sent_at: o.sentAt } : {}),
      updated_at: now,
    })
    .where('id', '=', d.id)
    .execute();
}

export type SendOutcome = { sent: true; statusCode?: number } | { held: true };

/** Sends one claimed delivery and records the outcome. Returns the status it ended in, or `lost`. */
export async function runDelivery(
  ctx: AppContext,
  d: DeliveryRow,
  worker: string,
  opts: { random?: () => number } = {},
): Promise<DeliveryRow['status'] | 'lost'> {
  const startedAt = isoNow(ctx.clock);
  const attempts = Number(d.attempts);
  let outcome: SendOutcome | undefined;
  let failure: DeliveryError | undefined;
  try {
    outcome = d.channel === 'email' ? await sendMail(ctx, d) : await sendWebhook(ctx, d);
  } catch (err) {
    failure =
      err instanceof DeliveryError
        ? err
        : err instanceof OperationError
          ? new DeliveryError(err.code, err.message, err.retryable)
          : new DeliveryError('internal_error', err instanceof Error ? err.message : String(err), true);
  }
  return inTransaction(ctx.db, async (tx) => {
    const now = isoNow(ctx.clock);
    await tx
      .insertInto('delivery_attempts')
      .values({
        delivery_id: d.id,
        attempt: attempts,
        worker,
        outcome: outcome ? ('held' in outcome ? 'held' : 'sent') : 'error',
        status_code:
          outcome && 'sent' in outcome ? (outcome.statusCode ?? null) : (failure?.statusCode ?? null),
        error: failure ? `${failure.code}: ${failure.message}` : null,
        started_at: startedAt,
        finished_at: now,
      })
      .execute();
    const current = await tx
      .selectFrom('deliveries')
      .selectAll()
      .where('id', '=', d.id)
      .$call((q) => lockRows(tx, q))
      .executeTakeFirstOrThrow();
    // Our lease expired and another worker took it over: its outcome is the one that counts.
    if (current.status !== 'running' || current.lease_owner !== worker) return 'lost' as const;
    if (outcome && 'held' in outcome) {
      await finish(tx, ctx, d, { status: 'held', lastError: null });
      return 'held' as const;
    }
    if (outcome) {
      await finish(tx, ctx, d, { status: 'done', lastError: null, sentAt: now });
      return 'done' as const;
    }
    const f = failure!;
    if (f.retryable && attempts < MAX_ATTEMPTS) {
      const delay = backoffMs(attempts, (opts.random ?? Math.random)());
      await finish(tx, ctx, d, {
        status: 'retry_wait',
        lastError: { code: f.code, message: f.message },
        nextAttemptAt: new Date(ctx.clock.now().getTime() + delay).toISOString(),
      });
      return 'retry_wait' as const;
    }
    await finish(tx, ctx, d, { status: 'failed', lastError: { code: f.code, message: f.message } });
    ctx.logger.warn({ deliveryId: toId(d.id), code: f.code, attempts }, 'delivery failed');
    return 'failed' as const;
  });
}

/** Sends every delivery due now, one after another; returns how many ended `done`. */
export async function drainDeliveries(ctx: AppContext, opts: { worker?: string; limit?: number } = {}) {
  const worker = opts.worker ?? `drain-${process.pid}`;
  let done = 0;
  for (let i = 0; i < (opts.limit ?? 10_000); i++) {
    const d = await claimDelivery(ctx, worker);
    if (!d) break;
    if ((await runDelivery(ctx, d, worker)) === 'done') done++;
  }
  return done;
}

/** Staff: send a failed, waiting or held delivery again now, with a fresh attempt budget. */
export async function retryDelivery(ctx: AppContext, actor: Actor, id: number): Promise<DeliveryRow> {
  requireStaff(actor);
  return inTransaction(ctx.db, async (tx) => {
    const d = await tx
      .selectFrom('deliveries')
      .selectAll()
      .where('id', '=', id)
      .$call((q) => lockRows(tx, q))
      .executeTakeFirst();
    if (!d) throw notFound('delivery');
    if (d.status !== 'failed' && d.status !== 'retry_wait' && d.status !== 'held')
      throw conflict('delivery_not_retryable', `A ${d.status} delivery cannot be retried.`, {
        status: d.status,
      });
    return tx
      .updateTable('deliveries')
      .set({
        status: 'queued',
        attempts: 0,
        next_attempt_at: isoNow(ctx.clock),
        updated_at: isoNow(ctx.clock),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/**
 * The notifications of a chunk of work (the daily run's, D-chunked-run) and their mails, added
 * to its batch: what `notifyAccount` writes for each, read in a few queries for all of them —
 * the dedupe keys already used, the accounts' opt-outs, the provider, the templates.
 * Returns the notices written (a dedupe key used before writes nothing, as one at a time).
 */
export async function batchNotices(
  tx: Tx,
  ctx: AppContext,
  batch: WriteBatch,
  notices: readonly AccountNotice[],
  accounts: ReadonlyMap<number, MailAddressee['account']>,
): Promise<AccountNotice[]> {
  if (notices.length === 0) return [];
  const used = new Set(
    (
      await tx
        .selectFrom('notifications')
        .select('dedupe_key')
        .where(
          'dedupe_key',
          'in',
          notices.map((n) => n.dedupeKey),
        )
        .execute()
    ).map((r) => r.dedupe_key),
  );
  const fresh: AccountNotice[] = [];
  for (const n of notices) {
    if (used.has(n.dedupeKey)) continue;
    used.add(n.dedupeKey);
    fresh.push(n);
  }
  const mailed = fresh.filter((n) => isMailKind(n.kind));
  const accountIds = [...new Set(mailed.map((n) => n.accountId))];
  const optedOut = new Set(
    accountIds.length === 0
      ? []
      : (
          await tx
            .selectFrom('notification_opt_outs')
            .select(['account_id', 'kind'])
            .where('account_id', 'in', accountIds)
            .execute()
        ).map((r) => `${toId(r.account_id)}:${r.kind}`),
  );
  const provider =
    mailed.length === 0
      ? null
      : await tx
          .selectFrom('provider')
          .select(['name', 'currency'])
          .where('id', '=', 1)
          .executeTakeFirstOrThrow();
  const zone = mailed.length === 0 ? 'UTC' : await providerTimeZone(ctx, tx);
  const templates = new Map<string, Template>();
  const now = isoNow(ctx.clock);
  for (const n of fresh) {
    const ref = new Ref();
    batch.insert('notifications', notificationRow(n, now), { ref, by: 'dedupe_key' });
    if (!isMailKind(n.kind) || provider === null) continue;
    if ((OPTIONAL_KINDS as readonly string[]).includes(n.kind) && optedOut.has(`${n.accountId}:${n.kind}`))
      continue;
    const account = accounts.get(n.accountId);
    if (!account) throw new Error(`batchNotices: account ${n.accountId} not given`);
    const tkey = `${n.kind}:${account.language}`;
    let template = templates.get(tkey);
    if (!template) {
      template = await templateFor(tx, n.kind, account.language);
      templates.set(tkey, template);
    }
    const to: MailAddressee = { provider, account, zone, template };
    batch.insert('deliveries', () => mailDeliveryRow(noticeMail(n, ref.value)!, to, now), {
      ignoreConflictOn: 'dedupe_key',
    });
  }
  return fresh;
}
