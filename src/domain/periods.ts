/**
 * Calendar arithmetic for service periods (BILLING.md "Periods and dates", "Tariff expiration and
 * proration", "Renewal", "The daily billing run").
 *
 * Everything here is pure: no clock reads, `today` is always a parameter. Dates are
 * `Temporal.PlainDate`; a paid range is half-open `[start, expiresOn)`, `expiresOn` being the day the
 * service stops (BILLmanager's `expiredate`).
 */
import { Temporal } from 'temporal-polyfill';
import { DomainError } from './errors.js';

/** BILLmanager's period code for a trial; its length is the tariff's trial days, not months. */
export const TRIAL_PERIOD = -100;

/** Month periods a tariff may offer (BILLING.md "Catalog"). */
export const MONTH_PERIODS: readonly number[] = Object.freeze([1, 3, 6, 12, 24, 36]);

/** Renewal reminders go out this many days before `expiresOn` (BILLING.md "The daily billing run"). */
export const DEFAULT_REMINDER_DAYS: readonly number[] = Object.freeze([5, 3, 1, 0]);

/** Error codes surfaced to API callers; a closed union so handlers can switch on them. */
export type PeriodErrorCode = 'tariff_expired' | 'invalid_period' | 'invalid_trial_days' | 'invalid_date';

/** Domain error with a stable machine-readable code (messages are for humans only). */
export class PeriodError extends DomainError {
  declare readonly code: PeriodErrorCode;

  constructor(code: PeriodErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details, code === 'tariff_expired' ? 'conflict' : 'invalid');
    this.name = 'PeriodError';
  }
}

/** A period cut (or not) at the tariff's expiration date. */
export interface PeriodCut {
  start: Temporal.PlainDate;
  /** Exclusive end actually granted: the new `expiresOn`. */
  end: Temporal.PlainDate;
  /** Exclusive end the full period would have had. */
  naturalEnd: Temporal.PlainDate;
  /** Days in `[start, end)`. */
  grantedDays: number;
  /** Days in `[start, naturalEnd)`: the denominator of the proration. */
  fullDays: number;
  /** True when `end` is the tariff expiration rather than the natural end. */
  cut: boolean;
}

const cmp = Temporal.PlainDate.compare;

/** True when `period` is one of the offered month counts or the trial code. */
export function isValidPeriod(period: number): boolean {
  return period === TRIAL_PERIOD || MONTH_PERIODS.includes(period);
}

/** Throw `invalid_period` unless `period` is 1, 3, 6, 12, 24, 36 or TRIAL_PERIOD. */
export function assertValidPeriod(period: number): void {
  if (!isValidPeriod(period)) {
    throw new PeriodError(
      'invalid_period',
      `period must be one of ${MONTH_PERIODS.join(', ')} or ${TRIAL_PERIOD}`,
      {
        period,
      },
    );
  }
}

/**
 * anchor + `months` months, clamped to the end of the target month (Jan 31 + 1 → Feb 28/29,
 * + 2 → Mar 31). The n-th period end is always computed from the anchor with n × months:
 * never chain "+1 month", which would drift (Jan 31 → Feb 28 → Mar 28).
 */
export function addMonthsAnchored(anchor: Temporal.PlainDate, months: number): Temporal.PlainDate {
  if (!Number.isSafeInteger(months)) {
    throw new PeriodError('invalid_period', 'months must be an integer', { months });
  }
  return anchor.add({ months }, { overflow: 'constrain' });
}

/**
 * Exclusive end (= new `expiresOn`) of a full period starting at `start`: months → anchored month
 * arithmetic; TRIAL_PERIOD → `start + trialDays` days (`trialDays` required, a positive integer).
 */
export function periodEnd(start: Temporal.PlainDate, period: number, trialDays?: number): Temporal.PlainDate {
  assertValidPeriod(period);
  if (period === TRIAL_PERIOD) {
    if (trialDays === undefined || !Number.isSafeInteger(trialDays) || trialDays <= 0) {
      throw new PeriodError('invalid_trial_days', 'a trial period needs a positive whole number of days', {
        trialDays,
      });
    }
    return start.add({ days: trialDays });
  }
  return addMonthsAnchored(start, period);
}

/** `b − a` in whole days (negative when `b` is before `a`). */
export function daysBetween(a: Temporal.PlainDate, b: Temporal.PlainDate): number {
  return epochDay(b) - epochDay(a);
}

/**
 * Days from 1970-01-01 to a date of the proleptic Gregorian calendar, in integer arithmetic
 * (the days-from-civil algorithm: years counted from March, in 400-year eras of 146 097 days).
 * `until` of the Temporal polyfill built a duration for every call, and the daily run counts
 * days for every listed service (periods.test.ts checks it against `until`).
 */
function epochDay(d: Temporal.PlainDate): number {
  const m = d.month;
  const y = d.year - (m <= 2 ? 1 : 0);
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d.day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

const STORED_DATES = new Map<string, Temporal.PlainDate>();
const STORED_DATES_MAX = 4096;

/**
 * A date as the database stores it (`YYYY-MM-DD`, written by Billfold: valid) → the date. Dates
 * are immutable and a run over many services sees the same few (expiry dates, tariff ends), so
 * each is parsed once; the cache starts over when full.
 */
export function storedDate(iso: string): Temporal.PlainDate {
  let d = STORED_DATES.get(iso);
  if (d === undefined) {
    d = Temporal.PlainDate.from(iso);
    if (STORED_DATES.size >= STORED_DATES_MAX) STORED_DATES.clear();
    STORED_DATES.set(iso, d);
  }
  return d;
}

/**
 * Apply the tariff-expiration cut (BILLING.md "Tariff expiration and proration") to the period
 * starting at `start`:
 * - no expiration, or natural end on/before it → the full period, `cut: false`;
 * - `start` on/after the expiration → `tariff_expired`;
 * - otherwise → ends at the expiration, `grantedDays` of `fullDays` (the full period's length from
 *   the same start) for `round_half_up(price × granted / full)`.
 */
export function cutAtExpiration(
  start: Temporal.PlainDate,
  period: number,
  tariffExpiresOn: Temporal.PlainDate | null,
  trialDays?: number,
): PeriodCut {
  const naturalEnd = periodEnd(start, period, trialDays);
  const fullDays = daysBetween(start, naturalEnd);
  if (tariffExpiresOn === null || cmp(naturalEnd, tariffExpiresOn) <= 0) {
    return { start, end: naturalEnd, naturalEnd, grantedDays: fullDays, fullDays, cut: false };
  }
  if (cmp(start, tariffExpiresOn) >= 0) {
    throw new PeriodError('tariff_expired', 'the tariff expired before the period would start', {
      start: start.toString(),
      tariffExpiresOn: String(tariffExpiresOn),
    });
  }
  return {
    start,
    end: tariffExpiresOn,
    naturalEnd,
    grantedDays: daysBetween(start, tariffExpiresOn),
    fullDays,
    cut: true,
  };
}

/** A tariff has ended on and after its expiration date: nothing can be ordered or renewed on it. */
export function isTariffEnded(
  tariffExpiresOn: Temporal.PlainDate | string | null,
  today: Temporal.PlainDate,
): boolean {
  if (tariffExpiresOn === null) return false;
  return cmp(today, typeof tariffExpiresOn === 'string' ? storedDate(tariffExpiresOn) : tariffExpiresOn) >= 0;
}

/** An order or renewal on or after the tariff's expiration date is refused with `tariff_expired`. */
export function assertTariffOrderable(
  today: Temporal.PlainDate,
  tariffExpiresOn: Temporal.PlainDate | null,
): void {
  if (isTariffEnded(tariffExpiresOn, today)) {
    throw new PeriodError('tariff_expired', 'the tariff can no longer be ordered or renewed', {
      today: today.toString(),
      tariffExpiresOn: String(tariffExpiresOn),
    });
  }
}

/**
 * Unused whole days of the paid range `[periodStart, expiresOn)` as of `today` (refunds, tariff
 * change): `max(0, expiresOn − max(today, periodStart))`, and the range's full length in days.
 */
export function remainingDays(
  today: Temporal.PlainDate,
  periodStart: Temporal.PlainDate,
  expiresOn: Temporal.PlainDate,
): { remaining: number; full: number } {
  const from = cmp(today, periodStart) > 0 ? today : periodStart;
  return {
    remaining: Math.max(0, daysBetween(from, expiresOn)),
    full: Math.max(0, daysBetween(periodStart, expiresOn)),
  };
}

/** Daily run step 1: auto-renew when `expiresOn ≤ today + 1`. */
export function isAutoRenewDue(expiresOn: Temporal.PlainDate, today: Temporal.PlainDate): boolean {
  return cmp(expiresOn, today.add({ days: 1 })) <= 0;
}

/** Daily run step 2: the paid range is over when `expiresOn ≤ today` (suspend, reason `expired`). */
export function isExpired(expiresOn: Temporal.PlainDate, today: Temporal.PlainDate): boolean {
  return cmp(expiresOn, today) <= 0;
}

/** Daily run step 4: the number of days before expiry when today is a reminder day, else null. */
export function reminderDue(
  expiresOn: Temporal.PlainDate,
  today: Temporal.PlainDate,
  reminderDays: readonly number[] = DEFAULT_REMINDER_DAYS,
): number | null {
  const left = daysBetween(today, expiresOn);
  return reminderDays.includes(left) ? left : null;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Parse a strict `YYYY-MM-DD` calendar date; anything else (other ISO forms, Feb 30) is `invalid_date`. */
export function parseDate(text: string): Temporal.PlainDate {
  if (ISO_DATE.test(text)) {
    try {
      return Temporal.PlainDate.from(text, { overflow: 'reject' });
    } catch {
      // fall through: a well-shaped but impossible date such as 2021-02-30
    }
  }
  throw new PeriodError('invalid_date', 'expected a calendar date as YYYY-MM-DD', { text });
}
