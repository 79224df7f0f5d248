import { Temporal } from 'temporal-polyfill';
import {
  currencyExponent,
  formatScaled,
  isCurrency,
  parseScaled,
  prorate,
  rescale,
} from '../../domain/money.js';
import { daysBetween, periodEnd } from '../../domain/periods.js';
import type { UpstreamCost } from '../../modules/provisioning/index.js';

/** Costs are kept with 4 decimals (ten-thousandths), whatever the upstream's currency. */
export const COST_SCALE = 4;

/**
 * What an upstream order or renewal cost: the upstream's price for the period, prorated by
 * days when the upstream granted fewer than the full period (a tariff that ends — the
 * selling side cuts the period and charges the days, 15/31 of the month for a renewal on
 * 2021-12-16 of a tariff ending 2021-12-31). The prorated amount is rounded half up in the
 * currency's minor unit, as the seller charges it (10.00 → 4.84), then kept with 4 decimals.
 * `from`/`to` are the range the upstream granted; unknown → the full price.
 */
export function upstreamCost(input: {
  kind: UpstreamCost['kind'];
  period: number;
  price: { amount: string; currency: string };
  from: string | null;
  to: string | null;
}): UpstreamCost {
  const { kind, period, price } = input;
  const full = parseScaled(price.amount, COST_SCALE);
  let amount = full;
  if (input.from && input.to && period > 0) {
    const start = Temporal.PlainDate.from(input.from);
    const granted = daysBetween(start, Temporal.PlainDate.from(input.to));
    const fullDays = daysBetween(start, periodEnd(start, period));
    if (granted > 0 && granted < fullDays) {
      const exp = isCurrency(price.currency) ? currencyExponent(price.currency) : 2;
      const inMinor = rescale(full, COST_SCALE, exp);
      amount = rescale(prorate(inMinor, BigInt(granted), BigInt(fullDays)), exp, COST_SCALE);
    }
  }
  return { kind, period, amount: formatScaled(amount, COST_SCALE), currency: price.currency };
}
