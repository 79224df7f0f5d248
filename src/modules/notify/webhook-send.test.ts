import type dns from 'node:dns';
import http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { describe, expect, it } from 'vitest';
import { checkedLookup, isPrivateAddress, NOT_PUBLIC_CODE } from './webhook-send.js';

/** A resolver that answers every name with `addresses`, as dns.lookup with `all` would. */
const answering =
  (...addresses: string[]) =>
  (_host: string, _opts: dns.LookupAllOptions, cb: (e: null, a: dns.LookupAddress[]) => void) =>
    cb(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );

/** What a lookup answers, the way net.connect asks it (`all` or not). */
const ask = (lookup: LookupFunction, all: boolean) =>
  new Promise<{ err: NodeJS.ErrnoException | null; result: unknown }>((resolve) =>
    lookup('hook.example', { all, family: 0 }, (err, address, family) =>
      resolve({ err, result: all ? address : { address, family } }),
    ),
  );

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

describe('the connection resolves the name itself, through the same check (DNS rebinding)', () => {
  it('a name answered with any address that is not public is refused; public ones are passed on', async () => {
    for (const all of [false, true]) {
      for (const addresses of [['127.0.0.1'], ['93.184.216.34', '10.0.0.5'], ['::1'], []]) {
        const { err } = await ask(checkedLookup(false, answering(...addresses)), all);
        expect(err?.code, `${addresses.join(',')} all=${all}`).toBe(NOT_PUBLIC_CODE);
      }
    }
    expect((await ask(checkedLookup(false, answering('93.184.216.34')), false)).result).toEqual({
      address: '93.184.216.34',
      family: 4,
    });
    expect(
      (await ask(checkedLookup(false, answering('93.184.216.34', '2606:4700::1111')), true)).result,
    ).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:4700::1111', family: 6 },
    ]);
  });

  it('a request connects only where the check let it: a rebound name never reaches the server', async () => {
    let reached = 0;
    const server = http.createServer((_req, res) => {
      reached++;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const get = (lookup: LookupFunction) =>
      new Promise<number>((resolve, reject) => {
        // `rebound.invalid` exists in no DNS: only the given lookup can take the request anywhere.
        http
          .get({ host: 'rebound.invalid', port, path: '/', lookup, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    try {
      await expect(get(checkedLookup(false, answering('127.0.0.1')))).rejects.toMatchObject({
        code: NOT_PUBLIC_CODE,
      });
      expect(reached).toBe(0);
      // The same lookup where private addresses are allowed (tests) connects to what it resolved.
      expect(await get(checkedLookup(true, answering('127.0.0.1')))).toBe(200);
      expect(reached).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
