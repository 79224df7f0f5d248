/**
 * A new IPv4 address on every call (198.18.0.0/15, the range set aside for tests): one live
 * license per address is a database rule, so fixtures that order several licenses need
 * addresses of their own.
 */
let next = 0;
export function freshIp(): string {
  const n = next++;
  return `198.${18 + Math.floor(n / 62_500)}.${Math.floor((n % 62_500) / 250)}.${(n % 250) + 1}`;
}
