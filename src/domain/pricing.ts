/**
 * Pricing of a tariff order or renewal (BILLING.md "Catalog", "Tariff expiration and proration").
 * Pure: given a tariff, a period and addon values, produce priced lines in minor units (bigint).
 * Each line is exact (prices × whole quantities); the only rounding is in `prorateOrder`, once per line.
 */
import { DomainError } from './errors.js';
import { prorate, sum } from './money.js';
import { MONTH_PERIODS as STANDARD_PERIODS, TRIAL_PERIOD } from './periods.js';

/** Months: 1, 3, 6, 12, 24, 36; `TRIAL_PERIOD` (-100) is the trial. */
export type Period = number;

/** The period constants are the calendar's (periods.ts): one constant per concept. */
export { MONTH_PERIODS as STANDARD_PERIODS, TRIAL_PERIOD } from './periods.js';

/** Stable codes surfaced to API callers. */
export type PricingErrorCode =
  | 'period_not_offered'
  | 'addon_required'
  | 'addon_value_out_of_range'
  | 'addon_value_not_on_step'
  | 'enumeration_value_not_offered'
  | 'addon_value_invalid'
  | 'unknown_addon'
  | 'price_missing';

/** Domain error with a machine-readable code and details naming the addon / period / value and the limits. */
export class PricingError extends DomainError {
  declare readonly code: PricingErrorCode;

  constructor(code: PricingErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details, 'invalid');
    this.name = 'PricingError';
  }
}

export interface TariffForPricing {
  id: number;
  name: string;
  currency: string;
  /** offered periods → explicit price (minor units) or null = monthly price × months (BILLING.md decision). Trial (-100) price null means free. */
  periods: ReadonlyMap<Period, bigint | null>;
  setupFeeMinor: bigint | null;
  addons: readonly AddonForPricing[];
}

export interface EnumerationValueForPricing {
  name: string;
  internalName: string;
  /** false = this value is switched off for this tariff */
  offered: boolean;
  prices: ReadonlyMap<Period, bigint | null>;
}

export type AddonForPricing = {
  id: number;
  label: string;
  kind: 'control_panel' | 'cpu' | 'ram' | 'disk' | 'ipv4' | 'generic';
  required: boolean;
  /** price per period; same fallback rule (monthly × months; missing monthly → price_missing) */
} & (
  | { valueType: 'boolean'; defaultValue: boolean | null; prices: ReadonlyMap<Period, bigint | null> }
  | {
      valueType: 'integer';
      defaultValue: number | null;
      unit: string;
      included: number;
      min: number;
      max: number;
      step: number;
      /** per unit above `included` */
      prices: ReadonlyMap<Period, bigint | null>;
    }
  | {
      valueType: 'enumeration';
      /** enumeration value id */
      defaultValue: number | null;
      /** enumeration value id → value */
      values: ReadonlyMap<number, EnumerationValueForPricing>;
    }
);

export type BooleanAddonForPricing = Extract<AddonForPricing, { valueType: 'boolean' }>;
export type IntegerAddonForPricing = Extract<AddonForPricing, { valueType: 'integer' }>;
export type EnumerationAddonForPricing = Extract<AddonForPricing, { valueType: 'enumeration' }>;

/** boolean addon: boolean; integer addon: amount; enumeration addon: enumeration value id */
export type AddonValue = boolean | number;

export interface PriceLine {
  kind: 'tariff' | 'setup' | 'addon';
  addonId: number | null;
  label: string;
  quantity: number;
  /** Price of one unit for the full period (not prorated). */
  unitPriceMinor: bigint;
  amountMinor: bigint;
  value: AddonValue | null;
}

export interface PricedOrder {
  tariffId: number;
  period: Period;
  currency: string;
  lines: PriceLine[];
  totalMinor: bigint;
  /** Every addon that has a value (given or default), by addon id ascending. */
  addonValues: ReadonlyMap<number, AddonValue>;
}

function isKnownPeriod(period: Period): boolean {
  return period === TRIAL_PERIOD || STANDARD_PERIODS.includes(period);
}

function checkPrice(price: bigint, period: Period): bigint {
  // Negative prices are rejected by the catalog; seeing one here is a programming error.
  if (price < 0n) {
    throw new RangeError(`Negative price ${price} for period ${period}`);
  }
  return price;
}

/**
 * Resolve the price of one period: explicit, else monthly × months; trial free unless priced.
 * `offered` (when given) is the set of periods the tariff offers. Throws period_not_offered / price_missing.
 */
export function periodPrice(
  prices: ReadonlyMap<Period, bigint | null>,
  period: Period,
  offered: ReadonlySet<Period> | null,
): bigint {
  if (!isKnownPeriod(period) || (offered !== null && !offered.has(period))) {
    throw new PricingError('period_not_offered', `Period ${period} is not offered`, {
      period,
      offered: offered === null ? [...STANDARD_PERIODS, TRIAL_PERIOD] : [...offered],
    });
  }
  const explicit = prices.get(period);
  if (explicit !== undefined && explicit !== null) {
    return checkPrice(explicit, period);
  }
  if (period === TRIAL_PERIOD) {
    return 0n;
  }
  const monthly = prices.get(1);
  if (monthly === undefined || monthly === null) {
    throw new PricingError('price_missing', `No price for period ${period} and no monthly price`, {
      period,
    });
  }
  return checkPrice(monthly, 1) * BigInt(period);
}

const ID_KEY_RE = /^(0|[1-9][0-9]*)$/;

/** Accept a Map keyed by addon id, or a plain object (parsed JSON) whose keys are the ids as strings. */
function normalizeAddonValues(
  input: ReadonlyMap<number, AddonValue> | Record<string, AddonValue>,
  addons: ReadonlyMap<number, AddonForPricing>,
): Map<number, unknown> {
  const entries: [unknown, unknown][] =
    input instanceof Map ? [...input.entries()] : Object.entries(input as Record<string, unknown>);
  const out = new Map<number, unknown>();
  for (const [rawKey, value] of entries) {
    let id: number | null = null;
    if (typeof rawKey === 'number' && Number.isSafeInteger(rawKey)) {
      id = rawKey;
    } else if (typeof rawKey === 'string' && ID_KEY_RE.test(rawKey) && Number.isSafeInteger(Number(rawKey))) {
      id = Number(rawKey);
    }
    if (id === null || !addons.has(id)) {
      throw new PricingError('unknown_addon', `Unknown addon ${String(rawKey)}`, { addonId: rawKey });
    }
    // An explicitly undefined entry (optional property) means "not given".
    if (value !== undefined) {
      out.set(id, value);
    }
  }
  return out;
}

function invalid(addon: AddonForPricing, value: unknown, expected: string): PricingError {
  return new PricingError(
    'addon_value_invalid',
    `Addon ${addon.id} (${addon.label}) expects ${expected}, got ${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value)}`,
    { addonId: addon.id, value, expected },
  );
}

/** Check one addon value against its type and limits; returns it typed. */
function validateValue(addon: AddonForPricing, value: unknown): AddonValue {
  switch (addon.valueType) {
    case 'boolean': {
      if (typeof value !== 'boolean') {
        throw invalid(addon, value, 'a boolean');
      }
      return value;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw invalid(addon, value, 'an integer');
      }
      const { min, max, step } = addon;
      if (value < min || value > max) {
        throw new PricingError(
          'addon_value_out_of_range',
          `Addon ${addon.id} (${addon.label}): ${value} is outside [${min}, ${max}]`,
          { addonId: addon.id, value, min, max },
        );
      }
      if (!Number.isSafeInteger(step) || step <= 0) {
        throw new RangeError(`Addon ${addon.id} has a non-positive step ${step}`);
      }
      if ((value - min) % step !== 0) {
        throw new PricingError(
          'addon_value_not_on_step',
          `Addon ${addon.id} (${addon.label}): ${value} is not ${min} + a multiple of ${step}`,
          { addonId: addon.id, value, min, max, step },
        );
      }
      return value;
    }
    case 'enumeration': {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw invalid(addon, value, 'an enumeration value id');
      }
      const entry = addon.values.get(value);
      if (entry === undefined || !entry.offered) {
        const offered = [...addon.values].filter(([, v]) => v.offered).map(([id]) => id);
        throw new PricingError(
          'enumeration_value_not_offered',
          `Addon ${addon.id} (${addon.label}): value ${value} is ${entry === undefined ? 'not in the enumeration' : 'not offered by this tariff'}`,
          {
            addonId: addon.id,
            value,
            reason: entry === undefined ? 'not_in_enumeration' : 'switched_off',
            offered,
          },
        );
      }
      return value;
    }
  }
}

/** Price one addon for the period; null when it produces no line (boolean switched off). */
function priceAddon(addon: AddonForPricing, value: AddonValue, period: Period): PriceLine | null {
  const withAddon = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof PricingError && err.code === 'price_missing') {
        throw new PricingError('price_missing', `Addon ${addon.id} (${addon.label}): ${err.message}`, {
          ...err.details,
          addonId: addon.id,
          value,
        });
      }
      throw err;
    }
  };
  switch (addon.valueType) {
    case 'boolean': {
      if (value !== true) {
        return null;
      }
      const unit = withAddon(() => periodPrice(addon.prices, period, null));
      return {
        kind: 'addon',
        addonId: addon.id,
        label: addon.label,
        quantity: 1,
        unitPriceMinor: unit,
        amountMinor: unit,
        value,
      };
    }
    case 'integer': {
      const amount = value as number;
      const quantity = Math.max(0, amount - addon.included);
      const unit = withAddon(() => periodPrice(addon.prices, period, null));
      return {
        kind: 'addon',
        addonId: addon.id,
        label: addon.unit === '' ? addon.label : `${addon.label} (${amount} ${addon.unit})`,
        quantity,
        unitPriceMinor: unit,
        amountMinor: unit * BigInt(quantity),
        value,
      };
    }
    case 'enumeration': {
      // validateValue guarantees the entry exists and is offered.
      const entry = addon.values.get(value as number)!;
      const unit = withAddon(() => periodPrice(entry.prices, period, null));
      return {
        kind: 'addon',
        addonId: addon.id,
        label: `${addon.label}: ${entry.name}`,
        quantity: 1,
        unitPriceMinor: unit,
        amountMinor: unit,
        value,
      };
    }
  }
}

/**
 * Validate addon values (fill defaults, reject unknown addon ids, required missing, out of range [min,max],
 * not on step ((v - min) % step != 0), enumeration value not offered or not in the enumeration, wrong JS
 * type → addon_value_invalid) and price the order: one tariff line, a setup line when setupFeeMinor > 0 and
 * `includeSetup` is true (orders yes, renewals no), one line per addon with a value (boolean: only when on;
 * integer: units above `included` × unit price, a 0 line when nothing above; enumeration: the value's price).
 * Lines: tariff, setup, addons by id. total = sum of lines.
 */
export function priceOrder(
  tariff: TariffForPricing,
  period: Period,
  addonValues: ReadonlyMap<number, AddonValue> | Record<string, AddonValue>,
  opts?: { includeSetup?: boolean },
): PricedOrder {
  const tariffPrice = periodPrice(tariff.periods, period, new Set(tariff.periods.keys()));
  const lines: PriceLine[] = [
    {
      kind: 'tariff',
      addonId: null,
      label: tariff.name,
      quantity: 1,
      unitPriceMinor: tariffPrice,
      amountMinor: tariffPrice,
      value: null,
    },
  ];
  const setup = tariff.setupFeeMinor;
  if (opts?.includeSetup === true && setup !== null && setup > 0n) {
    lines.push({
      kind: 'setup',
      addonId: null,
      label: `Setup fee: ${tariff.name}`,
      quantity: 1,
      unitPriceMinor: setup,
      amountMinor: setup,
      value: null,
    });
  }

  const addons = new Map<number, AddonForPricing>();
  for (const addon of tariff.addons) {
    addons.set(addon.id, addon);
  }
  const given = normalizeAddonValues(addonValues, addons);
  const resolved = new Map<number, AddonValue>();
  const sortedAddons = [...addons.values()].sort((a, b) => a.id - b.id);
  for (const addon of sortedAddons) {
    // A given value is validated as is (null included); the default only fills a missing value.
    const raw: unknown = given.has(addon.id) ? given.get(addon.id) : addon.defaultValue;
    if (!given.has(addon.id) && raw === null) {
      if (addon.required) {
        throw new PricingError('addon_required', `Addon ${addon.id} (${addon.label}) requires a value`, {
          addonId: addon.id,
        });
      }
      continue;
    }
    const value = validateValue(addon, raw);
    resolved.set(addon.id, value);
    const line = priceAddon(addon, value, period);
    if (line !== null) {
      lines.push(line);
    }
  }

  return {
    tariffId: tariff.id,
    period,
    currency: tariff.currency,
    lines,
    totalMinor: sum(lines.map((l) => l.amountMinor)),
    addonValues: resolved,
  };
}

/**
 * Apply the same fraction granted/full to every line (tariff-expiration cut): each line rounded half up
 * once via money.prorate; the setup fee is NOT prorated; unit prices stay the full-period prices.
 * Returns a new PricedOrder with the new total.
 */
export function prorateOrder(order: PricedOrder, grantedDays: number, fullDays: number): PricedOrder {
  if (!Number.isSafeInteger(fullDays) || fullDays <= 0) {
    throw new RangeError(`fullDays must be a positive integer, got ${fullDays}`);
  }
  if (!Number.isSafeInteger(grantedDays) || grantedDays < 0 || grantedDays > fullDays) {
    throw new RangeError(`grantedDays must be an integer in [0, ${fullDays}], got ${grantedDays}`);
  }
  const num = BigInt(grantedDays);
  const den = BigInt(fullDays);
  const lines = order.lines.map(
    (line): PriceLine =>
      line.kind === 'setup' ? { ...line } : { ...line, amountMinor: prorate(line.amountMinor, num, den) },
  );
  return {
    ...order,
    lines,
    totalMinor: sum(lines.map((l) => l.amountMinor)),
    addonValues: new Map(order.addonValues),
  };
}
