import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatVatRate, parseVatRate, splitVat, totalOf } from './vat.js';

describe('VAT included in prices (D-invoices)', () => {
  it('extracts the tax from a gross amount, rounding half up in minor units', () => {
    // 120.00 at 20 %: 20.00 of it is VAT.
    expect(splitVat(12_000n, 2000)).toEqual({ grossMinor: 12_000n, netMinor: 10_000n, vatMinor: 2_000n });
    // 10.00 at 20 %: 1.666… → 1.67.
    expect(splitVat(1_000n, 2000)).toEqual({ grossMinor: 1_000n, netMinor: 833n, vatMinor: 167n });
    // 4.84 at 22 %: 0.8727… → 0.87.
    expect(splitVat(484n, 2200)).toEqual({ grossMinor: 484n, netMinor: 397n, vatMinor: 87n });
    // 0.03 at 20 %: 0.005 exactly → 0.01 (half up).
    expect(splitVat(3n, 2000).vatMinor).toBe(1n);
  });

  it('no rate or 0 %: everything is net', () => {
    expect(splitVat(999n, null)).toEqual({ grossMinor: 999n, netMinor: 999n, vatMinor: 0n });
    expect(splitVat(999n, 0)).toEqual({ grossMinor: 999n, netMinor: 999n, vatMinor: 0n });
  });

  it('net + vat = gross for every line, and totals are sums of the lines', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 12n }), { maxLength: 8 }),
        fc.integer({ min: 0, max: 10_000 }),
        (grosses, rate) => {
          const lines = grosses.map((g) => splitVat(g, rate));
          for (const l of lines) {
            expect(l.netMinor + l.vatMinor).toBe(l.grossMinor);
            expect(l.vatMinor >= 0n && l.vatMinor <= l.grossMinor).toBe(true);
          }
          const t = totalOf(lines);
          expect(t.netMinor + t.vatMinor).toBe(t.grossMinor);
          expect(t.grossMinor).toBe(grosses.reduce((a, b) => a + b, 0n));
        },
      ),
    );
  });

  it('rates print and parse as percentages', () => {
    expect(formatVatRate(2000)).toBe('20');
    expect(formatVatRate(850)).toBe('8.5');
    expect(formatVatRate(1225)).toBe('12.25');
    expect(parseVatRate('20')).toBe(2000);
    expect(parseVatRate('8.5')).toBe(850);
    expect(parseVatRate('12.25')).toBe(1225);
    expect(parseVatRate('100')).toBe(10_000);
    for (const bad of ['101', '-1', '1.234', 'abc', '', '20%']) expect(parseVatRate(bad)).toBeNull();
  });
});
