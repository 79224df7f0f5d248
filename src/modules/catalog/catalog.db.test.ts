import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers/context.js';
import { priceOrder } from '../../domain/pricing.js';
import type { Actor } from '../accounts/actor.js';
import { systemActor } from '../accounts/actor.js';
import {
  addEnumerationValue,
  createAddon,
  createEnumeration,
  createTariff,
  deleteAddon,
  deleteEnumeration,
  deleteEnumerationValue,
  replaceAddon,
  updateEnumerationValue,
  updateProductType,
  updateTariff,
} from './commands.js';
import { tariffForPricing } from './pricing-adapter.js';
import { getTariffAggregate, listProductTypes, publicCatalog, tariffHistory } from './queries.js';
import { CONTROL_PANEL_VALUES, seedControlPanels } from './seed.js';

const staff = systemActor('test');
let ctx: TestContext;

beforeEach(async () => {
  ctx = await createTestContext();
});
afterEach(async () => {
  await ctx.testDb.destroy();
});

/** Row counts of every catalog table: "nothing written" means these do not move. */
async function counts() {
  const tables = [
    'enumerations',
    'enumeration_values',
    'tariffs',
    'tariff_periods',
    'addons',
    'addon_values',
    'addon_prices',
    'tariff_history',
  ] as const;
  const out: Record<string, number> = {};
  for (const t of tables) {
    const r = await ctx.db.kysely
      .selectFrom(t)
      .select((e) => e.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    out[t] = Number(r.n);
  }
  return out;
}

async function controlPanels() {
  await seedControlPanels(ctx);
  const e = await ctx.db.kysely
    .selectFrom('enumerations')
    .selectAll()
    .where('name', '=', 'Server Control Panel')
    .executeTakeFirstOrThrow();
  const values = await ctx.db.kysely
    .selectFrom('enumeration_values')
    .selectAll()
    .where('enumeration_id', '=', e.id)
    .orderBy('sort_order')
    .execute();
  return { id: Number(e.id), values: new Map(values.map((v) => [v.internal_name, Number(v.id)])) };
}

const vpsTariff = (extra: Partial<Parameters<typeof createTariff>[2]> = {}) =>
  createTariff(ctx, staff, {
    name: 'VPS S',
    productType: 'vds',
    periods: [1, 3, 12],
    prices: { '1': '10.00', '12': '100.00' },
    setupFee: '5.00',
    ...extra,
  });

describe('product types (seeded by migration)', () => {
  it('the five product types exist with their lifecycle policy and service parameters', async () => {
    const types = await listProductTypes(ctx);
    expect(types.map((t) => t.code)).toEqual(['vds', 'dedic', 'soft', 'softexternal', 'platform']);
    const soft = types.find((t) => t.code === 'soft')!;
    expect(Number(soft.deletion_delay_days)).toBe(30);
    expect(Number(soft.refund_unused_days)).toBe(0);
    expect(JSON.parse(soft.service_params)).toEqual(['ip', 'licname']);
    expect(JSON.parse(types.find((t) => t.code === 'vds')!.service_params)).toEqual([
      'hostname',
      'os_template',
    ]);
  });

  it('policy can be changed by staff', async () => {
    const t = await updateProductType(ctx, staff, 'vds', { deletionDelayDays: 14, refundUnusedDays: true });
    expect(Number(t.deletion_delay_days)).toBe(14);
    expect(Number(t.refund_unused_days)).toBe(1);
    await expect(updateProductType(ctx, staff, 'nope', { name: 'x' })).rejects.toMatchObject({
      code: 'product_type_not_found',
    });
  });
});

describe('enumerations', () => {
  it('seed-control-panels run twice leaves exactly the six values with their internal names', async () => {
    const first = await seedControlPanels(ctx);
    const second = await seedControlPanels(ctx);
    expect(first.created).toHaveLength(6);
    expect(second.created).toEqual([]);
    const values = await ctx.db.kysely
      .selectFrom('enumeration_values')
      .selectAll()
      .orderBy('sort_order')
      .execute();
    expect(values.map((v) => [v.name, v.internal_name])).toEqual(
      CONTROL_PANEL_VALUES.map((v) => [v.name, v.internalName]),
    );
  });

  it('seed-control-panels run twice at once: one creates, the other finds them; six values', async () => {
    const runs = await Promise.all([seedControlPanels(ctx), seedControlPanels(ctx)]);
    expect(runs.map((r) => r.created.length).sort()).toEqual([0, 6]);
    expect(runs[0]!.enumerationId).toBe(runs[1]!.enumerationId);
    expect((await counts()).enumeration_values).toBe(6);
  });

  it('internal names are unique within an enumeration (409) but may repeat across enumerations', async () => {
    const before = await counts();
    await expect(
      createEnumeration(ctx, staff, {
        name: 'OS',
        values: [
          { name: 'Debian', internalName: 'debian' },
          { name: 'Debian 12', internalName: 'debian' },
        ],
      }),
    ).rejects.toMatchObject({ code: 'internal_name_taken' });
    expect(await counts()).toEqual(before);
    const os = await createEnumeration(ctx, staff, {
      name: 'OS',
      values: [{ name: 'Debian', internalName: 'debian' }],
    });
    await expect(
      addEnumerationValue(ctx, staff, Number(os.enumeration.id), { name: 'Other', internalName: 'debian' }),
    ).rejects.toMatchObject({
      code: 'internal_name_taken',
    });
    await createEnumeration(ctx, staff, {
      name: 'Images',
      values: [{ name: 'Debian', internalName: 'debian' }],
    });
  });

  it('a value offered by a tariff cannot be deleted (enumeration_value_in_use), but can be disabled', async () => {
    const cp = await controlPanels();
    const t = await vpsTariff();
    const pro = cp.values.get('55228')!;
    await createAddon(ctx, staff, t.id, {
      kind: 'control_panel',
      label: 'Control panel',
      valueType: 'enumeration',
      enumerationId: cp.id,
      values: [{ valueId: pro, prices: { '1': '8.00' } }],
    });
    const before = await counts();
    await expect(deleteEnumerationValue(ctx, staff, cp.id, pro)).rejects.toMatchObject({
      code: 'enumeration_value_in_use',
      details: { tariffIds: [t.id] },
    });
    await expect(deleteEnumeration(ctx, staff, cp.id)).rejects.toMatchObject({ code: 'enumeration_in_use' });
    expect(await counts()).toEqual(before);
    const disabled = await updateEnumerationValue(ctx, staff, cp.id, pro, { status: 'disabled' });
    expect(disabled.status).toBe('disabled');
    // An unused value can go.
    await deleteEnumerationValue(ctx, staff, cp.id, cp.values.get('3541')!);
  });
});

describe('tariffs', () => {
  it('a tariff id can be chosen (55227) and is unique (409 tariff_id_taken); generated ids continue after it', async () => {
    const lite = await createTariff(ctx, staff, {
      id: 55227,
      name: 'ISPmanager 6 Lite',
      productType: 'soft',
      periods: [1, 12],
      prices: { '1': '7.50' },
    });
    expect(lite.id).toBe(55227);
    const before = await counts();
    await expect(
      createTariff(ctx, staff, { id: 55227, name: 'Again', productType: 'soft', periods: [1] }),
    ).rejects.toMatchObject({
      code: 'tariff_id_taken',
    });
    expect(await counts()).toEqual(before);
    const next = await createTariff(ctx, staff, {
      name: 'Generated',
      productType: 'soft',
      periods: [1],
      prices: { '1': '1.00' },
    });
    expect(next.id).toBeGreaterThan(55227);
  });

  it('a period without a price costs the monthly price × months (BILLING.md decision)', async () => {
    const t = await vpsTariff();
    expect(t.periods).toEqual([
      { period: 1, price: '10.00', explicit: true },
      { period: 3, price: '30.00', explicit: false },
      { period: 12, price: '100.00', explicit: true },
    ]);
    expect(t.setupFee).toBe('5.00');
  });

  it('bad input is refused with a code and writes nothing', async () => {
    await vpsTariff({ id: 7 });
    const before = await counts();
    const cases: [Parameters<typeof createTariff>[2], string][] = [
      [{ name: 'x', productType: 'vds', periods: [1], prices: { '1': '-1.00' } }, 'invalid_amount'],
      [
        { name: 'x', productType: 'vds', periods: [1], prices: { '12': '100.00' } },
        'price_for_period_not_offered',
      ],
      [{ id: 7, name: 'x', productType: 'vds', periods: [1] }, 'tariff_id_taken'],
      [{ name: 'x', productType: 'vds', periods: [1], expiresOn: '2021-13-01' }, 'invalid_date'],
      [{ name: 'x', productType: 'vds', periods: [1], expiresOn: 'next year' }, 'invalid_date'],
      [{ name: 'x', productType: 'vds', periods: [1, -100] }, 'trial_days_required'],
      [{ name: 'x', productType: 'vds', periods: [1, 1] }, 'duplicate_period'],
      [{ name: 'x', productType: 'nothing', periods: [1] }, 'product_type_not_found'],
      [{ name: 'x', productType: 'vds', periods: [1], setupFee: '1.001' }, 'amount_too_precise'],
    ];
    for (const [input, code] of cases) {
      await expect(createTariff(ctx, staff, input), code).rejects.toMatchObject({ code });
    }
    expect(await counts()).toEqual(before);
  });

  it('addon bad input is refused with a code and writes nothing', async () => {
    const t = await vpsTariff();
    const cp = await controlPanels();
    const other = await createEnumeration(ctx, staff, {
      name: 'OS',
      values: [{ name: 'Debian', internalName: 'debian' }],
    });
    const before = await counts();
    const base = {
      kind: 'ram',
      label: 'RAM',
      valueType: 'integer',
      unit: 'GB',
      min: 1,
      max: 16,
      step: 1,
    } as const;
    const cases: [Parameters<typeof createAddon>[3], string][] = [
      [{ ...base, min: 8, max: 4 }, 'addon_min_greater_than_max'],
      [{ ...base, step: 0 }, 'addon_step_invalid'],
      [{ ...base, defaultValue: 32 }, 'addon_default_invalid'],
      [{ ...base, prices: { '6': '1.00' } }, 'price_for_period_not_offered'],
      [{ ...base, prices: { '1': '-1.00' } }, 'invalid_amount'],
      [
        { kind: 'control_panel', label: 'CP', valueType: 'enumeration', enumerationId: 999_999, values: [] },
        'enumeration_not_found',
      ],
      [
        {
          kind: 'control_panel',
          label: 'CP',
          valueType: 'enumeration',
          enumerationId: cp.id,
          values: [{ valueId: Number(other.values[0]!.id) }],
        },
        'enumeration_value_not_in_enumeration',
      ],
    ];
    for (const [input, code] of cases) {
      await expect(createAddon(ctx, staff, t.id, input), code).rejects.toMatchObject({ code });
    }
    await expect(createAddon(ctx, staff, 424_242, { ...base })).rejects.toMatchObject({
      code: 'tariff_not_found',
    });
    expect(await counts()).toEqual(before);
  });

  it('the Control panel addon prices each enumeration value per period and can switch values off per tariff', async () => {
    const cp = await controlPanels();
    const t = await vpsTariff();
    const v = (n: string) => cp.values.get(n)!;
    const updated = await createAddon(ctx, staff, t.id, {
      kind: 'control_panel',
      label: 'Control panel',
      valueType: 'enumeration',
      enumerationId: cp.id,
      values: [
        { valueId: v('55227'), prices: { '1': '5.00' } },
        { valueId: v('55228'), prices: { '1': '8.00', '12': '80.00' } },
        { valueId: v('55230'), offered: false, prices: { '1': '20.00' } },
      ],
    });
    const addon = updated.addons[0]!;
    expect(addon.values.map((x) => [x.internalName, x.offered, x.prices.map((p) => p.price)])).toEqual([
      ['55227', true, ['5.00', '15.00', '60.00']],
      ['55228', true, ['8.00', '24.00', '80.00']],
      ['55230', false, ['20.00', '60.00', '240.00']],
    ]);
    // The domain prices an order from what the database holds.
    const model = tariffForPricing(await getTariffAggregate(ctx, t.id));
    const priced = priceOrder(model, 12, { [addon.id]: v('55228') }, { includeSetup: true });
    expect(priced.lines.map((l) => [l.kind, l.amountMinor])).toEqual([
      ['tariff', 100_00n],
      ['setup', 5_00n],
      ['addon', 80_00n],
    ]);
    // A value switched off for this tariff cannot be ordered.
    expect(() => priceOrder(model, 1, { [addon.id]: v('55230') })).toThrowError(
      expect.objectContaining({ code: 'enumeration_value_not_offered' }),
    );
  });

  it('integer and boolean addons; replacing and deleting an addon', async () => {
    const t = await vpsTariff();
    let view = await createAddon(ctx, staff, t.id, {
      kind: 'ram',
      label: 'RAM',
      valueType: 'integer',
      unit: 'GB',
      included: 2,
      min: 1,
      max: 16,
      step: 1,
      defaultValue: 2,
      prices: { '1': '1.50' },
    });
    view = await createAddon(ctx, staff, t.id, {
      kind: 'generic',
      label: 'Backups',
      valueType: 'boolean',
      prices: { '1': '2.00' },
    });
    const [ram, backups] = view.addons;
    const agg = await getTariffAggregate(ctx, t.id);
    const priced = priceOrder(tariffForPricing(agg), 3, { [ram!.id]: 4, [backups!.id]: true });
    expect(priced.lines.map((l) => l.amountMinor)).toEqual([30_00n, 9_00n, 6_00n]);
    view = await replaceAddon(ctx, staff, t.id, ram!.id, {
      kind: 'ram',
      label: 'Memory',
      valueType: 'integer',
      unit: 'GB',
      min: 2,
      max: 8,
      step: 2,
      prices: { '1': '1.00' },
    });
    expect(view.addons.find((a) => a.id === ram!.id)).toMatchObject({
      label: 'Memory',
      min: 2,
      max: 8,
      step: 2,
      included: 0,
    });
    await expect(
      replaceAddon(ctx, staff, t.id, ram!.id, { kind: 'generic', label: 'x', valueType: 'boolean' }),
    ).rejects.toMatchObject({
      code: 'addon_value_type_immutable',
    });
    view = await deleteAddon(ctx, staff, t.id, backups!.id);
    expect(view.addons.map((a) => a.id)).toEqual([ram!.id]);
  });

  it('every change is in the history with who, when, before and after', async () => {
    const admin: Actor = { type: 'user', userId: 1, role: 'admin', accountId: null };
    const t = await vpsTariff();
    ctx.clock.advanceDays(1);
    await ctx.db.kysely
      .insertInto('users')
      .values({
        id: 1,
        email: 'a@example.com',
        password_hash: 'x',
        role: 'admin',
        status: 'active',
        created_at: 'x',
        updated_at: 'x',
      })
      .execute();
    await updateTariff(ctx, admin, t.id, { prices: { '1': '12.00' } });
    const history = await tariffHistory(ctx, staff, t.id);
    expect(history.map((h) => [h.change, h.actor_label, h.created_at])).toEqual([
      ['updated', 'user:1', '2021-12-17T10:00:00.000Z'],
      ['created', 'system:test', '2021-12-16T10:00:00.000Z'],
    ]);
    const [updated] = history;
    expect(JSON.parse(updated!.before_json!).periods[0]).toMatchObject({ period: 1, price: '10.00' });
    expect(JSON.parse(updated!.after_json!).periods[0]).toMatchObject({ period: 1, price: '12.00' });
    // Prices not restated fall back to monthly × months (12 months was explicit: restating prices replaces them).
    expect(JSON.parse(updated!.after_json!).periods[2]).toMatchObject({
      period: 12,
      price: '144.00',
      explicit: false,
    });
  });

  it('removing a period drops the addon prices for it', async () => {
    const t = await vpsTariff();
    await createAddon(ctx, staff, t.id, {
      kind: 'generic',
      label: 'Backups',
      valueType: 'boolean',
      prices: { '1': '2.00', '12': '20.00' },
    });
    const view = await updateTariff(ctx, staff, t.id, { periods: [1, 3] });
    expect(view.periods.map((p) => p.period)).toEqual([1, 3]);
    expect(view.addons[0]!.prices).toEqual([
      { period: 1, price: '2.00', explicit: true },
      { period: 3, price: '6.00', explicit: false },
    ]);
  });
});

describe('public catalog', () => {
  it('lists what a client can order now: active, not expired by the injected clock, offered and active values only', async () => {
    const cp = await controlPanels();
    const active = await vpsTariff();
    await vpsTariff({ name: 'Hidden', status: 'hidden' });
    await vpsTariff({ name: 'Archived', status: 'archived' });
    const expiring = await createTariff(ctx, staff, {
      id: 3541,
      name: 'ISPmanager Lite',
      productType: 'soft',
      periods: [1],
      prices: { '1': '10.00' },
      expiresOn: '2021-12-31',
    });
    await createAddon(ctx, staff, active.id, {
      kind: 'control_panel',
      label: 'Control panel',
      valueType: 'enumeration',
      enumerationId: cp.id,
      values: [
        { valueId: cp.values.get('55227')!, prices: { '1': '5.00' } },
        { valueId: cp.values.get('55228')!, prices: { '1': '8.00' } },
        { valueId: cp.values.get('55229')!, offered: false, prices: { '1': '9.00' } },
      ],
    });
    await updateEnumerationValue(ctx, staff, cp.id, cp.values.get('55228')!, { status: 'disabled' });

    let catalog = await publicCatalog(ctx);
    expect(catalog.today).toBe('2021-12-16');
    expect(catalog.tariffs.map((t) => t.id)).toEqual([expiring.id, active.id].sort((a, b) => a - b));
    const vps = catalog.tariffs.find((t) => t.id === active.id)!;
    expect(vps.addons[0]!.values.map((v) => v.internalName)).toEqual(['55227']);
    expect(vps.periods).toEqual([
      { period: 1, price: '10.00' },
      { period: 3, price: '30.00' },
      { period: 12, price: '100.00' },
    ]);
    // On the tariff's expiration date it is no longer orderable.
    ctx.clock.set('2021-12-31T00:00:00Z');
    catalog = await publicCatalog(ctx);
    expect(catalog.tariffs.map((t) => t.id)).toEqual([active.id]);
    expect((await publicCatalog(ctx, { productType: 'soft' })).tariffs).toEqual([]);
  });
});
