import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addEnumerationValue,
  createAddon,
  createTariff,
  replaceAddon,
  updateEnumerationValue,
  updateTariff,
} from '../../src/modules/catalog/commands.js';
import type { AddonInput } from '../../src/modules/catalog/schemas.js';
import { seedControlPanels } from '../../src/modules/catalog/seed.js';
import { createModule, setTariffModules, updateModule } from '../../src/modules/provisioning/commands.js';
import { panelProblems } from '../../src/modules/provisioning/panel-config.js';
import { staff } from '../helpers/billing.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

/**
 * Issue 13 item 4: a server tariff's control-panel configuration is checked when staff write
 * it, not when a client orders. Each refusal names its problems and writes nothing.
 */
let ctx: TestContext;
let cp: { id: number; none: number; lite: number; pro: number; host: number };
let licenseServer: number;
let vm: number;
let vps: number;
let licTariffs: { lite: number; pro: number };

const VM_SETTINGS = { clusterId: 1, osIds: [1] };

/** Every table a configuration write touches: "nothing written" means these rows stay as they were. */
async function state() {
  const rows = await Promise.all(
    [
      'tariff_modules',
      'processing_modules',
      'enumeration_values',
      'tariffs',
      'tariff_periods',
      'tariff_history',
      'addons',
      'addon_values',
      'addon_prices',
    ].map((t) =>
      ctx.db.kysely
        .selectFrom(t as 'addons')
        .selectAll()
        .execute(),
    ),
  );
  return JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

type PanelValues = Extract<AddonInput, { valueType: 'enumeration' }>['values'];
const panelAddon = (values: PanelValues): AddonInput => ({
  kind: 'control_panel',
  label: 'Control panel',
  valueType: 'enumeration',
  enumerationId: cp.id,
  values,
});

const goodValues = (): PanelValues => [
  { valueId: cp.none, prices: { '1': '0.00' } },
  { valueId: cp.lite, prices: { '1': '5.00' } },
  { valueId: cp.pro, prices: { '1': '8.00', '12': '90.00' } },
];

async function refused(write: () => Promise<unknown>, problems: Record<string, unknown>[]) {
  const before = await state();
  const err = await write().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ kind: 'invalid', code: 'panel_config_invalid' });
  expect((err as { details: { problems: unknown[] } }).details.problems).toEqual(
    problems.map((p) => expect.objectContaining(p)),
  );
  expect(await state()).toBe(before);
}

beforeEach(async () => {
  ctx = await createTestContext();
  const { enumerationId } = await seedControlPanels(ctx);
  await addEnumerationValue(ctx, staff, enumerationId, { name: 'No panel', internalName: 'none' });
  const values = await ctx.db.kysely
    .selectFrom('enumeration_values')
    .select(['id', 'internal_name'])
    .where('enumeration_id', '=', enumerationId)
    .execute();
  const v = (n: string) => Number(values.find((x) => x.internal_name === n)!.id);
  cp = { id: enumerationId, none: v('none'), lite: v('55227'), pro: v('55228'), host: v('55229') };

  // The license server sells ISPmanager 6 Lite and Pro (one linked, one imported).
  licenseServer = Number(
    (
      await createModule(ctx, staff, {
        name: 'ISPsystem',
        type: 'billmanager',
        productTypes: ['soft'],
        params: { url: 'http://127.0.0.1:9/billmgr', username: 'reseller', password: 'secret' },
      })
    ).id,
  );
  const soft = (name: string) =>
    createTariff(ctx, staff, { name, productType: 'soft', periods: [1], prices: { '1': '10.00' } });
  licTariffs = { lite: (await soft('ISPmanager 6 Lite')).id, pro: (await soft('ISPmanager 6 Pro')).id };
  await setTariffModules(ctx, staff, licTariffs.lite, {
    modules: [{ moduleId: licenseServer, settings: { pricelist: '55227' } }],
  });
  await setTariffModules(ctx, staff, licTariffs.pro, {
    modules: [{ moduleId: licenseServer, settings: { pricelist: '1' } }],
  });
  // As an import records it: the upstream id on the link.
  await ctx.db.kysely
    .updateTable('tariff_modules')
    .set({ external_id: '55228' })
    .where('tariff_id', '=', licTariffs.pro)
    .execute();

  vm = Number(
    (
      await createModule(ctx, staff, {
        name: 'VMmanager',
        type: 'vmmanager6',
        productTypes: ['vds'],
        params: { url: 'http://127.0.0.1:9', email: 'admin@example.com', password: 'secret' },
        licenseServerId: licenseServer,
      })
    ).id,
  );
  vps = (
    await createTariff(ctx, staff, {
      name: 'VPS S',
      productType: 'vds',
      periods: [1, 12],
      prices: { '1': '10.00' },
    })
  ).id;
  await setTariffModules(ctx, staff, vps, { modules: [{ moduleId: vm, settings: VM_SETTINGS }] });
});
afterEach(async () => {
  await ctx.testDb.destroy();
});

describe('a correct configuration', () => {
  it('is accepted and has no problems: "none" needs no license, every panel priced for every period', async () => {
    const view = await createAddon(ctx, staff, vps, panelAddon(goodValues()));
    expect(view.addons).toHaveLength(1);
    expect(await panelProblems(ctx, ctx.db.kysely, [vps])).toEqual([]);
    // A module without a license server is fine while the tariff offers only "no panel".
    const plain = (
      await createTariff(ctx, staff, {
        name: 'VPS bare',
        productType: 'vds',
        periods: [1],
        prices: { '1': '5.00' },
      })
    ).id;
    await createAddon(ctx, staff, plain, panelAddon([{ valueId: cp.none, prices: { '1': '0.00' } }]));
    const bare = await createModule(ctx, staff, {
      name: 'VMmanager 2',
      type: 'vmmanager6',
      productTypes: ['vds'],
      params: { url: 'http://127.0.0.1:9', email: 'admin@example.com', password: 'secret' },
    });
    await setTariffModules(ctx, staff, plain, {
      modules: [{ moduleId: Number(bare.id), settings: VM_SETTINGS }],
    });
    expect(await panelProblems(ctx, ctx.db.kysely, [plain])).toEqual([]);
  });
});

describe('refused writes', () => {
  it('an addon offering a value without a price for an offered period', async () => {
    await refused(
      () =>
        createAddon(
          ctx,
          staff,
          vps,
          panelAddon([
            { valueId: cp.lite, prices: { '1': '5.00' } },
            { valueId: cp.pro, prices: { '12': '90.00' } },
          ]),
        ),
      [{ code: 'panel_price_missing', tariffId: vps, valueId: cp.pro, period: 1 }],
    );
  });

  it('an addon (created or replaced) offering a panel the license server does not sell', async () => {
    await refused(
      () => createAddon(ctx, staff, vps, panelAddon([{ valueId: cp.host, prices: { '1': '9.00' } }])),
      [
        {
          code: 'panel_not_upstream_tariff',
          valueId: cp.host,
          internalName: '55229',
          moduleId: vm,
          licenseServerId: licenseServer,
        },
      ],
    );
    const view = await createAddon(ctx, staff, vps, panelAddon(goodValues()));
    await refused(
      () =>
        replaceAddon(
          ctx,
          staff,
          vps,
          view.addons[0]!.id,
          panelAddon([...goodValues(), { valueId: cp.host, prices: { '1': '9.00' } }]),
        ),
      [{ code: 'panel_not_upstream_tariff', valueId: cp.host }],
    );
    // Not offered, it is no problem.
    await replaceAddon(
      ctx,
      staff,
      vps,
      view.addons[0]!.id,
      panelAddon([...goodValues(), { valueId: cp.host, offered: false }]),
    );
  });

  it('a new period the panels have no price for', async () => {
    const yearly = (
      await createTariff(ctx, staff, {
        name: 'VPS yearly',
        productType: 'vds',
        periods: [12],
        prices: { '12': '100.00' },
      })
    ).id;
    await createAddon(ctx, staff, yearly, panelAddon([{ valueId: cp.lite, prices: { '12': '50.00' } }]));
    await refused(
      () => updateTariff(ctx, staff, yearly, { periods: [1, 12], prices: { '1': '10.00', '12': '100.00' } }),
      [{ code: 'panel_price_missing', tariffId: yearly, valueId: cp.lite, period: 1 }],
    );
  });

  it('linking a tariff that offers a panel to a server module without a license server', async () => {
    await createAddon(ctx, staff, vps, panelAddon(goodValues()));
    const bare = Number(
      (
        await createModule(ctx, staff, {
          name: 'VMmanager 2',
          type: 'vmmanager6',
          productTypes: ['vds'],
          params: { url: 'http://127.0.0.1:9', email: 'admin@example.com', password: 'secret' },
        })
      ).id,
    );
    await refused(
      () => setTariffModules(ctx, staff, vps, { modules: [{ moduleId: bare, settings: VM_SETTINGS }] }),
      [{ code: 'license_server_missing', tariffId: vps, moduleId: bare }],
    );
  });

  it("removing or changing a module's license server", async () => {
    await createAddon(ctx, staff, vps, panelAddon(goodValues()));
    await refused(
      () => updateModule(ctx, staff, vm, { licenseServerId: null }),
      [{ code: 'license_server_missing', tariffId: vps, moduleId: vm }],
    );
    const other = Number(
      (
        await createModule(ctx, staff, {
          name: 'Other upstream',
          type: 'billmanager',
          productTypes: ['soft'],
          params: { url: 'http://127.0.0.1:9/billmgr', username: 'other', password: 'secret' },
        })
      ).id,
    );
    await refused(
      () => updateModule(ctx, staff, vm, { licenseServerId: other }),
      [
        { code: 'panel_not_upstream_tariff', valueId: cp.lite, licenseServerId: other },
        { code: 'panel_not_upstream_tariff', valueId: cp.pro, licenseServerId: other },
      ],
    );
    // Changes that leave the panels alone go through.
    await updateModule(ctx, staff, vm, { name: 'VMmanager main' });
  });

  it("unlinking the license server's upstream tariff a panel is sold as", async () => {
    await createAddon(ctx, staff, vps, panelAddon(goodValues()));
    await refused(
      () => setTariffModules(ctx, staff, licTariffs.pro, { modules: [] }),
      [{ code: 'panel_not_upstream_tariff', tariffId: vps, valueId: cp.pro, licenseServerId: licenseServer }],
    );
  });

  it('renaming or enabling an enumeration value a tariff offers', async () => {
    // Host is offered by the tariff, unpriced and not sold upstream: harmless while disabled.
    await updateEnumerationValue(ctx, staff, cp.id, cp.host, { status: 'disabled' });
    await createAddon(ctx, staff, vps, panelAddon([...goodValues(), { valueId: cp.host }]));
    expect(await panelProblems(ctx, ctx.db.kysely, [vps])).toEqual([]);
    await refused(
      () => updateEnumerationValue(ctx, staff, cp.id, cp.host, { status: 'active' }),
      [
        { code: 'panel_price_missing', valueId: cp.host, period: 1 },
        { code: 'panel_price_missing', valueId: cp.host, period: 12 },
        { code: 'panel_not_upstream_tariff', valueId: cp.host, internalName: '55229' },
      ],
    );
    await refused(
      () => updateEnumerationValue(ctx, staff, cp.id, cp.lite, { internalName: '99999' }),
      [{ code: 'panel_not_upstream_tariff', valueId: cp.lite, internalName: '99999' }],
    );
    await updateEnumerationValue(ctx, staff, cp.id, cp.lite, { name: 'ISPmanager 6 Lite (new)' });
  });
});

describe('problems there already', () => {
  it('do not block unrelated writes, are listed for staff, and a write adding another is refused for that one alone', async () => {
    await createAddon(ctx, staff, vps, panelAddon(goodValues()));
    // Data from before these checks: Lite lost its price.
    await ctx.db.kysely.deleteFrom('addon_prices').where('enumeration_value_id', '=', cp.lite).execute();
    const existing = await panelProblems(ctx, ctx.db.kysely, [vps]);
    expect(existing.map((p) => [p.code, 'period' in p ? p.period : null])).toEqual([
      ['panel_price_missing', 1],
      ['panel_price_missing', 12],
    ]);
    await updateTariff(ctx, staff, vps, { name: 'VPS S (2022)' });
    await updateModule(ctx, staff, vm, { name: 'VMmanager main' });
    await refused(
      () => updateModule(ctx, staff, vm, { licenseServerId: null }),
      [{ code: 'license_server_missing', moduleId: vm }],
    );
    expect(await panelProblems(ctx, ctx.db.kysely, [vps])).toEqual(existing);
  });
});
