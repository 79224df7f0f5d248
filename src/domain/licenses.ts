import { Temporal } from 'temporal-polyfill';

/**
 * The license IP rule (PROTOCOL.md §4, the selling side's rule, which Billfold applies to the
 * licenses it issues and explains, before the client tries, for the ones an upstream serves):
 * a license's address may be changed at most once per calendar month. The address given at
 * order time, setting the address it already has, and releasing it to the pool (`0.0.0.0`) do
 * not count. Dates are `YYYY-MM-DD` strings; pure: `today` is a parameter.
 */

/** The address that returns a license to the free pool (PROTOCOL.md §7): it holds nothing. */
export const POOL_IP = '0.0.0.0';

/** Whether moving a license from `from` to `to` counts toward the once-a-month limit. */
export const countsAsIpChange = (from: string | null, to: string): boolean => to !== from && to !== POOL_IP;

/** Allowed when the last counted change was in an earlier calendar month than `today`, or never happened. */
export const ipChangeAllowed = (lastCounted: string | null, today: string): boolean =>
  lastCounted === null || lastCounted.slice(0, 7) !== today.slice(0, 7);

/** The first day a counted change is allowed: today when it is allowed now, else the 1st of the next month. */
export function nextIpChangeOn(lastCounted: string | null, today: string): string {
  if (ipChangeAllowed(lastCounted, today)) return today;
  const [y, m] = [Number(today.slice(0, 4)), Number(today.slice(5, 7))];
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
}

/** The rule in one sentence for the client, with where this license stands. */
/** The once-a-month IP rule in a sentence. */
export const IP_CHANGE_RULE =
  'The IP address of a license can be changed once per calendar month; the address given at order, ' +
  `setting the same address again and releasing it to the pool (${POOL_IP}) do not count.`;

export function ipChangeRule(lastCounted: string | null, today: string): string {
  const rule = IP_CHANGE_RULE;
  if (lastCounted === null) return `${rule} It has not been changed yet, so it can be changed now.`;
  if (ipChangeAllowed(lastCounted, today))
    return `${rule} It was last changed on ${lastCounted}, so it can be changed now.`;
  return `${rule} It was last changed on ${lastCounted}, so the next change is possible from ${nextIpChangeOn(lastCounted, today)}.`;
}

/**
 * The free-license pool's month rule (PROTOCOL.md §7): a pool license may be given to a server
 * only when its last IP change and its last key change are more than a month old. `cutoff` is
 * the day such a change must come before (today less one month); the database query of the
 * pool compares with the same day.
 */
export const poolCutoff = (today: Temporal.PlainDate): string => today.subtract({ months: 1 }).toString();

/** Whether a change on `changedOn` (or none) lets a pool license be used on `today`. */
export const poolChangeOldEnough = (changedOn: string | null, today: Temporal.PlainDate): boolean =>
  changedOn === null || changedOn < poolCutoff(today);

/** The first day the pool's month rule lets a license whose last change was on `changedOn` be used. */
export function poolUsableFrom(changedOn: string): string {
  // A month after, then the few days month ends take (31 March less a month is 28 February).
  let day = Temporal.PlainDate.from(changedOn).add({ months: 1 });
  while (!poolChangeOldEnough(changedOn, day)) day = day.add({ days: 1 });
  return day.toString();
}
