import { describe, expect, it } from 'vitest';
import { canonicalIp } from './ip.js';

describe('canonicalIp', () => {
  it('keeps IPv4 as it is and refuses anything Node does not parse as dotted decimal', () => {
    expect(canonicalIp('203.0.113.10')).toBe('203.0.113.10');
    expect(canonicalIp('0.0.0.0')).toBe('0.0.0.0');
    for (const bad of [
      '300.1.1.1',
      '01.2.3.4',
      '1.2.3',
      ' 1.2.3.4',
      '1.2.3.4 ',
      'example.com',
      '',
      '1.2.3.4/24',
    ])
      expect(canonicalIp(bad), bad).toBeNull();
  });

  it('writes IPv6 in RFC 5952 form: lower case, no leading zeros, the longest zero run as ::', () => {
    expect(canonicalIp('2001:DB8::1')).toBe('2001:db8::1');
    expect(canonicalIp('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    // The longest run is compressed; of equal runs, the first.
    expect(canonicalIp('2001:db8:0:0:1:0:0:0')).toBe('2001:db8:0:0:1::');
    expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    // A single zero group is not compressed.
    expect(canonicalIp('2001:db8::1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIp('::1')).toBe('::1');
    expect(canonicalIp('::')).toBe('::');
    expect(canonicalIp('1::')).toBe('1::');
    expect(canonicalIp('2001:db8::192.0.2.1')).toBe('2001:db8::c000:201');
    expect(canonicalIp('1:2:3:4:5:6:192.0.2.1')).toBe('1:2:3:4:5:6:c000:201');
  });

  it('every spelling of one address gives one string', () => {
    const spellings = [
      '2001:db8:85a3::8a2e:370:7334',
      '2001:DB8:85A3:0:0:8A2E:0370:7334',
      '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
      '2001:db8:85a3:0::8a2e:370:7334',
    ];
    expect(new Set(spellings.map(canonicalIp))).toEqual(new Set(['2001:db8:85a3::8a2e:370:7334']));
  });

  it('an IPv4-mapped IPv6 address is its IPv4 address; a zone or a malformed address is refused', () => {
    expect(canonicalIp('::ffff:203.0.113.10')).toBe('203.0.113.10');
    expect(canonicalIp('::FFFF:cb00:710a')).toBe('203.0.113.10');
    for (const bad of ['fe80::1%eth0', '2001:db8:::1', '2001:db8::g', '1:2:3:4:5:6:7:8:9', '[::1]'])
      expect(canonicalIp(bad), bad).toBeNull();
  });
});
