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

/** The IP rule lives in the domain (domain/licenses.ts); re-exported for the license modules. */
export { countsAsIpChange, ipChangeAllowed, POOL_IP } from '../../domain/licenses.js';
