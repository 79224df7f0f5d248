import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineModuleType,
  OperationError,
  type ServiceSnapshot,
} from '../../src/modules/provisioning/index.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { enqueueOperation } from '../../src/modules/services/operations.js';
import { inTransaction } from '../../src/platform/db/index.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import {
  call,
  getService,
  licenseItem,
  ok,
  openShop,
  orderPaid,
  payIn,
  type Shop,
  VDS_PARAMS,
} from '../helpers/shop.js';

/**
 * What the plug-in interface gives a real integration: the service's addons with their kind
 * and enumeration internal names, the plug-in's own per-tariff settings (validated by its
 * schema), whether a step was saved by an earlier attempt, the upstream cost recorded with the
 * operation, a new key and an IP change dispatched to `genKey` / `setParam`, and the upstream
 * balance guard.
 */

/** A remote side kept in memory: what each call saw, a balance, a price. */
const remote = {
  snapshots: [] as ServiceSnapshot[],
  settings: [] as Record<string, unknown>[],
  hadIntent: [] as boolean[],
  calls: [] as string[],
  balance: '100.0000',
  failOpenOnce: false,
};

const remoteModule = defineModuleType({
  type: 'remote-test',
  title: 'Remote test',
  productTypes: ['soft', 'vds'],
  configSchema: z.strictObject({}),
  secretFields: [],
  tariffSettingsSchema: z.strictObject({ pricelist: z.string().regex(/^[0-9]+$/) }),
  features: ['open', 'close', 'prolong', 'setParam', 'genKey', 'getBalance', 'estimateCost'],
  async open(c) {
    remote.snapshots.push(c.service);
    remote.settings.push({ ...c.tariffSettings });
    remote.hadIntent.push(c.hasStep('intent'));
    await c.step('intent', async () => ({ remoteId: String(c.service.id) }));
    if (remote.failOpenOnce) {
      remote.failOpenOnce = false;
      throw new OperationError('upstream_timeout', 'The upstream did not answer.', true);
    }
    remote.calls.push(`open:${c.service.id}`);
    return {
      externalId: `R${c.service.id}`,
      serviceParams: { key: `${c.service.id}-KEY` },
      cost: { kind: 'order', period: c.service.period, amount: '7.5000', currency: 'EUR' },
    };
  },
  async close() {
    return {};
  },
  async prolong(c) {
    remote.calls.push(`prolong:${c.service.id}:${String(c.operation.payload.period)}`);
    return {
      cost: {
        kind: 'renewal',
        period: Number(c.operation.payload.period),
        amount: '7.5000',
        currency: 'EUR',
      },
    };
  },
  async setParam(c) {
    remote.calls.push(`set:${String(c.operation.payload.param)}`);
    return { serviceParams: { ip: String(c.operation.payload.value) } };
  },
  async genKey(c) {
    remote.calls.push('genkey');
    return { serviceParams: { key: `${c.service.id}-NEW` } };
  },
  async getBalance() {
    return { amount: remote.balance, currency: 'EUR' };
  },
  async estimateCost(_c, kind, period) {
    return { kind: kind === 'open' ? 'order' : 'renewal', period, amount: '7.5000', currency: 'EUR' };
  },
});

let shop: Shop;
let moduleId: number;

beforeEach(async () => {
  remote.snapshots = [];
  remote.settings = [];
  remote.hadIntent = [];
  remote.calls = [];
  remote.balance = '100.0000';
  remote.failOpenOnce = false;
  shop = await openShop({ moduleTypes: [remoteModule] });
  await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { currency: 'EUR' });
  const created = ok(
    await call(shop, 'POST', '/api/v1/modules', shop.admin, {
      name: 'Remote',
      type: 'remote-test',
      productTypes: ['soft', 'vds'],
      params: {},
    }),
    201,
  );
  moduleId = created.id;
  await payIn(shop, shop.alpha.accountId, '500.00');
});

afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const link = (tariffId: number, settings?: Record<string, unknown>) =>
  call(shop, 'PUT', `/api/v1/tariffs/${tariffId}/modules`, shop.admin, {
    modules: [{ moduleId, ...(settings ? { settings } : {}) }],
  });

describe('the plug-in interface', () => {
  it('publishes the tariff settings schema and refuses settings it does not accept, writing nothing', async () => {
    const types = ok(await call(shop, 'GET', '/api/v1/module-types', shop.admin));
    const mine = types.items.find((t: { type: string }) => t.type === 'remote-test');
    expect(mine.tariffSettingsSchema).toMatchObject({
      type: 'object',
      properties: { pricelist: { type: 'string' } },
    });
    expect(types.items.find((t: { type: string }) => t.type === 'manual').tariffSettingsSchema).toBeNull();

    await expectError(await link(shop.tariffs.license, { pricelist: 'abc' }), 400, 'tariff_settings_invalid');
    await expectError(
      await link(shop.tariffs.license, { pricelist: '1', extra: 1 }),
      400,
      'tariff_settings_invalid',
    );
    expect(
      ok(await call(shop, 'GET', `/api/v1/tariffs/${shop.tariffs.license}/modules`, shop.admin)).items,
    ).toEqual([]);

    const linked = ok(await link(shop.tariffs.license, { pricelist: '55227' }));
    expect(linked.items[0]).toMatchObject({ moduleId, settings: { pricelist: '55227' }, externalId: null });
    // Listed again without settings: the link keeps the ones it had.
    expect(ok(await link(shop.tariffs.license)).items[0].settings).toEqual({ pricelist: '55227' });
  });

  it('gives the plug-in the addons with kinds and internal names, and the tariff settings', async () => {
    ok(await link(shop.tariffs.vds, { pricelist: '1' }));
    const { serviceId } = await orderPaid(shop, shop.alpha, {
      tariffId: shop.tariffs.vds,
      period: 1,
      params: { ...VDS_PARAMS },
      addonValues: { [shop.addons.panel]: shop.panels.pro6, [shop.addons.ram]: 4 },
    });
    await runQueuedOperations(shop.ctx);
    const snap = remote.snapshots.at(-1)!;
    expect(snap.id).toBe(serviceId);
    expect(remote.settings.at(-1)).toEqual({ pricelist: '1' });
    const panel = snap.addons.find((a) => a.kind === 'control_panel')!;
    expect(panel).toMatchObject({
      addonId: shop.addons.panel,
      valueType: 'enumeration',
      value: shop.panels.pro6,
      internalName: '55228',
      valueName: 'ISPmanager 6 Pro',
    });
    expect(snap.addons.find((a) => a.kind === 'ram')).toMatchObject({
      valueType: 'integer',
      value: 4,
      internalName: null,
    });
    expect(snap.addons.find((a) => a.label === 'Backups')).toMatchObject({
      valueType: 'boolean',
      value: null,
    });
    expect(snap.addons.filter((a) => a.kind === 'control_panel')).toHaveLength(1);
  });

  it('tells a retry that a step was saved, records the upstream cost once, dispatches a new key and an IP change', async () => {
    ok(await link(shop.tariffs.license, { pricelist: '55227' }));
    remote.failOpenOnce = true;
    const { serviceId } = await orderPaid(shop, shop.alpha, licenseItem(shop));
    await runQueuedOperations(shop.ctx);
    // The first attempt failed after saving its intent; the retry knows it.
    const op = await shop.ctx.db.kysely
      .selectFrom('operations')
      .selectAll()
      .where('service_id', '=', serviceId)
      .executeTakeFirstOrThrow();
    await shop.ctx.db.kysely
      .updateTable('operations')
      .set({ next_attempt_at: '2000-01-01T00:00:00.000Z' })
      .where('id', '=', op.id)
      .execute();
    await runQueuedOperations(shop.ctx);
    expect(remote.hadIntent).toEqual([false, true]);
    expect(await getService(shop, serviceId)).toMatchObject({
      status: 'active',
      externalId: `R${serviceId}`,
    });

    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/renew`, shop.alpha.auth, { period: 12 }));
    await runQueuedOperations(shop.ctx);
    expect(remote.calls).toContain(`prolong:${serviceId}:12`);
    const costs = await shop.ctx.db.kysely.selectFrom('upstream_costs').selectAll().orderBy('id').execute();
    expect(costs.map((c) => [c.kind, Number(c.period), String(c.amount_e4), c.currency])).toEqual([
      ['order', 1, '75000', 'EUR'],
      ['renewal', 12, '75000', 'EUR'],
    ]);

    // A new key goes to genKey, an IP change to setParam; what they learn lands in params.
    await inTransaction(shop.ctx.db, async (tx) => {
      await enqueueOperation(tx, shop.ctx, serviceId, 'set_param', { param: 'key' }, `t:key:${serviceId}`);
      await enqueueOperation(
        tx,
        shop.ctx,
        serviceId,
        'set_param',
        { param: 'ip', value: '198.51.100.7' },
        `t:ip:${serviceId}`,
      );
    });
    await runQueuedOperations(shop.ctx);
    expect(remote.calls.slice(-2)).toEqual(['genkey', 'set:ip']);
    expect((await getService(shop, serviceId)).params).toMatchObject({
      key: `${serviceId}-NEW`,
      ip: '198.51.100.7',
    });
    const hold = await shop.ctx.db.kysely
      .selectFrom('license_ips')
      .selectAll()
      .where('service_id', '=', serviceId)
      .executeTakeFirstOrThrow();
    expect(hold.ip).toBe('198.51.100.7');
  });

  it('refuses to start an order the upstream balance cannot pay above its minimum, as a failed operation for staff', async () => {
    ok(await link(shop.tariffs.license, { pricelist: '55227' }));
    ok(await call(shop, 'PATCH', `/api/v1/modules/${moduleId}`, shop.admin, { minBalance: '95.00' }));
    const { serviceId } = await orderPaid(shop, shop.alpha, licenseItem(shop));
    await runQueuedOperations(shop.ctx);
    const s = await getService(shop, serviceId);
    expect(s.status).toBe('processing');
    expect(s.operations[0]).toMatchObject({ kind: 'open', status: 'failed' });
    expect(s.operations[0].lastError).toMatchObject({ code: 'upstream_balance_low' });
    expect(remote.calls).toEqual([]);
    const tasks = ok(await call(shop, 'GET', '/api/v1/tasks', shop.admin));
    expect(
      tasks.items.some((t: { kind: string; operationId: number }) => t.kind === 'operation_failed'),
    ).toBe(true);

    // Topped up: staff retry, and the order goes through once.
    remote.balance = '200.0000';
    ok(await call(shop, 'POST', `/api/v1/operations/${s.operations[0].id}/retry`, shop.admin));
    await runQueuedOperations(shop.ctx);
    expect(await getService(shop, serviceId)).toMatchObject({ status: 'active' });
    expect(remote.calls).toEqual([`open:${serviceId}`]);
  });
});
