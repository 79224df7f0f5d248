import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import type { TariffAggregate } from './aggregate.js';
import { priceRange } from './quote.js';

/** A tariff as read from the database: monthly at `priceMinor`, ending on `expiresOn`. */
function tariff(priceMinor: bigint, expiresOn: string | null): TariffAggregate {
  return {
    tariff: {
      id: 7,
      name: 'ISPmanager 6 Lite',
      currency: 'EUR',
      setup_fee_minor: 0n,
      status: 'active',
      expires_on: expiresOn,
      trial_days: null,
    },
    productType: { id: 1, code: 'soft' },
    periods: [{ tariff_id: 7, period: 1, price_minor: priceMinor }],
    addons: [],
  } as unknown as TariffAggregate;
}

const renewal = { includeSetup: false, existing: true } as const;
const day = (s: string) => Temporal.PlainDate.from(s);

describe('priceRange keeps what it priced per tariff as read', () => {
  it('gives the same range for the same tariff object and arguments, and prices anew for another object, start or period', () => {
    const a = tariff(31_00n, '2022-01-01');
    const first = priceRange(a, 1, {}, day('2021-12-17'), renewal);
    // The seed's case: 15 of 31 days of 31.00 up to the tariff's end.
    expect(first.totalMinor).toBe(15_00n);
    expect(priceRange(a, 1, {}, day('2021-12-17'), renewal)).toBe(first);
    // Another start is another range.
    expect(priceRange(a, 1, {}, day('2021-12-20'), renewal).totalMinor).toBe(12_00n);
    // The same tariff read again after its price changed (a new object) is priced with the new price.
    const changed = tariff(62_00n, '2022-01-01');
    expect(priceRange(changed, 1, {}, day('2021-12-17'), renewal).totalMinor).toBe(30_00n);
    // A tariff without an end date: the whole month; with setup asked for, another key.
    const open = tariff(31_00n, null);
    expect(priceRange(open, 1, {}, day('2021-12-17'), renewal).totalMinor).toBe(31_00n);
    expect(priceRange(open, 1, {}, day('2021-12-17'), { includeSetup: true }).totalMinor).toBe(31_00n);
    // What it keeps equals what a fresh read prices.
    expect(priceRange(tariff(31_00n, '2022-01-01'), 1, {}, day('2021-12-17'), renewal)).toEqual(first);
  });
});
