import { canonicalIp } from '../domain/ip.js';
import { invalid } from './errors.js';

/**
 * The one validator of an `ip` given by a client, staff or a buyer's billing system (orders,
 * license IP changes, staff tasks, `/billmgr`): IPv4 or IPv6, returned in its canonical form
 * (domain/ip.ts) so every rule keyed on the address sees one spelling; anything else is
 * `invalid_ip`.
 */
export function requireIp(value: string, param = 'ip'): string {
  const ip = canonicalIp(value);
  if (ip === null)
    throw invalid('invalid_ip', `"${value}" is not an IPv4 or IPv6 address.`, { param, value });
  return ip;
}
