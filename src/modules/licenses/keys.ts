import { randomBytes } from 'node:crypto';

/**
 * License keys issued by Billfold: `<license id>-XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`.
 * - The part before the first dash is the license id: some clients keep only the key and
 *   recover the id from it (PROTOCOL.md §4).
 * - 25 symbols of Crockford's base32 alphabet (no I, L, O, U, so a key read aloud or retyped
 *   is not misread): 125 random bits from the operating system's CSPRNG, so a key cannot be
 *   guessed from another or from the id.
 */
export const KEY_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUPS = 5;
const GROUP_LENGTH = 5;

export function newLicenseKey(licenseId: number, random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(GROUPS * GROUP_LENGTH);
  const symbols = [...bytes].map((b) => KEY_ALPHABET[b & 31]);
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++)
    groups.push(symbols.slice(g * GROUP_LENGTH, (g + 1) * GROUP_LENGTH).join(''));
  return `${licenseId}-${groups.join('-')}`;
}

export const KEY_PATTERN = /^([1-9][0-9]*)-([0-9A-HJKMNP-TV-Z]{5}(?:-[0-9A-HJKMNP-TV-Z]{5}){4})$/;

/** The license id a key carries, or null when it is not one of ours. */
export function licenseIdOfKey(key: string): number | null {
  const m = KEY_PATTERN.exec(key);
  return m ? Number(m[1]) : null;
}

export { POOL_IP } from '../services/license-ips.js';

import { POOL_IP } from '../services/license-ips.js';

/**
 * Whether moving a license from `from` to `to` counts toward the once-a-month limit: setting
 * the address it already has and releasing it to the pool do not; the address given at order
 * time is not a change at all (the caller does not ask).
 */
export const countsAsIpChange = (from: string | null, to: string): boolean => to !== from && to !== POOL_IP;

/**
 * At most one counted IP change per calendar month: allowed when the last counted change
 * (YYYY-MM-DD) was in an earlier month than `today`, or never happened.
 */
export const ipChangeAllowed = (lastCounted: string | null, today: string): boolean =>
  lastCounted === null || lastCounted.slice(0, 7) !== today.slice(0, 7);
