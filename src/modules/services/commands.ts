import { Temporal } from 'temporal-polyfill';
import { prorate } from '../../domain/money.js';
import { daysBetween, periodEnd, renewalStart } from '../../domain/periods.js';
import type { AddonValue } from '../../domain/pricing.js';
import { isoNow, todayOf } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, type ServiceRow, type SuspendReason, type Tx } from '../../platform/db/index.js';
import { conflict, forbidden, invalid, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorUserId, assertAccountVisible, isStaff } from '../accounts/actor.js';
import { postEntry } from '../accounts/ledger.js';
import { loadTariffAggregates, type TariffAggregate } from '../catalog/aggregate.js';
import { type PricedRange, priceRange } from '../catalog/quote.js';
import {
  enqueueOperation,
  hasPendingOperation,
  loadServiceTx,
  recordHistory,
  storeLines,
} from './lifecycle.js';

/**
 * What a customer or staff does to a service after it exists (BILLING.md "Renewal",
 * "Tariff change", "Deletion and refunds"). Each command loads, decides with the pure
 * rules, then writes the charge, the service change, its history and the operation for the
 * provisioning side in one transaction.
 */
const date = (s: string) => Temporal.PlainDate.from(s);

export async function getServiceFor(ctx: AppContext, actor: Actor, id: number): Promise<ServiceRow> {
  const s = await ctx.db.kysely.selectFrom('services').selectAll().where('id', '=', id).executeTakeFirst();
  if (!s) throw notFound('service');
  assertAccountVisible(actor, toId(s.account_id), 'service');
  return s;
}

async function tariffOf(
  db: AppContext['db']['kysely'] | Tx,
  tariffId: bigint | number,
): Promise<TariffAggregate> {
  const [agg] = await loadTariffAggregates(db, { ids: [toId(tariffId)] });
  if (!agg) throw notFound('tariff');
  return agg;
}

const addonValuesOf = (s: ServiceRow) => JSON.parse(s.addon_values) as Record<string, AddonValue>;

// ---------------------------------------------------------------- renewal

export interface RenewalPlan {
  readonly service: ServiceRow;
  readonly start: Temporal.PlainDate;
  readonly priced: PricedRange;
  /** The service is suspended for non-payment: renewal resumes it. */
  readonly resumes: boolean;
}

/** Decides a renewal (no writes): where it starts, what it costs, where it ends (with the tariff cut). */
/** A service with a pending `close` is being deleted: nothing else may be done to it (no renewal charged just before it closes). */
async function assertNotClosing(db: AppContext['db']['kysely'] | Tx, service: ServiceRow): Promise<void> {
  if (service.status === 'deleted' || (await hasPendingOperation(db, toId(service.id), ['close']))) {
    throw conflict('service_deleted', 'The service is deleted or being deleted.', {});
  }
}

export async function planRenewal(
  db: AppContext['db']['kysely'] | Tx,
  ctx: AppContext,
  service: ServiceRow,
  period: number,
  /** Read-only callers (the daily run's dry run and reminders) share tariffs across services. */
  tariffCache?: Map<number, TariffAggregate>,
): Promise<RenewalPlan> {
  await assertNotClosing(db, service);
  if (service.status !== 'active' && service.status !== 'suspended') {
    throw conflict('service_not_renewable', `A ${service.status} service cannot be renewed yet.`, {
      status: service.status,
    });
  }
  if (Number(service.period) === -100 || period === -100)
    throw conflict('trial_not_renewable', 'A trial cannot be renewed.', {});
  const tariffId = toId(service.tariff_id);
  let agg = tariffCache?.get(tariffId);
  if (!agg) {
    agg = await tariffOf(db, tariffId);
    tariffCache?.set(tariffId, agg);
  }
  if (agg.tariff.status === 'archived')
    throw conflict('tariff_not_renewable', 'The tariff is archived: it cannot be renewed.', {});
  const today = todayOf(ctx.clock);
  const start = renewalStart(
    service.status,
    service.suspend_reason,
    date(service.expires_on ?? today.toString()),
    today,
  );
  if (agg.tariff.expires_on && today.toString() >= agg.tariff.expires_on) {
    throw conflict('tariff_expired', 'The tariff has ended: it can no longer be ordered or renewed.', {
      expiresOn: agg.tariff.expires_on,
    });
  }
  const priced = priceRange(agg, period, addonValuesOf(service), start, {
    includeSetup: false,
    existing: true,
  });
  return {
    service,
    start,
    priced,
    resumes: service.status === 'suspended' && service.suspend_reason === 'expired',
  };
}

export async function quoteRenewal(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  period: number,
): Promise<RenewalPlan> {
  const service = await getServiceFor(ctx, actor, serviceId);
  return planRenewal(ctx.db.kysely, ctx, service, period);
}

/**
 * Renews: charges the plan's total, moves `expiresOn`, enqueues `prolong` (and `resume` for a
 * service suspended for non-payment). The idempotency key defaults to the renewal's own
 * identity (service, start, period), so a retried request renews once.
 */
export async function renewService(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  period: number,
  opts: { idempotencyKey?: string; source?: 'manual' | 'auto' } = {},
): Promise<{ service: ServiceRow; plan: RenewalPlan; replayed: boolean }> {
  await getServiceFor(ctx, actor, serviceId);
  return inTransaction(ctx.db, async (tx) => renewServiceTx(tx, ctx, actor, serviceId, period, opts));
}

export async function renewServiceTx(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  period: number,
  opts: { idempotencyKey?: string; source?: 'manual' | 'auto' } = {},
): Promise<{ service: ServiceRow; plan: RenewalPlan; replayed: boolean }> {
  const service = await loadServiceTx(tx, serviceId);
  const plan = await planRenewal(tx, ctx, service, period);
  // A caller's key is namespaced: it can never match another kind of ledger entry's key.
  const key = opts.idempotencyKey
    ? `renew-request:${serviceId}:${opts.idempotencyKey}`
    : `renew:${serviceId}:${plan.start.toString()}:${period}`;
  const now = isoNow(ctx.clock);
  // The same renewal (service, start, period) already written: a retry, not a second renewal.
  const done = await tx
    .selectFrom('service_charges')
    .select('id')
    .where('service_id', '=', serviceId)
    .where('kind', '=', 'renewal')
    .where('start_on', '=', plan.start.toString())
    .where('period', '=', period)
    .executeTakeFirst();
  if (done) return { service, plan, replayed: true };
  let entry: { id: bigint | number } | null = null;
  if (plan.priced.totalMinor > 0n) {
    const posted = await postEntry(tx, {
      accountId: toId(service.account_id),
      kind: 'charge',
      amountMinor: -plan.priced.totalMinor,
      description: `Renewal of service #${serviceId} until ${plan.priced.cut.end.toString()}`,
      idempotencyKey: key,
      refType: 'service',
      refId: serviceId,
      createdByUserId: actorUserId(actor),
      now,
    });
    if (posted.replayed) return { service, plan, replayed: true };
    entry = posted.entry;
  }
  const end = plan.priced.cut.end.toString();
  await tx
    .updateTable('services')
    .set({ expires_on: end, period_start: plan.start.toString(), period, updated_at: now })
    .where('id', '=', serviceId)
    .execute();
  await tx
    .insertInto('service_charges')
    .values({
      service_id: serviceId,
      kind: 'renewal',
      period,
      start_on: plan.start.toString(),
      end_on: end,
      amount_minor: plan.priced.totalMinor,
      lines: storeLines(plan.priced.order.lines, plan.priced.order.currency),
      ledger_entry_id: entry?.id ?? null,
      created_at: now,
    })
    .execute();
  await recordHistory(
    tx,
    ctx,
    actor,
    serviceId,
    opts.source === 'auto' ? 'renewed_automatically' : 'renewed',
    {
      from: service.status,
      to: service.status,
      details: {
        period,
        start: plan.start.toString(),
        expiresOn: end,
        cut: plan.priced.cut.cut,
        charged: plan.priced.totalMinor.toString(),
      },
    },
  );
  await enqueueOperation(tx, ctx, serviceId, 'prolong', { expiresOn: end }, `prolong:${serviceId}:${end}`);
  if (plan.resumes)
    await enqueueOperation(
      tx,
      ctx,
      serviceId,
      'resume',
      { after: 'renewal' },
      `resume:${serviceId}:renewed:${end}`,
    );
  return { service: await loadServiceTx(tx, serviceId), plan, replayed: false };
}

export async function setAutoprolong(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  period: number | null,
): Promise<ServiceRow> {
  const service = await getServiceFor(ctx, actor, serviceId);
  await assertNotClosing(ctx.db.kysely, service);
  if (period !== null) {
    if (period === -100 || Number(service.period) === -100)
      throw conflict('trial_not_renewable', 'A trial cannot be renewed.', {});
    const agg = await tariffOf(ctx.db.kysely, service.tariff_id);
    if (!agg.periods.some((p) => Number(p.period) === period)) {
      throw invalid('period_not_offered', `Period ${period} is not offered by this tariff.`, { period });
    }
  }
  return inTransaction(ctx.db, async (tx) => {
    const updated = await tx
      .updateTable('services')
      .set({ autoprolong: period, updated_at: isoNow(ctx.clock) })
      .where('id', '=', serviceId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordHistory(tx, ctx, actor, serviceId, 'autoprolong_changed', {
      details: { from: service.autoprolong === null ? null : Number(service.autoprolong), to: period },
    });
    return updated;
  });
}

// ---------------------------------------------------------------- tariff change

export interface TariffChangePlan {
  readonly service: ServiceRow;
  readonly newTariff: TariffAggregate;
  readonly remainingDays: number;
  readonly fullDays: number;
  readonly oldAmountMinor: bigint;
  readonly newAmountMinor: bigint;
  /** > 0 charged, < 0 credited. */
  readonly differenceMinor: bigint;
  readonly addonValues: Record<string, AddonValue>;
}

/**
 * Upgrade/downgrade within one product type: the remaining paid days are converted at the
 * two tariffs' prices for the current period, both day-prorated on the full current period
 * (BILLING.md "Tariff change"); the difference is charged or credited at once.
 */
export async function planTariffChange(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  tariffId: number,
  addonValues?: Record<string, AddonValue>,
): Promise<TariffChangePlan> {
  const service = await getServiceFor(ctx, actor, serviceId);
  await assertNotClosing(ctx.db.kysely, service);
  if (service.status !== 'active')
    throw conflict('service_not_active', 'Only an active service can change its tariff.', {
      status: service.status,
    });
  if (toId(service.tariff_id) === tariffId)
    throw invalid('same_tariff', 'The service is already on this tariff.', {});
  const [oldTariff, newTariff] = await Promise.all([
    tariffOf(ctx.db.kysely, service.tariff_id),
    tariffOf(ctx.db.kysely, tariffId),
  ]);
  if (toId(newTariff.tariff.product_type_id) !== toId(service.product_type_id)) {
    throw invalid('product_type_mismatch', 'The new tariff sells a different kind of product.', {});
  }
  const today = todayOf(ctx.clock);
  if (newTariff.tariff.status !== 'active' && !(isStaff(actor) && newTariff.tariff.status === 'hidden')) {
    throw conflict('tariff_not_orderable', 'This tariff cannot be ordered.', { tariffId });
  }
  const expiresOn = date(service.expires_on!);
  if (newTariff.tariff.expires_on && newTariff.tariff.expires_on < expiresOn.toString()) {
    throw conflict('tariff_expired', 'The new tariff ends before the service does.', {
      expiresOn: newTariff.tariff.expires_on,
    });
  }
  const period = Number(service.period);
  const periodStart = date(service.period_start ?? service.activated_on ?? today.toString());
  const fullDays = daysBetween(
    periodStart,
    periodEnd(
      periodStart,
      period,
      newTariff.tariff.trial_days === null ? undefined : Number(newTariff.tariff.trial_days),
    ),
  );
  // Every paid day from today on converts, including those of a range renewed early (its
  // period_start lies in the future, but the current range's remaining days are paid too).
  const activated = date(service.activated_on ?? today.toString());
  const from = Temporal.PlainDate.compare(today, activated) > 0 ? today : activated;
  const remainingDays = Math.max(0, daysBetween(from, expiresOn));
  const values = addonValues ?? {};
  const oldFull = priceRange(oldTariff, period, addonValuesOf(service), periodStart, { includeSetup: false })
    .full.totalMinor;
  const newFull = priceRange(newTariff, period, values, periodStart, { includeSetup: false }).full;
  const rem = BigInt(remainingDays);
  const days = BigInt(Math.max(fullDays, 1));
  const oldAmountMinor = prorate(oldFull, rem, days);
  const newAmountMinor = prorate(newFull.totalMinor, rem, days);
  return {
    service,
    newTariff,
    remainingDays,
    fullDays,
    oldAmountMinor,
    newAmountMinor,
    differenceMinor: newAmountMinor - oldAmountMinor,
    addonValues: Object.fromEntries(newFull.addonValues),
  };
}

export async function changeTariff(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  tariffId: number,
  addonValues?: Record<string, AddonValue>,
): Promise<{ service: ServiceRow; plan: TariffChangePlan }> {
  const plan = await planTariffChange(ctx, actor, serviceId, tariffId, addonValues);
  const now = isoNow(ctx.clock);
  return inTransaction(ctx.db, async (tx) => {
    const fresh = await loadServiceTx(tx, serviceId);
    if (
      toId(fresh.tariff_id) !== toId(plan.service.tariff_id) ||
      fresh.updated_at !== plan.service.updated_at
    ) {
      throw conflict('service_changed', 'The service changed meanwhile: ask for a new quote.', {});
    }
    let ledgerEntryId: bigint | number | null = null;
    if (plan.differenceMinor !== 0n) {
      const { entry } = await postEntry(tx, {
        accountId: toId(fresh.account_id),
        kind: plan.differenceMinor > 0n ? 'charge' : 'refund',
        amountMinor: -plan.differenceMinor,
        description: `Service #${serviceId}: tariff change to ${plan.newTariff.tariff.name} for ${plan.remainingDays} days`,
        idempotencyKey: `tariff-change:${serviceId}:${fresh.updated_at}:${tariffId}`,
        refType: 'service',
        refId: serviceId,
        createdByUserId: actorUserId(actor),
        now,
      });
      ledgerEntryId = entry.id;
    }
    await tx
      .updateTable('services')
      .set({ tariff_id: tariffId, addon_values: JSON.stringify(plan.addonValues), updated_at: now })
      .where('id', '=', serviceId)
      .execute();
    await tx
      .insertInto('service_charges')
      .values({
        service_id: serviceId,
        kind: 'tariff_change',
        period: Number(fresh.period),
        start_on: todayOf(ctx.clock).toString(),
        end_on: fresh.expires_on,
        amount_minor: plan.differenceMinor,
        lines: '[]',
        ledger_entry_id: ledgerEntryId,
        created_at: now,
      })
      .execute();
    await recordHistory(tx, ctx, actor, serviceId, 'tariff_changed', {
      details: {
        from: toId(fresh.tariff_id),
        to: tariffId,
        remainingDays: plan.remainingDays,
        fullDays: plan.fullDays,
        difference: plan.differenceMinor.toString(),
      },
    });
    await enqueueOperation(
      tx,
      ctx,
      serviceId,
      'set_param',
      { tariffId },
      `set-param:${serviceId}:tariff:${tariffId}:${now}`,
    );
    return { service: await loadServiceTx(tx, serviceId), plan };
  });
}

// ---------------------------------------------------------------- suspend / resume / delete

/** Staff suspend with reason admin or abuse; a client may suspend its own service (reason client). */
export async function suspendService(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  reason: SuspendReason,
): Promise<ServiceRow> {
  const service = await getServiceFor(ctx, actor, serviceId);
  await assertNotClosing(ctx.db.kysely, service);
  if (!isStaff(actor) && reason !== 'client') throw forbidden('Clients suspend with reason "client".');
  if (service.status !== 'active')
    throw conflict('service_not_active', `A ${service.status} service cannot be suspended.`, {
      status: service.status,
    });
  return inTransaction(ctx.db, async (tx) => {
    if (await hasPendingOperation(tx, serviceId, ['suspend'])) return loadServiceTx(tx, serviceId);
    await recordHistory(tx, ctx, actor, serviceId, 'suspend_requested', { details: { reason } });
    await enqueueOperation(
      tx,
      ctx,
      serviceId,
      'suspend',
      { reason },
      `suspend:${serviceId}:${reason}:${isoNow(ctx.clock)}`,
    );
    return loadServiceTx(tx, serviceId);
  });
}

export async function resumeService(ctx: AppContext, actor: Actor, serviceId: number): Promise<ServiceRow> {
  const service = await getServiceFor(ctx, actor, serviceId);
  await assertNotClosing(ctx.db.kysely, service);
  if (service.status !== 'suspended')
    throw conflict('service_not_suspended', 'The service is not suspended.', { status: service.status });
  if (!isStaff(actor) && service.suspend_reason !== 'client')
    throw forbidden('Only staff can lift this suspension.');
  if (
    service.suspend_reason === 'expired' &&
    service.expires_on &&
    service.expires_on <= todayOf(ctx.clock).toString()
  ) {
    throw conflict('service_expired', 'The service has expired: renew it to resume it.', {
      expiresOn: service.expires_on,
    });
  }
  return inTransaction(ctx.db, async (tx) => {
    if (await hasPendingOperation(tx, serviceId, ['resume'])) return loadServiceTx(tx, serviceId);
    await recordHistory(tx, ctx, actor, serviceId, 'resume_requested', {});
    await enqueueOperation(tx, ctx, serviceId, 'resume', {}, `resume:${serviceId}:${isoNow(ctx.clock)}`);
    return loadServiceTx(tx, serviceId);
  });
}

/**
 * Deletes: enqueues `close`. Unused whole days are refunded pro rata only where the product
 * type says so (default off: licenses are not refundable upstream), from what the current
 * paid range actually cost.
 */
export async function deleteService(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  opts: { reason?: string } = {},
): Promise<ServiceRow> {
  const service = await getServiceFor(ctx, actor, serviceId);
  if (service.status === 'deleted') throw conflict('service_deleted', 'The service is deleted.', {});
  const type = await ctx.db.kysely
    .selectFrom('product_types')
    .selectAll()
    .where('id', '=', service.product_type_id)
    .executeTakeFirstOrThrow();
  if (!isStaff(actor) && Number(type.client_can_delete) !== 1) {
    throw forbidden('This kind of service can only be deleted by staff.');
  }
  return inTransaction(ctx.db, (tx) =>
    deleteServiceTx(
      tx,
      ctx,
      actor,
      service,
      Number(type.refund_unused_days) === 1,
      opts.reason ?? 'requested',
    ),
  );
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

export async function deleteServiceTx(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  service: ServiceRow,
  refundUnused: boolean,
  reason: string,
): Promise<ServiceRow> {
  const serviceId = toId(service.id);
  if (await hasPendingOperation(tx, serviceId, ['close'])) return loadServiceTx(tx, serviceId);
  const now = isoNow(ctx.clock);
  const today = todayOf(ctx.clock);
  let refunded = 0n;
  let unused = 0;
  if (refundUnused && service.expires_on && service.status === 'active') {
    const end = date(service.expires_on);
    const from = today;
    unused = Math.max(0, daysBetween(from, end));
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
      await tx
        .insertInto('service_charges')
        .values({
          service_id: serviceId,
          kind: 'refund',
          period: null,
          start_on: from.toString(),
          end_on: end.toString(),
          amount_minor: -refunded,
          lines: '[]',
          ledger_entry_id: entry.id,
          created_at: now,
        })
        .execute();
    }
  }
  await recordHistory(tx, ctx, actor, serviceId, 'delete_requested', {
    details: { reason, refunded: refunded.toString() },
  });
  await enqueueOperation(tx, ctx, serviceId, 'close', { reason }, `close:${serviceId}`);
  return loadServiceTx(tx, serviceId);
}
