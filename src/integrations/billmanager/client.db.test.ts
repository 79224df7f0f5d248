import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PASSWORD, type Seller, withSeller } from '../../../test/billmgr/setup.js';
import { BillmgrError, createBillmgrClient } from './client.js';

/**
 * The client against a real seller: Billfold's own `/billmgr` (test/billmgr/setup.ts: a client
 * Alpha with 100.00 EUR, ISPmanager 6 Lite 55227 at 7.50/75.00, the seller's clock at
 * 2021-12-16), over a socket, in both formats — the parsed shapes fit what a faithful seller
 * emits, not only what our fake does.
 */

/** The seller's API over a socket (listening from the first call). */
async function urlOf(s: Seller): Promise<string> {
  if (!s.t.app.server.listening) await s.t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = s.t.app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}/billmgr`;
}

async function clientOf(s: Seller, email: string, out: 'xml' | 'json', password = PASSWORD) {
  return createBillmgrClient({ url: await urlOf(s), username: email, password, out, pollIntervalMs: 1 });
}

async function refusal(p: Promise<unknown>): Promise<BillmgrError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BillmgrError);
  expect(String((err as Error).message)).not.toContain(PASSWORD);
  return err as BillmgrError;
}

describe.each(['xml', 'json'] as const)('BILLmanager client against Billfold /billmgr, out=%s', (out) => {
  it('pricelist, order, key, edit, new key, renewal, suspend, resume, delete, balance', () =>
    withSeller(async (s) => {
      const c = await clientOf(s, 'alpha@example.com', out);
      expect(await c.checkConnection()).toEqual({ user: 'alpha@example.com' });
      expect(await c.balance()).toEqual({ amount: '100.00', currency: 'EUR' });

      const tariffs = await c.exportPricelist({ itemType: 'soft' });
      expect(tariffs.find((t) => t.id === '55227')).toEqual({
        id: '55227',
        name: 'ISPmanager 6 Lite',
        itemType: 'soft',
        currency: 'EUR',
        prices: [
          { period: 1, cost: '7.5000' },
          { period: 12, cost: '75.0000' },
        ],
        trialDays: null,
        addons: [],
      });
      expect(tariffs.find((t) => t.id === '55239')).toMatchObject({
        prices: [{ period: -100, cost: '0.0000' }],
        trialDays: 14,
      });
      expect((await c.exportPricelist({ pricelist: '55163' })).map((t) => [t.id, t.itemType])).toEqual([
        ['55163', 'platform'],
      ]);

      await c.checkIp('soft', '55227', 1, '203.0.113.10');
      const { id } = await c.orderLicense('soft', {
        pricelist: '55227',
        period: 1,
        ip: '203.0.113.10',
        name: 'vps-1042',
        remoteId: 'l1042',
      });
      const license = await c.waitForKey('soft', id);
      expect(license).toEqual({
        id,
        family: 'soft',
        name: 'vps-1042',
        ip: '203.0.113.10',
        status: 2,
        expiresOn: '2022-01-16',
        createdOn: '2021-12-16',
        pricelist: '55227',
        period: 1,
        // Ordered without auto-renewal: an empty element, read as not set.
        autoprolong: null,
        remoteId: 'l1042',
        key: expect.stringMatching(new RegExp(`^${id}-`)),
        ipChangedOn: null,
        keyChangedOn: null,
        cost: '7.50',
      });
      expect((await c.findByRemoteId('soft', 'l1042')).map((l) => l.id)).toEqual([id]);
      expect((await c.listLicenses('soft')).map((l) => [l.id, l.name, l.status])).toEqual([
        [id, 'vps-1042', 2],
      ]);
      expect((await refusal(c.checkIp('soft', '55227', 1, '203.0.113.10'))).code).toBe('upstream_exists');

      await c.editLicense('soft', id, { ip: '203.0.113.20', name: 'vps-1042-b' });
      expect(await c.getLicense('soft', id)).toMatchObject({
        ip: '203.0.113.20',
        name: 'vps-1042-b',
        ipChangedOn: '2021-12-16',
      });
      const limit = await refusal(c.editLicense('soft', id, { ip: '203.0.113.21' }));
      expect([limit.code, limit.object, limit.retryable, limit.ambiguous]).toEqual([
        'upstream_value',
        'ip',
        false,
        false,
      ]);

      const rekeyed = await c.newKey('soft', id);
      expect(rekeyed.key).not.toBe(license.key);
      expect(rekeyed.key!.startsWith(`${id}-`)).toBe(true);
      expect(rekeyed.keyChangedOn).toBe('2021-12-16');

      expect(await c.prolongQuote(id)).toEqual({
        expiresOn: '2022-01-16',
        newExpiresOn: '2022-02-16',
        periods: [1, 12],
      });
      expect(await c.prolong(id, 12)).toEqual({ newExpiresOn: '2023-01-16' });
      expect(await c.balance()).toEqual({ amount: '17.50', currency: 'EUR' });
      expect((await refusal(c.prolong(id, 12))).code).toBe('upstream_not_enough_money');

      await c.suspend('soft', id);
      expect((await c.getLicense('soft', id)).status).toBe(3);
      await c.resume('soft', id);
      expect((await c.getLicense('soft', id)).status).toBe(2);
      await c.remove('soft', id);
      expect(await c.getLicense('soft', id)).toMatchObject({ status: 4, key: null });

      // Someone else's license is not there for us.
      const bravo = await clientOf(s, 'bravo@example.com', out);
      expect((await refusal(bravo.getLicense('soft', id))).code).toBe('upstream_access');
    }));

  it('platform licenses by comment; refusals with their fields', () =>
    withSeller(async (s) => {
      const c = await clientOf(s, 'bravo@example.com', out);
      const { id } = await c.orderLicense('platform', {
        pricelist: '55163',
        period: 1,
        remoteId: 'a77',
        comment: 'Item #77 addon VMmanager',
      });
      expect(await c.waitForKey('platform', id)).toMatchObject({
        family: 'platform',
        name: 'Item #77 addon VMmanager',
        ip: null,
        remoteId: 'a77',
        status: 2,
      });
      const bad = await refusal(
        c.orderLicense('soft', { pricelist: '55227', period: 1, ip: '300.1.1.1', remoteId: 'x' }),
      );
      expect([bad.code, bad.type, bad.object, bad.value]).toEqual([
        'upstream_value',
        'value',
        'ip',
        '300.1.1.1',
      ]);
      const wrong = await refusal(
        (await clientOf(s, 'bravo@example.com', out, 'nope-nope')).checkConnection(),
      );
      expect([wrong.code, wrong.retryable]).toEqual(['upstream_auth', false]);
    }));
});
