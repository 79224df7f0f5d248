import type { AddressInfo } from 'node:net';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBilling } from '../../src/modules/billing/run.js';
import { seedSeller } from '../../src/modules/catalog/seed-demo.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import {
  type Auth,
  createAdmin,
  createClient,
  createHttpTest,
  createToken,
  type HttpTest,
  login,
  request,
} from '../helpers/http.js';
import { staffActor } from '../helpers/shop.js';

/**
 * Two real Billfolds over 127.0.0.1: a *seller* (the ISPsystem catalog seeded, a reseller
 * account with a balance) and a *reseller* whose `billmanager` module points at the seller's
 * `/billmgr`. The reseller imports the tariffs and sets its prices; its client orders
 * ISPmanager 6 Lite, sees the key, changes the IP, renews, is suspended for non-payment,
 * pays and is resumed, deletes. Both ledgers balance; the seller charged the reseller exactly
 * once per order and renewal; with both clocks at 2021-12-16, a renewal on ISPmanager Lite
 * (ends 2021-12-31) is prorated 15/31 on both sides.
 */

const RESELLER_EMAIL = 'reseller@example.net';
const RESELLER_PASSWORD = 'upstream:Pa55-word';

let seller: HttpTest;
let reseller: HttpTest;
let sellerUrl: string;
let resellerAccountOnSeller: number;
let admin: Auth;
let carol: Auth;
let carolAccount: number;
let moduleId: number;

const both = (instant: string) => {
  seller.ctx.clock.set(instant);
  reseller.ctx.clock.set(instant);
};

async function api(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  auth: Auth,
  body?: unknown,
) {
  const res = await request(reseller.app, method, url, { auth, ...(body !== undefined ? { body } : {}) });
  return { status: res.statusCode, body: res.body.length > 0 ? res.json() : null };
}

async function ok(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  auth: Auth,
  body?: unknown,
) {
  const r = await api(method, url, auth, body);
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  return r.body;
}

/** The seller's view: its licenses and what it charged the reseller. */
const sellerLicense = (id: string) =>
  seller.ctx.db.kysely
    .selectFrom('services')
    .selectAll()
    .where('id', '=', Number(id))
    .executeTakeFirstOrThrow();
const sellerKey = async (id: string) =>
  (
    await seller.ctx.db.kysely
      .selectFrom('issued_licenses')
      .select('license_key')
      .where('service_id', '=', Number(id))
      .executeTakeFirstOrThrow()
  ).license_key;
const sellerCharges = (serviceId: string) =>
  seller.ctx.db.kysely
    .selectFrom('service_charges')
    .select(['kind', 'amount_minor', 'start_on', 'end_on'])
    .where('service_id', '=', Number(serviceId))
    .where('kind', 'in', ['order', 'renewal'])
    .orderBy('id')
    .execute();
const sellerBalance = async () =>
  (
    await seller.ctx.db.kysely
      .selectFrom('accounts')
      .select('balance_minor')
      .where('id', '=', resellerAccountOnSeller)
      .executeTakeFirstOrThrow()
  ).balance_minor;

/** The reseller's worker: every queued operation (they call the seller over HTTP). */
const work = () => runQueuedOperations(reseller.ctx);

async function service(id: number) {
  return ok('GET', `/api/v1/services/${id}`, admin);
}

beforeAll(async () => {
  seller = await createHttpTest({ now: '2021-11-16T10:00:00Z' });
  reseller = await createHttpTest({ now: '2021-11-16T10:00:00Z' });
  for (const t of [seller, reseller]) {
    await t.ctx.db.kysely.updateTable('provider').set({ currency: 'EUR' }).execute();
  }
  resellerAccountOnSeller = (
    await seedSeller(seller.ctx, staffActor, {
      email: RESELLER_EMAIL,
      name: 'Reseller',
      password: RESELLER_PASSWORD,
      deposit: '1000.00',
    })
  ).accountId;
  await seller.app.listen({ host: '127.0.0.1', port: 0 });
  sellerUrl = `http://127.0.0.1:${(seller.app.server.address() as AddressInfo).port}/billmgr`;

  await createAdmin(reseller.ctx, 'boss@reseller.example');
  admin = { bearer: await createToken(reseller.app, await login(reseller.app, 'boss@reseller.example')) };
  const c = await createClient(reseller.ctx, 'carol@example.org', { currency: 'EUR' });
  carolAccount = Number(c.account.id);
  carol = { bearer: await createToken(reseller.app, await login(reseller.app, 'carol@example.org')) };
  await ok('POST', `/api/v1/accounts/${carolAccount}/payments`, admin, {
    amount: '100.00',
    method: 'bank',
    reference: 'carol-1',
  });
});

afterAll(async () => {
  await reseller?.close();
  await seller?.close();
});

describe('reselling from another Billfold', () => {
  let lite6: number;
  let lite5: number;

  it('admin creates the BILLmanager module, checks it, reads the balance, imports the tariffs', async () => {
    const module = await ok('POST', '/api/v1/modules', admin, {
      name: 'ISPsystem (seller)',
      type: 'billmanager',
      productTypes: ['soft', 'softexternal', 'platform'],
      params: { url: sellerUrl, username: RESELLER_EMAIL, password: RESELLER_PASSWORD, pollIntervalMs: 10 },
    });
    moduleId = module.id;
    expect(await ok('POST', `/api/v1/modules/${moduleId}/check`, admin)).toMatchObject({ ok: true });
    expect(await ok('GET', `/api/v1/modules/${moduleId}/balance`, admin)).toMatchObject({
      amount: '1000.00',
      currency: 'EUR',
    });

    const imported = await ok('POST', `/api/v1/modules/${moduleId}/import-tariffs`, admin);
    const byExternal = (id: string) =>
      imported.created.find((t: { externalId: string }) => t.externalId === id);
    lite6 = byExternal('55227').tariffId;
    lite5 = byExternal('3541').tariffId;
    // Same currency: our prices start as the upstream's; we sell at our own.
    await ok('PATCH', `/api/v1/tariffs/${lite6}`, admin, {
      status: 'active',
      prices: { '1': '10.00', '12': '100.00' },
    });
    await ok('PATCH', `/api/v1/tariffs/${lite5}`, admin, {
      status: 'active',
      prices: { '1': '10.00', '12': '100.00' },
      expiresOn: '2021-12-31',
    });
    // A re-import updates the upstream cost only, never our price.
    const again = await ok('POST', `/api/v1/modules/${moduleId}/import-tariffs`, admin);
    expect(again.created).toEqual([]);
    const tariff = await ok('GET', `/api/v1/tariffs/${lite6}`, admin);
    expect(JSON.stringify(tariff)).toContain('10.00');
  });

  let serviceId: number;
  let upstreamId: string;
  let legacyId: number;
  let legacyUpstream: string;

  it('client orders ISPmanager 6 Lite: ordered upstream once, the key shown', async () => {
    const order = await ok('POST', '/api/v1/orders', carol, {
      items: [{ tariffId: lite6, period: 1, params: { ip: '203.0.113.50', licname: 'carol-web' } }],
      payNow: true,
    });
    serviceId = order.items[0].serviceId;
    // Renewal is the client's to ask for here: the run must suspend it unpaid.
    await ok('PUT', `/api/v1/services/${serviceId}/autoprolong`, carol, { period: null });
    await work();
    const s = await service(serviceId);
    expect(s.status).toBe('active');
    upstreamId = s.externalId;
    const upstream = await sellerLicense(upstreamId);
    expect(upstream).toMatchObject({
      status: 'active',
      remote_id: String(serviceId),
      expires_on: '2021-12-16',
    });
    expect(upstream.autoprolong).toBeNull();
    const license = await ok('GET', `/api/v1/services/${serviceId}/license`, carol);
    expect(license.key).toBe(await sellerKey(upstreamId));
    expect(license.ip).toBe('203.0.113.50');
  });

  it('client changes the IP; the upstream license moves', async () => {
    await ok('POST', `/api/v1/services/${serviceId}/license/ip`, carol, { ip: '203.0.113.51' });
    await work();
    const upstream = await sellerLicense(upstreamId);
    expect(JSON.parse(upstream.params).ip).toBe('203.0.113.51');
    expect((await ok('GET', `/api/v1/services/${serviceId}/license`, carol)).ip).toBe('203.0.113.51');
  });

  it('with both clocks at 2021-12-16, a renewal on ISPmanager Lite (ends 2021-12-31) is 15/31 on both sides', async () => {
    const order = await ok('POST', '/api/v1/orders', carol, {
      items: [{ tariffId: lite5, period: 1, params: { ip: '203.0.113.60', licname: 'carol-legacy' } }],
      payNow: true,
    });
    legacyId = order.items[0].serviceId;
    await ok('PUT', `/api/v1/services/${legacyId}/autoprolong`, carol, { period: null });
    await work();
    legacyUpstream = (await service(legacyId)).externalId;
    expect((await sellerLicense(legacyUpstream)).expires_on).toBe('2021-12-16');

    both('2021-12-16T10:00:00Z');
    const before = await sellerBalance();
    const quote = await ok('POST', `/api/v1/services/${legacyId}/renewal-quote`, carol, { period: 1 });
    expect(quote).toMatchObject({ total: '4.84' });
    await ok('POST', `/api/v1/services/${legacyId}/renew`, carol, { period: 1 });
    await work();
    const local = await service(legacyId);
    expect(local.expiresOn).toBe('2021-12-31');
    const clientCharge = await reseller.ctx.db.kysely
      .selectFrom('service_charges')
      .select('amount_minor')
      .where('service_id', '=', legacyId)
      .where('kind', '=', 'renewal')
      .executeTakeFirstOrThrow();
    expect(String(clientCharge.amount_minor)).toBe('484');
    expect((await sellerLicense(legacyUpstream)).expires_on).toBe('2021-12-31');
    expect(before - (await sellerBalance())).toBe(484n);
    const [, renewal] = await sellerCharges(legacyUpstream);
    expect(String(renewal!.amount_minor)).toBe('484');
    const cost = await reseller.ctx.db.kysely
      .selectFrom('upstream_costs')
      .select('amount_e4')
      .where('service_id', '=', legacyId)
      .where('kind', '=', 'renewal')
      .executeTakeFirstOrThrow();
    expect(String(cost.amount_e4)).toBe('48400');
  });

  it('client renews ISPmanager 6 Lite (quote first); the upstream is renewed once', async () => {
    const quote = await ok('POST', `/api/v1/services/${serviceId}/renewal-quote`, carol, { period: 1 });
    expect(quote).toMatchObject({ total: '10.00' });
    await ok('POST', `/api/v1/services/${serviceId}/renew`, carol, { period: 1 });
    await work();
    expect((await sellerLicense(upstreamId)).expires_on).toBe('2022-01-16');
  });

  it('unpaid at expiry: suspended on both sides; paid: renewed and resumed on both sides', async () => {
    both('2022-01-17T10:00:00Z');
    await runBilling(reseller.ctx, { date: Temporal.PlainDate.from('2022-01-17') });
    await work();
    expect((await service(serviceId)).status).toBe('suspended');
    expect((await sellerLicense(upstreamId)).status).toBe('suspended');

    await ok('POST', `/api/v1/services/${serviceId}/renew`, carol, { period: 1 });
    await work();
    const local = await service(serviceId);
    expect(local.status).toBe('active');
    const upstream = await sellerLicense(upstreamId);
    expect(upstream.status).toBe('active');
    expect(upstream.expires_on).toBe(local.expiresOn);
  });

  it('client deletes: the upstream license is deleted', async () => {
    await ok('DELETE', `/api/v1/services/${serviceId}`, carol);
    await work();
    expect((await service(serviceId)).status).toBe('deleted');
    expect((await sellerLicense(upstreamId)).status).toBe('deleted');
  });

  it('the seller charged the reseller exactly once per order and renewal; the costs recorded agree', async () => {
    const charges = await sellerCharges(upstreamId);
    expect(charges.map((c) => [c.kind, String(c.amount_minor)])).toEqual([
      ['order', '750'],
      ['renewal', '750'],
      ['renewal', '750'],
    ]);
    const costs = await reseller.ctx.db.kysely
      .selectFrom('upstream_costs')
      .select(['kind', 'amount_e4'])
      .where('service_id', '=', serviceId)
      .orderBy('id')
      .execute();
    expect(costs.map((c) => [c.kind, String(c.amount_e4)])).toEqual([
      ['order', '75000'],
      ['renewal', '75000'],
      ['renewal', '75000'],
    ]);
    // Every upstream order and renewal call the reseller made is one of these.
    expect(1000_00n - (await sellerBalance())).toBe(750n * 3n + 1000n + 484n);
  });

  it('both ledgers balance', async () => {
    await expectLedgerBalanced(seller.ctx);
    await expectLedgerBalanced(reseller.ctx);
  });
});
