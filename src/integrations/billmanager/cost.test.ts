import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { upstreamCost } from './cost.js';

const eur = (amount: string) => ({ amount, currency: 'EUR' });

describe('upstreamCost', () => {
  it('is the full price for a full period', () => {
    expect(
      upstreamCost({ kind: 'order', period: 1, price: eur('7.5000'), from: '2025-01-10', to: '2025-02-10' }),
    ).toEqual({
      kind: 'order',
      period: 1,
      amount: '7.5000',
      currency: 'EUR',
    });
  });

  it('charges the days a tariff that ends grants, rounded as the seller charges them: 15/31 of 10.00 is 4.84', () => {
    const cost = upstreamCost({
      kind: 'renewal',
      period: 1,
      price: eur('10.0000'),
      from: '2021-12-16',
      to: '2021-12-31',
    });
    expect(cost.amount).toBe('4.8400');
  });

  it('is the full price when the range is unknown', () => {
    expect(
      upstreamCost({ kind: 'renewal', period: 12, price: eur('75.0000'), from: null, to: '2026-01-01' })
        .amount,
    ).toBe('75.0000');
  });

  it('never exceeds the full price and never goes below zero', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(1, 3, 6, 12),
        (cents, granted, period) => {
          const amount = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}00`;
          const from = '2021-12-01';
          const to = new Date(Date.UTC(2021, 11, 1 + granted)).toISOString().slice(0, 10);
          const cost = upstreamCost({ kind: 'order', period, price: eur(amount), from, to });
          const value = Number(cost.amount.replace('.', ''));
          return value >= 0 && value <= cents * 100;
        },
      ),
    );
  });
});
