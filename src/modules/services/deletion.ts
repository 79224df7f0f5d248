import { Temporal } from 'temporal-polyfill';
import type { LifecycleEvent } from '../../domain/lifecycle.js';
import { formatAmount, prorate } from '../../domain/money.js';
import { daysBetween } from '../../domain/periods.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, type ServiceRow, type Tx } from '../../platform/db/index.js';
import { AppError, conflict, forbidden } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorUserId, isStaff } from '../accounts/actor.js';
import { postEntry } from '../accounts/ledger.js';
import { getServiceFor } from './commands.js';
import { decideOrThrow, writeDecision } from './decisions.js';
import { type HistoryChange, recordCharge, recordHistory } from './history.js';
import { lockService, productTypeOf, type Reader, serviceState } from './repository.js';

/**
 * Deletion (BILLING.md "Deletion and refunds"): queues `close`. Unused whole days are refunded
 * pro rata only where the product type says so (default off: licenses are not refundable
 * upstream), from what the current paid range actually cost.
 */
const date = (s: string) => Temporal.PlainDate.from(s);

export async function deleteService(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  opts: { reason?: string } = {},
): Promise<ServiceRow> {
  await getServiceFor(ctx, actor, serviceId);
  const today = await todayIn(ctx);
  return inTransaction(ctx.db, async (tx) => {
    const service = await lockService(tx, serviceId, actor);
    const type = await productTypeOf(tx, service);
    if (!isStaff(actor) && Number(type.client_can_delete) !== 1)
      throw forbidden('This kind of service can only be deleted by staff.');
    const r = await deleteServiceTx(tx, ctx, actor, service, {
      event: { type: 'delete' },
      refundUnused: Number(type.refund_unused_days) === 1,
      reason: opts.reason ?? 'requested',
      today,
    });
    return r.service;
  });
}

/**
 * What the days `[from, end)` were paid: every charge that bought days of the service — the
 * order and renewals for their ranges, tariff-change differences and activation credits for
 * theirs — contributes its amount × (its days inside [from, end)) / (its days), rounded half
 * up once per charge. Setup fees buy no days and are never returned.
 */
async function unusedValue(
  tx: Reader,
  serviceId: number,
  from: Temporal.PlainDate,
  end: Temporal.PlainDate,
): Promise<bigint> {
  const charges = await tx
    .selectFrom('service_charges')
    .select(['kind', 'amount_minor', 'start_on', 'end_on'])
    .where('service_id', '=', serviceId)
    // Refunds (negative) and their reversals count too: a day refunded once is not refunded again.
    .where('kind', 'in', ['order', 'renewal', 'tariff_change', 'activation_adjustment', 'refund'])
    .execute();
  const setup =
    (
      await tx
        .selectFrom('order_items')
        .select('setup_minor')
        .where('service_id', '=', serviceId)
        .executeTakeFirst()
    )?.setup_minor ?? 0n;
  let value = 0n;
  for (const c of charges) {
    if (!c.start_on || !c.end_on) continue;
    const a = date(c.start_on);
    const b = date(c.end_on);
    const days = daysBetween(a, b);
    const lo = Temporal.PlainDate.compare(from, a) > 0 ? from : a;
    const hi = Temporal.PlainDate.compare(end, b) < 0 ? end : b;
    const overlap = daysBetween(lo, hi);
    if (days <= 0 || overlap <= 0) continue;
    const amount = c.kind === 'order' ? c.amount_minor - setup : c.amount_minor;
    value += prorate(amount, BigInt(overlap), BigInt(days));
  }
  return value > 0n ? value : 0n;
}

/**
 * What deleting `service` on `today` refunds: the value of its unused whole days, only where
 * the product type refunds them and the service is active with a paid end (null otherwise).
 */
async function deletionRefund(
  db: Reader,
  service: ServiceRow,
  refundUnused: boolean,
  today: Temporal.PlainDate,
): Promise<{
  from: Temporal.PlainDate;
  end: Temporal.PlainDate;
  unusedDays: number;
  amountMinor: bigint;
} | null> {
  if (!refundUnused || !service.expires_on || service.status !== 'active') return null;
  const end = date(service.expires_on);
  return {
    from: today,
    end,
    unusedDays: Math.max(0, daysBetween(today, end)),
    amountMinor: await unusedValue(db, toId(service.id), today, end),
  };
}

export interface DeletionQuote {
  readonly service: ServiceRow;
  /** Whether the caller may delete it (clients only where the product type allows). */
  readonly allowed: boolean;
  /** A deletion is already on its way: deleting again changes nothing. */
  readonly pending: boolean;
  readonly refundsUnusedDays: boolean;
  readonly unusedDays: number;
  readonly refundMinor: bigint;
  readonly currency: string;
}

/**
 * What `DELETE /services/{id}` would do now, with no side effects: whether the caller may,
 * and the refund it would pay — the same computation the deletion itself makes.
 */
export async function quoteDeletion(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
): Promise<DeletionQuote> {
  const service = await getServiceFor(ctx, actor, serviceId);
  const today = await todayIn(ctx);
  const db = ctx.db.kysely;
  const type = await productTypeOf(db, service);
  const d = decideOrThrow(await serviceState(db, service), { type: 'delete' }, today);
  const refundsUnusedDays = Number(type.refund_unused_days) === 1;
  const refund = d.skip ? null : await deletionRefund(db, service, refundsUnusedDays, today);
  const account = await db
    .selectFrom('accounts')
    .select('currency')
    .where('id', '=', service.account_id)
    .executeTakeFirstOrThrow();
  return {
    service,
    allowed: isStaff(actor) || Number(type.client_can_delete) === 1,
    pending: d.skip !== undefined,
    refundsUnusedDays,
    unusedDays: refund?.unusedDays ?? 0,
    refundMinor: refund?.amountMinor ?? 0n,
    currency: account.currency,
  };
}

/**
 * Deletes a service whose row the caller has locked (`delete` by a person, `deletion_due` by
 * the daily run, which the lifecycle may find no longer due). Returns `skipped` with the
 * reason when there is nothing to do.
 */
/** The `delete_requested` history event's details: why, and what was refunded. */
export function deletionHistory(reason: string, refunded: bigint, currency: string | null): HistoryChange {
  return { details: { reason, refunded: currency ? formatAmount(refunded, currency) : '0' } };
}

export async function deleteServiceTx(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  service: ServiceRow,
  opts: {
    event: Extract<LifecycleEvent, { type: 'delete' | 'deletion_due' }>;
    refundUnused: boolean;
    reason: string;
    today: Temporal.PlainDate;
  },
): Promise<{ service: ServiceRow; skipped?: string }> {
  const serviceId = toId(service.id);
  const d = decideOrThrow(await serviceState(tx, service), opts.event, opts.today);
  if (d.skip) return { service, skipped: d.skip };
  const now = isoNow(ctx.clock);
  const [close] = await writeDecision(tx, ctx, actor, service, d, { today: opts.today, reason: opts.reason });
  let refunded = 0n;
  let currency: string | null = null;
  const refund = close ? await deletionRefund(tx, service, opts.refundUnused, opts.today) : null;
  if (close && refund) {
    const { from, end, unusedDays: unused } = refund;
    refunded = refund.amountMinor;
    if (refunded > 0n) {
      // Tied to this close: cancelling it takes the refund back (engine.ts cancelOperation).
      const { entry } = await postEntry(tx, {
        accountId: toId(service.account_id),
        kind: 'refund',
        amountMinor: refunded,
        description: `Service #${serviceId} deleted: ${unused} unused days`,
        idempotencyKey: `delete-refund:${serviceId}:${close.id}`,
        refType: 'service',
        refId: serviceId,
        createdByUserId: actorUserId(actor),
        now,
      });
      currency = entry.currency;
      await recordCharge(tx, ctx, serviceId, {
        kind: 'refund',
        period: null,
        start: from.toString(),
        end: end.toString(),
        amountMinor: -refunded,
        ledgerEntryId: entry.id,
        requestKey: `close:${close.id}`,
      });
      await ctx.hooks.afterCredit(tx, ctx, toId(service.account_id));
    }
  }
  await recordHistory(
    tx,
    ctx,
    actor,
    serviceId,
    'delete_requested',
    deletionHistory(opts.reason, refunded, currency),
  );
  return { service: await lockService(tx, serviceId) };
}

/**
 * Staff cancelled a `close`: the service stays, so the refund its deletion paid is taken back
 * (a charge of the same amount). Refused with `refund_spent` when the balance no longer
 * holds it — credit the account first, or let the deletion run.
 */
export async function reverseDeletionRefund(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  close: { id: number | bigint; service_id: number | bigint },
): Promise<void> {
  const refund = await tx
    .selectFrom('service_charges')
    .selectAll()
    .where('service_id', '=', close.service_id)
    .where('request_key', '=', `close:${close.id}`)
    .executeTakeFirst();
  if (!refund || refund.amount_minor >= 0n) return;
  const serviceId = toId(close.service_id);
  const service = await lockService(tx, serviceId);
  const amount = -refund.amount_minor;
  let entryId: bigint | number;
  try {
    const { entry } = await postEntry(tx, {
      accountId: toId(service.account_id),
      kind: 'charge',
      amountMinor: -amount,
      description: `Service #${serviceId}: deletion cancelled, its refund taken back`,
      idempotencyKey: `delete-refund-reversal:${close.id}`,
      refType: 'service',
      refId: serviceId,
      createdByUserId: actorUserId(actor),
      now: isoNow(ctx.clock),
    });
    entryId = entry.id;
  } catch (err) {
    if (err instanceof AppError && err.code === 'insufficient_balance')
      throw conflict(
        'refund_spent',
        'The refund of this deletion has been spent: credit the account first, or let the deletion run.',
        { serviceId, refund: err.details?.required },
      );
    throw err;
  }
  await recordCharge(tx, ctx, serviceId, {
    kind: 'refund',
    period: null,
    start: refund.start_on,
    end: refund.end_on,
    amountMinor: amount,
    ledgerEntryId: entryId,
    requestKey: `close-reversal:${close.id}`,
  });
  await recordHistory(tx, ctx, actor, serviceId, 'refund_reversed', {
    details: { operationId: toId(close.id) },
  });
}

/**
 * Staff cancelled the `open` of a service that never opened (the upstream refused the order,
 * or it never reached it): the client bought nothing, so the service is closed and every
 * charge it made — the order with its setup fee, any renewal paid meanwhile — is refunded in
 * full, in the cancellation's transaction. Should the upstream have created it after all, the
 * reconciliation lists the license as an orphan.
 */
export async function refundUnopened(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  open: { id: number | bigint; service_id: number | bigint },
): Promise<void> {
  const serviceId = toId(open.service_id);
  const service = await lockService(tx, serviceId);
  if (service.status !== 'ordered' && service.status !== 'processing') return;
  const charges = await tx
    .selectFrom('service_charges')
    .select('amount_minor')
    .where('service_id', '=', serviceId)
    .execute();
  const paid = charges.reduce((s, c) => s + BigInt(c.amount_minor), 0n);
  const now = isoNow(ctx.clock);
  let refunded = '0';
  if (paid > 0n) {
    const { entry } = await postEntry(tx, {
      accountId: toId(service.account_id),
      kind: 'refund',
      amountMinor: paid,
      description: `Service #${serviceId} never opened: its order cancelled and refunded`,
      idempotencyKey: `open-cancelled-refund:${open.id}`,
      refType: 'service',
      refId: serviceId,
      createdByUserId: actorUserId(actor),
      now,
    });
    refunded = formatAmount(paid, entry.currency);
    await recordCharge(tx, ctx, serviceId, {
      kind: 'refund',
      period: null,
      start: null,
      end: null,
      amountMinor: -paid,
      ledgerEntryId: entry.id,
      requestKey: `open-cancelled:${open.id}`,
    });
    await ctx.hooks.afterCredit(tx, ctx, toId(service.account_id));
  }
  await tx
    .updateTable('services')
    .set({ status: 'deleted', deleted_at: now, updated_at: now })
    .where('id', '=', serviceId)
    .execute();
  await tx.deleteFrom('license_ips').where('service_id', '=', serviceId).execute();
  await recordHistory(tx, ctx, actor, serviceId, 'order_cancelled', {
    from: service.status,
    to: 'deleted',
    details: { operationId: toId(open.id), refunded },
  });
}
