import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CURRENCIES,
  currencyExponent,
  divRoundHalfUp,
  formatAmount,
  formatScaled,
  isCurrency,
  MoneyError,
  type MoneyErrorCode,
  parseAmount,
  parseScaled,
  prorate,
  rescale,
  sum,
} from './money.js';

/** Run `fn`, require a MoneyError and return its code (so each rejection names the rule it hits). */
function errorCode(fn: () => unknown): MoneyErrorCode {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MoneyError);
    return (err as MoneyError).code;
  }
  throw new Error('expected a MoneyError, nothing was thrown');
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x);
const codes = Object.keys(CURRENCIES);
const LIMIT = 10n ** 18n - 1n;

describe('currency table', () => {
  it('has the exponents from the billing spec', () => {
    const expected: Record<string, number> = {
      EUR: 2,
      USD: 2,
      RUB: 2,
      GBP: 2,
      CHF: 2,
      PLN: 2,
      CZK: 2,
      UAH: 2,
      KZT: 2,
      BYN: 2,
      TRY: 2,
      CNY: 2,
      INR: 2,
      BRL: 2,
      CAD: 2,
      AUD: 2,
      JPY: 0,
      KRW: 0,
      BHD: 3,
      KWD: 3,
      JOD: 3,
    };
    for (const [code, exponent] of Object.entries(expected)) {
      expect(isCurrency(code)).toBe(true);
      expect(currencyExponent(code)).toBe(exponent);
    }
  });

  it('only knows upper-case ISO codes and never inherited object keys', () => {
    for (const code of ['eur', 'XXX', '', 'toString', '__proto__', 'constructor']) {
      expect(isCurrency(code)).toBe(false);
      expect(errorCode(() => currencyExponent(code))).toBe('unknown_currency');
    }
  });

  it('rejects unknown currencies in parse and format', () => {
    expect(errorCode(() => parseAmount('1.00', 'XXX'))).toBe('unknown_currency');
    expect(errorCode(() => formatAmount(100n, 'eur'))).toBe('unknown_currency');
  });

  it('is frozen so nobody can change an exponent at runtime', () => {
    expect(Object.isFrozen(CURRENCIES)).toBe(true);
  });
});

describe('parseAmount: accepted shapes', () => {
  it('reads integer and up-to-exponent fraction digits into minor units', () => {
    expect(parseAmount('12', 'EUR')).toBe(1200n);
    expect(parseAmount('12.5', 'EUR')).toBe(1250n);
    expect(parseAmount('12.50', 'EUR')).toBe(1250n);
    expect(parseAmount('0.05', 'EUR')).toBe(5n);
    expect(parseAmount('0', 'EUR')).toBe(0n);
    expect(parseAmount('100', 'JPY')).toBe(100n);
    expect(parseAmount('1.234', 'BHD')).toBe(1234n);
    expect(parseAmount('999999999999999999', 'JPY')).toBe(999999999999999999n);
  });

  it('accepts a leading minus only when allowNegative is set', () => {
    expect(parseAmount('-0.05', 'EUR', { allowNegative: true })).toBe(-5n);
    expect(parseAmount('-12', 'JPY', { allowNegative: true })).toBe(-12n);
    expect(errorCode(() => parseAmount('-0.05', 'EUR'))).toBe('invalid_amount');
    expect(errorCode(() => parseAmount('-1', 'EUR', { allowNegative: false }))).toBe('invalid_amount');
  });
});

describe('parseAmount: rejected inputs', () => {
  const invalid: ReadonlyArray<readonly [string, string]> = [
    ['', 'empty'],
    [' ', 'whitespace only'],
    [' 12.50', 'leading whitespace'],
    ['12.50 ', 'trailing whitespace'],
    ['1 000', 'inner whitespace'],
    ['12.50\n', 'trailing newline'],
    ['+12.50', 'plus sign'],
    ['1e3', 'exponent'],
    ['1E3', 'upper-case exponent'],
    ['1.5e2', 'fraction with exponent'],
    ['1,50', 'comma decimal'],
    ['1,000.00', 'thousands separator'],
    ['.5', 'leading dot'],
    ['12.', 'trailing dot'],
    ['1.2.3', 'two dots'],
    ['12a', 'letter'],
    ['abc', 'no digits'],
    ['-', 'lone minus'],
    ['--1', 'double minus'],
    ['0x10', 'hex'],
    ['NaN', 'NaN'],
    ['Infinity', 'Infinity'],
    ['١٢', 'non-ASCII digits'],
    ['1234567890123456789', '19 integer digits'],
    ['1234567890123456789.00', '19 integer digits with fraction'],
  ];
  for (const [text, why] of invalid) {
    it(`rejects ${why} (${JSON.stringify(text)}) as invalid_amount`, () => {
      expect(errorCode(() => parseAmount(text, 'EUR', { allowNegative: true }))).toBe('invalid_amount');
    });
  }

  it('rejects more fraction digits than the exponent as amount_too_precise', () => {
    expect(errorCode(() => parseAmount('12.505', 'EUR'))).toBe('amount_too_precise');
    expect(errorCode(() => parseAmount('12.500', 'EUR'))).toBe('amount_too_precise');
    expect(errorCode(() => parseAmount('12.5', 'JPY'))).toBe('amount_too_precise');
    expect(errorCode(() => parseAmount('12.0', 'KRW'))).toBe('amount_too_precise');
    expect(errorCode(() => parseAmount('1.2345', 'BHD'))).toBe('amount_too_precise');
    expect(errorCode(() => parseAmount('-0.001', 'USD', { allowNegative: true }))).toBe('amount_too_precise');
  });

  it('rejects a trailing dot for zero-exponent currencies too', () => {
    expect(errorCode(() => parseAmount('12.', 'JPY'))).toBe('invalid_amount');
  });
});

describe('formatAmount: exactly the exponent digits', () => {
  it('pads to the currency exponent and keeps the sign', () => {
    expect(formatAmount(1250n, 'EUR')).toBe('12.50');
    expect(formatAmount(-5n, 'EUR')).toBe('-0.05');
    expect(formatAmount(0n, 'EUR')).toBe('0.00');
    expect(formatAmount(-100n, 'USD')).toBe('-1.00');
  });

  it('formats JPY without a decimal point and BHD with three digits', () => {
    expect(formatAmount(100n, 'JPY')).toBe('100');
    expect(formatAmount(-7n, 'KRW')).toBe('-7');
    expect(formatAmount(0n, 'JPY')).toBe('0');
    expect(formatAmount(1234n, 'BHD')).toBe('1.234');
    expect(formatAmount(-1n, 'KWD')).toBe('-0.001');
    expect(formatAmount(5n, 'JOD')).toBe('0.005');
  });
});

describe('scaled values for 4-decimal upstream prices', () => {
  it('parses and formats vendor prices at scale 4', () => {
    expect(parseScaled('913.9286', 4)).toBe(9139286n);
    expect(parseScaled('913.9', 4)).toBe(9139000n);
    expect(formatScaled(9139286n, 4)).toBe('913.9286');
    expect(formatScaled(-1n, 4)).toBe('-0.0001');
    expect(errorCode(() => parseScaled('913.92861', 4))).toBe('amount_too_precise');
  });

  it('rescales a 4-decimal cost to 2 decimals rounding half up once', () => {
    expect(rescale(9139286n, 4, 2)).toBe(91393n);
    expect(rescale(9139250n, 4, 2)).toBe(91393n);
    expect(rescale(9139249n, 4, 2)).toBe(91392n);
    expect(rescale(-9139250n, 4, 2)).toBe(-91393n);
    expect(rescale(1250n, 2, 4)).toBe(125000n);
    expect(rescale(42n, 2, 2)).toBe(42n);
  });

  it('treats a bad scale as a programming error', () => {
    expect(() => parseScaled('1', -1)).toThrow(RangeError);
    expect(() => formatScaled(1n, 1.5)).toThrow(RangeError);
    expect(() => rescale(1n, 0, 19)).toThrow(RangeError);
  });
});

describe('divRoundHalfUp and prorate: one HALF UP rounding point', () => {
  it('prorates 10.00 over 15 of 31 days to 4.84 (seed example)', () => {
    expect(prorate(1000n, 15n, 31n)).toBe(484n);
  });

  it('rounds exactly .5 away from zero for both signs', () => {
    expect(divRoundHalfUp(5n, 2n)).toBe(3n);
    expect(divRoundHalfUp(-5n, 2n)).toBe(-3n);
    expect(divRoundHalfUp(5n, -2n)).toBe(-3n);
    expect(divRoundHalfUp(-5n, -2n)).toBe(3n);
    expect(divRoundHalfUp(1n, 2n)).toBe(1n);
    expect(divRoundHalfUp(-1n, 2n)).toBe(-1n);
    expect(divRoundHalfUp(250n, 100n)).toBe(3n);
    expect(divRoundHalfUp(-250n, 100n)).toBe(-3n);
  });

  it('rounds below .5 toward zero and above .5 away from zero', () => {
    expect(divRoundHalfUp(249n, 100n)).toBe(2n);
    expect(divRoundHalfUp(-249n, 100n)).toBe(-2n);
    expect(divRoundHalfUp(251n, 100n)).toBe(3n);
    expect(divRoundHalfUp(-251n, 100n)).toBe(-3n);
    expect(divRoundHalfUp(0n, 7n)).toBe(0n);
  });

  it('rejects a zero denominator as division_by_zero', () => {
    expect(errorCode(() => divRoundHalfUp(1n, 0n))).toBe('division_by_zero');
    expect(errorCode(() => prorate(1000n, 1n, 0n))).toBe('division_by_zero');
  });

  it('sums exactly', () => {
    expect(sum([])).toBe(0n);
    expect(sum([1n, -2n, 10n ** 30n])).toBe(10n ** 30n - 1n);
  });
});

describe('properties', () => {
  const currency = fc.constantFrom(...codes);
  const amount = fc.bigInt({ min: -LIMIT, max: LIMIT });
  const nonZero = fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }).filter((d) => d !== 0n);
  const anyInt = fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n });

  it('format then parse returns the same minor units for every currency', () => {
    fc.assert(
      fc.property(currency, amount, (code, minor) => {
        expect(parseAmount(formatAmount(minor, code), code, { allowNegative: true })).toBe(minor);
      }),
    );
  });

  it('parse then format yields the canonical string for valid inputs', () => {
    const digits = (min: number, max: number) =>
      fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((a) => a.join(''));
    const input = currency.chain((code) =>
      fc.record({
        code: fc.constant(code),
        negative: fc.boolean(),
        intPart: digits(1, 18),
        fracPart: digits(0, currencyExponent(code)),
      }),
    );
    fc.assert(
      fc.property(input, ({ code, negative, intPart, fracPart }) => {
        const exp = currencyExponent(code);
        const text = `${negative ? '-' : ''}${intPart}${fracPart === '' ? '' : `.${fracPart}`}`;
        // Independent string-level oracle for the canonical form.
        const int = intPart.replace(/^0+(?=.)/, '');
        const frac = fracPart.padEnd(exp, '0');
        const isZero = /^0*$/.test(int + frac);
        const canonical = `${negative && !isZero ? '-' : ''}${int}${exp === 0 ? '' : `.${frac}`}`;
        const formatted = formatAmount(parseAmount(text, code, { allowNegative: true }), code);
        expect(formatted).toBe(canonical);
        expect(formatAmount(parseAmount(formatted, code, { allowNegative: true }), code)).toBe(formatted);
      }),
    );
  });

  it('divRoundHalfUp is within 1/2 of the exact quotient', () => {
    fc.assert(
      fc.property(anyInt, nonZero, (n, d) => {
        const r = divRoundHalfUp(n, d);
        // |n/d - r| <= 1/2  <=>  2|n - r·d| <= |d|
        expect(2n * abs(n - r * d) <= abs(d)).toBe(true);
      }),
    );
  });

  it('divRoundHalfUp sends exact ties away from zero', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }), nonZero, (k, d) => {
        // n/d = k + 1/2 exactly (numerator (2k+1)·d over 2d)
        const n = (2n * k + 1n) * d;
        const den = 2n * d;
        const r = divRoundHalfUp(n, den);
        expect(2n * abs(n - r * den)).toBe(abs(den));
        expect(abs(r * den) > abs(n)).toBe(true);
        expect(r < 0n).toBe(k < 0n);
      }),
    );
  });

  it('divRoundHalfUp is symmetric in sign', () => {
    fc.assert(
      fc.property(anyInt, nonZero, (n, d) => {
        expect(divRoundHalfUp(-n, d)).toBe(-divRoundHalfUp(n, d));
        expect(divRoundHalfUp(n, -d)).toBe(-divRoundHalfUp(n, d));
      }),
    );
  });

  it('prorating a full period returns the amount', () => {
    fc.assert(
      fc.property(amount, nonZero, (a, d) => {
        expect(prorate(a, d, d)).toBe(a);
      }),
    );
  });

  it('prorating zero days returns zero', () => {
    fc.assert(
      fc.property(amount, nonZero, (a, d) => {
        expect(prorate(a, 0n, d)).toBe(0n);
      }),
    );
  });

  it('rescaling up then down is the identity', () => {
    const scale = fc.integer({ min: 0, max: 18 });
    fc.assert(
      fc.property(amount, scale, scale, (v, s1, s2) => {
        const from = Math.min(s1, s2);
        const to = Math.max(s1, s2);
        expect(rescale(rescale(v, from, to), to, from)).toBe(v);
      }),
    );
  });

  it('rounding parts separately differs from rounding the whole by at most the number of parts', () => {
    fc.assert(
      fc.property(fc.array(anyInt, { minLength: 1, maxLength: 20 }), nonZero, (parts, d) => {
        const roundedParts = sum(parts.map((p) => divRoundHalfUp(p, d)));
        const roundedWhole = divRoundHalfUp(sum(parts), d);
        expect(abs(roundedParts - roundedWhole) <= BigInt(parts.length)).toBe(true);
      }),
    );
  });

  it('prorated shares of an amount add back to within the number of shares', () => {
    const weights = fc.array(fc.bigInt({ min: 1n, max: 10n ** 6n }), { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(amount, weights, (a, ws) => {
        const total = sum(ws);
        const shares = ws.map((w) => prorate(a, w, total));
        expect(abs(sum(shares) - a) <= BigInt(ws.length)).toBe(true);
      }),
    );
  });
});
