import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectLedgerBalanced } from '../../../test/helpers/context.js';
import { expectError } from '../../../test/helpers/http.js';
import { freshIp } from '../../../test/helpers/ips.js';
import {
  balanceOf,
  call,
  drainOperations,
  getService,
  ok,
  openShop,
  orderPaid,
  payIn,
  type Shop,
} from '../../../test/helpers/shop.js';
import { runQueuedOperations } from '../../modules/services/executor.js';
import { enqueueOperation } from '../../modules/services/operations.js';
import { inTransaction } from '../../platform/db/index.js';
import { DEFAULT_ACCOUNT, type FakeBillmanager, startFakeBillmanager } from './fake-server.js';

/**
 * The `billmanager` module against the stateful fake selling BILLmanager: every operation,
 * every fault, and exactly one upstream license (and one renewal) when an answer is lost.
 * Billfold's provider currency is the upstream's (EUR), so costs and prices compare.
 */

let fake: FakeBillmanager;
let shop: Shop;
let moduleId: number;

const upstreamLicenses = () => [...fake.state.licenses.values()];
const acting = (func: string) => fake.state.callsOf(func).filter((c) => c.params.sok === 'ok');

const drain = (times = 1) => drainOperations(shop.ctx, times);

async function createModule(params: Record<string, unknown> = {}) {
  return ok(
    await call(shop, 'POST', '/api/v1/modules', shop.admin, {
      name: `ISPsystem ${Math.random().toString(36).slice(2, 7)}`,
      type: 'billmanager',
      productTypes: ['soft', 'softexternal', 'platform'],
      params: {
        url: fake.url,
        username: DEFAULT_ACCOUNT.username,
        password: DEFAULT_ACCOUNT.password,
        timeoutMs: 1000,
        pollIntervalMs: 10,
        ...params,
      },
    }),
    201,
  );
}

beforeEach(async () => {
  fake = await startFakeBillmanager({ today: '2021-12-16' });
  shop = await openShop();
  ok(await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { currency: 'EUR' }));
  moduleId = (await createModule()).id;
  ok(
    await call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.license}/modules`, shop.admin, {
      modules: [{ moduleId, settings: { pricelist: '55227' } }],
    }),
  );
  await payIn(shop, shop.alpha.accountId, '500.00');
});

afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
  await fake.close();
});

const order = async (ip = freshIp(), extra: Record<string, unknown> = {}) =>
  orderPaid(shop, shop.alpha, {
    tariffId: shop.tariffs.license,
    period: 1,
    params: { ip, licname: `lic-${ip}` },
    ...extra,
  });

describe('the billmanager module', () => {
  it('checks the connection, reads the balance, and imports what the upstream sells', async () => {
    const check = ok(await call(shop, 'POST', `/api/v1/modules/${moduleId}/check`, shop.admin));
    expect(check).toMatchObject({ ok: true });
    expect(check.message).toContain(DEFAULT_ACCOUNT.username);
    const balance = ok(await call(shop, 'GET', `/api/v1/modules/${moduleId}/balance`, shop.admin));
    expect(balance).toMatchObject({ amount: '100.00', currency: 'EUR' });

    const { billmanagerModuleType } = await import('./module.js');
    const { loadModuleInstance } = await import('../../modules/provisioning/instances.js');
    const row = await shop.ctx.db.kysely
      .selectFrom('processing_modules')
      .selectAll()
      .where('id', '=', moduleId)
      .executeTakeFirstOrThrow();
    const imported = await billmanagerModuleType.importTariffs!(
      (await loadModuleInstance(shop.ctx, row)) as never,
      shop.ctx,
    );
    const lite = imported.find((t) => t.externalId === '55227')!;
    expect(lite).toMatchObject({
      name: 'ISPmanager 6 Lite',
      productType: 'soft',
      currency: 'EUR',
      settings: { pricelist: '55227' },
    });
    expect(lite.prices).toEqual(
      expect.arrayContaining([
        { period: 1, amount: '7.5000' },
        { period: 12, amount: '75.0000' },
      ]),
    );
    expect(imported.find((t) => t.externalId === '55163')?.productType).toBe('platform');
  });

  it('wrong credentials and a URL that is not a BILLmanager fail the check with a clear message', async () => {
    const wrong = await createModule({ password: 'not-the-password' });
    const r1 = ok(await call(shop, 'POST', `/api/v1/modules/${wrong.id}/check`, shop.admin));
    expect(r1).toMatchObject({ ok: false });
    expect(r1.message).not.toContain('not-the-password');
    fake.faults.add({ kind: 'html', status: 404 });
    const r2 = ok(await call(shop, 'POST', `/api/v1/modules/${moduleId}/check`, shop.admin));
    expect(r2.ok).toBe(false);
    expect(r2.message.toLowerCase()).toContain('billmanager');
  });

  it('orders, shows the key, renews, suspends, resumes and deletes upstream; costs recorded', async () => {
    const ip = freshIp();
    const { serviceId } = await order(ip);
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    const [lic] = upstreamLicenses();
    expect(lic).toMatchObject({
      ip,
      remoteid: String(serviceId),
      licname: `lic-${ip}`,
      status: 2,
      autoprolong: 'null',
    });
    expect(s.externalId).toBe(lic!.id);
    expect(s.params.key).toBe(lic!.lickey);
    expect(fake.state.balanceOf(DEFAULT_ACCOUNT.username)).toBe('92.50');

    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/renew`, shop.alpha.auth, { period: 12 }));
    await runQueuedOperations(shop.ctx);
    expect(lic!.expiredate).toBe('2023-01-16');
    expect(acting('service.prolong').map((c) => c.params.period)).toEqual(['12']);
    expect(fake.state.balanceOf(DEFAULT_ACCOUNT.username)).toBe('17.50');

    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await runQueuedOperations(shop.ctx);
    expect(lic!.status).toBe(3);
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/resume`, shop.admin));
    await runQueuedOperations(shop.ctx);
    expect(lic!.status).toBe(2);
    ok(await call(shop, 'DELETE', `/api/v1/services/${serviceId}`, shop.admin));
    await runQueuedOperations(shop.ctx);
    expect(lic!.status).toBe(4);
    expect((await getService(shop, serviceId)).status).toBe('deleted');

    const costs = await shop.ctx.db.kysely.selectFrom('upstream_costs').selectAll().orderBy('id').execute();
    expect(costs.map((c) => [c.kind, Number(c.period), String(c.amount_e4), c.currency])).toEqual([
      ['order', 1, '75000', 'EUR'],
      ['renewal', 12, '750000', 'EUR'],
    ]);
    // Nothing was ordered twice, and upstream auto-renewal was never asked for.
    expect(acting('soft.order.param')).toHaveLength(1);
    expect(fake.state.calls.some((c) => c.params.autoprolong && c.params.autoprolong !== 'null')).toBe(false);
  });

  it('exactly one upstream license when the answer to the order is lost after the license was made', async () => {
    fake.faults.add({ kind: 'act-then-hang', func: 'soft.order.param', times: 1 });
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    await drain(2);
    expect(upstreamLicenses()).toHaveLength(1);
    expect(acting('soft.order.param')).toHaveLength(1);
    const s = await getService(shop, serviceId);
    expect(s).toMatchObject({ status: 'active', externalId: upstreamLicenses()[0]!.id });
    expect(fake.state.balanceOf(DEFAULT_ACCOUNT.username)).toBe('92.50');
  });

  it('exactly one upstream license when the worker dies between the intent and the answer', async () => {
    // The first attempt's order is made upstream but its answer arrives after the timeout;
    // the retry finds the intent saved, looks upstream first, and takes the license it finds.
    fake.faults.add({ kind: 'act-then-delay', ms: 1500, func: 'soft.order.param', times: 1 });
    await order();
    await runQueuedOperations(shop.ctx);
    await new Promise((r) => setTimeout(r, 600));
    await drain(2);
    expect(upstreamLicenses()).toHaveLength(1);
    expect(acting('soft.order.param')).toHaveLength(1);
  });

  it('exactly one renewal when the answer to service.prolong is lost', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    fake.faults.add({ kind: 'act-then-hang', func: 'service.prolong', times: 1 });
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/renew`, shop.alpha.auth, { period: 1 }));
    await runQueuedOperations(shop.ctx);
    await drain(2);
    const [lic] = upstreamLicenses();
    expect(lic!.expiredate).toBe('2022-02-16');
    expect(acting('service.prolong')).toHaveLength(1);
    expect(fake.state.balanceOf(DEFAULT_ACCOUNT.username)).toBe('85.00');
    const prolong = (await getService(shop, serviceId)).operations.find(
      (o: { kind: string }) => o.kind === 'prolong',
    );
    expect(prolong.status).toBe('done');
  });

  it('retries through 5xx, resets and latency; a key that appears only after a few polls is waited for', async () => {
    fake.faults.add({ kind: 'http', status: 502, func: 'soft.order.param', times: 1 });
    fake.faults.add({ kind: 'reset', func: 'soft', times: 1 });
    fake.faults.add({ kind: 'key-after-polls', polls: 3, times: 1 });
    fake.faults.add({ kind: 'latency', ms: 50 });
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    await drain(3);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    expect(upstreamLicenses()).toHaveLength(1);
    expect(s.params.key).toBe(upstreamLicenses()[0]!.lickey);
  });

  it('not enough money upstream: the open fails for staff; cancelling it refunds the client in full', async () => {
    fake.state.setBalance(DEFAULT_ACCOUNT.username, '1.00');
    const before = await balanceOf(shop, shop.alpha.accountId);
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('processing');
    expect(s.operations[0]).toMatchObject({ kind: 'open', status: 'failed' });
    expect(s.operations[0].lastError).toMatchObject({ code: 'upstream_not_enough_money' });
    expect(upstreamLicenses()).toHaveLength(0);
    ok(await call(shop, 'POST', `/api/v1/operations/${s.operations[0].id}/cancel`, shop.admin));
    expect(await balanceOf(shop, shop.alpha.accountId)).toBe(before);
    expect((await getService(shop, serviceId)).status).toBe('deleted');
    // The address is free again.
    await order(s.params.ip);
  });

  it('an IP change refused upstream shows its message and changes nothing locally', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const first = freshIp();
    const second = freshIp();
    const change = (ip: string) =>
      inTransaction(shop.ctx.db, (tx) =>
        enqueueOperation(
          tx,
          shop.ctx,
          serviceId,
          'set_param',
          { param: 'ip', value: ip },
          `ip:${serviceId}:${ip}`,
        ),
      );
    await change(first);
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, serviceId)).params.ip).toBe(first);
    expect(upstreamLicenses()[0]!.ip).toBe(first);

    await change(second);
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.params.ip).toBe(first);
    const failed = s.operations.find((o: { status: string }) => o.status === 'failed');
    expect(failed.lastError.code).toBe('upstream_value');
    expect(failed.lastError.message.toLowerCase()).toContain('month');
    const hold = await shop.ctx.db.kysely
      .selectFrom('license_ips')
      .select('ip')
      .where('service_id', '=', serviceId)
      .executeTakeFirstOrThrow();
    expect(hold.ip).toBe(first);
  });

  it('a new key is made once upstream and shown', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const oldKey = (await getService(shop, serviceId)).params.key;
    await inTransaction(shop.ctx.db, (tx) =>
      enqueueOperation(tx, shop.ctx, serviceId, 'set_param', { param: 'key' }, `key:${serviceId}`),
    );
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.params.key).not.toBe(oldKey);
    expect(s.params.key).toBe(upstreamLicenses()[0]!.lickey);
    expect(acting('soft.edit').filter((c) => c.params.clicked_button === 'newkey')).toHaveLength(1);
  });

  it('an upstream tariff that disappeared fails the open with a clear error, nothing ordered', async () => {
    fake.state.tariffs.delete('55227');
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.operations[0]).toMatchObject({ status: 'failed' });
    expect(s.operations[0].lastError).toMatchObject({ code: 'upstream_tariff_gone' });
    expect(upstreamLicenses()).toHaveLength(0);
  });

  it('a tariff linked without its upstream tariff cannot be linked (settings are required)', async () => {
    await expectError(
      await call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.licensePro}/modules`, shop.admin, {
        modules: [{ moduleId }],
      }),
      400,
      'tariff_settings_invalid',
    );
  });

  it('the balance guard stops an order that would take the upstream balance below the minimum', async () => {
    ok(await call(shop, 'PATCH', `/api/v1/modules/${moduleId}`, shop.admin, { minBalance: '95.00' }));
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.operations[0].lastError).toMatchObject({ code: 'upstream_balance_low' });
    expect(acting('soft.order.param')).toHaveLength(0);
  });

  it('syncs an item back and lists every upstream license', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const { billmanagerModuleType } = await import('./module.js');
    const { loadModuleInstance } = await import('../../modules/provisioning/instances.js');
    const { serviceSnapshot } = await import('../../modules/provisioning/dispatch.js');
    const row = await shop.ctx.db.kysely
      .selectFrom('processing_modules')
      .selectAll()
      .where('id', '=', moduleId)
      .executeTakeFirstOrThrow();
    const module = (await loadModuleInstance(shop.ctx, row)) as never;
    const item = await billmanagerModuleType.syncItem!({
      ctx: shop.ctx,
      module,
      service: await serviceSnapshot(shop.ctx.db.kysely, serviceId),
      tariffSettings: { pricelist: '55227' },
    });
    const lic = upstreamLicenses()[0]!;
    expect(item).toMatchObject({
      externalId: lic.id,
      remoteId: String(serviceId),
      status: 'active',
      expiresOn: lic.expiredate,
      params: { key: lic.lickey, ip: lic.ip },
    });
    const all = await billmanagerModuleType.listItems!(module, shop.ctx);
    expect(all.map((i) => i.externalId)).toEqual([lic.id]);
  });

  it('speaks json as well as xml', async () => {
    const jsonModule = await createModule({ out: 'json' });
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.licensePro}/modules`, shop.admin, {
        modules: [{ moduleId: jsonModule.id, settings: { pricelist: '55228' } }],
      }),
    );
    const { serviceId } = await orderPaid(shop, shop.alpha, {
      tariffId: shop.tariffs.licensePro,
      period: 1,
      params: { ip: freshIp(), licname: 'json-pro' },
    });
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    expect(s.params.key).toBe(upstreamLicenses()[0]!.lickey);
    expect(
      fake.state.calls.filter((c) => c.func === 'soft.order.param').every((c) => c.params.out === 'json'),
    ).toBe(true);
  });

  it("a platform license is ordered with its comment and addons (fixed, and the client's choice mapped)", async () => {
    const tariff = ok(
      await call(shop, 'POST', '/api/v1/tariffs', shop.admin, {
        name: 'VMmanager 6',
        productType: 'platform',
        periods: [1],
        prices: { '1': '25.00' },
      }),
      201,
    );
    const withNodes = ok(
      await call(shop, 'POST', `/api/v1/tariffs/${tariff.id}/addons`, shop.admin, {
        valueType: 'integer',
        kind: 'generic',
        label: 'Nodes',
        unit: 'node',
        included: 1,
        min: 1,
        max: 10,
        step: 1,
        defaultValue: 1,
        prices: { '1': '5.00' },
      }),
      201,
    );
    const nodes = withNodes.addons.find((a: { label: string }) => a.label === 'Nodes').id;
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${tariff.id}/modules`, shop.admin, {
        modules: [
          {
            moduleId,
            settings: { pricelist: '55163', addons: { '55164': 50 }, addonMap: { [String(nodes)]: '55165' } },
          },
        ],
      }),
    );
    const { serviceId } = await orderPaid(shop, shop.alpha, {
      tariffId: tariff.id,
      period: 1,
      params: {},
      addonValues: { [nodes]: 3 },
    });
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    const [lic] = upstreamLicenses();
    expect(lic).toMatchObject({ family: 'platform', comment: s.name, addons: { '55164': 50, '55165': 3 } });
  });

  it('concurrent renewals and two workers: the upstream is renewed exactly once per paid renewal, in step with us', async () => {
    fake.state.setBalance(DEFAULT_ACCOUNT.username, '1000.00');
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    fake.faults.add({ kind: 'latency', ms: 20 });
    const renewals = await Promise.all(
      [1, 1, 12, 1, 1].map((period, i) =>
        call(shop, 'POST', `/api/v1/services/${serviceId}/renew`, shop.alpha.auth, {
          period,
          idempotencyKey: `concurrent-${i}`,
        }),
      ),
    );
    const paid = renewals.filter((r) => r.statusCode === 200).length;
    expect(paid).toBeGreaterThan(0);
    await Promise.all([runQueuedOperations(shop.ctx), runQueuedOperations(shop.ctx)]);
    await drain(2);
    const s = await getService(shop, serviceId);
    expect(acting('service.prolong')).toHaveLength(paid);
    expect(upstreamLicenses()[0]!.expiredate).toBe(s.expiresOn);
    const costs = await shop.ctx.db.kysely
      .selectFrom('upstream_costs')
      .select('kind')
      .where('service_id', '=', serviceId)
      .where('kind', '=', 'renewal')
      .execute();
    expect(costs).toHaveLength(paid);
  });

  it('a re-import keeps what staff added to a link (fixed addons, an addon map)', async () => {
    const first = ok(await call(shop, 'POST', `/api/v1/modules/${moduleId}/import-tariffs`, shop.admin));
    const vm = first.created.find((t: { externalId: string }) => t.externalId === '55163');
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${vm.tariffId}/modules`, shop.admin, {
        modules: [{ moduleId, settings: { pricelist: '55163', addons: { '55164': 50 } } }],
      }),
    );
    fake.state.tariffs.get('55163')!.minor.set(1, 2100n);
    const again = ok(await call(shop, 'POST', `/api/v1/modules/${moduleId}/import-tariffs`, shop.admin));
    expect(again.updated.find((t: { tariffId: number }) => t.tariffId === vm.tariffId)).toMatchObject({
      costChanged: true,
      settingsChanged: false,
    });
    const links = ok(await call(shop, 'GET', `/api/v1/tariffs/${vm.tariffId}/modules`, shop.admin));
    expect(links.items[0].settings).toEqual({ pricelist: '55163', addons: { '55164': 50 } });
  });

  it('a renewal while suspended but still paid extends upstream from the paid end too, and the license stays suspended', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await runQueuedOperations(shop.ctx);
    const [lic] = upstreamLicenses();
    expect(lic!.status).toBe(3);
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/renew`, shop.admin, { period: 1 }));
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s).toMatchObject({ status: 'suspended', expiresOn: '2022-02-16' });
    expect(lic!.expiredate).toBe('2022-02-16');
    expect(lic!.status).toBe(3);
    expect(acting('service.prolong')).toHaveLength(1);
  });

  it('an open that may have reached the upstream cannot be cancelled with a refund; retried, it takes the license it ordered', async () => {
    fake.faults.add({ kind: 'key-after-polls', polls: 1000, times: 1 });
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.operations[0]).toMatchObject({ kind: 'open', status: 'retry_wait' });
    expect(s.operations[0].lastError).toMatchObject({ code: 'upstream_key_timeout' });
    await expectError(
      await call(shop, 'POST', `/api/v1/operations/${s.operations[0].id}/cancel`, shop.admin),
      409,
      'open_may_have_reached_upstream',
    );
    expect((await getService(shop, serviceId)).status).toBe('processing');
    // Retried, it takes the license it ordered: one upstream license, the service active.
    fake.faults.clear();
    for (const l of upstreamLicenses()) l.keyPollsLeft = 1;
    await drain(1);
    expect(await getService(shop, serviceId)).toMatchObject({ status: 'active' });
    expect(upstreamLicenses()).toHaveLength(1);
  });

  it('a rename of a resold license reaches the upstream through an operation', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const { updateLicenseLabels } = await import('../../modules/licenses/commands.js');
    const { staffActor } = await import('../../../test/helpers/shop.js');
    await updateLicenseLabels(shop.ctx, staffActor, serviceId, { licname: 'renamed-web' });
    await runQueuedOperations(shop.ctx);
    expect(upstreamLicenses()[0]!.licname).toBe('renamed-web');
    expect(await getService(shop, serviceId)).toMatchObject({
      name: 'renamed-web',
      params: { licname: 'renamed-web' },
    });
  });
});
