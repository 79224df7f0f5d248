import type {
  AddonPriceRow,
  AddonRow,
  Conn,
  EnumerationValueRow,
  ProductTypeRow,
  TariffPeriodRow,
  TariffRow,
  Tx,
} from '../../platform/db/index.js';

/** A tariff with everything that prices it, read in a fixed number of queries whatever the count. */
export interface TariffAggregate {
  readonly tariff: TariffRow;
  readonly productType: ProductTypeRow;
  readonly periods: readonly TariffPeriodRow[];
  readonly addons: readonly AddonAggregate[];
}

export interface AddonAggregate {
  readonly addon: AddonRow;
  /** Explicit prices: the addon's own (enumeration_value_id null) and per enumeration value. */
  readonly prices: readonly AddonPriceRow[];
  /** Enumeration addons: every value linked to the addon, with whether this tariff offers it. */
  readonly values: readonly { readonly value: EnumerationValueRow; readonly offered: boolean }[];
}

const byNumber = <T>(rows: readonly T[], key: (r: T) => bigint | number) => {
  const map = new Map<number, T[]>();
  for (const r of rows) {
    const k = Number(key(r));
    const list = map.get(k);
    if (list) list.push(r);
    else map.set(k, [r]);
  }
  return map;
};

export async function loadTariffAggregates(
  db: Conn | Tx,
  filter: { ids?: readonly number[]; statuses?: readonly TariffRow['status'][] } = {},
): Promise<TariffAggregate[]> {
  let q = db.selectFrom('tariffs').selectAll().orderBy('id');
  if (filter.ids) {
    if (filter.ids.length === 0) return [];
    q = q.where('id', 'in', [...filter.ids]);
  }
  if (filter.statuses) q = q.where('status', 'in', [...filter.statuses]);
  const tariffs = await q.execute();
  if (tariffs.length === 0) return [];
  const ids = tariffs.map((t) => t.id);
  const [types, periods, addons] = await Promise.all([
    db.selectFrom('product_types').selectAll().execute(),
    db
      .selectFrom('tariff_periods')
      .selectAll()
      .where('tariff_id', 'in', ids)
      .orderBy('tariff_id')
      .orderBy('period')
      .execute(),
    db
      .selectFrom('addons')
      .selectAll()
      .where('tariff_id', 'in', ids)
      .orderBy('sort_order')
      .orderBy('id')
      .execute(),
  ]);
  const addonIds = addons.map((a) => a.id);
  const [prices, values] = addonIds.length
    ? await Promise.all([
        db
          .selectFrom('addon_prices')
          .selectAll()
          .where('addon_id', 'in', addonIds)
          .orderBy('period')
          .execute(),
        db
          .selectFrom('addon_values as av')
          .innerJoin('enumeration_values as v', 'v.id', 'av.enumeration_value_id')
          .selectAll('v')
          .select(['av.addon_id', 'av.offered'])
          .where('av.addon_id', 'in', addonIds)
          .orderBy('v.sort_order')
          .orderBy('v.id')
          .execute(),
      ])
    : [[], []];
  const typeById = new Map(types.map((t) => [Number(t.id), t]));
  const periodsBy = byNumber(periods, (p) => p.tariff_id);
  const addonsBy = byNumber(addons, (a) => a.tariff_id);
  const pricesBy = byNumber(prices, (p) => p.addon_id);
  const valuesBy = byNumber(values, (v) => v.addon_id);
  return tariffs.map((tariff) => ({
    tariff,
    productType: typeById.get(Number(tariff.product_type_id))!,
    periods: periodsBy.get(Number(tariff.id)) ?? [],
    addons: (addonsBy.get(Number(tariff.id)) ?? []).map((addon) => ({
      addon,
      prices: pricesBy.get(Number(addon.id)) ?? [],
      values: (valuesBy.get(Number(addon.id)) ?? []).map(({ addon_id: _a, offered, ...value }) => ({
        value,
        offered: Number(offered) === 1,
      })),
    })),
  }));
}
