import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP addresses as Billfold stores them: one spelling per address, so a rule keyed on the
 * address (one live license per IP, `license_ips`) cannot be dodged by writing it another way.
 *
 * - IPv4: dotted decimal as Node parses it (no leading zeros, no shorthand).
 * - IPv6: RFC 5952's canonical text — lower-case hex, leading zeros dropped, the longest run
 *   of two or more zero groups (the first of equal runs) written `::`. A zone (`%eth0`) is
 *   refused: it names a link of one host, not a server's address.
 * - An IPv4-mapped IPv6 address (`::ffff:203.0.113.10`) is that IPv4 address and is stored
 *   as such.
 *
 * Pure: no I/O (node:net's parsers only).
 */
export function canonicalIp(raw: string): string | null {
  if (isIPv4(raw)) return raw;
  if (raw.includes('%') || !isIPv6(raw)) return null;
  const groups = ipv6Groups(raw.toLowerCase());
  if (groups === null) return null;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return formatIpv6(groups);
}

/** The eight 16-bit groups of an IPv6 address Node already accepted (an IPv4 tail counts as two). */
function ipv6Groups(s: string): number[] | null {
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const o = last.split('.').map(Number);
    tail.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
    text = `${text.slice(0, lastColon + 1)}0`; // a placeholder group, dropped below
  }
  const halves = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => Number.parseInt(h, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (tail.length > 0) (rest.length > 0 || halves.length === 2 ? rest : head).pop();
  const given = head.length + rest.length + tail.length;
  const zeros = halves.length === 2 ? 8 - given : 0;
  const groups = [...head, ...Array<number>(zeros).fill(0), ...rest, ...tail];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff)
    ? groups
    : null;
}

function formatIpv6(groups: readonly number[]): string {
  // The longest run of zero groups, at least two long; the first one wins a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
