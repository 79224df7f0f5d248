import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_ACCOUNT,
  type FakeBillmanager,
  startFakeBillmanager,
} from '../../src/integrations/billmanager/fake-server.js';
import {
  DEFAULT_ADMIN,
  type FakeVmmanager,
  startFakeVmmanager,
} from '../../src/integrations/vmmanager6/fake-server.js';
import { runServiceOperations } from '../../src/modules/services/executor.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import {
  call,
  drainOperations,
  getService,
  ok,
  openShop,
  operationOf,
  orderPaid,
  panelEnumerationId,
  payIn,
  runBillingHttp,
  type Shop,
} from '../helpers/shop.js';

/**
 * Issue 13: a VPS ordered with a Control-panel value gets its ISPmanager license from the
 * VMmanager module's license server (a `billmanager` module) — the fake VMmanager 6 and the
 * fake selling BILLmanager over 127.0.0.1, the real clients and modules unchanged. The license
 * follows the server (suspend, resume, renewal, deletion back to the free-license pool), each
 * reaching the upstream exactly once, and the pool is reused only when its month rules allow.
 */

let vm: FakeVmmanager;
let bm: FakeBillmanager;
let shop: Shop;
let vmModule: number;
let licenseModule: number;

const drain = (times = 3) => drainOperations(shop.ctx, times);

const calls = (func: string) => bm.state.callsOf(func).length;
const licenses = () => [...bm.state.licenses.values()];
const pool = async () =>
  (await shop.ctx.db.kysely.selectFrom('bundled_licenses').selectAll().orderBy('id').execute()).map((r) => ({
    ...r,
    service_id: r.service_id === null ? null : Number(r.service_id),
  }));

beforeEach(async () => {
  vm = await startFakeVmmanager();
  bm = await startFakeBillmanager();
  shop = await openShop();
  licenseModule = ok(
    await call(shop, 'POST', '/api/v1/modules', shop.admin, {
      name: 'ISPsystem licenses',
      type: 'billmanager',
      productTypes: ['soft', 'softexternal', 'platform'],
      params: {
        url: bm.url,
        username: DEFAULT_ACCOUNT.username,
        password: DEFAULT_ACCOUNT.password,
        timeoutMs: 1000,
        pollIntervalMs: 10,
      },
    }),
    201,
  ).id;
  // The license server's tariffs, imported: the panels' internal names are among them.
  ok(await call(shop, 'POST', `/api/v1/modules/${licenseModule}/import-tariffs`, shop.admin, {}));
  vmModule = ok(
    await call(shop, 'POST', '/api/v1/modules', shop.admin, {
      name: 'VMmanager',
      type: 'vmmanager6',
      productTypes: ['vds'],
      licenseServerId: licenseModule,
      params: {
        url: vm.url,
        email: DEFAULT_ADMIN.email,
        password: DEFAULT_ADMIN.password,
        timeoutMs: 1000,
        taskPollMs: 10,
      },
    }),
    201,
  ).id;
  ok(
    await call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.vds}/modules`, shop.admin, {
      modules: [
        {
          moduleId: vmModule,
          settings: { clusterId: 1, osIds: [1, 2], cpu: 1, ramMib: 1024, hddMib: 10240 },
        },
      ],
    }),
  );
  await payIn(shop, shop.alpha.accountId, '500.00');
});

afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
  await vm.close();
  await bm.close();
});

const orderVps = (panel: number, hostname = 'web1.example.com') =>
  orderPaid(shop, shop.alpha, {
    tariffId: shop.tariffs.vds,
    period: 1,
    params: { hostname, os_template: 'AlmaLinux 9' },
    addonValues: { [shop.addons.panel]: panel },
  });

describe('a VPS with a bundled control-panel license', () => {
  it('opens the VM, then the license for its IP (pricelist 55228); both active, the key shown, the cost recorded', async () => {
    const { serviceId } = await orderVps(shop.panels.pro6);
    await drain();
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    const host = [...vm.state.hosts.values()][0]!;
    expect(licenses()).toHaveLength(1);
    const lic = licenses()[0]!;
    expect(lic).toMatchObject({
      pricelist: '55228',
      ip: host.ip4[0],
      licname: `Item #${serviceId} addon ${s.name}`,
      remoteid: `server-${serviceId}`,
      status: 2,
      period: 1,
    });
    expect(s.params).toMatchObject({
      ip: host.ip4[0],
      licenseId: lic.id,
      licenseKey: lic.lickey,
      licenseExpiresOn: lic.expiredate,
      licensePricelist: '55228',
    });
    expect(lic.lickey).not.toBe('');
    expect(calls('soft.order.param')).toBe(1);
    const costs = await shop.ctx.db.kysely
      .selectFrom('upstream_costs')
      .selectAll()
      .where('service_id', '=', serviceId)
      .execute();
    expect(costs).toHaveLength(1);
    expect(costs[0]).toMatchObject({ kind: 'order', currency: 'EUR' });
    expect(Number(costs[0]!.amount_e4)).toBe(150_000);
    expect(await pool()).toMatchObject([{ state: 'bound', service_id: serviceId, pricelist: '55228' }]);
    // The license server's reconciliation knows the bundled license: no orphan.
    const rec = ok(await call(shop, 'POST', `/api/v1/modules/${licenseModule}/reconcile`, shop.admin, {}));
    expect(rec).toMatchObject({ items: 0, opened: 0 });
  });

  it('without a panel (or "none"), no license is ordered', async () => {
    const { serviceId } = await orderPaid(shop, shop.alpha, {
      tariffId: shop.tariffs.vds,
      period: 1,
      params: { hostname: 'plain.example.com', os_template: 'AlmaLinux 9' },
    });
    await drain();
    expect((await getService(shop, serviceId)).status).toBe('active');
    expect(licenses()).toHaveLength(0);
  });

  it('suspend, resume, renewal and deletion each reach the license once; the deleted server’s license waits in the pool', async () => {
    const { serviceId } = await orderVps(shop.panels.pro6);
    await drain();
    const lic = licenses()[0]!;

    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await drain();
    expect(lic.status).toBe(3);
    expect(calls('soft.suspend')).toBe(1);

    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/resume`, shop.admin, {}));
    await drain();
    expect(lic.status).toBe(2);
    expect(calls('soft.resume')).toBe(1);

    // Staff moved the VM to another address in the panel: the service and its license follow.
    expect(
      (
        await call(shop, 'POST', `/api/v1/services/${serviceId}/server-ip`, shop.alpha.auth, {
          ip: '198.51.100.77',
        })
      ).statusCode,
    ).toBe(403);
    const edits = calls('soft.edit');
    const move = await call(shop, 'POST', `/api/v1/services/${serviceId}/server-ip`, shop.admin, {
      ip: '198.51.100.77',
    });
    expect(move.statusCode).toBe(202);
    await drain();
    expect(lic.ip).toBe('198.51.100.77');
    expect((await getService(shop, serviceId)).params.ip).toBe('198.51.100.77');
    expect(
      bm.state.calls.filter((c) => c.func === 'soft.edit' && c.params.ip === '198.51.100.77'),
    ).toHaveLength(1);
    expect(calls('soft.edit')).toBeGreaterThan(edits);
    const same = await call(shop, 'POST', `/api/v1/services/${serviceId}/server-ip`, shop.admin, {
      ip: '198.51.100.77',
    });
    expect(same.json().error.code).toBe('same_ip');

    const before = lic.expiredate;
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/renew`, shop.alpha.auth, { period: 1 }));
    await drain();
    const renewed = await getService(shop, serviceId);
    expect(calls('service.prolong')).toBe(1);
    expect(lic.expiredate > before).toBe(true);
    expect(lic.expiredate >= renewed.expiresOn).toBe(true);
    expect(renewed.params.licenseExpiresOn).toBe(lic.expiredate);
    const renewalCosts = await shop.ctx.db.kysely
      .selectFrom('upstream_costs')
      .selectAll()
      .where('service_id', '=', serviceId)
      .where('kind', '=', 'renewal')
      .execute();
    expect(renewalCosts).toHaveLength(1);

    ok(await call(shop, 'DELETE', `/api/v1/services/${serviceId}`, shop.alpha.auth));
    await drain();
    expect(vm.state.hosts.size).toBe(0);
    expect(lic).toMatchObject({ status: 3, licname: 'free.lic', ip: '0.0.0.0' });
    expect(await pool()).toMatchObject([{ state: 'free', service_id: null, external_id: lic.id }]);
    const deleted = await getService(shop, serviceId);
    expect(deleted.params.licenseKey ?? '').toBe('');
  });

  it('a new server takes the pooled license when its month rules allow, and orders anew when they do not', async () => {
    const first = await orderVps(shop.panels.pro6, 'one.example.com');
    await drain();
    const lic = licenses()[0]!;
    const firstKey = lic.lickey;
    ok(await call(shop, 'DELETE', `/api/v1/services/${first.serviceId}`, shop.alpha.auth));
    await drain();

    // Never re-keyed nor moved: the pool gives it to the next server of its tariff.
    const second = await orderVps(shop.panels.pro6, 'two.example.com');
    await drain();
    const s2 = await getService(shop, second.serviceId);
    expect(s2.status).toBe('active');
    expect(licenses()).toHaveLength(1);
    expect(calls('soft.order.param')).toBe(1);
    expect(lic).toMatchObject({
      status: 2,
      licname: `Item #${second.serviceId} addon ${s2.name}`,
      ip: s2.params.ip,
    });
    expect(lic.lickey).not.toBe(firstKey);
    expect(s2.params).toMatchObject({ licenseId: lic.id, licenseKey: lic.lickey });
    expect(await pool()).toMatchObject([{ state: 'bound', service_id: second.serviceId }]);

    // Re-keyed this month: back in the pool but not usable until a month has passed.
    ok(await call(shop, 'DELETE', `/api/v1/services/${second.serviceId}`, shop.alpha.auth));
    await drain();
    const third = await orderVps(shop.panels.pro6, 'three.example.com');
    await drain();
    expect((await getService(shop, third.serviceId)).status).toBe('active');
    expect(licenses()).toHaveLength(2);
    expect(calls('soft.order.param')).toBe(2);
    expect((await pool()).map((r) => r.state)).toEqual(['free', 'bound']);

    // Another tariff's server does not take a pooled Pro license.
    const fourth = await orderVps(shop.panels.lite6, 'four.example.com');
    await drain();
    expect((await getService(shop, fourth.serviceId)).status).toBe('active');
    expect(
      licenses()
        .map((l) => l.pricelist)
        .sort(),
    ).toEqual(['55227', '55228', '55228']);
  });

  it('the license order times out after the upstream made it: one license, found by its remoteid', async () => {
    bm.faults.add({ kind: 'act-then-delay', ms: 1500, func: 'soft.order.param', times: 1 });
    const { serviceId } = await orderVps(shop.panels.pro6);
    await drain(4);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    expect(licenses()).toHaveLength(1);
    expect(s.params.licenseId).toBe(licenses()[0]!.id);
  });

  it('the upstream has not enough money: a failed operation for staff, the server not active; a retry after the top-up works', async () => {
    bm.state.setBalance(DEFAULT_ACCOUNT.username, '1.00');
    const { serviceId } = await orderVps(shop.panels.pro6);
    await drain();
    let s = await getService(shop, serviceId);
    expect(s.status).not.toBe('active');
    expect(licenses()).toHaveLength(0);
    const op = await operationOf(shop, serviceId);
    expect(op.status).toBe('failed');
    expect(op.last_error).toContain('upstream_not_enough_money');
    const tasks = await shop.ctx.db.kysely
      .selectFrom('staff_tasks')
      .selectAll()
      .where('operation_id', '=', op.id)
      .where('status', '=', 'open')
      .execute();
    expect(tasks).toHaveLength(1);
    expect(tasks[0]!.kind).toBe('operation_failed');
    // The VM was made once; the retry does not make another.
    expect(vm.state.hosts.size).toBe(1);
    bm.state.setBalance(DEFAULT_ACCOUNT.username, '100.00');
    ok(await call(shop, 'POST', `/api/v1/operations/${op.id}/retry`, shop.admin, {}));
    await drain();
    s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    expect(vm.state.hosts.size).toBe(1);
    expect(licenses()).toHaveLength(1);
  });

  it("the license server's minimum balance holds for bundled licenses: nothing is ordered below it", async () => {
    ok(await call(shop, 'PATCH', `/api/v1/modules/${licenseModule}`, shop.admin, { minBalance: '90.00' }));
    const { serviceId } = await orderVps(shop.panels.pro6);
    await drain();
    expect((await getService(shop, serviceId)).status).not.toBe('active');
    expect(calls('soft.order.param')).toBe(0);
    const op = await operationOf(shop, serviceId);
    expect(op.status).toBe('failed');
    expect(op.last_error).toContain('upstream_balance_low');
    // Staff lower the minimum (or top up) and retry: the license is ordered once.
    ok(await call(shop, 'PATCH', `/api/v1/modules/${licenseModule}`, shop.admin, { minBalance: '10.00' }));
    ok(await call(shop, 'POST', `/api/v1/operations/${op.id}/retry`, shop.admin, {}));
    await drain();
    expect((await getService(shop, serviceId)).status).toBe('active');
    expect(calls('soft.order.param')).toBe(1);
  });

  it('the VM task fails: nothing is ordered upstream, the service is not active', async () => {
    vm.faults.failTask('host_create');
    const { serviceId } = await orderVps(shop.panels.pro6);
    await drain();
    expect((await getService(shop, serviceId)).status).not.toBe('active');
    expect(licenses()).toHaveLength(0);
    expect(calls('soft.order.param')).toBe(0);
  });

  it('two servers opening at once never take the same pooled license', async () => {
    const first = await orderVps(shop.panels.pro6, 'one.example.com');
    await drain();
    ok(await call(shop, 'DELETE', `/api/v1/services/${first.serviceId}`, shop.alpha.auth));
    await drain();
    const pooled = licenses()[0]!;
    const a = await orderVps(shop.panels.pro6, 'a.example.com');
    const b = await orderVps(shop.panels.pro6, 'b.example.com');
    // Two workers at once, each on its own server's open.
    await Promise.all([
      runServiceOperations(shop.ctx, a.serviceId),
      runServiceOperations(shop.ctx, b.serviceId),
    ]);
    await drain();
    const [sa, sb] = [await getService(shop, a.serviceId), await getService(shop, b.serviceId)];
    expect([sa.status, sb.status]).toEqual(['active', 'active']);
    expect(sa.params.licenseId).not.toBe(sb.params.licenseId);
    expect([sa.params.licenseId, sb.params.licenseId]).toContain(pooled.id);
    expect(licenses()).toHaveLength(2);
    expect(calls('soft.order.param')).toBe(2);
    const rows = await pool();
    expect(rows.map((r) => r.state)).toEqual(['bound', 'bound']);
    expect(new Set(rows.map((r) => r.service_id))).toEqual(new Set([a.serviceId, b.serviceId]));
  });

  it('staff see the pool, cannot release a live server’s license, delete a free one upstream; the daily run lets expired pool licenses lapse', async () => {
    const live = await orderVps(shop.panels.pro6, 'live.example.com');
    const gone = await orderVps(shop.panels.lite6, 'gone.example.com');
    await drain();
    ok(await call(shop, 'DELETE', `/api/v1/services/${gone.serviceId}`, shop.alpha.auth));
    await drain();
    const list = ok(await call(shop, 'GET', '/api/v1/bundled-licenses', shop.admin));
    expect(list.items.map((i: { state: string }) => i.state).sort()).toEqual(['bound', 'free']);
    const free = ok(await call(shop, 'GET', '/api/v1/bundled-licenses?state=free', shop.admin)).items;
    expect(free).toHaveLength(1);
    expect(free[0]).toMatchObject({
      pricelist: '55227',
      serviceId: null,
      ip: '0.0.0.0',
      name: 'free.lic',
      expired: false,
    });
    const bound = list.items.find((i: { state: string }) => i.state === 'bound');
    expect(bound.serviceId).toBe(live.serviceId);
    // Clients see none of it.
    expect((await call(shop, 'GET', '/api/v1/bundled-licenses', shop.alpha.auth)).statusCode).toBe(403);

    const refused = await call(shop, 'POST', `/api/v1/bundled-licenses/${bound.id}/release`, shop.admin, {});
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('license_in_use');

    // The upstream fails once: the license stays free in the pool; then it is deleted.
    bm.faults.add({ kind: 'http', status: 502, func: 'soft.delete', times: 1 });
    const failed = await call(shop, 'DELETE', `/api/v1/bundled-licenses/${free[0].id}`, shop.admin);
    expect(failed.statusCode).toBeGreaterThanOrEqual(409);
    expect((await pool()).find((r) => Number(r.id) === free[0].id)!.state).toBe('free');
    const deleted = ok(await call(shop, 'DELETE', `/api/v1/bundled-licenses/${free[0].id}`, shop.admin));
    expect(deleted.state).toBe('gone');
    expect(bm.state.licenses.get(free[0].externalId)!.status).toBe(4);
    const again = await call(shop, 'DELETE', `/api/v1/bundled-licenses/${free[0].id}`, shop.admin);
    expect(again.json().error.code).toBe('license_not_free');
  });

  it('the daily run lets an expired pool license lapse; it is never renewed', async () => {
    const { serviceId } = await orderVps(shop.panels.pro6);
    await drain();
    ok(await call(shop, 'DELETE', `/api/v1/services/${serviceId}`, shop.alpha.auth));
    await drain();
    const [row] = await pool();
    expect(row!.state).toBe('free');
    const after = '2022-01-20';
    shop.ctx.clock.set(`${after}T10:00:00Z`);
    bm.clock.set(after);
    const run = await runBillingHttp(shop, { date: after });
    expect(run.upkeep.counts.lapsed).toBe(1);
    expect((await pool())[0]!.state).toBe('gone');
    expect(calls('service.prolong')).toBe(0);
  });

  it('a quarterly server keeps a monthly license: the daily run renews it before each expiry, once', async () => {
    const tariff = ok(
      await call(shop, 'POST', '/api/v1/tariffs', shop.admin, {
        name: 'VDS Quarterly',
        productType: 'vds',
        periods: [1, 3],
        prices: { '1': '20.00', '3': '57.00' },
      }),
      201,
    );
    const enumerationId = await panelEnumerationId(shop);
    const withPanel = ok(
      await call(shop, 'POST', `/api/v1/tariffs/${tariff.id}/addons`, shop.admin, {
        valueType: 'enumeration',
        kind: 'control_panel',
        label: 'Control panel',
        enumerationId,
        values: [{ valueId: shop.panels.pro6, prices: { '1': '8.00', '3': '24.00' } }],
      }),
      201,
    );
    const panel = withPanel.addons.find((a: { kind: string }) => a.kind === 'control_panel').id;
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${tariff.id}/modules`, shop.admin, {
        modules: [
          {
            moduleId: vmModule,
            settings: { clusterId: 1, osIds: [1, 2], cpu: 1, ramMib: 1024, hddMib: 10240 },
          },
        ],
      }),
    );
    const { serviceId } = await orderPaid(shop, shop.alpha, {
      tariffId: tariff.id,
      period: 3,
      params: { hostname: 'q.example.com', os_template: 'AlmaLinux 9' },
      addonValues: { [panel]: shop.panels.pro6 },
    });
    await drain();
    const s = await getService(shop, serviceId);
    expect(s.expiresOn).toBe('2022-03-16');
    const lic = licenses()[0]!;
    expect(lic).toMatchObject({ period: 1, expiredate: '2022-01-16' });

    // Not yet within the lead days: nothing queued.
    const day = async (date: string) => {
      shop.ctx.clock.set(`${date}T10:00:00Z`);
      bm.clock.set(date);
      const run = await runBillingHttp(shop, { date });
      await drain();
      return run;
    };
    expect((await day('2022-01-10')).upkeep.counts.renewalsQueued).toBe(0);
    expect(calls('service.prolong')).toBe(0);
    expect((await day('2022-01-14')).upkeep.counts.renewalsQueued).toBe(1);
    expect(calls('service.prolong')).toBe(1);
    expect(lic.expiredate).toBe('2022-02-16');
    expect((await getService(shop, serviceId)).params.licenseExpiresOn).toBe('2022-02-16');
    // The day again: nothing new.
    await day('2022-01-14');
    expect(calls('service.prolong')).toBe(1);
    const renewals = await shop.ctx.db.kysely
      .selectFrom('upstream_costs')
      .selectAll()
      .where('service_id', '=', serviceId)
      .where('kind', '=', 'renewal')
      .execute();
    expect(renewals).toHaveLength(1);
    expect(Number(renewals[0]!.amount_e4)).toBe(150_000);
  });
});

describe('the bundled license across retries and crashes', () => {
  it('an order that may have gone out is not followed by a pool license on the retry (no paid orphan)', async () => {
    const a = await orderVps(shop.panels.pro6, 'a.example.com');
    await drain();
    // B's order reaches the upstream, the answer is lost, and the lookup by remoteid fails too.
    bm.faults.add({ kind: 'act-then-delay', ms: 1500, func: 'soft.order.param', times: 1 });
    bm.faults.add({ kind: 'http', status: 502, func: 'soft', times: 1 });
    const b = await orderVps(shop.panels.pro6, 'b.example.com');
    await runServiceOperations(shop.ctx, b.serviceId);
    expect(calls('soft.order.param')).toBe(2);
    // Meanwhile A is deleted: its license (never moved nor re-keyed) waits in the pool.
    ok(await call(shop, 'DELETE', `/api/v1/services/${a.serviceId}`, shop.alpha.auth));
    await runServiceOperations(shop.ctx, a.serviceId);
    await drain();
    const sb = await getService(shop, b.serviceId);
    expect(sb.status).toBe('active');
    // B's own order exists upstream (remoteid server-B) and is paid for: B must use it,
    // not leave it orphaned and take the pool license.
    const ordered = licenses().find((l) => l.remoteid === `server-${b.serviceId}`)!;
    expect(ordered).toBeDefined();
    expect(sb.params.licenseId).toBe(ordered.id);
    // Every live upstream license is known locally (bound or in the pool).
    const known = new Set((await pool()).filter((r) => r.state !== 'gone').map((r) => r.external_id));
    expect(licenses().filter((l) => l.status !== 4 && !known.has(l.id))).toEqual([]);
  });

  it('a pool license renamed by an attempt that died is taken over by the retry, not lost', async () => {
    const a = await orderVps(shop.panels.pro6, 'a.example.com');
    await drain();
    ok(await call(shop, 'DELETE', `/api/v1/services/${a.serviceId}`, shop.alpha.auth));
    await drain();
    const pooled = licenses()[0]!;
    expect(pooled.licname).toBe('free.lic');

    // B's first attempt: the license server is down (the look and the put-back both fail),
    // so the pool license stays bound to B locally.
    bm.faults.add({ kind: 'http', status: 502, func: 'soft.edit', times: 2 });
    const b = await orderVps(shop.panels.pro6, 'b.example.com');
    await runServiceOperations(shop.ctx, b.serviceId);
    const row = (await pool()).find((r) => r.external_id === pooled.id)!;
    expect(row.state).toBe('bound');
    // What a worker that died right after renaming it leaves behind: its step saved, the
    // license renamed upstream, not yet moved.
    const op = await operationOf(shop, b.serviceId);
    const progress = JSON.parse(op.progress ?? '{}') as Record<string, unknown>;
    progress[`license-pool-${pooled.id}`] = pooled.lickey;
    await shop.ctx.db.kysely
      .updateTable('operations')
      .set({ progress: JSON.stringify(progress) })
      .where('id', '=', op.id)
      .execute();
    const sb0 = await getService(shop, b.serviceId);
    pooled.licname = `Item #${b.serviceId} addon ${sb0.name}`;

    await drain();
    const sb = await getService(shop, b.serviceId);
    expect(sb.status).toBe('active');
    // The license the dead attempt started on is B's; nothing is ordered.
    expect(calls('soft.order.param')).toBe(1);
    expect(sb.params.licenseId).toBe(pooled.id);
  });

  it("a new root password: its sealed value is not shown to the owner in the operation's saved steps", async () => {
    const { serviceId } = await orderVps(shop.panels.pro6, 'p.example.com');
    await drain();
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/root-password`, shop.alpha.auth), 202);
    await drain();
    const row = await shop.ctx.db.kysely
      .selectFrom('services')
      .select('params')
      .where('id', '=', serviceId)
      .executeTakeFirstOrThrow();
    const sealed = (JSON.parse(row.params) as Record<string, string>).rootPasswordSealed!;
    expect(sealed).toBeTruthy();
    const shown = JSON.stringify(await getService(shop, serviceId, shop.alpha.auth));
    expect(shown).not.toContain(sealed);
  });

  it('a panel change Lite → Pro on a live server: the client pays the prorated difference, the license changes tariff upstream once', async () => {
    const { serviceId } = await orderVps(shop.panels.lite6);
    await drain();
    const lic = licenses()[0]!;
    expect(lic.pricelist).toBe('55227');
    ok(
      await call(shop, 'POST', `/api/v1/services/${serviceId}/change-tariff`, shop.admin, {
        tariffId: shop.tariffs.vds,
        addonValues: { [shop.addons.panel]: shop.panels.pro6 },
      }),
    );
    await drain();
    expect(calls('service.changepricelist')).toBe(1);
    expect(lic.pricelist).toBe('55228');
    expect(licenses()).toHaveLength(1);
    const s = await getService(shop, serviceId);
    expect(s.params).toMatchObject({ licenseId: lic.id, licensePricelist: '55228' });
    expect(await pool()).toMatchObject([{ state: 'bound', pricelist: '55228', service_id: serviceId }]);
    // The difference, day-prorated: a whole month left at 8.00 − 5.00.
    const charges = await shop.ctx.db.kysely
      .selectFrom('service_charges')
      .selectAll()
      .where('service_id', '=', serviceId)
      .where('kind', '=', 'tariff_change')
      .execute();
    expect(charges.map((c) => Number(c.amount_minor))).toEqual([300]);
  });

  it('a license the upstream deleted while its server was suspended is replaced when the server resumes', async () => {
    const { serviceId } = await orderVps(shop.panels.pro6);
    await drain();
    const first = licenses()[0]!;
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await drain();
    first.status = 4;
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/resume`, shop.admin, {}));
    await drain();
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    expect(licenses()).toHaveLength(2);
    const second = licenses().find((l) => l.id !== first.id)!;
    expect(second).toMatchObject({ status: 2, pricelist: '55228', ip: s.params.ip });
    expect(s.params.licenseId).toBe(second.id);
    expect((await pool()).map((r) => r.state)).toEqual(['gone', 'bound']);
  });
});
