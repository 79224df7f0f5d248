import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createModule, setTariffModules } from '../../src/modules/provisioning/commands.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import {
  FakeLicenseUpstream,
  LICENSE_REMOTE_TYPE,
  licenseRemoteModuleType,
} from '../fixtures/license-remote-module.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { expectError } from '../helpers/http.js';
import {
  balanceOf,
  call,
  countOf,
  getService,
  ok,
  openShop,
  orderPaid,
  payIn,
  type Shop,
  snapshot,
  staffActor,
} from '../helpers/shop.js';

/**
 * The license service for a license an upstream issues (a reseller's module): the client's
 * view, an IP change and a new key carried out by the module as operations, the upstream's
 * refusals shown as they were said, renewal, auto-renew and deletion, IPv6 addresses.
 */

let shop: Shop;
let upstream: FakeLicenseUpstream;

beforeEach(async () => {
  upstream = new FakeLicenseUpstream();
  shop = await openShop({ moduleTypes: [licenseRemoteModuleType(upstream)] });
  const module = await createModule(shop.ctx, staffActor, {
    name: 'Upstream licenses',
    type: LICENSE_REMOTE_TYPE,
    productTypes: ['soft'],
    params: {},
  });
  for (const tariff of [shop.tariffs.license, shop.tariffs.licensePro, shop.tariffs.legacy])
    await setTariffModules(shop.ctx, staffActor, tariff, { modules: [{ moduleId: Number(module.id) }] });
  await payIn(shop, shop.alpha.accountId, '200.00');
  await payIn(shop, shop.bravo.accountId, '200.00');
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const licenseUrl = (id: number, suffix = '') => `/api/v1/services/${id}/license${suffix}`;
const getLicense = async (id: number) => ok(await call(shop, 'GET', licenseUrl(id), shop.alpha.auth));
const operationsOf = (id: number) =>
  shop.ctx.db.kysely
    .selectFrom('operations')
    .selectAll()
    .where('service_id', '=', id)
    .orderBy('id')
    .execute();
const holds = () =>
  shop.ctx.db.kysely
    .selectFrom('license_ips')
    .select(['ip', 'service_id', 'operation_id'])
    .orderBy('ip')
    .execute();

/** Orders a soft license for alpha and lets its `open` run upstream. */
async function orderLicense(ip: string, client = shop.alpha, tariffId = shop.tariffs.license) {
  const { serviceId } = await orderPaid(shop, client, {
    tariffId,
    period: 1,
    params: { ip, licname: 'remote' },
  });
  return serviceId;
}

describe('a license an upstream issues, ordered with an IPv6 address', () => {
  it('is stored in canonical form, shown while being issued, then with its key', async () => {
    const id = await orderLicense('2001:DB8:0:0:0:0:0:10');
    expect((await getService(shop, id)).params.ip).toBe('2001:db8::10');
    // Before the upstream answered: a license in progress, no key yet.
    expect(await getLicense(id)).toMatchObject({
      source: 'module',
      status: 'processing',
      key: null,
      ip: '2001:db8::10',
      ipChangeAllowed: false,
      pending: [],
      lastError: null,
    });
    await runQueuedOperations(shop.ctx);
    const lic = upstream.byRemoteId(id)!;
    expect(lic.ip).toBe('2001:db8::10');
    const view = await getLicense(id);
    expect(view).toMatchObject({
      source: 'module',
      status: 'active',
      key: lic.key,
      ip: '2001:db8::10',
      ipChangedOn: null,
      keyChangedOn: null,
      ipChangeAllowed: true,
      nextIpChangeOn: '2021-12-16',
      pending: [],
      lastError: null,
    });
    expect(view.expiresOn).toBe('2022-01-16');
    expect(view.ipChangeRule).toMatch(/once per calendar month.*can be changed now\.$/);
    // Another spelling of the same address is the same address: one license per IP.
    const before = await snapshot(shop.ctx);
    expectError(
      await call(shop, 'POST', '/api/v1/orders', shop.bravo.auth, {
        items: [
          { tariffId: shop.tariffs.license, period: 1, params: { ip: '2001:0db8::0:10', licname: 'x' } },
        ],
        payNow: true,
      }),
      409,
      'ip_taken',
    );
    // Not an address at all, or an address with a zone: invalid_ip, on order and on change.
    for (const ip of ['2001:db8:::1', 'fe80::1%eth0', 'example.com', '203.0.113']) {
      expectError(
        await call(shop, 'POST', '/api/v1/orders', shop.bravo.auth, {
          items: [{ tariffId: shop.tariffs.license, period: 1, params: { ip, licname: 'x' } }],
          payNow: true,
        }),
        400,
        'invalid_ip',
      );
      expectError(
        await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip }),
        400,
        'invalid_ip',
      );
    }
    expect(await snapshot(shop.ctx)).toBe(before);
  });
});

describe('an IP change goes through the upstream', () => {
  let id: number;
  beforeEach(async () => {
    id = await orderLicense('2001:db8::10');
    await runQueuedOperations(shop.ctx);
  });

  it('202 with the change pending; a double click is the same operation; applied when the module has done it', async () => {
    const res = await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '2001:DB8::20' });
    const pendingView = ok(res, 202);
    expect(pendingView).toMatchObject({ ip: '2001:db8::10', ipChangedOn: null, ipChangeAllowed: false });
    expect(pendingView.pending).toEqual([
      {
        kind: 'ip',
        operationId: expect.any(Number),
        status: 'queued',
        value: '2001:db8::20',
        requestedAt: '2021-12-16T10:00:00.000Z',
        lastError: null,
      },
    ]);
    expect(pendingView.ipChangeRule).toContain('A change to 2001:db8::20 is on its way');
    const operationId = pendingView.pending[0].operationId as number;
    // Nothing local moved yet: the parameters, the upstream and the hold of the old address.
    expect((await getService(shop, id)).params.ip).toBe('2001:db8::10');
    expect(upstream.byRemoteId(id)!.ip).toBe('2001:db8::10');
    // The double click: the same operation, nothing new.
    const again = ok(
      await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '2001:db8::20' }),
      202,
    );
    expect(again.pending.map((p: { operationId: number }) => p.operationId)).toEqual([operationId]);
    // Another address while one is on its way: refused, nothing queued.
    const err = expectError(
      await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '2001:db8::30' }),
      409,
      'ip_change_pending',
    );
    expect(err.details).toEqual({ operationId, value: '2001:db8::20' });
    expect((await operationsOf(id)).filter((o) => o.kind === 'set_param')).toHaveLength(1);
    expect(await holds()).toEqual([
      { ip: '2001:db8::10', service_id: expect.anything(), operation_id: null },
      { ip: '2001:db8::20', service_id: expect.anything(), operation_id: expect.anything() },
    ]);

    await runQueuedOperations(shop.ctx);
    expect(upstream.byRemoteId(id)!.ip).toBe('2001:db8::20');
    expect(upstream.count('changeIp')).toBe(1);
    const applied = await getLicense(id);
    expect(applied).toMatchObject({
      ip: '2001:db8::20',
      ipChangedOn: '2021-12-16',
      ipChangeAllowed: false,
      nextIpChangeOn: '2022-01-01',
      pending: [],
      lastError: null,
    });
    // The hold moved: the old address is free for another license, the new one is held.
    expect((await holds()).map((h) => [h.ip, Number(h.service_id), h.operation_id])).toEqual([
      ['2001:db8::20', id, null],
    ]);
    const other = await orderLicense('2001:db8::10', shop.bravo);
    expect(other).toBeGreaterThan(id);
    const history = ok(await call(shop, 'GET', `/api/v1/services/${id}/history`, shop.alpha.auth));
    expect(history.items.map((h: { event: string }) => h.event)).toEqual(
      expect.arrayContaining(['ip_change_requested', 'operation_set_param_done']),
    );
  });

  it('a second change in the same month is refused before anything is queued, with the rule; next month it goes', async () => {
    ok(await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '2001:db8::20' }), 202);
    await runQueuedOperations(shop.ctx);
    const before = await snapshot(shop.ctx);
    const holdsBefore = await holds();
    const err = expectError(
      await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '203.0.113.99' }),
      409,
      'ip_change_limit',
    );
    expect(err.details).toMatchObject({ lastChange: '2021-12-16', nextIpChangeOn: '2022-01-01' });
    expect(err.details.rule).toMatch(/next change is possible from 2022-01-01/);
    expect(await snapshot(shop.ctx)).toBe(before);
    expect(await holds()).toEqual(holdsBefore);
    expect(upstream.count('changeIp')).toBe(1);
    // The same address again is no change (200, nothing queued); releasing to the pool does not count.
    ok(await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '2001:db8:0::20' }), 200);
    expect(await snapshot(shop.ctx)).toBe(before);
    shop.ctx.clock.set('2022-01-01T09:00:00Z');
    expect((await getLicense(id)).ipChangeAllowed).toBe(true);
    ok(await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '203.0.113.99' }), 202);
    await runQueuedOperations(shop.ctx);
    expect(await getLicense(id)).toMatchObject({ ip: '203.0.113.99', ipChangedOn: '2022-01-01' });
  });

  it("a change the upstream refuses shows the upstream's message; nothing changes locally; later operations still run", async () => {
    // Changed at the upstream's own panel this month: its rule refuses, ours could not know.
    upstream.byRemoteId(id)!.ipChangedOn = '2021-12-02';
    const before = await getService(shop, id);
    const queued = ok(
      await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '2001:db8::20' }),
      202,
    );
    const operationId = queued.pending[0].operationId;
    await runQueuedOperations(shop.ctx);
    const view = await getLicense(id);
    expect(view).toMatchObject({
      ip: '2001:db8::10',
      ipChangedOn: null,
      pending: [],
      lastError: {
        kind: 'ip',
        operationId,
        value: '2001:db8::20',
        code: 'upstream_refused',
        message: `The IP address of license ${upstream.byRemoteId(id)!.id} was already changed on 2021-12-02; the next change is possible next month.`,
        at: '2021-12-16T10:00:00.000Z',
      },
    });
    const after = await getService(shop, id);
    expect(after.params).toEqual(before.params);
    expect(after.status).toBe('active');
    expect(upstream.byRemoteId(id)!.ip).toBe('2001:db8::10');
    // The claim on the address asked for is gone: another license can have it.
    expect((await holds()).map((h) => h.ip)).toEqual(['2001:db8::10']);
    // Not a staff matter: no task; the refusal is in the history.
    expect(await shop.ctx.db.kysely.selectFrom('staff_tasks').selectAll().execute()).toEqual([]);
    const history = ok(await call(shop, 'GET', `/api/v1/services/${id}/history`, shop.alpha.auth));
    expect(history.items.map((h: { event: string }) => h.event)).toContain('operation_set_param_refused');
    // The refused operation holds nothing back: a new key goes through, the error stays shown
    // (another kind) until an IP change succeeds.
    ok(await call(shop, 'POST', licenseUrl(id, '/key'), shop.alpha.auth), 202);
    await runQueuedOperations(shop.ctx);
    const keyed = await getLicense(id);
    expect(keyed.key).toBe(upstream.byRemoteId(id)!.key);
    expect(keyed.lastError).toMatchObject({ kind: 'ip', operationId });
    await orderLicense('2001:db8::20', shop.bravo);
  });

  it('an upstream that fails for a while: retried, the error shown with the pending change, then applied', async () => {
    upstream.failNext('changeIp', 'Upstream is down for maintenance.', { retryable: true });
    ok(await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '2001:db8::20' }), 202);
    await runQueuedOperations(shop.ctx);
    const waiting = await getLicense(id);
    expect(waiting.pending).toEqual([
      expect.objectContaining({
        status: 'retry_wait',
        value: '2001:db8::20',
        lastError: expect.objectContaining({ message: 'Upstream is down for maintenance.' }),
      }),
    ]);
    expect(waiting.lastError).toBeNull();
    shop.ctx.clock.set('2021-12-16T11:00:00Z');
    await runQueuedOperations(shop.ctx);
    expect(await getLicense(id)).toMatchObject({ ip: '2001:db8::20', pending: [], lastError: null });
  });

  it('a new key: 202 pending, then the upstream key with its day; a double click is one operation', async () => {
    const first = await getLicense(id);
    const queued = ok(await call(shop, 'POST', licenseUrl(id, '/key'), shop.alpha.auth), 202);
    expect(queued.key).toBe(first.key);
    expect(queued.pending).toEqual([expect.objectContaining({ kind: 'key', value: null, status: 'queued' })]);
    ok(await call(shop, 'POST', licenseUrl(id, '/key'), shop.alpha.auth), 202);
    expect(await countOf(shop.ctx, 'operations')).toBe(2); // open + one new key
    await runQueuedOperations(shop.ctx);
    expect(upstream.count('newKey')).toBe(1);
    const view = await getLicense(id);
    expect(view.key).not.toBe(first.key);
    expect(view).toMatchObject({
      key: upstream.byRemoteId(id)!.key,
      keyChangedOn: '2021-12-16',
      pending: [],
    });
  });

  it("is another account's business: 404 on every route, nothing queued", async () => {
    const before = await snapshot(shop.ctx);
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['POST', '/ip', { ip: '2001:db8::99' }],
      ['POST', '/key', undefined],
    ] as const)
      expectError(
        await call(shop, method, licenseUrl(id, suffix), shop.bravo.auth, body),
        404,
        'service_not_found',
      );
    expect(await snapshot(shop.ctx)).toBe(before);
  });
});

describe('renewal, auto-renew and deletion of an upstream license', () => {
  it('the renewal quote applies the tariff end cut; renewing charges it and prolongs upstream', async () => {
    // Ordered a month before on the tariff that ends 2021-12-31, now expiring today.
    shop.ctx.clock.set('2021-11-16T10:00:00Z');
    const id = await orderLicense('203.0.113.50', shop.alpha, shop.tariffs.legacy);
    await runQueuedOperations(shop.ctx);
    shop.ctx.clock.set('2021-12-16T10:00:00Z');
    expect((await getService(shop, id)).expiresOn).toBe('2021-12-16');
    const before = await balanceOf(shop, shop.alpha.accountId);
    const quote = ok(
      await call(shop, 'POST', `/api/v1/services/${id}/renewal-quote`, shop.alpha.auth, { period: 1 }),
    );
    expect(quote).toMatchObject({
      start: '2021-12-16',
      end: '2021-12-31',
      naturalEnd: '2022-01-16',
      grantedDays: 15,
      fullDays: 31,
      cut: true,
      total: '4.84',
    });
    expect(await balanceOf(shop, shop.alpha.accountId)).toBe(before);
    const renewed = ok(
      await call(shop, 'POST', `/api/v1/services/${id}/renew`, shop.alpha.auth, { period: 1 }),
    );
    expect(renewed.quote.total).toBe('4.84');
    expect(renewed.service.expiresOn).toBe('2021-12-31');
    expect(await balanceOf(shop, shop.alpha.accountId)).toBe((Number(before) - 4.84).toFixed(2));
    await runQueuedOperations(shop.ctx);
    expect(upstream.byRemoteId(id)!.expiresOn).toBe('2021-12-31');
    expect(upstream.count('prolong')).toBe(1);
    expect((await getLicense(id)).expiresOn).toBe('2021-12-31');
    // On its last day nothing more can be bought.
    shop.ctx.clock.set('2021-12-31T10:00:00Z');
    expectError(
      await call(shop, 'POST', `/api/v1/services/${id}/renewal-quote`, shop.alpha.auth, { period: 1 }),
      409,
      'tariff_expired',
    );
  });

  it('auto-renew turns on and off; delete closes it upstream, frees the address and hides the key', async () => {
    const id = await orderLicense('203.0.113.60');
    await runQueuedOperations(shop.ctx);
    expect(
      ok(await call(shop, 'PUT', `/api/v1/services/${id}/autoprolong`, shop.alpha.auth, { period: 1 }))
        .autoprolong,
    ).toBe(1);
    expect(
      ok(await call(shop, 'PUT', `/api/v1/services/${id}/autoprolong`, shop.alpha.auth, { period: null }))
        .autoprolong,
    ).toBeNull();
    ok(await call(shop, 'DELETE', `/api/v1/services/${id}`, shop.admin));
    // While the close is on its way the license cannot change.
    expectError(
      await call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: '203.0.113.61' }),
      409,
      'service_deleted',
    );
    await runQueuedOperations(shop.ctx);
    expect(upstream.byRemoteId(id)).toBeUndefined();
    expect(await getLicense(id)).toMatchObject({
      status: 'deleted',
      key: null,
      ipChangeAllowed: false,
      nextIpChangeOn: null,
    });
    expect(await holds()).toEqual([]);
    expectError(await call(shop, 'POST', licenseUrl(id, '/key'), shop.alpha.auth), 409, 'service_deleted');
    await orderLicense('203.0.113.60', shop.bravo);
  });
});

describe.runIf(TEST_ENGINE === 'postgres')('concurrent requests (PostgreSQL)', () => {
  it('two simultaneous IP changes of one license to two addresses: one operation, the other refused', async () => {
    const id = await orderLicense('203.0.113.70');
    await runQueuedOperations(shop.ctx);
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([
        call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: `198.51.100.${2 * round + 1}` }),
        call(shop, 'POST', licenseUrl(id, '/ip'), shop.alpha.auth, { ip: `198.51.100.${2 * round + 2}` }),
      ]);
      expect([a.statusCode, b.statusCode].sort()).toEqual([202, 409]);
      expect((a.statusCode === 409 ? a : b).json().error.code).toBe('ip_change_pending');
      const pending = (await operationsOf(id)).filter((o) => o.kind === 'set_param' && o.status === 'queued');
      expect(pending).toHaveLength(1);
      // Withdrawn by staff so the next round starts clean (and its claim goes with it).
      ok(await call(shop, 'POST', `/api/v1/operations/${pending[0]!.id}/cancel`, shop.admin));
      expect((await holds()).map((h) => h.ip)).toEqual(['203.0.113.70']);
    }
  });

  it('two licenses racing for one address: one wins, the other is ip_taken, one claim', async () => {
    const a = await orderLicense('203.0.113.80');
    const b = await orderLicense('203.0.113.81', shop.bravo);
    await runQueuedOperations(shop.ctx);
    for (let round = 0; round < 5; round++) {
      const ip = `192.0.2.${round + 1}`;
      const [ra, rb] = await Promise.all([
        call(shop, 'POST', licenseUrl(a, '/ip'), shop.alpha.auth, { ip }),
        call(shop, 'POST', `/api/v1/services/${b}/license/ip`, shop.bravo.auth, { ip }),
      ]);
      expect([ra.statusCode, rb.statusCode].sort()).toEqual([202, 409]);
      expect((ra.statusCode === 409 ? ra : rb).json().error.code).toBe('ip_taken');
      const claims = (await holds()).filter((h) => h.ip === ip);
      expect(claims).toHaveLength(1);
      ok(await call(shop, 'POST', `/api/v1/operations/${claims[0]!.operation_id}/cancel`, shop.admin));
    }
    // And an order racing an IP change for one address: one of them has it.
    const ip = '192.0.2.200';
    const [change, order] = await Promise.all([
      call(shop, 'POST', licenseUrl(a, '/ip'), shop.alpha.auth, { ip }),
      call(shop, 'POST', '/api/v1/orders', shop.bravo.auth, {
        items: [{ tariffId: shop.tariffs.license, period: 1, params: { ip, licname: 'race' } }],
        payNow: true,
      }),
    ]);
    expect([change.statusCode === 202, order.statusCode === 201].filter(Boolean)).toHaveLength(1);
    expect((await holds()).filter((h) => h.ip === ip)).toHaveLength(1);
  });
});
