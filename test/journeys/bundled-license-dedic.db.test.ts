import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN,
  CONFIG_B,
  type FakeDcimanager,
  startFakeDcimanager,
} from '../../src/integrations/dcimanager6/fake-server.js';
import { recordPayment } from '../../src/modules/accounts/commands.js';
import { seedIspsystem } from '../../src/modules/catalog/seed-ispsystem.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { createClient, createHttpTest, type HttpTest } from '../helpers/http.js';
import {
  call,
  drainOperations,
  getService,
  ok,
  openShop,
  orderPaid,
  panelEnumerationId,
  payIn,
  type Shop,
  staffActor,
} from '../helpers/shop.js';

/**
 * Issue 13, the dedicated-server side: a `dcimanager6` module (the fake DCImanager 6) whose
 * license server is another, real Billfold selling ISPsystem licenses through `/billmgr` over
 * 127.0.0.1. A dedicated server ordered with "ISPmanager 6 Pro" is claimed, installed, and
 * gets its license for its IP from the seller; suspend, resume and deletion reach the seller's
 * license; the seller charged the reseller once. Both ledgers balance.
 */

const RESELLER = { email: 'reseller@example.net', password: 'upstream:Pa55-word' };

let dci: FakeDcimanager;
let seller: HttpTest;
let shop: Shop;
let tariffId: number;
let panelAddon: number;
let resellerOnSeller: number;

async function drain(times = 3) {
  // The seller keys a client's suspend or resume by its instant: time moves between requests.
  seller.ctx.clock.advance(1000);
  // The reseller's worker, then the seller's: what the reseller asked of it through /billmgr.
  await drainOperations([shop.ctx, seller.ctx], times);
}

/** The seller's license services (their params as the seller keeps them). */
const sellerLicenses = async () =>
  (
    await seller.ctx.db.kysely
      .selectFrom('services')
      .selectAll()
      .where('account_id', '=', resellerOnSeller)
      .orderBy('id')
      .execute()
  ).map((s) => ({
    id: String(s.id),
    tariffId: Number(s.tariff_id),
    status: s.status,
    remoteId: s.remote_id,
    params: JSON.parse(s.params) as Record<string, string>,
  }));
const sellerCharges = async () =>
  (
    await seller.ctx.db.kysely
      .selectFrom('ledger_entries')
      .select(['kind', 'amount_minor'])
      .where('account_id', '=', resellerOnSeller)
      .where('kind', '=', 'charge')
      .execute()
  ).length;

beforeEach(async () => {
  seller = await createHttpTest();
  await seller.ctx.db.kysely.updateTable('provider').set({ currency: 'EUR' }).execute();
  await seedIspsystem(seller.ctx, staffActor);
  const { account } = await createClient(seller.ctx, RESELLER.email, {
    password: RESELLER.password,
    currency: 'EUR',
  });
  resellerOnSeller = Number(account.id);
  await recordPayment(seller.ctx, staffActor, resellerOnSeller, {
    amount: '1000.00',
    method: 'bank',
    reference: 'reseller-deposit',
  });
  await seller.app.listen({ host: '127.0.0.1', port: 0 });
  const sellerUrl = `http://127.0.0.1:${(seller.app.server.address() as AddressInfo).port}/billmgr`;

  dci = await startFakeDcimanager({ taskDelayMs: 20 });
  shop = await openShop();
  const licenseModule = ok(
    await call(shop, 'POST', '/api/v1/modules', shop.admin, {
      name: 'Licenses from the seller',
      type: 'billmanager',
      productTypes: ['soft', 'softexternal', 'platform'],
      params: { url: sellerUrl, username: RESELLER.email, password: RESELLER.password, pollIntervalMs: 20 },
    }),
    201,
  ).id;
  // The seller's tariffs, imported: the panels' internal names are among them.
  ok(await call(shop, 'POST', `/api/v1/modules/${licenseModule}/import-tariffs`, shop.admin, {}));
  const dciModule = ok(
    await call(shop, 'POST', '/api/v1/modules', shop.admin, {
      name: 'DCI Frankfurt',
      type: 'dcimanager6',
      productTypes: ['dedic'],
      licenseServerId: licenseModule,
      params: { url: dci.url, email: ADMIN.email, password: ADMIN.password, timeoutMs: 1000, taskPollMs: 10 },
    }),
    201,
  ).id;
  tariffId = ok(
    await call(shop, 'POST', '/api/v1/tariffs', shop.admin, {
      name: 'Dedicated E-2236',
      productType: 'dedic',
      periods: [1],
      prices: { '1': '80.00' },
    }),
    201,
  ).id;
  const enumerationId = await panelEnumerationId(shop);
  const withPanel = ok(
    await call(shop, 'POST', `/api/v1/tariffs/${tariffId}/addons`, shop.admin, {
      valueType: 'enumeration',
      kind: 'control_panel',
      label: 'Control panel',
      enumerationId,
      values: [
        { valueId: shop.panels.lite6, prices: { '1': '5.00' } },
        { valueId: shop.panels.pro6, prices: { '1': '8.00' } },
      ],
    }),
    201,
  );
  panelAddon = withPanel.addons.find((a: { kind: string }) => a.kind === 'control_panel').id;
  ok(
    await call(shop, 'PUT', `/api/v1/tariffs/${tariffId}/modules`, shop.admin, {
      modules: [
        { moduleId: dciModule, settings: { configuration: CONFIG_B, locationId: 1, osIds: [11, 12] } },
      ],
    }),
  );
  await payIn(shop, shop.alpha.accountId, '1000.00');
});

afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await expectLedgerBalanced(seller.ctx);
  await shop.t.close();
  await seller.close();
  await dci.close();
});

describe('a dedicated server with a bundled license from a selling Billfold', () => {
  it('is active with its license for its IP; suspend, resume and deletion reach the seller once each', async () => {
    const { serviceId } = await orderPaid(shop, shop.alpha, {
      tariffId,
      period: 1,
      params: { hostname: 'db1.example.com', os_template: '12' },
      addonValues: { [panelAddon]: shop.panels.pro6 },
    });
    await drain();
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    const [lic] = await sellerLicenses();
    expect(lic).toMatchObject({ tariffId: 55228, status: 'active', remoteId: `server-${serviceId}` });
    expect(lic!.params.ip).toBe(s.params.ip);
    expect(lic!.params.licname).toBe(`Item #${serviceId} addon ${s.name}`);
    expect(s.params.licenseId).toBe(lic!.id);
    expect(s.params.licenseKey).toMatch(/\S{8,}/);
    expect(await sellerCharges()).toBe(1);

    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await drain();
    expect((await sellerLicenses())[0]!.status).toBe('suspended');
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/resume`, shop.admin));
    await drain();
    expect((await sellerLicenses())[0]!.status).toBe('active');

    ok(await call(shop, 'DELETE', `/api/v1/services/${serviceId}`, shop.alpha.auth));
    await drain();
    expect((await getService(shop, serviceId)).status).toBe('deleted');
    const pooled = (await sellerLicenses())[0]!;
    expect(pooled.status).toBe('suspended');
    expect(pooled.params).toMatchObject({ ip: '0.0.0.0', licname: 'free.lic' });
    expect(await sellerLicenses()).toHaveLength(1);
    expect(await sellerCharges()).toBe(1);
  });
});
