import type { AddonForPricing, Period, TariffForPricing } from '../../domain/pricing.js';
import type { AddonPriceRow } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import type { AddonAggregate, TariffAggregate } from './aggregate.js';

/** The addon's stored default, decoded from its JSON text. */
export function decodeDefault(text: string | null): boolean | number | null {
  if (text === null) return null;
  const v: unknown = JSON.parse(text);
  return typeof v === 'boolean' || typeof v === 'number' ? v : null;
}

const priceMap = (rows: readonly AddonPriceRow[], valueId: number | null): Map<Period, bigint> =>
  new Map(
    rows
      .filter((p) =>
        p.enumeration_value_id === null ? valueId === null : Number(p.enumeration_value_id) === valueId,
      )
      .map((p) => [Number(p.period), p.price_minor]),
  );

function addonForPricing(a: AddonAggregate, keep: ReadonlySet<number>): AddonForPricing {
  const base = {
    id: toId(a.addon.id),
    label: a.addon.label,
    kind: a.addon.kind,
    required: Number(a.addon.required) === 1,
  };
  const def = decodeDefault(a.addon.default_value);
  switch (a.addon.value_type) {
    case 'boolean':
      return {
        ...base,
        valueType: 'boolean',
        defaultValue: typeof def === 'boolean' ? def : null,
        prices: priceMap(a.prices, null),
      };
    case 'integer':
      return {
        ...base,
        valueType: 'integer',
        defaultValue: typeof def === 'number' ? def : null,
        unit: a.addon.unit ?? '',
        included: Number(a.addon.included ?? 0),
        min: Number(a.addon.min_value ?? 0),
        max: Number(a.addon.max_value ?? 0),
        step: Number(a.addon.step ?? 1),
        prices: priceMap(a.prices, null),
      };
    case 'enumeration':
      return {
        ...base,
        valueType: 'enumeration',
        defaultValue: typeof def === 'number' ? def : null,
        values: new Map(
          a.values.map(({ value, offered }) => [
            toId(value.id),
            {
              name: value.name,
              internalName: value.internal_name,
              // A value disabled in its enumeration is offered by no tariff.
              offered: (offered && value.status === 'active') || keep.has(toId(value.id)),
              prices: priceMap(a.prices, toId(value.id)),
            },
          ]),
        ),
      };
  }
}

/**
 * Database aggregate → the pure pricing model. `keepValueIds`: enumeration values a service
 * already has — a renewal keeps them at their price even after they were withdrawn from new
 * orders (switched off for the tariff or disabled in the enumeration).
 */
export function tariffForPricing(
  t: TariffAggregate,
  keepValueIds: ReadonlySet<number> = new Set(),
): TariffForPricing {
  return {
    id: toId(t.tariff.id),
    name: t.tariff.name,
    currency: t.tariff.currency,
    periods: new Map(t.periods.map((p) => [Number(p.period), p.price_minor])),
    setupFeeMinor: t.tariff.setup_fee_minor,
    addons: t.addons.map((a) => addonForPricing(a, keepValueIds)),
  };
}
