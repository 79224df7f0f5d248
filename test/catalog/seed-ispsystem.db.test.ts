import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAddon, createTariff, updateTariff } from '../../src/modules/catalog/commands.js';
import { presentTariff } from '../../src/modules/catalog/presenters.js';
import { getTariffAggregate } from '../../src/modules/catalog/queries.js';
import {
  ISPSYSTEM_TARIFFS,
  LICENSE_MODULE_NAME,
  priceIn,
  seedIspsystem,
} from '../../src/modules/catalog/seed-ispsystem.js';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { createModule, listTariffModules } from '../../src/modules/provisioning/commands.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { client, staff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';

const TARIFF_IDS = [3541, 4601, 55227, 55228, 55229, 55230, 55239, 55240, 9203, 9204, 11738, 55163, 55161];
const ADDON_IDS = [55236, 55165, 55164];

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext();
});
afterEach(async () => {
  await ctx.testDb.destroy();
});

/** Row counts of everything the seed writes: "nothing changed" means these do not move. */
async function counts(c: TestContext = ctx) {
  const tables = [
    'tariffs',
    'tariff_periods',
    'addons',
    'addon_prices',
    'tariff_history',
    'processing_modules',
    'tariff_modules',
  ] as const;
  const out: Record<string, number> = {};
  for (const t of tables) {
    const r = await c.db.kysely
      .selectFrom(t)
      .select((e) => e.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    out[t] = Number(r.n);
  }
  return out;
}

const tariff = async (id: number) => presentTariff(await getTariffAggregate(ctx, id));
const prices = (t: Awaited<ReturnType<typeof tariff>>) =>
  Object.fromEntries(t.periods.map((p) => [String(p.period), p.price]));

describe('catalog seed-ispsystem', () => {
  it('seeds the upstream tariffs, prices, trials, expiry and addons, all served by one license-issuer', async () => {
    const s = await seedIspsystem(ctx, staff);
    expect(ISPSYSTEM_TARIFFS.map((t) => t.id)).toEqual(TARIFF_IDS);
    expect(s.currency).toBe('EUR');
    expect(s.tariffs).toEqual({ created: TARIFF_IDS, found: [] });
    expect(s.addons).toEqual({ created: ADDON_IDS, found: [] });
    expect(s.linked).toEqual(TARIFF_IDS);
    expect(s.servedElsewhere).toEqual([]);
    expect(s.module).toMatchObject({ name: LICENSE_MODULE_NAME, created: true, productTypesAdded: [] });

    const types = Object.fromEntries(
      await Promise.all(TARIFF_IDS.map(async (id) => [id, (await tariff(id)).productType])),
    );
    expect(types).toEqual({
      3541: 'soft',
      4601: 'soft',
      55227: 'soft',
      55228: 'soft',
      55229: 'soft',
      55230: 'soft',
      55239: 'soft',
      55240: 'soft',
      9203: 'softexternal',
      9204: 'softexternal',
      11738: 'softexternal',
      55163: 'platform',
      55161: 'platform',
    });

    const lite = await tariff(55227);
    expect(lite).toMatchObject({
      name: 'ISPmanager 6 Lite',
      status: 'active',
      expiresOn: null,
      trialDays: null,
    });
    expect(prices(lite)).toEqual({ '1': '7.50', '12': '75.00' });
    expect(prices(await tariff(55228))).toEqual({ '1': '15.00', '12': '150.00' });
    expect(prices(await tariff(55229))).toEqual({ '1': '30.00', '12': '300.00' });

    const legacy = await tariff(3541);
    expect(legacy).toMatchObject({ name: 'ISPmanager Lite', expiresOn: '2021-12-31' });
    expect(prices(legacy)).toEqual({ '1': '10.00', '12': '100.00' });
    expect((await tariff(4601)).expiresOn).toBe('2021-12-31');

    const business = await tariff(55230);
    expect(prices(business)).toEqual({ '1': '45.00', '12': '450.00' });
    expect(business.addons).toHaveLength(1);
    expect(business.addons[0]).toMatchObject({
      id: 55236,
      label: 'Extra nodes',
      valueType: 'integer',
      unit: 'node',
      included: 0,
      min: 0,
      step: 1,
      defaultValue: 0,
    });
    expect(business.addons[0]!.prices.map((p) => [p.period, p.price])).toEqual([
      [1, '10.00'],
      [12, '100.00'],
    ]);

    for (const [id, name] of [
      [55239, 'ISPmanager 6 trial'],
      [55240, 'ISPmanager 6 Business trial'],
    ] as const) {
      const trial = await tariff(id);
      expect(trial).toMatchObject({ name, trialDays: 30 });
      expect(prices(trial)).toEqual({ '-100': '0.00' });
    }

    for (const [id, price] of [
      [9203, '12.00'],
      [9204, '2.50'],
      [11738, '3.00'],
    ] as const) {
      expect(prices(await tariff(id)), String(id)).toEqual({ '1': price });
    }

    const vm = await tariff(55163);
    expect(vm).toMatchObject({ name: 'VMmanager 6', trialDays: 30 });
    expect(vm.periods.map((p) => p.period)).toEqual([-100, 1, 12]);
    expect(vm.addons.map((a) => [a.id, a.label, a.unit, a.included])).toEqual([
      [55165, 'Cluster nodes', 'node', 1],
      [55164, 'Virtual machines', 'VM', 10],
    ]);
    expect((await tariff(55161)).name).toBe('DCImanager 6');

    for (const id of TARIFF_IDS) {
      expect(await listTariffModules(ctx.db.kysely, id), String(id)).toEqual([
        expect.objectContaining({ moduleId: s.module.id, type: 'license-issuer', enabled: true }),
      ]);
    }
    // Generated ids come after the explicit ones (the PostgreSQL sequences were moved past them).
    const next = await createTariff(ctx, staff, {
      name: 'Later',
      productType: 'soft',
      periods: [1],
      prices: { '1': '1.00' },
    });
    expect(next.id).toBeGreaterThan(55240);
    const withAddon = await createAddon(ctx, staff, next.id, {
      kind: 'generic',
      label: 'Support',
      valueType: 'boolean',
    });
    expect(withAddon.addons[0]!.id).toBeGreaterThan(55236);
    await expect(
      createAddon(ctx, staff, next.id, { id: 55236, kind: 'generic', label: 'Again', valueType: 'boolean' }),
    ).rejects.toMatchObject({ code: 'addon_id_taken' });
  });

  it('run again changes nothing and reports everything found; staff edits stay, a lost link or addon comes back', async () => {
    const first = await seedIspsystem(ctx, staff);
    const before = await counts();
    const second = await seedIspsystem(ctx, staff);
    expect(second.tariffs).toEqual({ created: [], found: TARIFF_IDS });
    expect(second.addons).toEqual({ created: [], found: ADDON_IDS });
    expect(second.linked).toEqual([]);
    expect(second.module).toEqual({ ...first.module, created: false });
    expect(await counts()).toEqual(before);

    // Staff repriced Lite, removed Pro's link and the VM addon: only the link and the addon come back.
    await updateTariff(ctx, staff, 55227, { prices: { '1': '8.00' } });
    await ctx.db.kysely.deleteFrom('tariff_modules').where('tariff_id', '=', 55228).execute();
    await ctx.db.kysely.deleteFrom('addons').where('id', '=', 55164).execute();
    const third = await seedIspsystem(ctx, staff);
    expect(third.tariffs.created).toEqual([]);
    expect(third.addons.created).toEqual([55164]);
    expect(third.linked).toEqual([55228]);
    expect(prices(await tariff(55227))['1']).toBe('8.00');
    expect((await tariff(55163)).addons.map((a) => a.id)).toEqual([55165, 55164]);
  });

  // Like seed-control-panels: on PostgreSQL the two runs use separate pooled connections and
  // really race; on SQLite they interleave statement by statement on the one connection.
  it('two runs at once: neither fails, nothing is duplicated', async () => {
    const runs = await Promise.all([seedIspsystem(ctx, staff), seedIspsystem(ctx, staff)]);
    expect([...runs[0]!.tariffs.created, ...runs[1]!.tariffs.created].sort((a, b) => a - b)).toEqual(
      [...TARIFF_IDS].sort((a, b) => a - b),
    );
    for (const r of runs) {
      expect([...r.tariffs.created, ...r.tariffs.found].sort()).toEqual([...TARIFF_IDS].sort());
    }
    expect([...runs[0]!.addons.created, ...runs[1]!.addons.created].sort()).toEqual([...ADDON_IDS].sort());
    expect([...runs[0]!.linked, ...runs[1]!.linked].sort()).toEqual([...TARIFF_IDS].sort());
    expect(runs[0]!.module.id).toBe(runs[1]!.module.id);
    expect(runs.filter((r) => r.module.created)).toHaveLength(1);
    expect(await counts()).toMatchObject({
      tariffs: TARIFF_IDS.length,
      addons: ADDON_IDS.length,
      processing_modules: 1,
      tariff_modules: TARIFF_IDS.length,
    });
    // And a third run in between finds it all.
    const again = await seedIspsystem(ctx, staff);
    expect(again.tariffs.created).toEqual([]);
  });

  it('a tariff id held by another product type stops it before anything is written', async () => {
    await createTariff(ctx, staff, {
      id: 55228,
      name: 'VPS 55228',
      productType: 'vds',
      periods: [1],
      prices: { '1': '10.00' },
    });
    const before = await counts();
    await expect(seedIspsystem(ctx, staff)).rejects.toMatchObject({
      code: 'seed_tariff_id_taken',
      details: { tariffs: [{ id: 55228, productType: 'vds', expected: 'soft' }] },
    });
    expect(await counts()).toEqual(before);
    expect((await tariff(55228)).name).toBe('VPS 55228');
  });

  it('a provider tariff of the same type is found, not overwritten; one served by another module keeps it', async () => {
    await createTariff(ctx, staff, {
      id: 55227,
      name: 'Our own Lite',
      productType: 'soft',
      periods: [1],
      prices: { '1': '9.99' },
    });
    const manual = await createModule(ctx, staff, { name: 'Staff', type: 'manual', productTypes: ['soft'] });
    await ctx.db.kysely
      .insertInto('tariff_modules')
      .values({ tariff_id: 55227, module_id: manual.id, sort_order: 0 })
      .execute();
    const s = await seedIspsystem(ctx, staff);
    expect(s.tariffs.found).toEqual([55227]);
    expect(s.servedElsewhere).toEqual([55227]);
    expect(s.linked).not.toContain(55227);
    expect(await tariff(55227)).toMatchObject({ name: 'Our own Lite' });
    expect(prices(await tariff(55227))).toEqual({ '1': '9.99' });
    expect((await listTariffModules(ctx.db.kysely, 55227)).map((m) => m.name)).toEqual(['Staff']);
  });

  it('the module name held by another module type is refused; a license-issuer of that name is reused and completed', async () => {
    const manual = await createModule(ctx, staff, {
      name: LICENSE_MODULE_NAME,
      type: 'manual',
      productTypes: ['soft'],
    });
    const before = await counts();
    await expect(seedIspsystem(ctx, staff)).rejects.toMatchObject({ code: 'seed_module_name_taken' });
    expect(await counts()).toEqual(before);

    await ctx.db.kysely.deleteFrom('processing_modules').where('id', '=', manual.id).execute();
    const issuer = await createModule(ctx, staff, {
      name: LICENSE_MODULE_NAME,
      type: 'license-issuer',
      productTypes: ['soft'],
    });
    const s = await seedIspsystem(ctx, staff);
    expect(s.module).toEqual({
      id: Number(issuer.id),
      name: LICENSE_MODULE_NAME,
      created: false,
      productTypesAdded: ['softexternal', 'platform'],
    });
    expect(s.linked).toEqual(TARIFF_IDS);
  });

  it('an ordered seeded license is issued: key "<serviceId>-…", service active; Business with extra nodes is priced per node', async () => {
    await seedIspsystem(ctx, staff);
    const { actor } = await client(ctx, 'buyer@example.com', '200.00');
    const { order } = await placeOrder(ctx, actor, {
      items: [
        { tariffId: 55227, period: 1, params: { ip: '203.0.113.10', licname: 'web-1' } },
        {
          tariffId: 55230,
          period: 1,
          addonValues: { '55236': 2 },
          params: { ip: '203.0.113.11', licname: 'web-2' },
        },
        // Ordered on 2021-12-16 (the test clock): cut at 2021-12-31, 15/31 of 10.00 (BILLING.md).
        { tariffId: 3541, period: 1, params: { ip: '203.0.113.12', licname: 'web-3' } },
      ],
      payNow: true,
    });
    // 7.50 + 45.00 + 2 nodes × 10.00 + 4.84
    expect(Number(order.total_minor)).toBe(7734);
    expect(await runQueuedOperations(ctx)).toBeGreaterThan(0);
    const items = await ctx.db.kysely
      .selectFrom('order_items')
      .select('service_id')
      .where('order_id', '=', order.id)
      .orderBy('id')
      .execute();
    expect(items).toHaveLength(3);
    for (const item of items) {
      const serviceId = Number(item.service_id);
      const service = await ctx.db.kysely
        .selectFrom('services')
        .selectAll()
        .where('id', '=', serviceId)
        .executeTakeFirstOrThrow();
      expect(service.status).toBe('active');
      if (item === items[2]) expect(service.expires_on).toBe('2021-12-31');
      const license = await ctx.db.kysely
        .selectFrom('issued_licenses')
        .selectAll()
        .where('service_id', '=', serviceId)
        .executeTakeFirstOrThrow();
      expect(license.license_key.startsWith(`${serviceId}-`), license.license_key).toBe(true);
    }
    await expectLedgerBalanced(ctx);
  });

  it('example prices follow the provider currency exponent', () => {
    expect(priceIn('7.50', 'EUR')).toBe('7.50');
    expect(priceIn('7.50', 'JPY')).toBe('8');
    expect(priceIn('2.50', 'BHD')).toBe('2.500');
  });
});
