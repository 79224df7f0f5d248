import { Temporal } from 'temporal-polyfill';
import type { LifecycleEvent } from '../../domain/lifecycle.js';
import { formatAmount, prorate } from '../../domain/money.js';
import { daysBetween } from '../../domain/periods.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, type ServiceRow, type Tx } from '../../platform/db/index.js';
import { forbidden } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorUserId, isStaff } from '../accounts/actor.js';
import { postEntry } from '../accounts/ledger.js';
import { getServiceFor } from './commands.js';
import { decideOrThrow, writeDecision } from './decisions.js';
import { recordCharge, recordHistory } from './history.js';
import { lockService, productTypeOf, serviceState } from './repository.js';

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
  tx: Tx,
  serviceId: number,
  from: Temporal.PlainDate,
  end: Temporal.PlainDate,
): Promise<bigint> {
  const charges = await tx
    .selectFrom('service_charges')
    .select(['kind', 'amount_minor', 'start_on', 'end_on'])
    .where('service_id', '=', serviceId)
    .where('kind', 'in', ['order', 'renewal', 'tariff_change', 'activation_adjustment'])
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
 * Deletes a service whose row the caller has locked (`delete` by a person, `deletion_due` by
 * the daily run, which the lifecycle may find no longer due). Returns `skipped` with the
 * reason when there is nothing to do.
 */
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
  let refunded = 0n;
  let currency: string | null = null;
  if (opts.refundUnused && service.expires_on && service.status === 'active') {
    const end = date(service.expires_on);
    const from = opts.today;
    const unused = Math.max(0, daysBetween(from, end));
    refunded = await unusedValue(tx, serviceId, from, end);
    if (refunded > 0n) {
      const { entry } = await postEntry(tx, {
        accountId: toId(service.account_id),
        kind: 'refund',
        amountMinor: refunded,
        description: `Service #${serviceId} deleted: ${unused} unused days`,
        idempotencyKey: `delete-refund:${serviceId}`,
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
      });
      await ctx.hooks.afterCredit(tx, ctx, toId(service.account_id));
    }
  }
  await recordHistory(tx, ctx, actor, serviceId, 'delete_requested', {
    details: { reason: opts.reason, refunded: currency ? formatAmount(refunded, currency) : '0' },
  });
  await writeDecision(tx, ctx, actor, service, d, { today: opts.today, reason: opts.reason });
  return { service: await lockService(tx, serviceId) };
}
