import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import { isDeletionDue, type SuspendReason, renewalStart as startOf } from './lifecycle.js';
import {
  addMonthsAnchored,
  assertTariffOrderable,
  cutAtExpiration,
  daysBetween,
  isAutoRenewDue,
  isExpired,
  MONTH_PERIODS,
  PeriodError,
  type PeriodErrorCode,
  parseDate,
  periodEnd,
  remainingDays,
  reminderDue,
  storedDate,
  TRIAL_PERIOD,
} from './periods.js';

/** The lifecycle's renewal start for a service in this state. */
const renewalStart = (
  status: 'active' | 'suspended',
  reason: SuspendReason | null,
  expiresOn: Temporal.PlainDate,
  today: Temporal.PlainDate,
) => startOf({ status, suspendReason: reason, period: 1, autoprolong: null, expiresOn, pending: [] }, today);

const d = (text: string): Temporal.PlainDate => Temporal.PlainDate.from(text);
const s = (date: Temporal.PlainDate): string => date.toString();

/** Run `fn`, require a PeriodError and return its code (so each rejection names the rule it hits). */
function errorCode(fn: () => unknown): PeriodErrorCode {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PeriodError);
    return (err as PeriodError).code;
  }
  throw new Error('expected a PeriodError, nothing was thrown');
}

/** Any calendar date 1970..2100 (covers leap years, including the 2000 / 2100 century rules). */
const arbDate = fc
  .integer({ min: 0, max: daysBetween(d('1970-01-01'), d('2100-12-31')) })
  .map((n) => d('1970-01-01').add({ days: n }));
const arbMonthPeriod = fc.constantFrom(...MONTH_PERIODS);

describe('days between two dates', () => {
  it("equals Temporal's own count, both ways, across years, leap days and centuries (1600..2400)", () => {
    const wide = fc
      .integer({ min: 0, max: 292_000 })
      .map((n) => Temporal.PlainDate.from('1600-01-01').add({ days: n }));
    fc.assert(
      fc.property(wide, wide, (a, b) => {
        expect(daysBetween(a, b)).toBe(a.until(b, { largestUnit: 'days' }).days);
      }),
      { numRuns: 2000 },
    );
    expect(daysBetween(d('1970-01-01'), d('1970-01-01'))).toBe(0);
    expect(daysBetween(d('2021-12-16'), d('2022-01-01'))).toBe(16);
    expect(daysBetween(d('2000-02-28'), d('2000-03-01'))).toBe(2);
    expect(daysBetween(d('2100-02-28'), d('2100-03-01'))).toBe(1);
    expect(daysBetween(d('2022-01-01'), d('2021-12-16'))).toBe(-16);
  });

  it('a stored date is parsed once and is the same date', () => {
    expect(storedDate('2021-12-16')).toBe(storedDate('2021-12-16'));
    expect(storedDate('2024-02-29').equals(d('2024-02-29'))).toBe(true);
  });
});

describe('month arithmetic is clamped to month end', () => {
  it('Jan 31 + 1 month = Feb 28 in a common year', () => {
    expect(s(addMonthsAnchored(d('2021-01-31'), 1))).toBe('2021-02-28');
  });

  it('Jan 31 + 1 month = Feb 29 in a leap year', () => {
    expect(s(addMonthsAnchored(d('2024-01-31'), 1))).toBe('2024-02-29');
  });

  it('Jan 31 + 2 months = Mar 31 (the clamp does not stick)', () => {
    expect(s(addMonthsAnchored(d('2021-01-31'), 2))).toBe('2021-03-31');
  });

  it('Jan 31 + 12 months = Jan 31 next year', () => {
    expect(s(addMonthsAnchored(d('2021-01-31'), 12))).toBe('2022-01-31');
  });

  it('a Feb 29 anchor + 12 months = Feb 28 in the next (common) year', () => {
    expect(s(addMonthsAnchored(d('2024-02-29'), 12))).toBe('2025-02-28');
  });

  it('a Feb 29 anchor + 48 months = Feb 29 in the next leap year', () => {
    expect(s(addMonthsAnchored(d('2024-02-29'), 48))).toBe('2028-02-29');
  });

  it('a Feb 29 anchor + 1 month = Mar 29', () => {
    expect(s(addMonthsAnchored(d('2024-02-29'), 1))).toBe('2024-03-29');
  });

  it('Aug 31 + 1 month = Sep 30; Oct 31 + 4 months = Feb 28', () => {
    expect(s(addMonthsAnchored(d('2021-08-31'), 1))).toBe('2021-09-30');
    expect(s(addMonthsAnchored(d('2021-10-31'), 4))).toBe('2022-02-28');
  });

  it('crosses year boundaries', () => {
    expect(s(addMonthsAnchored(d('2021-12-16'), 1))).toBe('2022-01-16');
    expect(s(addMonthsAnchored(d('2021-11-30'), 3))).toBe('2022-02-28');
  });

  it('rejects a non-integer month count as invalid_period', () => {
    expect(errorCode(() => addMonthsAnchored(d('2021-01-31'), 1.5))).toBe('invalid_period');
    expect(errorCode(() => addMonthsAnchored(d('2021-01-31'), Number.NaN))).toBe('invalid_period');
  });
});

describe('month arithmetic is anchored, never chained', () => {
  it('anchor Jan 31: successive monthly ends are Feb 28, Mar 31, Apr 30 (not Mar 28)', () => {
    const anchor = d('2021-01-31');
    const ends = [1, 2, 3].map((n) => s(addMonthsAnchored(anchor, n)));
    expect(ends).toEqual(['2021-02-28', '2021-03-31', '2021-04-30']);
    // Chaining would drift to the 28th for good.
    const chained = addMonthsAnchored(addMonthsAnchored(anchor, 1), 1);
    expect(s(chained)).toBe('2021-03-28');
    expect(s(chained)).not.toBe(ends[1]);
  });

  it('property: the clamp only ever shortens, and keeps the anchor day when the month has it', () => {
    fc.assert(
      fc.property(arbDate, fc.integer({ min: 0, max: 600 }), (anchor, months) => {
        const end = addMonthsAnchored(anchor, months);
        expect(end.day).toBeLessThanOrEqual(anchor.day);
        if (anchor.day <= end.daysInMonth) expect(end.day).toBe(anchor.day);
        else expect(end.day).toBe(end.daysInMonth);
        // Right month: exactly `months` calendar months later.
        expect(end.year * 12 + end.month - (anchor.year * 12 + anchor.month)).toBe(months);
      }),
    );
  });

  it('property: the anchored n-th period end is strictly increasing in n', () => {
    fc.assert(
      fc.property(arbDate, arbMonthPeriod, fc.integer({ min: 0, max: 40 }), (anchor, period, n) => {
        const a = addMonthsAnchored(anchor, n * period);
        const b = addMonthsAnchored(anchor, (n + 1) * period);
        expect(Temporal.PlainDate.compare(a, b)).toBe(-1);
      }),
    );
  });

  it('property: one month is 28 to 31 days', () => {
    fc.assert(
      fc.property(arbDate, (date) => {
        const days = daysBetween(date, addMonthsAnchored(date, 1));
        expect(days).toBeGreaterThanOrEqual(28);
        expect(days).toBeLessThanOrEqual(31);
      }),
    );
  });
});

describe('paid range is half-open [start, expiresOn)', () => {
  it('a one-month period from Mar 1 ends (exclusive) on Apr 1 and holds 31 days', () => {
    const end = periodEnd(d('2021-03-01'), 1);
    expect(s(end)).toBe('2021-04-01');
    expect(daysBetween(d('2021-03-01'), end)).toBe(31);
  });

  it('the service is expired on expiresOn itself, not the day before', () => {
    expect(isExpired(d('2021-04-01'), d('2021-03-31'))).toBe(false);
    expect(isExpired(d('2021-04-01'), d('2021-04-01'))).toBe(true);
  });

  it('consecutive periods tile without gap or overlap (next start = previous expiresOn)', () => {
    const first = periodEnd(d('2021-01-31'), 1);
    const second = periodEnd(first, 1);
    expect(daysBetween(d('2021-01-31'), first) + daysBetween(first, second)).toBe(
      daysBetween(d('2021-01-31'), second),
    );
  });

  it('daysBetween is b − a, negative when reversed, zero for the same day', () => {
    expect(daysBetween(d('2021-12-16'), d('2021-12-31'))).toBe(15);
    expect(daysBetween(d('2021-12-31'), d('2021-12-16'))).toBe(-15);
    expect(daysBetween(d('2021-12-16'), d('2021-12-16'))).toBe(0);
    expect(daysBetween(d('2024-01-01'), d('2025-01-01'))).toBe(366);
  });
});

describe('periods offered: 1, 3, 6, 12, 24, 36 months or trial', () => {
  it('accepts every offered month period', () => {
    const start = d('2021-01-31');
    expect(MONTH_PERIODS.map((p) => s(periodEnd(start, p)))).toEqual([
      '2021-02-28',
      '2021-04-30',
      '2021-07-31',
      '2022-01-31',
      '2023-01-31',
      '2024-01-31',
    ]);
  });

  it('rejects anything else as invalid_period', () => {
    for (const bad of [0, 2, 5, 18, 48, -1, 1.5, -99, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(errorCode(() => periodEnd(d('2021-01-01'), bad))).toBe('invalid_period');
      expect(errorCode(() => cutAtExpiration(d('2021-01-01'), bad, null))).toBe('invalid_period');
    }
  });
});

describe('trial periods last trialDays days', () => {
  it('a 14-day trial from Feb 20 2024 ends Mar 5 (leap year)', () => {
    expect(s(periodEnd(d('2024-02-20'), TRIAL_PERIOD, 14))).toBe('2024-03-05');
  });

  it('month periods ignore trialDays', () => {
    expect(s(periodEnd(d('2021-01-31'), 1, 14))).toBe('2021-02-28');
  });

  it('a trial without a positive whole number of days is invalid_trial_days', () => {
    for (const bad of [undefined, 0, -3, 1.5, Number.NaN]) {
      expect(errorCode(() => periodEnd(d('2021-01-01'), TRIAL_PERIOD, bad))).toBe('invalid_trial_days');
    }
  });

  it('a trial is cut at the tariff expiration like any period', () => {
    const cut = cutAtExpiration(d('2021-12-20'), TRIAL_PERIOD, d('2021-12-31'), 30);
    expect(cut).toMatchObject({ grantedDays: 11, fullDays: 30, cut: true });
    expect(s(cut.end)).toBe('2021-12-31');
    expect(s(cut.naturalEnd)).toBe('2022-01-19');
  });
});

describe('tariff expiration cut', () => {
  it('seed example: start 2021-12-16, 1 month, tariff expires 2021-12-31 → end 2021-12-31, 15 of 31 days', () => {
    const cut = cutAtExpiration(d('2021-12-16'), 1, d('2021-12-31'));
    expect(s(cut.start)).toBe('2021-12-16');
    expect(s(cut.end)).toBe('2021-12-31');
    expect(s(cut.naturalEnd)).toBe('2022-01-16');
    expect(cut.grantedDays).toBe(15);
    expect(cut.fullDays).toBe(31);
    expect(cut.cut).toBe(true);
  });

  it('a tariff without an expiration never cuts', () => {
    const cut = cutAtExpiration(d('2021-12-16'), 12, null);
    expect(cut).toMatchObject({ grantedDays: 365, fullDays: 365, cut: false });
    expect(s(cut.end)).toBe('2022-12-16');
  });

  it('a natural end exactly at the expiration is not a cut', () => {
    const cut = cutAtExpiration(d('2021-12-16'), 1, d('2022-01-16'));
    expect(cut).toMatchObject({ grantedDays: 31, fullDays: 31, cut: false });
    expect(s(cut.end)).toBe('2022-01-16');
  });

  it('a natural end before the expiration is not a cut', () => {
    const cut = cutAtExpiration(d('2021-12-16'), 1, d('2022-06-01'));
    expect(cut.cut).toBe(false);
    expect(s(cut.end)).toBe(s(cut.naturalEnd));
  });

  it('one day past the natural end is still no cut; one day short is', () => {
    expect(cutAtExpiration(d('2021-12-16'), 1, d('2022-01-17')).cut).toBe(false);
    const cut = cutAtExpiration(d('2021-12-16'), 1, d('2022-01-15'));
    expect(cut).toMatchObject({ grantedDays: 30, fullDays: 31, cut: true });
  });

  it('a period starting on the expiration date is tariff_expired', () => {
    expect(errorCode(() => cutAtExpiration(d('2021-12-31'), 1, d('2021-12-31')))).toBe('tariff_expired');
  });

  it('a period starting after the expiration date is tariff_expired', () => {
    expect(errorCode(() => cutAtExpiration(d('2022-01-05'), 1, d('2021-12-31')))).toBe('tariff_expired');
  });

  it('a period starting the day before the expiration is granted 1 day', () => {
    expect(cutAtExpiration(d('2021-12-30'), 1, d('2021-12-31'))).toMatchObject({ grantedDays: 1, cut: true });
  });

  it('tariff_expired carries the dates in details', () => {
    try {
      cutAtExpiration(d('2022-01-05'), 1, d('2021-12-31'));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PeriodError);
      expect((err as PeriodError).details).toEqual({ start: '2022-01-05', tariffExpiresOn: '2021-12-31' });
      expect((err as PeriodError).name).toBe('PeriodError');
    }
  });

  it('property: granted ≤ full, end ≤ expiration, end ≤ natural end, cut iff natural end passes expiration', () => {
    fc.assert(
      fc.property(
        arbDate,
        arbMonthPeriod,
        fc.integer({ min: 1, max: 2000 }),
        (start, period, expiresAfter) => {
          const expiration = start.add({ days: expiresAfter });
          const cut = cutAtExpiration(start, period, expiration);
          expect(cut.grantedDays).toBeLessThanOrEqual(cut.fullDays);
          expect(cut.grantedDays).toBeGreaterThan(0);
          expect(Temporal.PlainDate.compare(cut.end, expiration)).toBeLessThanOrEqual(0);
          expect(Temporal.PlainDate.compare(cut.end, cut.naturalEnd)).toBeLessThanOrEqual(0);
          expect(cut.grantedDays).toBe(daysBetween(start, cut.end));
          expect(cut.fullDays).toBe(daysBetween(start, cut.naturalEnd));
          expect(cut.cut).toBe(Temporal.PlainDate.compare(cut.naturalEnd, expiration) > 0);
        },
      ),
    );
  });
});

describe('no order or renewal on or after the tariff expiration date', () => {
  it('ordering the day before the expiration is allowed', () => {
    expect(() => assertTariffOrderable(d('2021-12-30'), d('2021-12-31'))).not.toThrow();
  });

  it('ordering on the expiration date is tariff_expired', () => {
    expect(errorCode(() => assertTariffOrderable(d('2021-12-31'), d('2021-12-31')))).toBe('tariff_expired');
  });

  it('ordering after the expiration date is tariff_expired', () => {
    expect(errorCode(() => assertTariffOrderable(d('2022-03-01'), d('2021-12-31')))).toBe('tariff_expired');
  });

  it('a tariff without an expiration is always orderable', () => {
    expect(() => assertTariffOrderable(d('2099-12-31'), null)).not.toThrow();
  });

  it('renewing an active service whose expiresOn is the tariff expiration is tariff_expired', () => {
    // Today is before the expiration, but the renewal would start on it.
    const start = renewalStart('active', null, d('2021-12-31'), d('2021-12-30'));
    expect(() => assertTariffOrderable(d('2021-12-30'), d('2021-12-31'))).not.toThrow();
    expect(errorCode(() => cutAtExpiration(start, 1, d('2021-12-31')))).toBe('tariff_expired');
  });
});

describe('renewal start', () => {
  const expiresOn = d('2021-06-10');

  it('an active service is extended from its expiresOn (even when renewed early)', () => {
    expect(s(renewalStart('active', null, expiresOn, d('2021-06-01')))).toBe('2021-06-10');
  });

  it('an active service renewed on its last day is extended from expiresOn', () => {
    expect(s(renewalStart('active', null, expiresOn, d('2021-06-09')))).toBe('2021-06-10');
  });

  it('a service suspended for non-payment is extended from today', () => {
    expect(s(renewalStart('suspended', 'expired', expiresOn, d('2021-06-25')))).toBe('2021-06-25');
    expect(s(renewalStart('suspended', 'expired', expiresOn, expiresOn))).toBe('2021-06-10');
  });

  it('a service suspended for non-payment never loses days still paid', () => {
    expect(s(renewalStart('suspended', 'expired', expiresOn, d('2021-06-01')))).toBe('2021-06-10');
  });

  it('a service suspended for another reason is extended from today once past its expiresOn, else from expiresOn', () => {
    for (const reason of ['admin', 'abuse', 'client'] as const) {
      expect(s(renewalStart('suspended', reason, expiresOn, d('2021-06-25')))).toBe('2021-06-25');
      expect(s(renewalStart('suspended', reason, expiresOn, d('2021-06-01')))).toBe('2021-06-10');
    }
  });

  it('property: a renewal never starts before min(expiresOn, today)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('active' as const, 'suspended' as const),
        fc.constantFrom(null, 'expired', 'admin', 'abuse', 'client'),
        arbDate,
        arbDate,
        (status, reason, exp, today) => {
          const start = renewalStart(status, reason, exp, today);
          const floor = Temporal.PlainDate.compare(exp, today) <= 0 ? exp : today;
          expect(Temporal.PlainDate.compare(start, floor)).toBeGreaterThanOrEqual(0);
          expect(Temporal.PlainDate.compare(start, exp)).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });
});

describe('remaining whole days for refunds and tariff change', () => {
  const start = d('2021-12-16');
  const expiresOn = d('2022-01-16');

  it('before the period starts, all of it remains', () => {
    expect(remainingDays(d('2021-12-01'), start, expiresOn)).toEqual({ remaining: 31, full: 31 });
  });

  it('on the start day, all of it remains', () => {
    expect(remainingDays(start, start, expiresOn)).toEqual({ remaining: 31, full: 31 });
  });

  it('mid-period, the days from today to expiresOn remain (today counts as unused)', () => {
    expect(remainingDays(d('2022-01-01'), start, expiresOn)).toEqual({ remaining: 15, full: 31 });
  });

  it('on the last paid day, 1 day remains', () => {
    expect(remainingDays(d('2022-01-15'), start, expiresOn)).toEqual({ remaining: 1, full: 31 });
  });

  it('on and after expiresOn, nothing remains', () => {
    expect(remainingDays(expiresOn, start, expiresOn)).toEqual({ remaining: 0, full: 31 });
    expect(remainingDays(d('2022-03-01'), start, expiresOn)).toEqual({ remaining: 0, full: 31 });
  });

  it('property: 0 ≤ remaining ≤ full', () => {
    fc.assert(
      fc.property(arbDate, arbDate, fc.integer({ min: 1, max: 1200 }), (today, from, length) => {
        const r = remainingDays(today, from, from.add({ days: length }));
        expect(r.full).toBe(length);
        expect(r.remaining).toBeGreaterThanOrEqual(0);
        expect(r.remaining).toBeLessThanOrEqual(r.full);
      }),
    );
  });
});

describe('daily run: auto-renew when expiresOn ≤ today + 1', () => {
  const today = d('2021-06-10');

  it('is due when expiresOn is tomorrow', () => {
    expect(isAutoRenewDue(d('2021-06-11'), today)).toBe(true);
  });

  it('is due when expiresOn is today or past', () => {
    expect(isAutoRenewDue(today, today)).toBe(true);
    expect(isAutoRenewDue(d('2021-06-01'), today)).toBe(true);
  });

  it('is not due when expiresOn is the day after tomorrow', () => {
    expect(isAutoRenewDue(d('2021-06-12'), today)).toBe(false);
  });

  it('is due across a month end: expiresOn Jul 1, today Jun 30', () => {
    expect(isAutoRenewDue(d('2021-07-01'), d('2021-06-30'))).toBe(true);
  });
});

describe('daily run: suspend when expiresOn ≤ today', () => {
  it('is expired on expiresOn and after', () => {
    expect(isExpired(d('2021-06-10'), d('2021-06-10'))).toBe(true);
    expect(isExpired(d('2021-06-10'), d('2021-06-11'))).toBe(true);
  });

  it('is not expired the day before expiresOn', () => {
    expect(isExpired(d('2021-06-10'), d('2021-06-09'))).toBe(false);
  });
});

describe('daily run: delete once expiresOn + the deletion delay has passed', () => {
  const suspendedOn = d('2021-06-10'); // the expiresOn the delay counts from

  it('is due exactly deletionDelay days after suspension', () => {
    expect(isDeletionDue(suspendedOn, d('2021-07-10'), 30)).toBe(true);
  });

  it('is not due one day earlier', () => {
    expect(isDeletionDue(suspendedOn, d('2021-07-09'), 30)).toBe(false);
  });

  it('is due any later day', () => {
    expect(isDeletionDue(suspendedOn, d('2021-12-31'), 30)).toBe(true);
  });

  it('a zero delay deletes on the suspension day', () => {
    expect(isDeletionDue(suspendedOn, suspendedOn, 0)).toBe(true);
  });

  it('rejects a negative or fractional delay', () => {
    expect(() => isDeletionDue(suspendedOn, suspendedOn, -1)).toThrow(RangeError);
    expect(() => isDeletionDue(suspendedOn, suspendedOn, 1.5)).toThrow(RangeError);
  });
});

describe('daily run: reminders 5, 3, 1, 0 days before expiry', () => {
  const expiresOn = d('2021-06-10');

  it('fires on 5, 3, 1 and 0 days before expiresOn with that number', () => {
    expect(reminderDue(expiresOn, d('2021-06-05'))).toBe(5);
    expect(reminderDue(expiresOn, d('2021-06-07'))).toBe(3);
    expect(reminderDue(expiresOn, d('2021-06-09'))).toBe(1);
    expect(reminderDue(expiresOn, d('2021-06-10'))).toBe(0);
  });

  it('is silent on other days, before and after', () => {
    for (const today of [
      '2021-06-01',
      '2021-06-04',
      '2021-06-06',
      '2021-06-08',
      '2021-06-11',
      '2021-07-10',
    ]) {
      expect(reminderDue(expiresOn, d(today))).toBeNull();
    }
  });

  it('honours a custom schedule', () => {
    expect(reminderDue(expiresOn, d('2021-05-31'), [10])).toBe(10);
    expect(reminderDue(expiresOn, d('2021-06-05'), [10])).toBeNull();
  });

  it('counts days across a month end', () => {
    expect(reminderDue(d('2021-07-02'), d('2021-06-29'))).toBe(3);
  });
});

describe('dates are strict YYYY-MM-DD', () => {
  it('parses a calendar date', () => {
    expect(parseDate('2024-02-29').equals(d('2024-02-29'))).toBe(true);
  });

  it('rejects impossible dates as invalid_date', () => {
    for (const bad of ['2021-02-29', '2021-02-30', '2021-13-01', '2021-00-10', '2021-04-31']) {
      expect(errorCode(() => parseDate(bad))).toBe('invalid_date');
    }
  });

  it('rejects other ISO shapes and garbage as invalid_date', () => {
    for (const bad of [
      '',
      '20211216',
      '2021-12-16T00:00',
      '2021-12-16Z',
      '+002021-12-16',
      '2021-1-16',
      ' 2021-12-16',
      '2021-12-16\n',
      '16.12.2021',
      '2021-12-16[u-ca=iso8601]',
    ]) {
      expect(errorCode(() => parseDate(bad))).toBe('invalid_date');
    }
  });
});
