/**
 * Money arithmetic for billing. Amounts are bigint integers in a minor unit
 * (or an explicit decimal scale) so no binary floating point ever touches a
 * price; rounding happens once per charge line, HALF UP, symmetric in sign.
 */

import { DomainError } from './errors.js';

/** ISO 4217 code, upper-case (e.g. 'EUR'). */
export type CurrencyCode = string;

/** Error codes surfaced to API callers; kept as a closed union so handlers can switch on them. */
export type MoneyErrorCode =
  | 'invalid_amount'
  | 'unknown_currency'
  | 'amount_too_precise'
  | 'division_by_zero';

/** Domain error with a stable machine-readable code (messages are for humans only). */
export class MoneyError extends DomainError {
  declare readonly code: MoneyErrorCode;

  constructor(code: MoneyErrorCode, message: string) {
    super(code, message, {}, 'invalid');
    this.name = 'MoneyError';
  }
}

/** Minor-unit exponent per currency (ISO 4217); the exponent fixes how amounts are parsed and formatted. */
export const CURRENCIES: Readonly<Record<string, { exponent: number; name: string }>> = Object.freeze({
  EUR: Object.freeze({ exponent: 2, name: 'Euro' }),
  USD: Object.freeze({ exponent: 2, name: 'US Dollar' }),
  RUB: Object.freeze({ exponent: 2, name: 'Russian Ruble' }),
  GBP: Object.freeze({ exponent: 2, name: 'Pound Sterling' }),
  CHF: Object.freeze({ exponent: 2, name: 'Swiss Franc' }),
  PLN: Object.freeze({ exponent: 2, name: 'Polish Zloty' }),
  CZK: Object.freeze({ exponent: 2, name: 'Czech Koruna' }),
  UAH: Object.freeze({ exponent: 2, name: 'Ukrainian Hryvnia' }),
  KZT: Object.freeze({ exponent: 2, name: 'Kazakhstani Tenge' }),
  BYN: Object.freeze({ exponent: 2, name: 'Belarusian Ruble' }),
  TRY: Object.freeze({ exponent: 2, name: 'Turkish Lira' }),
  CNY: Object.freeze({ exponent: 2, name: 'Chinese Yuan' }),
  INR: Object.freeze({ exponent: 2, name: 'Indian Rupee' }),
  BRL: Object.freeze({ exponent: 2, name: 'Brazilian Real' }),
  CAD: Object.freeze({ exponent: 2, name: 'Canadian Dollar' }),
  AUD: Object.freeze({ exponent: 2, name: 'Australian Dollar' }),
  JPY: Object.freeze({ exponent: 0, name: 'Japanese Yen' }),
  KRW: Object.freeze({ exponent: 0, name: 'South Korean Won' }),
  BHD: Object.freeze({ exponent: 3, name: 'Bahraini Dinar' }),
  KWD: Object.freeze({ exponent: 3, name: 'Kuwaiti Dinar' }),
  JOD: Object.freeze({ exponent: 3, name: 'Jordanian Dinar' }),
});

/** Largest scale accepted; keeps 10^scale bounded and catches garbage scale arguments early. */
const MAX_SCALE = 18;

/** Integer-part digit limit from the billing spec; bounds input size for API-supplied strings. */
const MAX_INTEGER_DIGITS = 18;

/** Own-property check so 'toString' or '__proto__' are never mistaken for currencies. */
export function isCurrency(code: string): boolean {
  return Object.hasOwn(CURRENCIES, code);
}

/** Minor-unit exponent of a currency; unknown codes are a caller error surfaced as 'unknown_currency'. */
export function currencyExponent(code: string): number {
  const entry = isCurrency(code) ? CURRENCIES[code] : undefined;
  if (entry === undefined) {
    throw new MoneyError('unknown_currency', `Unknown currency: ${JSON.stringify(code)}`);
  }
  return entry.exponent;
}

/** Scales are programmer-supplied constants, so a bad one is a bug (RangeError), not bad input. */
function checkScale(scale: number): void {
  if (!Number.isInteger(scale) || scale < 0 || scale > MAX_SCALE) {
    throw new RangeError(`Scale must be an integer in 0..${MAX_SCALE}, got ${scale}`);
  }
}

function pow10(exp: number): bigint {
  return 10n ** BigInt(exp);
}

/** Strict decimal shape: ASCII digits only, optional '-', at most one '.', digits on both sides of it. */
const DECIMAL_RE = /^(-?)([0-9]+)(?:\.([0-9]+))?$/;

/**
 * Parse a plain decimal string into an integer at `scale` decimal places.
 * Strict on purpose: API amounts must be unambiguous, so no whitespace, '+',
 * exponents or separators, and never silently drop precision.
 */
export function parseScaled(text: string, scale: number, opts?: { allowNegative?: boolean }): bigint {
  checkScale(scale);
  const m = DECIMAL_RE.exec(text);
  if (m === null) {
    throw new MoneyError('invalid_amount', `Invalid amount: ${JSON.stringify(text)}`);
  }
  const sign = m[1] ?? '';
  const intPart = m[2] ?? '';
  const fracPart = m[3] ?? '';
  if (sign === '-' && opts?.allowNegative !== true) {
    throw new MoneyError('invalid_amount', `Negative amount not allowed: ${JSON.stringify(text)}`);
  }
  if (intPart.length > MAX_INTEGER_DIGITS) {
    throw new MoneyError('invalid_amount', `Amount has more than ${MAX_INTEGER_DIGITS} integer digits`);
  }
  if (fracPart.length > scale) {
    throw new MoneyError(
      'amount_too_precise',
      `Amount ${JSON.stringify(text)} has more than ${scale} fraction digit(s)`,
    );
  }
  const magnitude = BigInt(intPart + fracPart.padEnd(scale, '0'));
  return sign === '-' ? -magnitude : magnitude;
}

/** Canonical form: exactly `scale` fraction digits, no '+', no leading zeros, never "-0". */
export function formatScaled(value: bigint, scale: number): string {
  checkScale(scale);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  const intPart = digits.slice(0, digits.length - scale);
  const body = scale === 0 ? intPart : `${intPart}.${digits.slice(digits.length - scale)}`;
  return negative ? `-${body}` : body;
}

/** Parse an API amount in `currency`'s minor unit (e.g. "12.50" EUR → 1250n). */
export function parseAmount(text: string, currency: string, opts?: { allowNegative?: boolean }): bigint {
  return parseScaled(text, currencyExponent(currency), opts);
}

/** Format minor units for the API with exactly the currency's exponent digits. */
export function formatAmount(minor: bigint, currency: string): string {
  return formatScaled(minor, currencyExponent(currency));
}

/**
 * round_half_up(numerator / denominator), symmetric in sign (-2.5 → -3).
 * This is the single rounding point every charge line goes through.
 */
export function divRoundHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) {
    throw new MoneyError('division_by_zero', 'Division by zero');
  }
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  let q = n / d;
  if ((n % d) * 2n >= d) {
    q += 1n;
  }
  return negative ? -q : q;
}

/** amount × num / den with one rounding at the end, so partial periods never compound rounding error. */
export function prorate(amount: bigint, num: bigint, den: bigint): bigint {
  return divRoundHalfUp(amount * num, den);
}

/** Move a value between decimal scales; scaling up is exact, scaling down rounds half up once. */
export function rescale(value: bigint, from: number, to: number): bigint {
  checkScale(from);
  checkScale(to);
  if (to >= from) {
    return value * pow10(to - from);
  }
  return divRoundHalfUp(value, pow10(from - to));
}

/** Exact bigint total (0n for an empty list). */
export function sum(values: readonly bigint[]): bigint {
  let total = 0n;
  for (const v of values) {
    total += v;
  }
  return total;
}
