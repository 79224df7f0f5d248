import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineModuleType } from '../../src/modules/provisioning/plugin.js';
import { OperationError } from '../../src/modules/services/engine.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import {
  call,
  getService,
  LICENSE_PARAMS,
  licenseItem,
  ok,
  openShop,
  orderPaid,
  panelLicenseServer,
  payIn,
  type Shop,
  VDS_PARAMS,
} from '../helpers/shop.js';

/**
 * Processing modules over HTTP: module types, CRUD with encrypted secrets, connection check,
 * tariff links and which module opens a service, the `manual` type's staff tasks, and the
 * bad input that must be refused with nothing written.
 */

const SECRET = 'S3cr3t-pa55:with:colons';

/** A license seller, in the shape of a BILLmanager module: URL, user, secret password. */
const testLicenses = defineModuleType({
  type: 'test-licenses',
  title: 'Test license seller',
  productTypes: ['soft', 'softexternal', 'platform'],
  configSchema: z.strictObject({ url: z.url(), username: z.string().min(1), password: z.string().min(1) }),
  secretFields: ['password'],
  features: ['checkConnection', 'open', 'close', 'getBalance'],
  licenseSource: true,
  async checkConnection(m) {
    if (m.config.password !== SECRET)
      throw new OperationError('auth', 'The upstream refused the password.', false);
    return { message: `Signed in as ${m.config.username}` };
  },
  async open(call) {
    return {
      serviceParams: { lickey: `${call.service.id}-K3Y` },
      externalId: `L-${call.service.id}`,
      data: { via: call.module.name },
    };
  },
  async close() {
    return {};
  },
  async getBalance() {
    return { amount: '12.50', currency: 'EUR' };
  },
});

/** A server module that may name a license server. */
const testServers = defineModuleType({
  type: 'test-servers',
  title: 'Test servers',
  productTypes: ['vds', 'dedic'],
  configSchema: z.strictObject({ url: z.url(), token: z.string().min(8).optional() }),
  secretFields: ['token'],
  features: ['open', 'close'],
  usesLicenseServer: true,
  async open(call) {
    return {
      serviceParams: { ip: '198.51.100.7' },
      data: { licenseServer: call.module.licenseServer?.name ?? null },
    };
  },
  async close() {
    return {};
  },
});

let shop: Shop;
beforeEach(async () => {
  shop = await openShop({ moduleTypes: [testLicenses, testServers] });
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const licenseModule = (extra: Record<string, unknown> = {}) => ({
  name: 'Upstream',
  type: 'test-licenses',
  productTypes: ['soft'],
  params: { url: 'https://api.example.com/billmgr', username: 'reseller', password: SECRET },
  ...extra,
});

async function create(body: Record<string, unknown>) {
  return ok(await call(shop, 'POST', '/api/v1/modules', shop.admin, body), 201);
}

async function tables() {
  const modules = await shop.ctx.db.kysely
    .selectFrom('processing_modules')
    .selectAll()
    .orderBy('id')
    .execute();
  const links = await shop.ctx.db.kysely.selectFrom('tariff_modules').selectAll().execute();
  return JSON.stringify({ modules, links }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

describe('module types', () => {
  it('lists the installed plug-ins with what they support and their parameter schema', async () => {
    const { items } = ok(await call(shop, 'GET', '/api/v1/module-types', shop.admin));
    expect(items.map((t: { type: string }) => t.type)).toEqual([
      'manual',
      'license-issuer',
      'billmanager',
      'vmmanager6',
      'dcimanager6',
      'test-licenses',
      'test-servers',
    ]);
    const lic = items.find((t: { type: string }) => t.type === 'test-licenses');
    expect(lic).toMatchObject({
      features: ['checkConnection', 'open', 'close', 'getBalance'],
      secretFields: ['password'],
      licenseSource: true,
      usesLicenseServer: false,
      serverParams: [],
      daily: false,
    });
    expect(lic.paramsSchema.properties).toHaveProperty('password');
    // The server modules: what their services can ask, and a daily upkeep (bundled licenses).
    expect(items.find((t: { type: string }) => t.type === 'vmmanager6')).toMatchObject({
      usesLicenseServer: true,
      serverParams: ['os', 'password', 'ip'],
      daily: true,
    });
    expect(items.find((t: { type: string }) => t.type === 'dcimanager6')).toMatchObject({
      serverParams: ['os', 'ip'],
      daily: true,
    });
    expect(items.find((t: { type: string }) => t.type === 'billmanager')).toMatchObject({
      licenseSource: true,
      daily: true,
    });
  });
});

describe('modules and their secrets', () => {
  it('stores the secret as ciphertext and never returns it; the API shows set/unset', async () => {
    const created = await create(licenseModule());
    expect(created).toMatchObject({
      name: 'Upstream',
      type: 'test-licenses',
      productTypes: ['soft'],
      params: { url: 'https://api.example.com/billmgr', username: 'reseller' },
      secrets: { password: 'set' },
      enabled: true,
      sortOrder: 0,
      licenseServerId: null,
      lastCheck: null,
    });
    expect(created.params).not.toHaveProperty('password');
    const row = await shop.ctx.db.kysely
      .selectFrom('processing_modules')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    const stored = JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    expect(stored).not.toContain(SECRET);
    expect(stored).not.toContain('S3cr3t');
    const sealed = (JSON.parse(row.secrets) as Record<string, string>).password!;
    expect(sealed).toMatch(/^v1:/);
    expect(shop.ctx.secrets.open(sealed)).toBe(SECRET);

    // A new password replaces the ciphertext; other params stay.
    const changed = ok(
      await call(shop, 'PATCH', `/api/v1/modules/${created.id}`, shop.admin, {
        params: { password: 'other-pass' },
      }),
    );
    expect(changed.params).toEqual({ url: 'https://api.example.com/billmgr', username: 'reseller' });
    const after = await shop.ctx.db.kysely
      .selectFrom('processing_modules')
      .select('secrets')
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(shop.ctx.secrets.open((JSON.parse(after.secrets) as Record<string, string>).password!)).toBe(
      'other-pass',
    );

    // An optional secret can be unset.
    const server = await create({
      name: 'Servers',
      type: 'test-servers',
      productTypes: ['vds'],
      params: { url: 'https://vm.example.com', token: 'token-123456' },
    });
    expect(server.secrets).toEqual({ token: 'set' });
    const unset = ok(
      await call(shop, 'PATCH', `/api/v1/modules/${server.id}`, shop.admin, { params: { token: null } }),
    );
    expect(unset.secrets).toEqual({ token: 'unset' });

    for (const url of ['/api/v1/modules', `/api/v1/modules/${created.id}`, `/api/v1/modules/${server.id}`]) {
      const res = await call(shop, 'GET', url, shop.admin);
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain('other-pass');
      expect(res.body).not.toContain('token-123456');
      expect(res.body).not.toContain('v1:');
    }
  });

  it('checks the connection and records the outcome; reports the upstream balance', async () => {
    const m = await create(licenseModule({ minBalance: '20.00' }));
    expect(ok(await call(shop, 'POST', `/api/v1/modules/${m.id}/check`, shop.admin))).toMatchObject({
      ok: true,
      message: 'Signed in as reseller',
    });
    ok(await call(shop, 'PATCH', `/api/v1/modules/${m.id}`, shop.admin, { params: { password: 'wrong' } }));
    expect(ok(await call(shop, 'POST', `/api/v1/modules/${m.id}/check`, shop.admin))).toMatchObject({
      ok: false,
      message: 'The upstream refused the password.',
    });
    const detail = ok(await call(shop, 'GET', `/api/v1/modules/${m.id}`, shop.admin));
    expect(detail.lastCheck).toMatchObject({ ok: false, message: 'The upstream refused the password.' });
    expect(ok(await call(shop, 'GET', `/api/v1/modules/${m.id}/balance`, shop.admin))).toEqual({
      amount: '12.50',
      currency: 'EUR',
      minimum: '20.00',
      below: true,
    });
    const manual = await create({ name: 'Hands', type: 'manual', productTypes: ['vds'] });
    expectError(
      await call(shop, 'POST', `/api/v1/modules/${manual.id}/check`, shop.admin),
      409,
      'feature_not_supported',
    );
  });

  it('refuses bad input with a stable code and writes nothing', async () => {
    const manual = await create({ name: 'Hands', type: 'manual', productTypes: ['vds', 'soft'] });
    const lic = await create(licenseModule());
    const server = await create({
      name: 'Servers',
      type: 'test-servers',
      productTypes: ['vds'],
      params: { url: 'https://vm.example.com' },
    });
    const before = await tables();
    const cases: [string, string, unknown, number, string][] = [
      ['POST', '/api/v1/modules', licenseModule({ name: 'X', type: 'cpanel' }), 400, 'unknown_module_type'],
      [
        'POST',
        '/api/v1/modules',
        licenseModule({ name: 'X', params: { url: 'not a url', username: 'u', password: 'p' } }),
        400,
        'invalid_module_params',
      ],
      [
        'POST',
        '/api/v1/modules',
        licenseModule({ name: 'X', params: { url: 'https://a.example', username: 'u' } }),
        400,
        'invalid_module_params',
      ],
      [
        'POST',
        '/api/v1/modules',
        licenseModule({
          name: 'X',
          params: { url: 'https://a.example', username: 'u', password: 'p', extra: 1 },
        }),
        400,
        'invalid_module_params',
      ],
      [
        'POST',
        '/api/v1/modules',
        licenseModule({ name: 'X', productTypes: ['vds'] }),
        400,
        'product_type_not_served',
      ],
      [
        'POST',
        '/api/v1/modules',
        licenseModule({ name: 'X', productTypes: ['nosuch'] }),
        400,
        'unknown_product_type',
      ],
      [
        'POST',
        '/api/v1/modules',
        licenseModule({ name: 'X', licenseServerId: lic.id }),
        400,
        'license_server_not_supported',
      ],
      [
        'POST',
        '/api/v1/modules',
        {
          name: 'X',
          type: 'test-servers',
          productTypes: ['vds'],
          params: { url: 'https://vm.example.com' },
          licenseServerId: manual.id,
        },
        400,
        'not_a_license_module',
      ],
      [
        'POST',
        '/api/v1/modules',
        {
          name: 'X',
          type: 'test-servers',
          productTypes: ['vds'],
          params: { url: 'https://vm.example.com' },
          licenseServerId: 999999,
        },
        400,
        'license_server_not_found',
      ],
      ['POST', '/api/v1/modules', licenseModule(), 409, 'module_name_taken'],
      ['POST', '/api/v1/modules', licenseModule({ name: 'X', secret: 1 }), 400, 'unknown_field'],
      ['PATCH', `/api/v1/modules/${server.id}`, { licenseServerId: manual.id }, 400, 'not_a_license_module'],
      ['PATCH', `/api/v1/modules/${lic.id}`, { params: { password: null } }, 400, 'invalid_module_params'],
      ['PATCH', `/api/v1/modules/${lic.id}`, { name: 'Hands' }, 409, 'module_name_taken'],
      [
        'PUT',
        `/api/v1/tariffs/${shop.tariffs.license}/modules`,
        { modules: [{ moduleId: server.id }] },
        400,
        'module_product_type_mismatch',
      ],
      [
        'PUT',
        `/api/v1/tariffs/${shop.tariffs.license}/modules`,
        { modules: [{ moduleId: lic.id }, { moduleId: 999999 }] },
        400,
        'module_not_found',
      ],
      [
        'PUT',
        `/api/v1/tariffs/${shop.tariffs.license}/modules`,
        { modules: [{ moduleId: lic.id }, { moduleId: lic.id }] },
        400,
        'duplicate_module',
      ],
      ['PUT', '/api/v1/tariffs/999999/modules', { modules: [] }, 404, 'tariff_not_found'],
      ['GET', '/api/v1/modules/999999', undefined, 404, 'module_not_found'],
    ];
    for (const [method, url, body, status, code] of cases) {
      expectError(await call(shop, method as 'POST', url, shop.admin, body), status, code);
    }
    expect(await tables()).toBe(before);

    // A linked module cannot stop serving the tariff's product type, nor be deleted.
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.license}/modules`, shop.admin, {
        modules: [{ moduleId: manual.id }],
      }),
    );
    const linked = await tables();
    expectError(
      await call(shop, 'PATCH', `/api/v1/modules/${manual.id}`, shop.admin, { productTypes: ['vds'] }),
      409,
      'module_in_use',
    );
    expectError(await call(shop, 'DELETE', `/api/v1/modules/${manual.id}`, shop.admin), 409, 'module_in_use');
    expect(await tables()).toBe(linked);
    expect((await call(shop, 'DELETE', `/api/v1/modules/${server.id}`, shop.admin)).statusCode).toBe(204);
  });

  it('is for staff only: a client gets 403', async () => {
    const m = await create(licenseModule());
    for (const [method, url] of [
      ['GET', '/api/v1/module-types'],
      ['GET', '/api/v1/modules'],
      ['GET', `/api/v1/modules/${m.id}`],
      ['POST', `/api/v1/modules/${m.id}/check`],
      ['GET', `/api/v1/tariffs/${shop.tariffs.license}/modules`],
    ] as const) {
      expect((await call(shop, method, url, shop.alpha.auth)).statusCode, url).toBe(403);
    }
    expectError(
      await call(shop, 'POST', '/api/v1/modules', shop.alpha.auth, licenseModule({ name: 'Mine' })),
      403,
      'forbidden',
    );
  });
});

describe('which module opens a service', () => {
  it('the enabled linked module with the lowest sort; the choice sticks; all disabled → the open waits', async () => {
    const a = await create(licenseModule({ name: 'A', enabled: false }));
    const b = await create(licenseModule({ name: 'B' }));
    const links = ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.license}/modules`, shop.admin, {
        modules: [
          { moduleId: a.id, sortOrder: 1 },
          { moduleId: b.id, sortOrder: 2 },
        ],
      }),
    );
    expect(links.items.map((l: { name: string; enabled: boolean }) => [l.name, l.enabled])).toEqual([
      ['A', false],
      ['B', true],
    ]);
    await payIn(shop, shop.alpha.accountId, '100.00');
    const first = await orderPaid(shop, shop.alpha, licenseItem(shop, { params: { ...LICENSE_PARAMS } }));
    await runQueuedOperations(shop.ctx);
    const s1 = await getService(shop, first.serviceId);
    expect(s1).toMatchObject({
      status: 'active',
      moduleId: b.id,
      externalId: `L-${first.serviceId}`,
      params: { ...LICENSE_PARAMS, lickey: `${first.serviceId}-K3Y` },
    });
    expect(s1.operations[0]).toMatchObject({ kind: 'open', status: 'done' });

    ok(await call(shop, 'PATCH', `/api/v1/modules/${a.id}`, shop.admin, { enabled: true }));
    const second = await orderPaid(
      shop,
      shop.alpha,
      licenseItem(shop, { params: { ip: '203.0.113.11', licname: 'x' } }),
    );
    await runQueuedOperations(shop.ctx);
    expect(await getService(shop, second.serviceId)).toMatchObject({ status: 'active', moduleId: a.id });

    // The first service stays with B for its later operations.
    ok(
      await call(shop, 'POST', `/api/v1/services/${first.serviceId}/suspend`, shop.admin, {
        reason: 'admin',
      }),
    );
    await runQueuedOperations(shop.ctx);
    const suspended = await getService(shop, first.serviceId);
    expect(suspended).toMatchObject({ status: 'suspended', moduleId: b.id });
    // test-licenses has no suspend: nothing remote, the status still follows.
    expect(suspended.operations.find((o: { kind: string }) => o.kind === 'suspend')).toMatchObject({
      status: 'done',
    });

    for (const m of [a, b])
      ok(await call(shop, 'PATCH', `/api/v1/modules/${m.id}`, shop.admin, { enabled: false }));
    const third = await orderPaid(
      shop,
      shop.alpha,
      licenseItem(shop, { params: { ip: '203.0.113.12', licname: 'y' } }),
    );
    await runQueuedOperations(shop.ctx);
    const waiting = await getService(shop, third.serviceId);
    expect(waiting).toMatchObject({ status: 'processing', moduleId: null });
    expect(waiting.operations[0]).toMatchObject({
      kind: 'open',
      status: 'retry_wait',
      lastError: { code: 'no_enabled_module', retryable: true },
    });
  });

  it("a server module's license server is loaded for its plug-in", async () => {
    const lic = await create(licenseModule());
    const server = await create({
      name: 'Servers',
      type: 'test-servers',
      productTypes: ['vds'],
      params: { url: 'https://vm.example.com' },
      licenseServerId: lic.id,
    });
    expect(server.licenseServerId).toBe(lic.id);
    await panelLicenseServer(shop, lic.id);
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.vds}/modules`, shop.admin, {
        modules: [{ moduleId: server.id }],
      }),
    );
    ok(
      await call(shop, 'POST', `/api/v1/accounts/${shop.alpha.accountId}/payments`, shop.admin, {
        amount: '100.00',
        method: 'bank',
        reference: 'p1',
      }),
      201,
    );
    const { serviceId } = await orderPaid(shop, shop.alpha, {
      tariffId: shop.tariffs.vds,
      period: 1,
      params: { ...VDS_PARAMS },
    });
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s).toMatchObject({ status: 'active', params: { ip: '198.51.100.7' } });
    const op = ok(await call(shop, 'GET', `/api/v1/operations/${s.operations[0].id}`, shop.admin));
    expect(op.status).toBe('done');
    const row = await shop.ctx.db.kysely
      .selectFrom('operations')
      .select('result')
      .where('id', '=', op.id)
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.result!)).toMatchObject({ data: { licenseServer: 'Upstream' } });
  });
});

describe('the manual module type', () => {
  it('opens a staff task; staff complete it with the IP and the service is active', async () => {
    const hands = await create({
      name: 'Hands',
      type: 'manual',
      productTypes: ['vds'],
      params: { instructions: 'Rack a server and note its IP.', openFields: ['ip'] },
    });
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.vds}/modules`, shop.admin, {
        modules: [{ moduleId: hands.id }],
      }),
    );
    ok(
      await call(shop, 'POST', `/api/v1/accounts/${shop.alpha.accountId}/payments`, shop.admin, {
        amount: '100.00',
        method: 'bank',
        reference: 'p1',
      }),
      201,
    );
    const { serviceId } = await orderPaid(shop, shop.alpha, {
      tariffId: shop.tariffs.vds,
      period: 1,
      params: { ...VDS_PARAMS },
    });
    await runQueuedOperations(shop.ctx);
    // Nothing more happens on its own: the operation is held by the task.
    await runQueuedOperations(shop.ctx);
    const waiting = await getService(shop, serviceId);
    expect(waiting.status).toBe('processing');
    const op = waiting.operations[0];
    expect(op).toMatchObject({ kind: 'open', status: 'running', attempts: 1 });
    const { items } = ok(await call(shop, 'GET', `/api/v1/tasks?kind=manual_action&status=open`, shop.admin));
    expect(items).toHaveLength(1);
    const task = items[0];
    expect(op.waitingForTaskId).toBe(task.id);
    expect(task).toMatchObject({
      operationId: op.id,
      serviceId,
      kind: 'manual_action',
      status: 'open',
      details: { operation: 'open', fields: ['ip'], instructions: 'Rack a server and note its IP.' },
    });
    expect(task.title).toContain(`#${serviceId}`);

    const before = await tables();
    const url = `/api/v1/tasks/${task.id}/complete`;
    expectError(await call(shop, 'POST', url, shop.admin, {}), 400, 'task_fields_missing');
    expectError(
      await call(shop, 'POST', url, shop.admin, { params: { ip: '300.1.1.1' } }),
      400,
      'invalid_ip',
    );
    expectError(
      await call(shop, 'POST', url, shop.admin, { params: { ip: '192.0.2.5', root: 'x' } }),
      400,
      'unknown_field',
    );
    expectError(
      await call(shop, 'POST', url, shop.alpha.auth, { params: { ip: '192.0.2.5' } }),
      403,
      'forbidden',
    );
    expect(await tables()).toBe(before);
    expect((await getService(shop, serviceId)).status).toBe('processing');

    const done = ok(await call(shop, 'POST', url, shop.admin, { params: { ip: '192.0.2.5' } }));
    expect(done).toMatchObject({ status: 'done', details: { entered: { ip: '192.0.2.5' } } });
    expect(done.closedBy).toBeTruthy();
    const active = await getService(shop, serviceId);
    expect(active).toMatchObject({
      status: 'active',
      moduleId: hands.id,
      params: { ...VDS_PARAMS, ip: '192.0.2.5' },
    });
    expect(active.operations[0]).toMatchObject({ status: 'done', waitingForTaskId: null });
    expectError(
      await call(shop, 'POST', url, shop.admin, { params: { ip: '192.0.2.5' } }),
      409,
      'task_not_open',
    );

    // Suspension by staff is another task; cancelling it gives up and the service stays active.
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/suspend`, shop.admin, { reason: 'abuse' }));
    await runQueuedOperations(shop.ctx);
    const open = ok(
      await call(shop, 'GET', `/api/v1/tasks?status=open&serviceId=${serviceId}`, shop.admin),
    ).items;
    expect(open).toHaveLength(1);
    expect(open[0].details).toMatchObject({ operation: 'suspend', fields: [] });
    const cancelled = ok(await call(shop, 'POST', `/api/v1/tasks/${open[0].id}/cancel`, shop.admin));
    expect(cancelled.status).toBe('cancelled');
    const after = await getService(shop, serviceId);
    expect(after.status).toBe('active');
    expect(after.operations.find((o: { kind: string }) => o.kind === 'suspend')).toMatchObject({
      status: 'cancelled',
    });
    expectError(
      await call(shop, 'POST', `/api/v1/tasks/${open[0].id}/cancel`, shop.admin),
      409,
      'task_not_open',
    );
  });

  it('a failed-operation task is retried or cancelled, not completed', async () => {
    const failing = defineModuleType({
      type: 'test-failing',
      title: 'Always fails',
      productTypes: ['soft'],
      configSchema: z.strictObject({}),
      secretFields: [],
      features: ['open', 'close'],
      async open() {
        throw new OperationError('upstream_refused', 'No.', false);
      },
      async close() {
        return {};
      },
    });
    await shop.t.close();
    shop = await openShop({ moduleTypes: [failing] });
    const m = await create({ name: 'F', type: 'test-failing', productTypes: ['soft'] });
    ok(
      await call(shop, 'PUT', `/api/v1/tariffs/${shop.tariffs.license}/modules`, shop.admin, {
        modules: [{ moduleId: m.id }],
      }),
    );
    await payIn(shop, shop.alpha.accountId, '100.00');
    const { serviceId } = await orderPaid(shop, shop.alpha, licenseItem(shop));
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('processing');
    expect(s.operations[0]).toMatchObject({
      status: 'failed',
      lastError: { code: 'upstream_refused', retryable: false },
    });
    const [task] = ok(await call(shop, 'GET', '/api/v1/tasks?kind=operation_failed', shop.admin)).items;
    expectError(
      await call(shop, 'POST', `/api/v1/tasks/${task.id}/complete`, shop.admin, {}),
      409,
      'task_not_manual',
    );
  });
});
