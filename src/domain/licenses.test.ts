import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import {
  countsAsIpChange,
  ipChangeAllowed,
  ipChangeRule,
  nextIpChangeOn,
  poolChangeOldEnough,
  poolUsableFrom,
} from './licenses.js';

describe('the once-a-calendar-month IP rule', () => {
  it('counts a move to another address, not the same one nor the pool', () => {
    expect(countsAsIpChange('203.0.113.1', '203.0.113.2')).toBe(true);
    expect(countsAsIpChange(null, '2001:db8::1')).toBe(true);
    expect(countsAsIpChange('203.0.113.1', '203.0.113.1')).toBe(false);
    expect(countsAsIpChange('203.0.113.1', '0.0.0.0')).toBe(false);
  });

  it('allows one counted change per calendar month and says from when the next one is allowed', () => {
    expect(ipChangeAllowed(null, '2021-12-16')).toBe(true);
    expect(ipChangeAllowed('2021-12-01', '2021-12-31')).toBe(false);
    expect(ipChangeAllowed('2021-12-31', '2022-01-01')).toBe(true);
    expect(ipChangeAllowed('2020-12-16', '2021-12-16')).toBe(true);
    expect(nextIpChangeOn('2021-12-16', '2021-12-20')).toBe('2022-01-01');
    expect(nextIpChangeOn('2022-01-31', '2022-01-31')).toBe('2022-02-01');
    expect(nextIpChangeOn('2021-11-30', '2021-12-20')).toBe('2021-12-20');
    expect(nextIpChangeOn(null, '2021-12-20')).toBe('2021-12-20');
  });

  it('explains itself before the client tries', () => {
    expect(ipChangeRule('2021-12-16', '2021-12-20')).toMatch(
      /once per calendar month.*last changed on 2021-12-16, so the next change is possible from 2022-01-01\.$/,
    );
    expect(ipChangeRule(null, '2021-12-20')).toMatch(/not been changed yet, so it can be changed now\.$/);
    expect(ipChangeRule('2021-11-02', '2021-12-20')).toMatch(
      /last changed on 2021-11-02, so it can be changed now\.$/,
    );
  });
});

describe('the free-license pool month rule', () => {
  const day = (s: string) => Temporal.PlainDate.from(s);
  it('a change more than a month ago lets a pool license be used; none at all too', () => {
    expect(poolChangeOldEnough(null, day('2022-01-16'))).toBe(true);
    expect(poolChangeOldEnough('2021-12-16', day('2022-01-16'))).toBe(false);
    expect(poolChangeOldEnough('2021-12-15', day('2022-01-16'))).toBe(true);
    expect(poolUsableFrom('2021-12-16')).toBe('2022-01-17');
    // Month ends: 28 February is less a month from 28, 29, 30 and 31 March alike.
    expect(poolUsableFrom('2023-02-28')).toBe('2023-04-01');
  });

  it('poolUsableFrom is the first day the rule allows, for any date', () => {
    const dates = fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2099-12-31T00:00:00Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString().slice(0, 10));
    fc.assert(
      fc.property(dates, (changed) => {
        const first = day(poolUsableFrom(changed));
        expect(poolChangeOldEnough(changed, first)).toBe(true);
        expect(poolChangeOldEnough(changed, first.subtract({ days: 1 }))).toBe(false);
      }),
    );
  });
});
