import { describe, expect, it } from 'vitest';
import { isPrivateAddress } from './webhook-send.js';

describe('webhook targets (SSRF)', () => {
  it('public addresses pass; loopback, private and link-local ones do not, however they are written', () => {
    for (const ip of ['93.184.216.34', '2606:4700::1111', '::ffff:93.184.216.34', '::ffff:5db8:d822'])
      expect(isPrivateAddress(ip), ip).toBe(false);
    for (const ip of [
      '127.0.0.1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::1',
      '::',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '100.64.0.1',
      '169.254.169.254',
      '::ffff:a9fe:a9fe',
      '64:ff9b::a9fe:a9fe',
      'fd00::1',
      'fe80::1',
      'ff02::1',
      '224.0.0.1',
      'not an address',
    ])
      expect(isPrivateAddress(ip), ip).toBe(true);
  });
});
