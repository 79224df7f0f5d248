import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONFIG_A,
  ADMIN as DCI_ADMIN,
  type FakeDcimanager,
  startFakeDcimanager,
} from '../../src/integrations/dcimanager6/fake-server.js';
import {
  type FakeVmmanager,
  startFakeVmmanager,
  DEFAULT_ADMIN as VM_ADMIN,
} from '../../src/integrations/vmmanager6/fake-server.js';
import { presentTariff } from '../../src/modules/catalog/presenters.js';
import { getTariffAggregate } from '../../src/modules/catalog/queries.js';
import {
  DEMO_DCI_MODULE,
  DEMO_DEDIC_TARIFF,
  DEMO_LICENSE_MODULE,
  DEMO_VM_MODULE,
  DEMO_VPS_TARIFF,
  type SeedDemoInput,
  seedDemo,
  seedSeller,
} from '../../src/modules/catalog/seed-demo.js';
import { createModule, listTariffModules } from '../../src/modules/provisioning/commands.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { createHttpTest, type HttpTest } from '../helpers/http.js';
import { staffActor } from '../helpers/shop.js';

/**
 * `catalog seed-demo` against a selling Billfold (its `/billmgr` over 127.0.0.1) and the
 * VMmanager 6 / DCImanager 6 fakes: the brief's configuration, built once; a second run finds
 * it all and writes nothing.
 */

let seller: HttpTest;
let vm: FakeVmmanager;
let dci: FakeDcimanager;
let input: SeedDemoInput;

beforeAll(async () => {
  // 2021-12-16: the seller still sells ISPmanager 5 (it ends 2021-12-31).
  seller = await createHttpTest();
  await seedSeller(seller.ctx, staffActor, {
    email: 'reseller@example.net',
    name: 'Reseller',
    password: 'upstream:Pa55-word',
    deposit: '100.00',
  });
  await seller.app.listen({ host: '127.0.0.1', port: 0 });
  vm = await startFakeVmmanager();
  dci = await startFakeDcimanager();
  input = {
    billmanager: {
      url: `http://127.0.0.1:${(seller.app.server.address() as AddressInfo).port}/billmgr`,
      username: 'reseller@example.net',
      password: 'upstream:Pa55-word',
    },
    vmmanager: { url: vm.url, ...VM_ADMIN, clusterId: 1, osIds: [1, 2] },
    dcimanager: { url: dci.url, ...DCI_ADMIN, locationId: 1, configuration: CONFIG_A, osIds: [11, 12] },
  };
});
afterAll(async () => {
  await vm?.close();
  await dci?.close();
  await seller?.close();
});

const TABLES = [
  'enumerations',
  'enumeration_values',
  'processing_modules',
  'tariffs',
  'tariff_periods',
  'tariff_modules',
  'tariff_history',
  'addons',
  'addon_values',
  'addon_prices',
] as const;

/** Every row the seed may write, as JSON: "nothing changed" means this does not move. */
async function snapshot(ctx: TestContext) {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) out[t] = await ctx.db.kysely.selectFrom(t).selectAll().execute();
  return JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

describe('catalog seed-demo', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await ctx?.testDb.destroy();
  });

  it('builds the enumeration, the license server with its tariffs, the server modules and tariffs with a priced panel addon', async () => {
    const s = await seedDemo(ctx, staffActor, input);
    expect(s.enumeration.valuesAdded).toEqual(['3541', '4601', '55227', '55228', '55229', '55230', 'none']);
    const [license, vmModule, dciModule] = s.modules;
    expect(s.modules.map((m) => [m.name, m.type, m.outcome, m.check?.ok])).toEqual([
      [DEMO_LICENSE_MODULE, 'billmanager', 'created', true],
      [DEMO_VM_MODULE, 'vmmanager6', 'created', true],
      [DEMO_DCI_MODULE, 'dcimanager6', 'created', true],
    ]);
    expect(vmModule!.licenseServerId).toBe(license!.id);
    expect(dciModule!.licenseServerId).toBe(license!.id);

    // The standalone license tariffs, imported under their upstream ids; ISPmanager 5 ends 2021-12-31.
    expect(s.imported?.created).toBeGreaterThanOrEqual(6);
    expect(s.ispmanager5.missing).toEqual([]);
    expect(s.ispmanager5.tariffs.map((t) => [t.externalId, t.expiresOn])).toEqual([
      ['3541', '2021-12-31'],
      ['4601', '2021-12-31'],
    ]);
    const imported = await ctx.db.kysely
      .selectFrom('tariff_modules')
      .select('external_id')
      .where('module_id', '=', license!.id)
      .execute();
    expect(imported.map((l) => l.external_id)).toEqual(
      expect.arrayContaining(['3541', '4601', '55227', '55228', '55229', '55230']),
    );

    expect(s.tariffs.map((t) => [t.name, t.productType, t.outcome, t.linked])).toEqual([
      [DEMO_VPS_TARIFF, 'vds', 'created', true],
      [DEMO_DEDIC_TARIFF, 'dedic', 'created', true],
    ]);
    const [vps, dedic] = s.tariffs;
    expect(await listTariffModules(ctx.db.kysely, vps!.id)).toMatchObject([
      { moduleId: vmModule!.id, settings: { clusterId: 1, osIds: [1, 2] } },
    ]);
    expect(await listTariffModules(ctx.db.kysely, dedic!.id)).toMatchObject([
      { moduleId: dciModule!.id, settings: { configuration: CONFIG_A, locationId: 1, osIds: [11, 12] } },
    ]);

    for (const t of [vps!, dedic!]) {
      const view = presentTariff(await getTariffAggregate(ctx, t.id));
      expect(view.periods.map((p) => p.period)).toEqual([1, 12]);
      const [addon] = view.addons;
      expect(addon).toMatchObject({
        kind: 'control_panel',
        label: 'Control panel',
        valueType: 'enumeration',
        enumerationId: s.enumeration.id,
      });
      const byName = Object.fromEntries(addon!.values.map((v) => [v.internalName, v]));
      expect(Object.keys(byName).sort()).toEqual([
        '3541',
        '4601',
        '55227',
        '55228',
        '55229',
        '55230',
        'none',
      ]);
      expect(addon!.defaultValue).toBe(byName.none!.valueId);
      // Every value priced for every offered period; "No panel" free; ISPmanager 5 no longer offered.
      for (const v of addon!.values) expect(v.prices.every((p) => p.price !== null && p.explicit)).toBe(true);
      expect(byName.none!.prices.map((p) => p.price)).toEqual(['0.00', '0.00']);
      expect(byName['55228']!.prices.map((p) => p.price)).toEqual(['18.00', '180.00']);
      expect(addon!.values.filter((v) => !v.offered).map((v) => v.internalName)).toEqual(['3541', '4601']);
    }
  });

  it('a second run finds everything, asks no upstream and changes nothing', async () => {
    const before = await snapshot(ctx);
    const vmCalls = vm.state.calls.length;
    const dciCalls = dci.state.calls.length;
    const s = await seedDemo(ctx, staffActor, input);
    expect(s.enumeration.valuesAdded).toEqual([]);
    expect(s.modules.map((m) => m.outcome)).toEqual(['found', 'found', 'found']);
    expect(s.imported).toBeNull();
    expect(s.ispmanager5.tariffs.every((t) => !t.expiryDateSet)).toBe(true);
    expect(s.tariffs.map((t) => [t.outcome, t.linked])).toEqual([
      ['found', false],
      ['found', false],
    ]);
    expect(s.addons.map((a) => a.outcome)).toEqual(['found', 'found']);
    expect(await snapshot(ctx)).toBe(before);
    expect(vm.state.calls.length).toBe(vmCalls);
    expect(dci.state.calls.length).toBe(dciCalls);
  });
});

describe('catalog seed-demo refuses', () => {
  it('a module name held by another module type: nothing is written', async () => {
    const ctx = await createTestContext();
    try {
      await createModule(ctx, staffActor, {
        name: DEMO_VM_MODULE,
        type: 'manual',
        productTypes: ['vds'],
      });
      await expect(seedDemo(ctx, staffActor, input)).rejects.toMatchObject({
        code: 'seed_module_name_taken',
      });
      const modules = await ctx.db.kysely.selectFrom('processing_modules').select('module_type').execute();
      expect(modules).toEqual([{ module_type: 'manual' }]);
      expect(await ctx.db.kysely.selectFrom('enumerations').selectAll().execute()).toEqual([]);
    } finally {
      await ctx.testDb.destroy();
    }
  });

  it('a connection that fails is reported by the module check, not hidden', async () => {
    const ctx = await createTestContext();
    try {
      const s = await seedDemo(ctx, staffActor, {
        ...input,
        vmmanager: { ...input.vmmanager, password: 'wrong-password' },
      });
      expect(s.modules.find((m) => m.type === 'vmmanager6')?.check?.ok).toBe(false);
    } finally {
      await ctx.testDb.destroy();
    }
  });
});
