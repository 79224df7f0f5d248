import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectLedgerBalanced } from '../../../test/helpers/context.js';
import {
  call,
  drainOperations,
  getService,
  ok,
  openShop,
  operationOf,
  orderPaid,
  panelLicenseServer,
  payIn,
  type Shop,
} from '../../../test/helpers/shop.js';
import { runQueuedOperations } from '../../modules/services/executor.js';
import { DEFAULT_ADMIN, type FakeVmmanager, startFakeVmmanager } from './fake-server.js';

/**
 * The `vmmanager6` module against the stateful fake VMmanager 6: a VDS order becomes a VM with
 * an address, suspend/resume/delete reach the panel, addons set the resources, and faults (a
 * failed task, 503s, an expired token, a lost answer to the create) end as they must.
 */

let fake: FakeVmmanager;
let shop: Shop;
let moduleId: number;

const drain = (times = 1) => drainOperations(shop.ctx, times);

const hosts = () => [...fake.state.hosts.values()];
const logins = () => fake.state.callsOf('POST', '/auth/v4/public/token').length;

async function link(settings: Record<string, unknown>) {
  return call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.vds}/modules`, shop.admin, {
    modules: [{ moduleId, settings }],
  });
}

const BASE_SETTINGS = {
  clusterId: 1,
  osIds: [1, 2],
  cpu: 1,
  ramMib: 1024,
  hddMib: 10240,
  ramAddonUnitMib: 1024,
};

beforeEach(async () => {
  fake = await startFakeVmmanager();
  shop = await openShop();
  moduleId = ok(
    await call(shop, 'POST', '/api/v1/modules', shop.admin, {
      name: 'VMmanager',
      type: 'vmmanager6',
      // The shop's VDS tariff offers panels: its server module needs a license server that sells them.
      licenseServerId: await panelLicenseServer(shop),
      productTypes: ['vds'],
      params: {
        url: fake.url,
        email: DEFAULT_ADMIN.email,
        password: DEFAULT_ADMIN.password,
        timeoutMs: 1000,
        taskPollMs: 10,
        accountEmailDomain: 'clients.example.net',
      },
    }),
    201,
  ).id;
  ok(await link(BASE_SETTINGS));
  await payIn(shop, shop.alpha.accountId, '500.00');
});

afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
  await fake.close();
});

const order = (extra: Record<string, unknown> = {}) =>
  orderPaid(shop, shop.alpha, {
    tariffId: shop.tariffs.vds,
    period: 1,
    params: { hostname: 'web1.example.com', os_template: 'AlmaLinux 9' },
    ...extra,
  });

const openOperation = (serviceId: number) => operationOf(shop, serviceId);

describe('the vmmanager6 module', () => {
  it('checks the connection; refuses tariff settings without a cluster', async () => {
    const check = ok(await call(shop, 'POST', `/api/v1/modules/${moduleId}/check`, shop.admin));
    expect(check).toMatchObject({ ok: true });
    expect(check.message).toContain('Main KVM');
    const res = await link({ osIds: [1] });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('tariff_settings_invalid');
  });

  it('opens a VM with its IP and OS, the root password sealed; suspend, resume and delete reach the panel', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    expect(hosts()).toHaveLength(1);
    const host = hosts()[0]!;
    expect(host).toMatchObject({ name: `billfold-${serviceId}`, state: 'active', cluster: 1, os: 2 });
    expect(s.externalId).toBe(String(host.id));
    expect(s.params).toMatchObject({
      ip: host.ip4[0],
      ips: host.ip4.join(','),
      os: 'AlmaLinux 9',
      osId: '2',
    });
    // The client's panel account, by its stable address; the VM is its.
    const owner = fake.state.userByEmail(`billfold-${shop.alpha.accountId}@clients.example.net`)!;
    expect(owner.roles).toEqual(['@user']);
    expect(host.account).toBe(owner.id);
    // The root password the VM got is the one sealed on the service, and only sealed anywhere.
    // Its owner reads it through its own route; it is not among the service's params.
    expect(s.params.rootPasswordSealed).toBeUndefined();
    // Nor in what its operations saved (their progress): a sealed value is not shown to anyone.
    expect(JSON.stringify(await getService(shop, s.id, shop.alpha.auth))).not.toContain('Sealed');
    const shown = ok(await call(shop, 'GET', `/api/v1/services/${s.id}/root-password`, shop.alpha.auth));
    expect(shown.password).toBe(host.password);
    expect(
      (await call(shop, 'GET', `/api/v1/services/${s.id}/root-password`, shop.bravo.auth)).statusCode,
    ).toBe(404);
    expect(host.password.length).toBeGreaterThanOrEqual(20);
    const rows = {
      operations: await shop.ctx.db.kysely.selectFrom('operations').selectAll().execute(),
      services: await shop.ctx.db.kysely.selectFrom('services').selectAll().execute(),
      history: await shop.ctx.db.kysely.selectFrom('service_history').selectAll().execute(),
    };
    expect(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(
      host.password,
    );
    expect(JSON.stringify(fake.state.calls)).not.toContain(host.password);

    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await runQueuedOperations(shop.ctx);
    expect(host.state).toBe('stopped');
    expect(fake.state.callsOf('POST', `/vm/v3/host/${host.id}/stop`)).toHaveLength(1);
    expect((await getService(shop, serviceId)).status).toBe('suspended');
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/resume`, shop.admin));
    await runQueuedOperations(shop.ctx);
    expect(host.state).toBe('active');
    expect(fake.state.callsOf('POST', `/vm/v3/host/${host.id}/start`)).toHaveLength(1);
    expect((await getService(shop, serviceId)).status).toBe('active');

    const freeBefore = fake.state.clusters.get(1)!.freeIps.length;
    ok(await call(shop, 'DELETE', `/api/v1/services/${serviceId}`, shop.admin));
    await runQueuedOperations(shop.ctx);
    expect(hosts()).toHaveLength(0);
    expect(fake.state.callsOf('DELETE', `/vm/v3/host/${host.id}`)).toHaveLength(1);
    expect(fake.state.clusters.get(1)!.freeIps.length).toBe(freeBefore + 1);
    expect((await getService(shop, serviceId)).status).toBe('deleted');
  });

  it('suspend, resume and delete read the VM first and do only what is not done yet', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const host = hosts()[0]!;
    host.state = 'stopped';
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, serviceId)).status).toBe('suspended');
    host.state = 'active';
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/resume`, shop.admin));
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, serviceId)).status).toBe('active');
    expect(fake.state.callsOf('POST', /\/vm\/v3\/host\/\d+\/(stop|start)$/)).toHaveLength(0);
    // A VM someone already deleted on the panel: the delete is done all the same.
    fake.state.hosts.delete(host.id);
    ok(await call(shop, 'DELETE', `/api/v1/services/${serviceId}`, shop.admin));
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, serviceId)).status).toBe('deleted');
  });

  it('the preset, the explicit settings and the addons set the resources, in that order', async () => {
    ok(await link({ clusterId: 1, osIds: [1], presetId: 2, cpu: 3, ipv4Number: 2, ramAddonUnitMib: 1024 }));
    const { serviceId } = await order({
      params: { hostname: 'big.example.com', os_template: '1' },
      addonValues: { [shop.addons.ram]: 6 },
    });
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    const host = hosts()[0]!;
    // cpu explicit (3, over the preset's 2), RAM from the addon (6 GB), disk from the preset.
    expect(host).toMatchObject({ cpu_number: 3, ram_mib: 6144, os: 1 });
    expect(host.disk.disk_mib).toBe(40960);
    expect(host.ip4).toHaveLength(2);
    expect(s.params).toMatchObject({ ip: host.ip4[0], ips: host.ip4.join(','), os: 'Ubuntu 22.04' });
    const sent = fake.state.callsOf('POST', '/vm/v3/host')[0]!.body as Record<string, unknown>;
    expect(sent).toMatchObject({ preset: 2, cpu_number: 3, ram_mib: 6144, hdd_mib: 40960, ipv4_number: 2 });
  });

  it("without a unit setting, a RAM addon is sized by its own unit (the shop's is GB)", async () => {
    ok(await link({ clusterId: 1, osIds: [1], cpu: 1, hddMib: 10240 }));
    const { serviceId } = await order({
      params: { hostname: 'gb.example.com', os_template: '1' },
      addonValues: { [shop.addons.ram]: 4 },
    });
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, serviceId)).status).toBe('active');
    expect(hosts()[0]).toMatchObject({ ram_mib: 4096 });
  });

  it('an OS the tariff does not offer fails the open for staff; nothing is created', async () => {
    const { serviceId } = await order({
      params: { hostname: 'x.example.com', os_template: 'Debian 12 LXD' },
    });
    await runQueuedOperations(shop.ctx);
    const op = await openOperation(serviceId);
    expect(op.status).toBe('failed');
    expect(op.last_error).toContain('os_not_offered');
    expect(hosts()).toHaveLength(0);
    expect((await getService(shop, serviceId)).status).not.toBe('active');
  });

  it('a failed host_create fails the open with the task message; the service is not active, the IP released', async () => {
    fake.faults.failTask('host_create', 'Not enough disk space on node1');
    const free = fake.state.clusters.get(1)!.freeIps.length;
    const { serviceId } = await order();
    await drain(3);
    const op = await openOperation(serviceId);
    expect(op.status).toBe('failed');
    expect(op.last_error).toContain('vmmanager_task_failed');
    expect(op.last_error).toContain('Not enough disk space on node1');
    const s = await getService(shop, serviceId);
    expect(s.status).not.toBe('active');
    expect(s.params.ip).toBeUndefined();
    expect(fake.state.callsOf('POST', '/vm/v3/host')).toHaveLength(1);
    expect(hosts()).toHaveLength(0);
    expect(fake.state.clusters.get(1)!.freeIps.length).toBe(free);

    // Staff retry it: a new VM is made (not a wait on the failed task again), and only one.
    ok(await call(shop, 'POST', `/api/v1/operations/${op.id}/retry`, shop.admin));
    await drain(2);
    expect((await openOperation(serviceId)).status).toBe('done');
    expect(fake.state.callsOf('POST', '/vm/v3/host')).toHaveLength(2);
    expect(hosts()).toHaveLength(1);
    const after = await getService(shop, serviceId);
    expect(after).toMatchObject({ status: 'active', externalId: String(hosts()[0]!.id) });
    expect(after.params.ip).toBe(hosts()[0]!.ip4[0]);
  });

  it('a burst of 503s ("waking up") is retried, and the VM is made once', async () => {
    fake.faults.unavailable = 3;
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    expect((await openOperation(serviceId)).status).toBe('retry_wait');
    await drain(4);
    expect((await getService(shop, serviceId)).status).toBe('active');
    expect(hosts()).toHaveLength(1);
  });

  it('an expired token: the module logs in again and the operation goes through', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const before = logins();
    fake.faults.expireTokens();
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await runQueuedOperations(shop.ctx);
    expect(logins()).toBe(before + 1);
    expect(hosts()[0]!.state).toBe('stopped');
    expect((await getService(shop, serviceId)).status).toBe('suspended');
  });

  it('exactly one VM when the panel makes it but its answer to the create comes too late', async () => {
    fake.faults.slow.push({ method: 'POST', path: '/vm/v3/host', ms: 1500 });
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    await drain(3);
    expect(fake.state.callsOf('POST', '/vm/v3/host')).toHaveLength(1);
    expect(hosts()).toHaveLength(1);
    const s = await getService(shop, serviceId);
    expect(s).toMatchObject({ status: 'active', externalId: String(hosts()[0]!.id) });
    expect(s.params.ip).toBe(hosts()[0]!.ip4[0]);
    expect(
      ok(await call(shop, 'GET', `/api/v1/services/${serviceId}/root-password`, shop.alpha.auth)).password,
    ).toBe(hosts()[0]!.password);
  });

  it('a 502 to the create that made nothing: looked up, not found, created once on the retry', async () => {
    fake.faults.http.push({ method: 'POST', path: '/vm/v3/host', status: 502 });
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    await drain(3);
    // The 502 came before the panel acted: each lookup found nothing, the retry created it.
    expect(fake.state.callsOf('GET', '/vm/v3/host').length).toBeGreaterThanOrEqual(2);
    expect(fake.state.callsOf('POST', '/vm/v3/host')).toHaveLength(2);
    expect(hosts()).toHaveLength(1);
    expect((await getService(shop, serviceId)).status).toBe('active');
  });
  it('reinstalls with another offered OS and a new root password, sealed; the owner asks, others cannot', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const host = hosts()[0]!;
    const oldPassword = host.password;
    expect(
      (await call(shop, 'POST', `/api/v1/services/${serviceId}/reinstall`, shop.bravo.auth, { os: '1' }))
        .statusCode,
    ).toBe(404);
    const res = await call(shop, 'POST', `/api/v1/services/${serviceId}/reinstall`, shop.alpha.auth, {
      os: 'ubuntu 22.04',
    });
    expect(res.statusCode).toBe(202);
    const op = res.json();
    expect(op).toMatchObject({
      kind: 'set_param',
      status: 'queued',
      payload: { param: 'os', value: 'ubuntu 22.04' },
    });
    // Asked again before it ran: the same operation.
    const again = await call(shop, 'POST', `/api/v1/services/${serviceId}/reinstall`, shop.alpha.auth, {
      os: 'ubuntu 22.04',
    });
    expect(again.json().id).toBe(op.id);
    expect(
      (
        await call(shop, 'POST', `/api/v1/services/${serviceId}/reinstall`, shop.alpha.auth, { os: '2' })
      ).json().error.code,
    ).toBe('reinstall_pending');
    await runQueuedOperations(shop.ctx);
    expect(fake.state.callsOf('POST', `/vm/v3/host/${host.id}/reinstall`)).toHaveLength(1);
    expect(host).toMatchObject({ os: 1, state: 'active' });
    expect(host.password).not.toBe(oldPassword);
    const s = await getService(shop, serviceId);
    expect(s.params).toMatchObject({ os: 'Ubuntu 22.04', osId: '1' });
    expect(s.params.rootPasswordSealed).toBeUndefined();
    expect(
      ok(await call(shop, 'GET', `/api/v1/services/${serviceId}/root-password`, shop.alpha.auth)).password,
    ).toBe(host.password);
    const rows = await shop.ctx.db.kysely.selectFrom('operations').selectAll().execute();
    expect(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(
      host.password,
    );
    expect(JSON.stringify(fake.state.calls)).not.toContain(host.password);
  });

  it('an OS the tariff does not offer: the reinstall is refused with the reason, no staff task, nothing changes', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const res = await call(shop, 'POST', `/api/v1/services/${serviceId}/reinstall`, shop.alpha.auth, {
      os: 'Debian 12 LXD',
    });
    expect(res.statusCode).toBe(202);
    await runQueuedOperations(shop.ctx);
    const op = await shop.ctx.db.kysely
      .selectFrom('operations')
      .selectAll()
      .where('id', '=', res.json().id)
      .executeTakeFirstOrThrow();
    expect(op.status).toBe('cancelled');
    expect(op.last_error).toContain('os_not_offered');
    expect(await shop.ctx.db.kysely.selectFrom('staff_tasks').selectAll().execute()).toHaveLength(0);
    expect(fake.state.callsOf('POST', /\/reinstall$/)).toHaveLength(0);
    expect((await getService(shop, serviceId)).params).toMatchObject({ os: 'AlmaLinux 9', osId: '2' });
  });

  it('exactly one reinstall when the panel starts it but its answer comes too late', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const host = hosts()[0]!;
    fake.faults.slow.push({ method: 'POST', path: `/vm/v3/host/${host.id}/reinstall`, ms: 1500 });
    ok(
      await call(shop, 'POST', `/api/v1/services/${serviceId}/reinstall`, shop.alpha.auth, { os: '1' }),
      202,
    );
    await runQueuedOperations(shop.ctx);
    await drain(3);
    expect(fake.state.callsOf('POST', `/vm/v3/host/${host.id}/reinstall`)).toHaveLength(1);
    expect(fake.state.callsOf('GET', '/vm/v3/task').some((c) => c.query.where?.includes('host'))).toBe(true);
    const op = await operationOf(shop, serviceId, 'set_param');
    // The timed-out call was followed by a look at the host's reinstall tasks, which found it.
    expect(op).toMatchObject({ status: 'done' });
    expect(host.os).toBe(1);
    const s = await getService(shop, serviceId);
    expect(s.params).toMatchObject({ os: 'Ubuntu 22.04', osId: '1' });
    expect(
      ok(await call(shop, 'GET', `/api/v1/services/${serviceId}/root-password`, shop.alpha.auth)).password,
    ).toBe(host.password);
  });

  it('a new root password: set on the VM, sealed on the service; refused while suspended', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const host = hosts()[0]!;
    const before = host.password;
    // A lost answer: the same password is sent again, so the VM ends with the sealed one.
    fake.faults.slow.push({ method: 'POST', path: `/vm/v3/host/${host.id}/password`, ms: 1500 });
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/root-password`, shop.alpha.auth), 202);
    await runQueuedOperations(shop.ctx);
    await drain(3);
    expect(host.password).not.toBe(before);
    expect(
      ok(await call(shop, 'GET', `/api/v1/services/${serviceId}/root-password`, shop.alpha.auth)).password,
    ).toBe(host.password);
    expect(
      (await call(shop, 'POST', `/api/v1/services/${serviceId}/root-password`, shop.bravo.auth)).statusCode,
    ).toBe(404);
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await runQueuedOperations(shop.ctx);
    for (const [path, body] of [
      ['root-password', undefined],
      ['reinstall', { os: '1' }],
    ] as const) {
      const r = await call(shop, 'POST', `/api/v1/services/${serviceId}/${path}`, shop.alpha.auth, body);
      expect(r.statusCode).toBe(409);
      expect(r.json().error.code).toBe('service_suspended');
    }
  });

  it('a tariff change resizes the VM to the new tariff: CPU/RAM, disk grown, an address added; sync reads it back', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const host = hosts()[0]!;
    expect(host).toMatchObject({ cpu_number: 1, ram_mib: 2048 });
    const bigger = ok(
      await call(shop, 'POST', '/api/v1/tariffs', shop.admin, {
        name: 'VDS Pro',
        productType: 'vds',
        periods: [1],
        prices: { '1': '30.00' },
      }),
      201,
    ).id;
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${bigger}/modules`, shop.admin, {
        modules: [
          {
            moduleId,
            settings: { clusterId: 1, osIds: [1, 2], cpu: 2, ramMib: 4096, hddMib: 20480, ipv4Number: 2 },
          },
        ],
      }),
    );
    ok(
      await call(shop, 'POST', `/api/v1/services/${serviceId}/change-tariff`, shop.admin, {
        tariffId: bigger,
      }),
    );
    await drain(2);
    const op = await operationOf(shop, serviceId, 'set_param');
    expect(op.status).toBe('done');
    expect(host).toMatchObject({ cpu_number: 2, ram_mib: 4096 });
    expect(host.disk.disk_mib).toBe(20480);
    expect(host.ip4).toHaveLength(2);
    expect(fake.state.callsOf('POST', `/vm/v3/host/${host.id}/ip`)).toHaveLength(1);
    const s = await getService(shop, serviceId);
    expect(s.params).toMatchObject({ ip: host.ip4[0], ips: host.ip4.join(',') });

    const sync = ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/sync`, shop.admin));
    expect(sync.upstream).toMatchObject({
      externalId: String(host.id),
      status: 'active',
      params: { ip: host.ip4[0], os: 'AlmaLinux 9', osId: '2', cpu: '2', ramMib: '4096', hddMib: '20480' },
    });
    expect(sync.differences).toEqual([]);
    host.state = 'stopped';
    const stopped = ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/sync`, shop.admin));
    expect(stopped.differences).toEqual([{ field: 'status', local: 'active', upstream: 'suspended' }]);
    fake.state.hosts.delete(host.id);
    const gone = ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/sync`, shop.admin));
    expect(gone.upstream).toBeNull();
  });

  it('a smaller disk on the new tariff fails the change for staff before anything changes', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const host = hosts()[0]!;
    const smaller = ok(
      await call(shop, 'POST', '/api/v1/tariffs', shop.admin, {
        name: 'VDS Tiny',
        productType: 'vds',
        periods: [1],
        prices: { '1': '20.00' },
      }),
      201,
    ).id;
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${smaller}/modules`, shop.admin, {
        modules: [{ moduleId, settings: { clusterId: 1, osIds: [1], cpu: 4, ramMib: 1024, hddMib: 5120 } }],
      }),
    );
    ok(
      await call(shop, 'POST', `/api/v1/services/${serviceId}/change-tariff`, shop.admin, {
        tariffId: smaller,
      }),
    );
    await runQueuedOperations(shop.ctx);
    const op = await operationOf(shop, serviceId, 'set_param');
    expect(op.status).toBe('failed');
    expect(op.last_error).toContain('vmmanager_disk_shrink');
    expect(host).toMatchObject({ cpu_number: 1, ram_mib: 2048 });
    expect(fake.state.callsOf('POST', `/vm/v3/host/${host.id}/resource`)).toHaveLength(0);
  });
});
