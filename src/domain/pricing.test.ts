import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAmount, parseAmount, sum } from './money.js';
import {
  type AddonForPricing,
  type AddonValue,
  type BooleanAddonForPricing,
  type EnumerationAddonForPricing,
  type IntegerAddonForPricing,
  type PricedOrder,
  PricingError,
  type PricingErrorCode,
  periodPrice,
  priceOrder,
  prorateOrder,
  STANDARD_PERIODS,
  type TariffForPricing,
  TRIAL_PERIOD,
} from './pricing.js';

const eur = (text: string): bigint => parseAmount(text, 'EUR');
const prices = (entries: [number, string | null][]): Map<number, bigint | null> =>
  new Map(entries.map(([p, v]) => [p, v === null ? null : eur(v)]));

/** Run `fn`, require a PricingError and return it (so each rejection names the rule it hits). */
function pricingError(fn: () => unknown): PricingError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PricingError);
    return err as PricingError;
  }
  throw new Error('expected a PricingError, nothing was thrown');
}

function expectError(fn: () => unknown, code: PricingErrorCode, details: Record<string, unknown>): void {
  const err = pricingError(fn);
  expect(err.code).toBe(code);
  expect(err.details).toMatchObject(details);
}

const ipv4: BooleanAddonForPricing = {
  id: 30,
  label: 'Extra IPv4',
  kind: 'ipv4',
  required: false,
  valueType: 'boolean',
  defaultValue: null,
  prices: prices([[1, '2.00']]),
};

const ram: IntegerAddonForPricing = {
  id: 20,
  label: 'RAM',
  kind: 'ram',
  required: true,
  valueType: 'integer',
  defaultValue: 2,
  unit: 'GB',
  included: 2,
  min: 2,
  max: 32,
  step: 2,
  prices: prices([
    [1, '1.50'],
    [12, '15.00'],
  ]),
};

/** "Server Control Panel": internal names are the upstream license tariff ids (PRODUCT.md). */
const CONTROL_PANEL_VALUES: [number, string, string, string][] = [
  [1, 'ISPmanager Lite', '3541', '5.00'],
  [2, 'ISPmanager Business', '4601', '8.00'],
  [3, 'ISPmanager 6 Lite', '55227', '6.00'],
  [4, 'ISPmanager 6 Pro', '55228', '9.00'],
  [5, 'ISPmanager 6 Host', '55229', '12.00'],
  [6, 'ISPmanager 6 Business', '55230', '15.00'],
];

function controlPanel(switchedOff: readonly number[] = []): EnumerationAddonForPricing {
  return {
    id: 10,
    label: 'Control panel',
    kind: 'control_panel',
    required: false,
    valueType: 'enumeration',
    defaultValue: null,
    values: new Map(
      CONTROL_PANEL_VALUES.map(([id, name, internalName, monthly]) => [
        id,
        { name, internalName, offered: !switchedOff.includes(id), prices: prices([[1, monthly]]) },
      ]),
    ),
  };
}

function vps(overrides: Partial<TariffForPricing> = {}): TariffForPricing {
  return {
    id: 55227,
    name: 'VPS Start',
    currency: 'EUR',
    periods: prices([
      [1, '10.00'],
      [3, null],
      [12, '100.00'],
      [TRIAL_PERIOD, null],
    ]),
    setupFeeMinor: eur('5.00'),
    addons: [ipv4, controlPanel(), ram],
    ...overrides,
  };
}

const amounts = (order: PricedOrder): string[] =>
  order.lines.map((l) => `${l.kind}:${l.addonId ?? '-'}:${formatAmount(l.amountMinor, order.currency)}`);

describe('period prices', () => {
  it('uses the explicit price of a period', () => {
    expect(periodPrice(prices([[12, '100.00']]), 12, null)).toBe(eur('100.00'));
    expect(
      periodPrice(
        prices([
          [1, '10.00'],
          [12, '100.00'],
        ]),
        12,
        null,
      ),
    ).toBe(eur('100.00'));
  });

  it('falls back to monthly price × months when a period has no explicit price (decision)', () => {
    expect(periodPrice(prices([[1, '10.00']]), 12, null)).toBe(eur('120.00'));
    expect(
      periodPrice(
        prices([
          [1, '10.00'],
          [12, null],
        ]),
        12,
        null,
      ),
    ).toBe(eur('120.00'));
    expect(periodPrice(prices([[1, '10.00']]), 36, null)).toBe(eur('360.00'));
    expect(periodPrice(prices([[1, '10.00']]), 1, null)).toBe(eur('10.00'));
  });

  it('price_missing when a period has neither an explicit price nor a monthly price', () => {
    expectError(() => periodPrice(prices([[12, '100.00']]), 6, null), 'price_missing', { period: 6 });
    expectError(() => periodPrice(prices([[1, null]]), 1, null), 'price_missing', { period: 1 });
  });

  it('a trial is free unless it is priced', () => {
    expect(periodPrice(prices([[1, '10.00']]), TRIAL_PERIOD, null)).toBe(0n);
    expect(periodPrice(prices([[TRIAL_PERIOD, null]]), TRIAL_PERIOD, null)).toBe(0n);
    expect(periodPrice(prices([[TRIAL_PERIOD, '1.00']]), TRIAL_PERIOD, null)).toBe(eur('1.00'));
  });

  it('period_not_offered for a period the tariff does not offer or that is no period at all', () => {
    expectError(() => periodPrice(prices([[1, '10.00']]), 6, new Set([1, 12])), 'period_not_offered', {
      period: 6,
      offered: [1, 12],
    });
    expectError(() => periodPrice(prices([[1, '10.00']]), 5, null), 'period_not_offered', { period: 5 });
    expectError(() => periodPrice(prices([[1, '10.00']]), 0, null), 'period_not_offered', { period: 0 });
    expect(STANDARD_PERIODS).toEqual([1, 3, 6, 12, 24, 36]);
  });
});

describe('priceOrder: tariff and setup lines', () => {
  it('prices the tariff line for the period, explicit or monthly × months', () => {
    const year = priceOrder(vps({ addons: [] }), 12, {});
    expect(year.lines).toEqual([
      {
        kind: 'tariff',
        addonId: null,
        label: 'VPS Start',
        quantity: 1,
        unitPriceMinor: eur('100.00'),
        amountMinor: eur('100.00'),
        value: null,
      },
    ]);
    expect(year.totalMinor).toBe(eur('100.00'));
    expect(year).toMatchObject({ tariffId: 55227, period: 12, currency: 'EUR' });
    expect(priceOrder(vps({ addons: [] }), 3, {}).totalMinor).toBe(eur('30.00'));
  });

  it('period_not_offered when ordering a period the tariff does not list', () => {
    expectError(() => priceOrder(vps(), 6, {}), 'period_not_offered', { period: 6 });
  });

  it('price_missing when the tariff has neither the period price nor a monthly price', () => {
    const t = vps({
      periods: prices([
        [12, '100.00'],
        [6, null],
      ]),
      addons: [],
    });
    expectError(() => priceOrder(t, 6, {}), 'price_missing', { period: 6 });
  });

  it('setup fee line only with includeSetup (orders yes, renewals no)', () => {
    const t = vps({ addons: [] });
    expect(amounts(priceOrder(t, 1, {}, { includeSetup: true }))).toEqual(['tariff:-:10.00', 'setup:-:5.00']);
    expect(priceOrder(t, 1, {}, { includeSetup: true }).totalMinor).toBe(eur('15.00'));
    expect(amounts(priceOrder(t, 1, {}))).toEqual(['tariff:-:10.00']);
    expect(amounts(priceOrder(t, 1, {}, { includeSetup: false }))).toEqual(['tariff:-:10.00']);
  });

  it('no setup line when the setup fee is null or zero', () => {
    expect(
      amounts(priceOrder(vps({ addons: [], setupFeeMinor: null }), 1, {}, { includeSetup: true })),
    ).toEqual(['tariff:-:10.00']);
    expect(
      amounts(priceOrder(vps({ addons: [], setupFeeMinor: 0n }), 1, {}, { includeSetup: true })),
    ).toEqual(['tariff:-:10.00']);
  });

  it('trial order: tariff and addons free unless priced', () => {
    const order = priceOrder(vps(), TRIAL_PERIOD, new Map<number, AddonValue>([[30, true]]));
    expect(order.totalMinor).toBe(0n);
    expect(amounts(order)).toEqual(['tariff:-:0.00', 'addon:20:0.00', 'addon:30:0.00']);
  });

  it('uses the currency exponent of the tariff (JPY has no minor digits)', () => {
    const t: TariffForPricing = {
      id: 1,
      name: 'Yen',
      currency: 'JPY',
      periods: new Map([[1, 1000n]]),
      setupFeeMinor: null,
      addons: [],
    };
    expect(formatAmount(priceOrder(t, 1, {}).totalMinor, 'JPY')).toBe('1000');
  });
});

describe('priceOrder: addons', () => {
  it('boolean addon: a line with its period price when on, no line when off', () => {
    const on = priceOrder(vps({ addons: [ipv4] }), 12, { '30': true });
    expect(on.lines[1]).toEqual({
      kind: 'addon',
      addonId: 30,
      label: 'Extra IPv4',
      quantity: 1,
      unitPriceMinor: eur('24.00'),
      amountMinor: eur('24.00'),
      value: true,
    });
    expect(on.totalMinor).toBe(eur('124.00'));
    const off = priceOrder(vps({ addons: [ipv4] }), 12, { '30': false });
    expect(amounts(off)).toEqual(['tariff:-:100.00']);
    expect(off.addonValues).toEqual(new Map([[30, false]]));
  });

  it('integer addon: units above the included amount × unit price', () => {
    const order = priceOrder(vps({ addons: [ram] }), 1, { '20': 8 });
    expect(order.lines[1]).toEqual({
      kind: 'addon',
      addonId: 20,
      label: 'RAM (8 GB)',
      quantity: 6,
      unitPriceMinor: eur('1.50'),
      amountMinor: eur('9.00'),
      value: 8,
    });
    expect(order.totalMinor).toBe(eur('19.00'));
    // 12 months has an explicit unit price
    expect(priceOrder(vps({ addons: [ram] }), 12, { '20': 8 }).lines[1]?.amountMinor).toBe(eur('90.00'));
    // 3 months falls back to the monthly unit price × 3
    expect(priceOrder(vps({ addons: [ram] }), 3, { '20': 8 }).lines[1]?.amountMinor).toBe(eur('27.00'));
  });

  it('integer addon: an amount within the included amount costs nothing but still records a 0 line', () => {
    for (const value of [2, 4]) {
      const order = priceOrder(vps({ addons: [{ ...ram, included: 4 }] }), 1, { '20': value });
      expect(order.lines[1]).toMatchObject({ addonId: 20, quantity: 0, amountMinor: 0n, value });
      expect(order.totalMinor).toBe(eur('10.00'));
    }
  });

  it('enumeration addon: the chosen value’s own price', () => {
    const order = priceOrder(vps({ addons: [controlPanel()] }), 1, { '10': 4 });
    expect(order.lines[1]).toEqual({
      kind: 'addon',
      addonId: 10,
      label: 'Control panel: ISPmanager 6 Pro',
      quantity: 1,
      unitPriceMinor: eur('9.00'),
      amountMinor: eur('9.00'),
      value: 4,
    });
  });

  it('zero-priced addons with a value still produce a 0 line so the value is recorded', () => {
    const freeIp: AddonForPricing = { ...ipv4, prices: prices([[1, '0.00']]) };
    expect(amounts(priceOrder(vps({ addons: [freeIp] }), 1, { '30': true }))).toEqual([
      'tariff:-:10.00',
      'addon:30:0.00',
    ]);
  });

  it('defaults are applied to addons without a given value; a given value wins', () => {
    const withDefaults = vps({
      addons: [{ ...ipv4, defaultValue: true }, { ...controlPanel(), defaultValue: 3 }, ram],
    });
    const order = priceOrder(withDefaults, 1, {});
    expect(order.addonValues).toEqual(
      new Map<number, AddonValue>([
        [10, 3],
        [20, 2],
        [30, true],
      ]),
    );
    expect(amounts(order)).toEqual(['tariff:-:10.00', 'addon:10:6.00', 'addon:20:0.00', 'addon:30:2.00']);
    const given = priceOrder(withDefaults, 1, { '30': false, '20': 6 });
    expect(given.addonValues.get(30)).toBe(false);
    expect(given.addonValues.get(20)).toBe(6);
  });

  it('optional addons without a value and without a default produce no line and no value', () => {
    const order = priceOrder(vps(), 1, {});
    expect(amounts(order)).toEqual(['tariff:-:10.00', 'addon:20:0.00']);
    expect([...order.addonValues.keys()]).toEqual([20]);
  });

  it('lines are in a stable order: tariff, setup, addons by id (whatever the input order)', () => {
    const values = { '30': true, '20': 6, '10': 1 };
    const a = priceOrder(vps({ addons: [ipv4, ram, controlPanel()] }), 1, values, { includeSetup: true });
    const b = priceOrder(vps({ addons: [ram, controlPanel(), ipv4] }), 1, values, { includeSetup: true });
    expect(a.lines.map((l) => [l.kind, l.addonId])).toEqual([
      ['tariff', null],
      ['setup', null],
      ['addon', 10],
      ['addon', 20],
      ['addon', 30],
    ]);
    expect(b).toEqual(a);
    expect([...a.addonValues.keys()]).toEqual([10, 20, 30]);
  });

  it('accepts addon values as a Map keyed by number or an object keyed by strings, with the same result', () => {
    const fromObject = priceOrder(vps(), 12, { '10': 2, '20': 10, '30': true });
    const fromMap = priceOrder(
      vps(),
      12,
      new Map<number, AddonValue>([
        [10, 2],
        [20, 10],
        [30, true],
      ]),
    );
    expect(fromMap).toEqual(fromObject);
    expect(fromObject.totalMinor).toBe(eur('100.00') + eur('96.00') + eur('120.00') + eur('24.00'));
  });

  it('price_missing for an addon without the period price or a monthly price names the addon', () => {
    const yearly: AddonForPricing = { ...ipv4, prices: prices([[12, '20.00']]) };
    expectError(() => priceOrder(vps({ addons: [yearly] }), 3, { '30': true }), 'price_missing', {
      addonId: 30,
      period: 3,
    });
  });
});

describe('priceOrder: addon validation errors', () => {
  it('unknown_addon for an id the tariff does not have (Map or object, odd keys too)', () => {
    expectError(() => priceOrder(vps(), 1, { '99': true }), 'unknown_addon', { addonId: '99' });
    expectError(() => priceOrder(vps(), 1, new Map([[99, true]])), 'unknown_addon', { addonId: 99 });
    expectError(() => priceOrder(vps(), 1, { '030': true }), 'unknown_addon', { addonId: '030' });
    expectError(() => priceOrder(vps(), 1, { ram: 4 }), 'unknown_addon', { addonId: 'ram' });
  });

  it('addon_required when a required addon has no value and no default', () => {
    const t = vps({ addons: [{ ...ram, defaultValue: null }] });
    expectError(() => priceOrder(t, 1, {}), 'addon_required', { addonId: 20 });
    const panel = vps({ addons: [{ ...controlPanel(), required: true }] });
    expectError(() => priceOrder(panel, 1, {}), 'addon_required', { addonId: 10 });
  });

  it('addon_value_out_of_range outside [min, max], with the limits', () => {
    expectError(() => priceOrder(vps(), 1, { '20': 34 }), 'addon_value_out_of_range', {
      addonId: 20,
      value: 34,
      min: 2,
      max: 32,
    });
    expectError(() => priceOrder(vps(), 1, { '20': 0 }), 'addon_value_out_of_range', {
      addonId: 20,
      value: 0,
      min: 2,
      max: 32,
    });
    // the bounds themselves are fine
    expect(priceOrder(vps(), 1, { '20': 2 }).addonValues.get(20)).toBe(2);
    expect(priceOrder(vps(), 1, { '20': 32 }).addonValues.get(20)).toBe(32);
  });

  it('addon_value_not_on_step when (value − min) is not a multiple of step', () => {
    expectError(() => priceOrder(vps(), 1, { '20': 5 }), 'addon_value_not_on_step', {
      addonId: 20,
      value: 5,
      min: 2,
      step: 2,
    });
    // the step counts from min, not from 0
    const odd = vps({ addons: [{ ...ram, min: 1, max: 9, defaultValue: 1 }] });
    expect(priceOrder(odd, 1, { '20': 3 }).addonValues.get(20)).toBe(3);
    expectError(() => priceOrder(odd, 1, { '20': 4 }), 'addon_value_not_on_step', { value: 4, min: 1 });
  });

  it('enumeration_value_not_offered for a value not in the enumeration', () => {
    expectError(() => priceOrder(vps(), 1, { '10': 7 }), 'enumeration_value_not_offered', {
      addonId: 10,
      value: 7,
      reason: 'not_in_enumeration',
    });
  });

  it('enumeration_value_not_offered for a value switched off for this tariff', () => {
    // ISPmanager 5 tariffs ended: this tariff no longer offers ISPmanager Lite / Business
    const t = vps({ addons: [controlPanel([1, 2])] });
    expectError(() => priceOrder(t, 1, { '10': 1 }), 'enumeration_value_not_offered', {
      addonId: 10,
      value: 1,
      reason: 'switched_off',
      offered: [3, 4, 5, 6],
    });
    // the same value is still sold on a tariff that offers it
    expect(priceOrder(vps(), 1, { '10': 1 }).totalMinor).toBe(eur('15.00'));
    // a switched-off default is rejected too
    const defaulted = vps({ addons: [{ ...controlPanel([2]), defaultValue: 2 }] });
    expectError(() => priceOrder(defaulted, 1, {}), 'enumeration_value_not_offered', { value: 2 });
  });

  it('addon_value_invalid for a value of the wrong JS type', () => {
    const cases: [string, unknown][] = [
      ['30', 1],
      ['30', 'true'],
      ['20', true],
      ['20', '4'],
      ['20', 3.5],
      ['20', Number.NaN],
      ['10', '55228'],
      ['10', false],
      ['10', null],
    ];
    for (const [id, value] of cases) {
      expectError(
        () => priceOrder(vps(), 1, { [id]: value } as Record<string, AddonValue>),
        'addon_value_invalid',
        { addonId: Number(id), value },
      );
    }
  });
});

describe('"Server Control Panel" example', () => {
  it('has the six values with the upstream internal names, each with its own monthly price', () => {
    const addon = controlPanel();
    expect([...addon.values.values()].map((v) => v.internalName)).toEqual([
      '3541',
      '4601',
      '55227',
      '55228',
      '55229',
      '55230',
    ]);
    const t = vps({ addons: [addon] });
    const byInternalName: Record<string, string> = {};
    for (const [id, value] of addon.values) {
      const line = priceOrder(t, 1, { '10': id }).lines.find((l) => l.kind === 'addon');
      byInternalName[value.internalName] = formatAmount(line?.amountMinor ?? -1n, 'EUR');
    }
    expect(byInternalName).toEqual({
      '3541': '5.00',
      '4601': '8.00',
      '55227': '6.00',
      '55228': '9.00',
      '55229': '12.00',
      '55230': '15.00',
    });
  });

  it('prices a VPS with ISPmanager 6 Pro for 12 months (monthly × 12) next to the tariff’s explicit price', () => {
    const order = priceOrder(vps({ addons: [controlPanel()] }), 12, { '10': 4 }, { includeSetup: true });
    expect(amounts(order)).toEqual(['tariff:-:100.00', 'setup:-:5.00', 'addon:10:108.00']);
    expect(formatAmount(order.totalMinor, 'EUR')).toBe('213.00');
  });
});

describe('prorateOrder', () => {
  it('seed example: 10.00 monthly cut to 15 of 31 days → 4.84, addon 2.00 → 0.97, setup untouched', () => {
    const order = priceOrder(vps({ addons: [ipv4] }), 1, { '30': true }, { includeSetup: true });
    expect(amounts(order)).toEqual(['tariff:-:10.00', 'setup:-:5.00', 'addon:30:2.00']);
    const cut = prorateOrder(order, 15, 31);
    expect(amounts(cut)).toEqual(['tariff:-:4.84', 'setup:-:5.00', 'addon:30:0.97']);
    expect(formatAmount(cut.totalMinor, 'EUR')).toBe('10.81');
    // unit prices stay the full-period prices; the input order is not modified
    expect(cut.lines[0]?.unitPriceMinor).toBe(eur('10.00'));
    expect(amounts(order)).toEqual(['tariff:-:10.00', 'setup:-:5.00', 'addon:30:2.00']);
    expect(order.totalMinor).toBe(eur('17.00'));
  });

  it('rounds each line half up once (not the total)', () => {
    // 0.01 × 1/2 = 0.005 → 0.01 on each line; total 0.02 (not round(0.01))
    const t = vps({
      periods: new Map([[1, 1n]]),
      setupFeeMinor: null,
      addons: [{ ...ipv4, prices: new Map([[1, 1n]]) }],
    });
    const cut = prorateOrder(priceOrder(t, 1, { '30': true }), 1, 2);
    expect(cut.lines.map((l) => l.amountMinor)).toEqual([1n, 1n]);
    expect(cut.totalMinor).toBe(2n);
  });

  it('rejects day counts that are not a fraction in [0, 1]', () => {
    const order = priceOrder(vps(), 1, {});
    expect(() => prorateOrder(order, 32, 31)).toThrow(RangeError);
    expect(() => prorateOrder(order, -1, 31)).toThrow(RangeError);
    expect(() => prorateOrder(order, 1, 0)).toThrow(RangeError);
    expect(() => prorateOrder(order, 1.5, 31)).toThrow(RangeError);
    expect(prorateOrder(order, 0, 31).totalMinor).toBe(0n);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

const arbPrice = fc.bigInt({ min: 0n, max: 10n ** 9n });
const arbPeriod = fc.constantFrom(...STANDARD_PERIODS, TRIAL_PERIOD);

/** Integer addon with consistent limits and a value on its step. */
const arbIntegerAddon = fc
  .record({
    min: fc.integer({ min: 0, max: 64 }),
    step: fc.integer({ min: 1, max: 8 }),
    steps: fc.integer({ min: 0, max: 64 }),
    included: fc.integer({ min: 0, max: 64 }),
    monthly: arbPrice,
  })
  .map(
    ({ min, step, steps, included, monthly }): IntegerAddonForPricing => ({
      id: 20,
      label: 'CPU',
      kind: 'cpu',
      required: false,
      valueType: 'integer',
      defaultValue: null,
      unit: 'cores',
      included,
      min,
      max: min + steps * step,
      step,
      prices: new Map([[1, monthly]]),
    }),
  );

/** A tariff with all three addon types and a valid value set for it. */
const arbOrderInput = fc
  .record({
    monthly: arbPrice,
    explicit: fc.dictionary(fc.constantFrom('3', '6', '12', '24', '36', '-100'), fc.option(arbPrice)),
    setup: fc.option(arbPrice),
    boolPrice: arbPrice,
    enumPrices: fc.array(arbPrice, { minLength: 1, maxLength: 6 }),
    integerAddon: arbIntegerAddon,
    period: arbPeriod,
    on: fc.option(fc.boolean()),
    stepIndex: fc.option(fc.nat()),
    enumIndex: fc.option(fc.nat()),
    includeSetup: fc.boolean(),
  })
  .map((r) => {
    const periods = new Map<number, bigint | null>([[r.period, null]]);
    for (const [k, v] of Object.entries(r.explicit)) periods.set(Number(k), v);
    periods.set(1, r.monthly);
    const integerAddon = r.integerAddon;
    const values: Record<string, AddonValue> = {};
    if (r.on !== null) values['30'] = r.on;
    if (r.stepIndex !== null) {
      const steps = (integerAddon.max - integerAddon.min) / integerAddon.step;
      values['20'] = integerAddon.min + (r.stepIndex % (steps + 1)) * integerAddon.step;
    }
    if (r.enumIndex !== null) values['10'] = (r.enumIndex % r.enumPrices.length) + 1;
    const tariff: TariffForPricing = {
      id: 7,
      name: 'Generated',
      currency: 'EUR',
      periods,
      setupFeeMinor: r.setup,
      addons: [
        { ...ipv4, prices: new Map([[1, r.boolPrice]]) },
        integerAddon,
        {
          ...controlPanel(),
          values: new Map(
            r.enumPrices.map((p, i) => [
              i + 1,
              { name: `v${i + 1}`, internalName: String(1000 + i), offered: true, prices: new Map([[1, p]]) },
            ]),
          ),
        },
      ],
    };
    return { tariff, period: r.period, values, includeSetup: r.includeSetup };
  });

const arbDays = fc
  .integer({ min: 1, max: 1100 })
  .chain((full) => fc.record({ full: fc.constant(full), granted: fc.integer({ min: 0, max: full }) }));

describe('pricing properties', () => {
  it('total = sum of lines, every line amount = unit price × quantity', () => {
    fc.assert(
      fc.property(arbOrderInput, ({ tariff, period, values, includeSetup }) => {
        const order = priceOrder(tariff, period, values, { includeSetup });
        expect(order.totalMinor).toBe(sum(order.lines.map((l) => l.amountMinor)));
        for (const line of order.lines) {
          expect(line.amountMinor).toBe(line.unitPriceMinor * BigInt(line.quantity));
        }
        expect(order.lines[0]?.kind).toBe('tariff');
      }),
    );
  });

  it('prorateOrder with granted = full is the identity', () => {
    fc.assert(
      fc.property(arbOrderInput, fc.integer({ min: 1, max: 1100 }), (input, days) => {
        const order = priceOrder(input.tariff, input.period, input.values, {
          includeSetup: input.includeSetup,
        });
        expect(prorateOrder(order, days, days)).toEqual(order);
      }),
    );
  });

  it('every prorated line is ≥ 0 and ≤ its full line; setup untouched; total = sum of prorated lines', () => {
    fc.assert(
      fc.property(arbOrderInput, arbDays, (input, { full, granted }) => {
        const order = priceOrder(input.tariff, input.period, input.values, {
          includeSetup: input.includeSetup,
        });
        const cut = prorateOrder(order, granted, full);
        expect(cut.lines.length).toBe(order.lines.length);
        cut.lines.forEach((line, i) => {
          const original = order.lines[i]!;
          expect(line.amountMinor >= 0n).toBe(true);
          expect(line.amountMinor <= original.amountMinor).toBe(true);
          if (line.kind === 'setup') expect(line.amountMinor).toBe(original.amountMinor);
        });
        expect(cut.totalMinor).toBe(sum(cut.lines.map((l) => l.amountMinor)));
      }),
    );
  });

  it('integer addon amount is monotone in the value', () => {
    fc.assert(
      fc.property(arbIntegerAddon, arbPeriod, fc.nat(), fc.nat(), (addon, period, i, j) => {
        const steps = (addon.max - addon.min) / addon.step + 1;
        const [a, b] = [i % steps, j % steps].sort((x, y) => x - y) as [number, number];
        const t = vps({
          periods: new Map([
            [period, 1000n],
            [1, 1000n],
          ]),
          addons: [addon],
        });
        const amountFor = (k: number): bigint =>
          priceOrder(t, period, { '20': addon.min + k * addon.step }).lines[1]?.amountMinor ?? 0n;
        expect(amountFor(a) <= amountFor(b)).toBe(true);
      }),
    );
  });
});
