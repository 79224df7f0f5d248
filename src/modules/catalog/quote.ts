import type { Temporal } from 'temporal-polyfill';
import { formatAmount } from '../../domain/money.js';
import { cutAtExpiration, type PeriodCut, PeriodError, storedDate } from '../../domain/periods.js';
import { type AddonValue, type PricedOrder, priceOrder, prorateOrder } from '../../domain/pricing.js';
import { AppError, conflict, fromDomainError, invalid } from '../../platform/errors.js';
import { requireIp } from '../../platform/ip.js';
import type { TariffAggregate } from './aggregate.js';
import { tariffForPricing } from './pricing-adapter.js';

/**
 * Pricing a tariff for a concrete date range: the pure pricing and period rules applied to a
 * tariff from the database, with their errors turned into API errors. Orders, renewals and
 * tariff changes all price through here, so a quote and its charge always agree.
 */
export interface PricedRange {
  readonly cut: PeriodCut;
  /** Lines after the cut (setup never prorated). */
  readonly order: PricedOrder;
  /** Lines for the whole period, before the cut. */
  readonly full: PricedOrder;
  readonly totalMinor: bigint;
  readonly setupMinor: bigint;
}

export function toAppError(err: unknown): unknown {
  if (err instanceof PeriodError && err.code === 'tariff_expired')
    return conflict(
      'tariff_expired',
      'The tariff has ended: it can no longer be ordered or renewed.',
      err.details,
    );
  return fromDomainError(err);
}

/**
 * Ranges priced already, per tariff as read (its aggregate object, which nobody changes):
 * the daily run prices thousands of renewals and reminders of one tariff from the same few
 * dates, and pricing is a pure function of the tariff, the period, the values, the start and
 * the options, so each combination is priced once (1.5 s of a run over a million services).
 * A range is shared by whoever asked for it and never changed. At most PRICED_PER_TARIFF a
 * tariff: past that, ranges are priced and not kept.
 */
const PRICED = new WeakMap<TariffAggregate, Map<string, PricedRange>>();
const PRICED_PER_TARIFF = 1000;

type PriceRangeOptions = {
  includeSetup: boolean;
  existing?: boolean;
  /** Values the service holds: its enumeration values are priced even if withdrawn since. */
  kept?: Record<string, AddonValue>;
};

export function priceRange(
  agg: TariffAggregate,
  period: number,
  addonValues: ReadonlyMap<number, AddonValue> | Record<string, AddonValue>,
  start: Temporal.PlainDate,
  opts: PriceRangeOptions,
): PricedRange {
  let memo = PRICED.get(agg);
  if (!memo) {
    memo = new Map();
    PRICED.set(agg, memo);
  }
  const key = JSON.stringify([
    period,
    start.toString(),
    opts.includeSetup,
    opts.existing ?? false,
    addonValues instanceof Map ? [...addonValues] : addonValues,
    opts.kept ?? null,
  ]);
  const known = memo.get(key);
  if (known) return known;
  const priced = priceRangeOnce(agg, period, addonValues, start, opts);
  if (memo.size < PRICED_PER_TARIFF) memo.set(key, priced);
  return priced;
}

function priceRangeOnce(
  agg: TariffAggregate,
  period: number,
  addonValues: ReadonlyMap<number, AddonValue> | Record<string, AddonValue>,
  start: Temporal.PlainDate,
  opts: PriceRangeOptions,
): PricedRange {
  try {
    // A renewal prices what the service has: values withdrawn since are kept, addons the tariff
    // no longer has are dropped (nothing left to charge for them).
    let values = addonValues instanceof Map ? Object.fromEntries(addonValues) : { ...addonValues };
    let keep = new Set<number>();
    if (opts.existing) {
      const addonIds = new Set(agg.addons.map((a) => String(a.addon.id)));
      values = Object.fromEntries(Object.entries(values).filter(([id]) => addonIds.has(id)));
      const enumAddons = new Set(
        agg.addons.filter((a) => a.addon.value_type === 'enumeration').map((a) => String(a.addon.id)),
      );
      keep = new Set(
        Object.entries(values)
          .filter(([id, v]) => enumAddons.has(id) && typeof v === 'number')
          .map(([, v]) => v as number),
      );
    }
    if (opts.kept) {
      const enumAddons = agg.addons.filter((a) => a.addon.value_type === 'enumeration');
      for (const a of enumAddons) {
        const id = String(a.addon.id);
        const v = opts.kept[id];
        // Kept only where the value stays the addon's: a value chosen now must be offered.
        if (typeof v === 'number' && values[id] === v) keep.add(v);
      }
    }
    const expiration = agg.tariff.expires_on ? storedDate(agg.tariff.expires_on) : null;
    const trialDays = agg.tariff.trial_days === null ? undefined : Number(agg.tariff.trial_days);
    const full = priceOrder(tariffForPricing(agg, keep), period, values, { includeSetup: opts.includeSetup });
    const cut = cutAtExpiration(start, period, expiration, trialDays);
    const order = cut.cut ? prorateOrder(full, cut.grantedDays, cut.fullDays) : full;
    const setupMinor = order.lines.filter((l) => l.kind === 'setup').reduce((a, l) => a + l.amountMinor, 0n);
    return { cut, order, full, totalMinor: order.totalMinor, setupMinor };
  } catch (err) {
    throw toAppError(err);
  }
}

/** API image of a priced range. */
export function presentPricedRange(r: PricedRange) {
  const currency = r.order.currency;
  return {
    tariffId: r.order.tariffId,
    period: r.order.period,
    currency,
    start: r.cut.start.toString(),
    end: r.cut.end.toString(),
    naturalEnd: r.cut.naturalEnd.toString(),
    grantedDays: r.cut.grantedDays,
    fullDays: r.cut.fullDays,
    cut: r.cut.cut,
    lines: r.order.lines.map((l, i) => ({
      kind: l.kind,
      addonId: l.addonId,
      label: l.label,
      quantity: l.quantity,
      value: l.value,
      unitPrice: formatAmount(l.unitPriceMinor, currency),
      fullAmount: formatAmount(r.full.lines[i]?.amountMinor ?? l.amountMinor, currency),
      amount: formatAmount(l.amountMinor, currency),
    })),
    total: formatAmount(r.totalMinor, currency),
  };
}

const HOSTNAME =
  /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/**
 * Service parameters: exactly those the product type declares, each present and well formed
 * (`ip` an IPv4/IPv6 address, kept in its canonical form; `hostname` a host name). Returns
 * the cleaned map.
 */
export function validateServiceParams(
  agg: TariffAggregate,
  params: Record<string, string> | undefined,
): Record<string, string> {
  const declared = JSON.parse(agg.productType.service_params) as string[];
  const given = params ?? {};
  const unknown = Object.keys(given).filter((k) => !declared.includes(k));
  if (unknown.length) {
    throw invalid('unknown_service_param', `This product type has no parameter ${unknown.join(', ')}.`, {
      params: unknown,
      declared,
    });
  }
  const out: Record<string, string> = {};
  for (const name of declared) {
    const value = given[name]?.trim();
    if (!value)
      throw new AppError(
        'invalid',
        'service_param_required',
        `The service parameter "${name}" is required.`,
        { param: name },
      );
    if (name === 'ip') {
      out[name] = requireIp(value, name);
      continue;
    }
    if (name === 'hostname' && !HOSTNAME.test(value))
      throw invalid('invalid_hostname', `"${value}" is not a host name.`, { param: name, value });
    if (value.length > 255)
      throw invalid('service_param_too_long', `The parameter "${name}" is too long.`, { param: name });
    out[name] = value;
  }
  return out;
}
