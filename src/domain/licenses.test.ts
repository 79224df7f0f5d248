import { describe, expect, it } from 'vitest';
import { countsAsIpChange, ipChangeAllowed, ipChangeRule, nextIpChangeOn } from './licenses.js';

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
