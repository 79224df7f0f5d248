import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectLedgerBalanced } from '../../../test/helpers/context.js';
import {
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
import { ADMIN, CONFIG_A, CONFIG_B, type FakeDcimanager, startFakeDcimanager } from './fake-server.js';

/**
 * The `dcimanager6` module against the stateful fake DCImanager 6: a `dedic` order claims a
 * free server, installs the OS and becomes active with its IP; suspend, resume and delete
 * reach the panel; faults (a failed install, 503s, an expired token, lost answers) end with
 * exactly one server taken, or a failed operation and no active service.
 */

let fake: FakeDcimanager;
let shop: Shop;
let moduleId: number;
let tariffId: number;
let ramAddon: number;

const drain = (times = 1) => drainOperations(shop.ctx, times);

const settings = (extra: Record<string, unknown> = {}) => ({
  configuration: CONFIG_B,
  locationId: 1,
  osIds: [11, 12],
  ...extra,
});

async function link(extra: Record<string, unknown> = {}) {
  ok(
    await call(shop, 'PUT', `/api/v1/tariffs/${tariffId}/modules`, shop.admin, {
      modules: [{ moduleId, settings: settings(extra) }],
    }),
  );
}

beforeEach(async () => {
  fake = await startFakeDcimanager({ taskDelayMs: 20 });
  shop = await openShop();
  moduleId = ok(
    await call(shop, 'POST', '/api/v1/modules', shop.admin, {
      name: 'DCI Frankfurt',
      type: 'dcimanager6',
      productTypes: ['dedic'],
      params: {
        url: fake.url,
        email: ADMIN.email,
        password: ADMIN.password,
        timeoutMs: 1000,
        taskPollMs: 10,
      },
    }),
    201,
  ).id;
  const tariff = ok(
    await call(shop, 'POST', '/api/v1/tariffs', shop.admin, {
      name: 'Dedicated E-2236',
      productType: 'dedic',
      periods: [1],
      prices: { '1': '80.00' },
    }),
    201,
  );
  tariffId = tariff.id;
  const withRam = ok(
    await call(shop, 'POST', `/api/v1/tariffs/${tariffId}/addons`, shop.admin, {
      valueType: 'integer',
      kind: 'ram',
      label: 'RAM',
      unit: 'GB',
      included: 32,
      min: 32,
      max: 64,
      step: 32,
      defaultValue: 32,
      prices: { '1': '1.00' },
    }),
    201,
  );
  ramAddon = withRam.addons.find((a: { label: string }) => a.label === 'RAM').id;
  await link();
  await payIn(shop, shop.alpha.accountId, '1000.00');
});

afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
  await fake.close();
});

const order = (extra: Record<string, unknown> = {}, params: Record<string, string> = {}) =>
  orderPaid(shop, shop.alpha, {
    tariffId,
    period: 1,
    params: { hostname: 'db1.example.com', os_template: '12', ...params },
    ...extra,
  });

const dciUser = () => [...fake.state.users.values()].find((u) => u.email === 'alpha@example.com');
const ownedBy = (userId: number | undefined) =>
  [...fake.state.servers.values()].filter((s) => userId !== undefined && s.ownerId === userId);
const installs = () => fake.state.callsTo('POST', '/dci/v3/server/4/os_install');

describe('the dcimanager6 module', () => {
  it('checks the connection', async () => {
    const check = ok(await call(shop, 'POST', `/api/v1/modules/${moduleId}/check`, shop.admin));
    expect(check).toMatchObject({ ok: true });
    expect(check.message).toContain('2 location(s)');
  });

  it('a linked tariff needs its configuration, location and OS templates', async () => {
    const r = await call(shop, 'PUT', `/api/v1/tariffs/${tariffId}/modules`, shop.admin, {
      modules: [{ moduleId, settings: { configuration: CONFIG_B } }],
    });
    expect(r.statusCode).toBe(400);
    expect(JSON.parse(r.body).error.code).toBe('tariff_settings_invalid');
  });

  it('orders a server: account, free server claimed, OS installed, active with its IP; suspend, resume and delete reach the panel', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('active');
    const user = dciUser();
    expect(user?.roles).toEqual(['@user']);
    const server = fake.state.servers.get(4)!;
    expect(server.ownerId).toBe(user!.id);
    expect(server.osTemplate).toBe(12);
    expect(s.externalId).toBe('4');
    expect(s.params).toMatchObject({
      ip: server.ips[0]!.address,
      ips: server.ips[0]!.address,
      os: 'Ubuntu 24.04',
    });
    // The root password is kept sealed only: it opens to what was generated, and shows nowhere else.
    expect(s.params.rootPasswordSealed).toBeUndefined();
    const root = ok(await call(shop, 'GET', `/api/v1/services/${s.id}/root-password`, shop.admin))
      .password as string;
    expect(root).toMatch(/^[A-Za-z0-9]{20}$/);
    const ops = await shop.ctx.db.kysely.selectFrom('operations').selectAll().execute();
    expect(JSON.stringify(ops, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(root);
    expect(JSON.stringify(s)).not.toContain(root);
    expect(JSON.stringify(fake.state.calls)).not.toContain(root);

    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await runQueuedOperations(shop.ctx);
    expect(server.ports.filter((p) => !p.ipmi).map((p) => p.adminStatus)).toEqual(['down']);
    expect(server.power).toBe('on');
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/resume`, shop.admin));
    await runQueuedOperations(shop.ctx);
    expect(server.ports.map((p) => p.adminStatus)).toEqual(['up', 'up']);

    const extra = fake.state.addIp(4);
    ok(await call(shop, 'DELETE', `/api/v1/services/${serviceId}`, shop.admin));
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, serviceId)).status).toBe('deleted');
    expect(server).toMatchObject({ ownerId: null, power: 'off' });
    expect(server.ips.map((i) => i.address)).toEqual([s.params.ip]);
    expect(fake.state.ipPool).toContain(extra.address);
    expect(fake.state.isFree(server)).toBe(true);
    expect(installs()).toHaveLength(1);
  });

  it('suspend, resume and close are safe to repeat: each reads the server first', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const { dcimanager6ModuleType } = await import('./module.js');
    const { loadModuleInstance } = await import('../../modules/provisioning/instances.js');
    const { serviceSnapshot } = await import('../../modules/provisioning/dispatch.js');
    const row = await shop.ctx.db.kysely
      .selectFrom('processing_modules')
      .selectAll()
      .where('id', '=', moduleId)
      .executeTakeFirstOrThrow();
    const module = (await loadModuleInstance(shop.ctx, row)) as never;
    const service = await serviceSnapshot(shop.ctx.db.kysely, serviceId);
    const run = (kind: 'suspend' | 'resume' | 'close') =>
      dcimanager6ModuleType[kind]!({
        ctx: shop.ctx,
        module,
        service,
        tariffSettings: settings(),
        operation: { id: 0, kind, payload: {}, attempt: 1 },
        step: (_name, fn) => fn(),
        heldExternalIds: async () => new Set<string>(),
        hasStep: () => false,
      });
    const acting = () => fake.state.calls.filter((c) => c.method !== 'GET').length;
    await run('suspend');
    const afterOne = acting();
    await run('suspend');
    expect(acting()).toBe(afterOne);
    await run('resume');
    await run('resume');
    expect(acting()).toBe(afterOne + 1);
    await run('close');
    const afterClose = acting();
    await run('close');
    expect(acting()).toBe(afterClose);
    expect(fake.state.servers.get(4)!.ownerId).toBeNull();
  });

  it('an addon chooses the hardware configuration; the OS param chooses among the offered templates', async () => {
    await link({ configurationByAddon: { addonId: ramAddon, values: { '64': CONFIG_A, '32': CONFIG_B } } });
    const big = await order({ addonValues: { [ramAddon]: 64 } }, { os_template: '99' });
    const small = await order({ addonValues: { [ramAddon]: 32 } });
    await runQueuedOperations(shop.ctx);
    const b = await getService(shop, big.serviceId);
    const s = await getService(shop, small.serviceId);
    expect([b.status, s.status]).toEqual(['active', 'active']);
    const bigServer = fake.state.servers.get(Number(b.externalId))!;
    expect(bigServer).toMatchObject({ configuration: CONFIG_A, locationId: 1, osTemplate: 11 });
    expect(fake.state.servers.get(Number(s.externalId))).toMatchObject({
      configuration: CONFIG_B,
      osTemplate: 12,
    });
    // One account for the client, both servers its own.
    expect(ownedBy(dciUser()?.id)).toHaveLength(2);
  });

  it('no free server: the order waits (retryable), then proceeds once one is free', async () => {
    fake.faults.noFreeServer(CONFIG_B);
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    let s = await getService(shop, serviceId);
    expect(s.status).toBe('processing');
    expect(s.operations[0]).toMatchObject({ kind: 'open', status: 'retry_wait' });
    expect(s.operations[0].lastError).toMatchObject({ code: 'dcimanager_no_free_server' });
    fake.state.servers.get(4)!.ownerId = null;
    await drain(1);
    s = await getService(shop, serviceId);
    expect(s).toMatchObject({ status: 'active', externalId: '4' });
  });

  it('a failed OS install fails the operation with the panel message, not active; a staff retry installs again', async () => {
    fake.faults.failTask('os_install', 'IPMI is not reachable');
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('processing');
    expect(s.operations[0]).toMatchObject({ kind: 'open', status: 'failed' });
    expect(s.operations[0].lastError).toMatchObject({
      code: 'dcimanager_task_failed',
      message: expect.stringContaining('IPMI is not reachable'),
    });
    ok(await call(shop, 'POST', `/api/v1/operations/${s.operations[0].id}/retry`, shop.admin));
    await runQueuedOperations(shop.ctx);
    const after = await getService(shop, serviceId);
    expect(after).toMatchObject({ status: 'active', externalId: '4' });
    expect(installs()).toHaveLength(2);
    expect(ownedBy(dciUser()?.id)).toHaveLength(1);
  });

  it('a 503 burst is retried and the order completes', async () => {
    fake.faults.unavailable = 3;
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, serviceId)).operations[0].lastError).toMatchObject({
      code: 'dcimanager_unavailable',
    });
    await drain(4);
    expect(await getService(shop, serviceId)).toMatchObject({ status: 'active', externalId: '4' });
    expect(installs()).toHaveLength(1);
  });

  it('an expired token: the module logs in again once and carries on', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const logins = () => fake.state.callsTo('POST', '/auth/v4/public/token').length;
    const before = logins();
    fake.faults.expireTokens();
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'admin' }));
    await runQueuedOperations(shop.ctx);
    expect(logins()).toBe(before + 1);
    expect(await getService(shop, serviceId)).toMatchObject({ status: 'suspended' });
    expect(fake.state.servers.get(4)!.ports.find((p) => !p.ipmi)!.adminStatus).toBe('down');
  });

  it('lost answers to the claim and to the install: exactly one server claimed and one install', async () => {
    fake.faults.actThenDelay.push(
      { call: /^POST \/dci\/v3\/server\/\d+$/, ms: 1500, times: 1 },
      { call: /^POST \/dci\/v3\/server\/\d+\/os_install$/, ms: 1500, times: 1 },
    );
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    await drain(3);
    expect(await getService(shop, serviceId)).toMatchObject({ status: 'active', externalId: '4' });
    expect(ownedBy(dciUser()?.id).map((s) => s.id)).toEqual([4]);
    expect(installs()).toHaveLength(1);
    expect(fake.state.callsTo('POST', '/dci/v3/user')).toHaveLength(1);
  });

  it('a worker that lost the claim answer: the retry looks at the panel before claiming again', async () => {
    // The claim is made but its answer is lost, and the look-up right after it fails too:
    // the attempt ends retryable; the next one finds the server the panel gave us.
    fake.faults.actThenDelay.push({
      call: /^POST \/dci\/v3\/server\/\d+$/,
      ms: 1500,
      times: 1,
      onActed: () => {
        fake.faults.unavailable = 1;
      },
    });
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, serviceId)).operations[0]).toMatchObject({ status: 'retry_wait' });
    await drain(3);
    expect(await getService(shop, serviceId)).toMatchObject({ status: 'active', externalId: '4' });
    expect(ownedBy(dciUser()?.id).map((s) => s.id)).toEqual([4]);
    expect(fake.state.callsTo('POST', '/dci/v3/server/4')).toHaveLength(1);
  });
  it('reinstalls with another offered OS and a new root password, once even when the answer is lost; the owner asks, others cannot', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const server = fake.state.servers.get(4)!;
    const before = ok(await call(shop, 'GET', `/api/v1/services/${serviceId}/root-password`, shop.alpha.auth))
      .password as string;
    expect(
      (await call(shop, 'POST', `/api/v1/services/${serviceId}/reinstall`, shop.bravo.auth, { os: '11' }))
        .statusCode,
    ).toBe(404);
    fake.faults.actThenDelay.push({ call: /^POST \/dci\/v3\/server\/4\/os_install$/, ms: 1500, times: 1 });
    ok(
      await call(shop, 'POST', `/api/v1/services/${serviceId}/reinstall`, shop.alpha.auth, {
        os: 'debian 12',
      }),
      202,
    );
    await runQueuedOperations(shop.ctx);
    await drain(3);
    expect(installs()).toHaveLength(2);
    expect(server.osTemplate).toBe(11);
    const s = await getService(shop, serviceId);
    expect(s.params).toMatchObject({ os: 'Debian 12', osId: '11', ip: server.ips[0]!.address });
    expect(s.operations.find((o: { kind: string }) => o.kind === 'set_param')).toMatchObject({
      status: 'done',
    });
    const after = ok(await call(shop, 'GET', `/api/v1/services/${serviceId}/root-password`, shop.alpha.auth))
      .password as string;
    expect(after).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(after).not.toBe(before);
    const ops = await shop.ctx.db.kysely.selectFrom('operations').selectAll().execute();
    expect(JSON.stringify(ops, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(after);
    expect(JSON.stringify(fake.state.calls)).not.toContain(after);
  });

  it('a root password alone cannot be set on a dedicated server: refused before anything is queued', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const r = await call(shop, 'POST', `/api/v1/services/${serviceId}/root-password`, shop.alpha.auth);
    expect(r.statusCode).toBe(409);
    expect(r.json().error.code).toBe('root_password_unsupported');
    const ops = await shop.ctx.db.kysely
      .selectFrom('operations')
      .selectAll()
      .where('kind', '=', 'set_param')
      .execute();
    expect(ops).toHaveLength(0);
  });

  it('a tariff change to another hardware configuration fails for staff; one keeping it needs nothing', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const newTariff = async (name: string, configuration: string) => {
      const id = ok(
        await call(shop, 'POST', '/api/v1/tariffs', shop.admin, {
          name,
          productType: 'dedic',
          periods: [1],
          prices: { '1': '90.00' },
        }),
        201,
      ).id as number;
      ok(
        await call(shop, 'PUT', `/api/v1/tariffs/${id}/modules`, shop.admin, {
          modules: [{ moduleId, settings: settings({ configuration }) }],
        }),
      );
      return id;
    };
    const same = await newTariff('Dedicated E-2236 Plus', CONFIG_B);
    ok(
      await call(shop, 'POST', `/api/v1/services/${serviceId}/change-tariff`, shop.admin, { tariffId: same }),
    );
    await runQueuedOperations(shop.ctx);
    const setParams = async () =>
      shop.ctx.db.kysely
        .selectFrom('operations')
        .selectAll()
        .where('service_id', '=', serviceId)
        .where('kind', '=', 'set_param')
        .orderBy('id')
        .execute();
    expect((await setParams()).map((o) => o.status)).toEqual(['done']);

    const other = await newTariff('Dedicated i9', CONFIG_A);
    ok(
      await call(shop, 'POST', `/api/v1/services/${serviceId}/change-tariff`, shop.admin, {
        tariffId: other,
      }),
    );
    await runQueuedOperations(shop.ctx);
    const [, failed] = await setParams();
    expect(failed!.status).toBe('failed');
    expect(failed!.last_error).toContain('dcimanager_configuration_change');
    const tasks = await shop.ctx.db.kysely
      .selectFrom('staff_tasks')
      .selectAll()
      .where('service_id', '=', serviceId)
      .execute();
    expect(tasks).toHaveLength(1);
    expect(fake.state.servers.get(4)!.configuration).toBe(CONFIG_B);
  });

  it('sync reads the server back: active, suspended by its ports, gone once back in the pool', async () => {
    const { serviceId } = await order();
    await runQueuedOperations(shop.ctx);
    const server = fake.state.servers.get(4)!;
    const sync = async () => ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/sync`, shop.admin));
    const first = await sync();
    expect(first.upstream).toMatchObject({
      externalId: '4',
      status: 'active',
      params: { ip: server.ips[0]!.address, os: 'Ubuntu 24.04', osId: '12', configuration: CONFIG_B },
    });
    expect(first.differences).toEqual([]);
    for (const p of server.ports) if (!p.ipmi) p.adminStatus = 'down';
    expect((await sync()).differences).toEqual([{ field: 'status', local: 'active', upstream: 'suspended' }]);
    server.ownerId = null;
    expect((await sync()).upstream).toBeNull();
  });
});
