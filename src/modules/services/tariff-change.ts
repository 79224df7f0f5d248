import { Temporal } from 'temporal-polyfill';
import type { Decision } from '../../domain/lifecycle.js';
import { formatAmount, prorate } from '../../domain/money.js';
import { daysBetween, periodEnd } from '../../domain/periods.js';
import type { AddonValue } from '../../domain/pricing.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, type ServiceRow, type Tx } from '../../platform/db/index.js';
import { conflict, invalid } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorUserId, isStaff } from '../accounts/actor.js';
import { postEntry } from '../accounts/ledger.js';
import type { TariffAggregate } from '../catalog/aggregate.js';
import { priceRange } from '../catalog/quote.js';
import { issueChangeInvoice } from '../invoices/issue.js';
import { addonValuesOf, getServiceFor, tariffOf } from './commands.js';
import { decideOrThrow, writeDecision } from './decisions.js';
import { recordCharge, recordHistory } from './history.js';
import { bindLicenseIp, licenseFamily } from './license-ips.js';
import { lockService, serviceState } from './repository.js';

/**
 * Upgrade/downgrade within one product type (BILLING.md "Tariff change"): the remaining paid
 * days are converted at the two tariffs' prices for the current period, both day-prorated on
 * the full current period; the difference is charged or credited at once. The old side is
 * priced with what the service has (values withdrawn since included); the new side keeps the
 * service's addon values unless others are given.
 */
type Reader = Tx | AppContext['db']['kysely'];
const date = (s: string) => Temporal.PlainDate.from(s);

export interface TariffChangePlan {
  readonly service: ServiceRow;
  readonly oldTariff: TariffAggregate;
  readonly newTariff: TariffAggregate;
  readonly remainingDays: number;
  readonly fullDays: number;
  readonly oldAmountMinor: bigint;
  readonly newAmountMinor: bigint;
  /** > 0 charged, < 0 credited. */
  readonly differenceMinor: bigint;
  readonly addonValues: Record<string, AddonValue>;
  /** The period the service renews with from now on (the current one unless another is asked for). */
  readonly period: number;
  readonly decision: Decision;
  /** The same tariff, other addon values (a control panel Lite → Pro): `addonValues` before and after. */
  readonly addonChange: {
    readonly from: Record<string, AddonValue>;
    readonly to: Record<string, AddonValue>;
  } | null;
}

/**
 * The service's addon values carried to the new tariff: each of its addons takes the value of
 * the old tariff's addon of the same value type and kind (or, for generic addons, the same
 * label); enumerations only within the same enumeration. Values given explicitly win.
 */
export function carryAddonValues(
  oldTariff: TariffAggregate,
  newTariff: TariffAggregate,
  current: Record<string, AddonValue>,
  given: Record<string, AddonValue> | undefined,
): Record<string, AddonValue> {
  const carried: Record<string, AddonValue> = {};
  for (const { addon } of newTariff.addons) {
    const match = oldTariff.addons.find(
      ({ addon: o }) =>
        String(o.id) in current &&
        o.value_type === addon.value_type &&
        (addon.kind === 'generic'
          ? o.kind === 'generic' && o.label === addon.label
          : o.kind === addon.kind) &&
        (addon.value_type !== 'enumeration' || String(o.enumeration_id) === String(addon.enumeration_id)),
    );
    if (match) carried[String(addon.id)] = current[String(match.addon.id)]!;
  }
  return { ...carried, ...(given ?? {}) };
}

async function plan(
  db: Reader,
  actor: Actor,
  service: ServiceRow,
  tariffId: number,
  opts: {
    addonValues?: Record<string, AddonValue> | undefined;
    period?: number | undefined;
    today: Temporal.PlainDate;
  },
): Promise<TariffChangePlan> {
  const decision = decideOrThrow(await serviceState(db, service), { type: 'tariff_change' }, opts.today);
  const current = addonValuesOf(service);
  // The same tariff is a change only when addon values given differ from the service's.
  const sameTariff = toId(service.tariff_id) === tariffId;
  if (sameTariff && !Object.entries(opts.addonValues ?? {}).some(([id, v]) => current[id] !== v))
    throw invalid('same_tariff', 'The service is already on this tariff with these addon values.', {});
  const [oldTariff, newTariff] = await Promise.all([tariffOf(db, service.tariff_id), tariffOf(db, tariffId)]);
  if (toId(newTariff.tariff.product_type_id) !== toId(service.product_type_id))
    throw invalid('product_type_mismatch', 'The new tariff sells a different kind of product.', {});
  if (newTariff.tariff.status !== 'active' && !(isStaff(actor) && newTariff.tariff.status === 'hidden'))
    throw conflict('tariff_not_orderable', 'This tariff cannot be ordered.', { tariffId });
  const account = await db
    .selectFrom('accounts')
    .select('currency')
    .where('id', '=', service.account_id)
    .executeTakeFirstOrThrow();
  if (newTariff.tariff.currency !== account.currency)
    throw conflict(
      'currency_mismatch',
      `The tariff is priced in ${newTariff.tariff.currency}, the account pays in ${account.currency}.`,
      { tariffId },
    );
  const expiresOn = date(service.expires_on!);
  if (newTariff.tariff.expires_on && newTariff.tariff.expires_on < expiresOn.toString())
    throw conflict('tariff_expired', 'The new tariff ends before the service does.', {
      expiresOn: newTariff.tariff.expires_on,
    });
  const period = Number(service.period);
  const nextPeriod = opts.period ?? period;
  if (!newTariff.periods.some((p) => Number(p.period) === nextPeriod))
    throw invalid('period_not_offered', `Period ${nextPeriod} is not offered by the new tariff.`, {
      period: nextPeriod,
    });
  const today = opts.today;
  const periodStart = date(service.period_start ?? service.activated_on ?? today.toString());
  const trialDays = newTariff.tariff.trial_days === null ? undefined : Number(newTariff.tariff.trial_days);
  const fullDays = daysBetween(periodStart, periodEnd(periodStart, period, trialDays));
  // Every paid day from today on converts, including those of a range renewed early (its
  // period_start lies in the future, but the current range's remaining days are paid too).
  const activated = date(service.activated_on ?? today.toString());
  const from = Temporal.PlainDate.compare(today, activated) > 0 ? today : activated;
  const remainingDays = Math.max(0, daysBetween(from, expiresOn));
  const values = sameTariff
    ? { ...keptValues(newTariff, current), ...opts.addonValues }
    : carryAddonValues(oldTariff, newTariff, current, opts.addonValues);
  const oldFull = priceRange(oldTariff, period, current, periodStart, { includeSetup: false, existing: true })
    .full.totalMinor;
  // On the same tariff the values left as they were stay priced even if withdrawn since; a
  // value chosen now must be offered.
  const newFull = priceRange(newTariff, period, values, periodStart, {
    includeSetup: false,
    ...(sameTariff ? { kept: current } : {}),
  }).full;
  const rem = BigInt(remainingDays);
  const days = BigInt(Math.max(fullDays, 1));
  const oldAmountMinor = prorate(oldFull, rem, days);
  const newAmountMinor = prorate(newFull.totalMinor, rem, days);
  return {
    service,
    oldTariff,
    newTariff,
    remainingDays,
    fullDays,
    oldAmountMinor,
    newAmountMinor,
    differenceMinor: newAmountMinor - oldAmountMinor,
    addonValues: Object.fromEntries(newFull.addonValues),
    period: nextPeriod,
    decision,
    addonChange: sameTariff ? { from: current, to: Object.fromEntries(newFull.addonValues) } : null,
  };
}

/** The service's values for the addons the tariff still has. */
function keptValues(
  tariff: TariffAggregate,
  current: Record<string, AddonValue>,
): Record<string, AddonValue> {
  const ids = new Set(tariff.addons.map((a) => String(a.addon.id)));
  return Object.fromEntries(Object.entries(current).filter(([id]) => ids.has(id)));
}

export interface TariffChangeInput {
  readonly addonValues?: Record<string, AddonValue> | undefined;
  /** The period to renew with from the next renewal on (BILLmanager clients send it with every change). */
  readonly period?: number | undefined;
}

/** The quote: what the change would charge or credit now (no writes). */
export async function planTariffChange(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  tariffId: number,
  input: TariffChangeInput = {},
): Promise<TariffChangePlan> {
  const service = await getServiceFor(ctx, actor, serviceId);
  return plan(ctx.db.kysely, actor, service, tariffId, { ...input, today: await todayIn(ctx) });
}

export async function changeTariff(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  tariffId: number,
  input: TariffChangeInput = {},
): Promise<{ service: ServiceRow; plan: TariffChangePlan }> {
  await getServiceFor(ctx, actor, serviceId);
  const today = await todayIn(ctx);
  return inTransaction(ctx.db, async (tx) => {
    const service = await lockService(tx, serviceId, actor);
    const p = await plan(tx, actor, service, tariffId, { ...input, today });
    // A license whose family is its tariff (CloudLinux, KernelCare) moves its address to the
    // new tariff's family, or the change is refused when a license there holds it already.
    const code = p.newTariff.productType.code;
    const family = licenseFamily(code, tariffId);
    if (family !== licenseFamily(code, toId(service.tariff_id)) && family !== null)
      await bindLicenseIp(tx, serviceId, family, (JSON.parse(service.params) as { ip?: string }).ip ?? null);
    const now = isoNow(ctx.clock);
    const currency = p.newTariff.tariff.currency;
    // Keys count the service's changes (under the service's lock), never its timestamps: Lite →
    // Pro → Lite → Pro within one instant (one millisecond, a clock set back) are three charges
    // and three operations, and an addon change, which keeps the tariff, is told apart the same way.
    const change = await changesOf(tx, serviceId);
    let ledgerEntryId: bigint | number | null = null;
    if (p.differenceMinor !== 0n) {
      const { entry } = await postEntry(tx, {
        accountId: toId(service.account_id),
        kind: p.differenceMinor > 0n ? 'charge' : 'refund',
        amountMinor: -p.differenceMinor,
        description: p.addonChange
          ? `Service #${serviceId}: addon change on ${p.newTariff.tariff.name} for ${p.remainingDays} days`
          : `Service #${serviceId}: tariff change to ${p.newTariff.tariff.name} for ${p.remainingDays} days`,
        // Keys written before changes were counted hold the service's updated_at instead.
        idempotencyKey: `${p.addonChange ? 'addon-change' : 'tariff-change'}:${serviceId}:change:${change}`,
        refType: 'service',
        refId: serviceId,
        createdByUserId: actorUserId(actor),
        now,
      });
      ledgerEntryId = entry.id;
    }
    await tx
      .updateTable('services')
      .set({
        tariff_id: tariffId,
        addon_values: JSON.stringify(p.addonValues),
        // The period asked for applies from the next renewal: the automatic one renews with it.
        ...(p.period !== Number(service.period) && service.autoprolong !== null
          ? { autoprolong: p.period }
          : {}),
        updated_at: now,
      })
      .where('id', '=', serviceId)
      .execute();
    await recordCharge(tx, ctx, serviceId, {
      kind: 'tariff_change',
      period: Number(service.period),
      start: today.toString(),
      end: service.expires_on,
      amountMinor: p.differenceMinor,
      ledgerEntryId,
    });
    await recordHistory(tx, ctx, actor, serviceId, p.addonChange ? 'addons_changed' : 'tariff_changed', {
      details: {
        from: toId(service.tariff_id),
        to: tariffId,
        ...(p.addonChange ? { addonValues: p.addonChange } : {}),
        remainingDays: p.remainingDays,
        fullDays: p.fullDays,
        difference: formatAmount(p.differenceMinor, currency),
        ...(p.period !== Number(service.period) ? { nextPeriod: p.period } : {}),
      },
    });
    await writeDecision(tx, ctx, actor, service, p.decision, { today, tariffId, change });
    if (p.differenceMinor < 0n) await ctx.hooks.afterCredit(tx, ctx, toId(service.account_id));
    // The document counter is the last lock the transaction takes (D-invoices).
    if (p.differenceMinor > 0n && ledgerEntryId !== null) {
      // The days left can outnumber the period's (a service renewed early): no "of N".
      const days = `for ${p.remainingDays} days`;
      await issueChangeInvoice(tx, ctx, {
        accountId: toId(service.account_id),
        serviceId,
        currency,
        description: p.addonChange
          ? `Addon change on ${p.newTariff.tariff.name} ${days}`
          : `Tariff change ${p.oldTariff.tariff.name} → ${p.newTariff.tariff.name} ${days}`,
        start: today.toString(),
        end: service.expires_on,
        amountMinor: p.differenceMinor,
        ledgerEntryId,
      });
    }
    return { service: await lockService(tx, serviceId), plan: p };
  });
}

/** How many tariff and addon changes the service has had (its `tariff_change` charges). */
async function changesOf(tx: Tx, serviceId: number): Promise<number> {
  const row = await tx
    .selectFrom('service_charges')
    .select((e) => e.fn.countAll().as('n'))
    .where('service_id', '=', serviceId)
    .where('kind', '=', 'tariff_change')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
