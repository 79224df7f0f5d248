import { formatAmount } from '../../domain/money.js';
import { type Period, PricingError, periodPrice, TRIAL_PERIOD } from '../../domain/pricing.js';
import type { EnumerationRow, EnumerationValueRow, ProductTypeRow } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import type { AddonAggregate, TariffAggregate } from './aggregate.js';
import { decodeDefault } from './pricing-adapter.js';

export const presentProductType = (t: ProductTypeRow) => ({
  id: toId(t.id),
  code: t.code,
  name: t.name,
  deletionDelayDays: Number(t.deletion_delay_days),
  clientCanDelete: Number(t.client_can_delete) === 1,
  refundUnusedDays: Number(t.refund_unused_days) === 1,
  serviceParams: JSON.parse(t.service_params) as string[],
});

export const presentEnumerationValue = (v: EnumerationValueRow) => ({
  id: toId(v.id),
  enumerationId: toId(v.enumeration_id),
  name: v.name,
  internalName: v.internal_name,
  sortOrder: Number(v.sort_order),
  status: v.status,
});

export const presentEnumeration = (e: EnumerationRow, values: readonly EnumerationValueRow[]) => ({
  id: toId(e.id),
  name: e.name,
  description: e.description,
  values: values.map(presentEnumerationValue),
  createdAt: e.created_at,
  updatedAt: e.updated_at,
});

/** Resolved price per offered period: explicit, or monthly × months, or null if neither exists. */
function resolvedPrices(
  explicit: ReadonlyMap<Period, bigint | null>,
  offered: readonly Period[],
  currency: string,
) {
  const set = new Set(offered);
  return offered.map((period) => {
    let price: string | null;
    try {
      price = formatAmount(periodPrice(explicit, period, set), currency);
    } catch (err) {
      if (!(err instanceof PricingError)) throw err;
      price = null;
    }
    const e = explicit.get(period);
    return { period, price, explicit: e !== undefined && e !== null };
  });
}

function presentAddon(a: AddonAggregate, offered: readonly Period[], currency: string) {
  const own = new Map<Period, bigint>(
    a.prices.filter((p) => p.enumeration_value_id === null).map((p) => [Number(p.period), p.price_minor]),
  );
  return {
    id: toId(a.addon.id),
    tariffId: toId(a.addon.tariff_id),
    kind: a.addon.kind,
    label: a.addon.label,
    valueType: a.addon.value_type,
    required: Number(a.addon.required) === 1,
    defaultValue: decodeDefault(a.addon.default_value),
    sortOrder: Number(a.addon.sort_order),
    unit: a.addon.unit,
    included: a.addon.included === null ? null : Number(a.addon.included),
    min: a.addon.min_value === null ? null : Number(a.addon.min_value),
    max: a.addon.max_value === null ? null : Number(a.addon.max_value),
    step: a.addon.step === null ? null : Number(a.addon.step),
    enumerationId: a.addon.enumeration_id === null ? null : toId(a.addon.enumeration_id),
    prices: a.addon.value_type === 'enumeration' ? [] : resolvedPrices(own, offered, currency),
    values: a.values.map(({ value, offered: isOffered }) => ({
      valueId: toId(value.id),
      name: value.name,
      internalName: value.internal_name,
      offered: isOffered,
      active: value.status === 'active',
      prices: resolvedPrices(
        new Map(
          a.prices
            .filter((p) => p.enumeration_value_id !== null && toId(p.enumeration_value_id) === toId(value.id))
            .map((p) => [Number(p.period), p.price_minor]),
        ),
        offered,
        currency,
      ),
    })),
  };
}

export function presentTariff(t: TariffAggregate) {
  const offered = t.periods.map((p) => Number(p.period));
  return {
    id: toId(t.tariff.id),
    name: t.tariff.name,
    description: t.tariff.description,
    productType: t.productType.code,
    status: t.tariff.status,
    currency: t.tariff.currency,
    periods: resolvedPrices(
      new Map(t.periods.map((p) => [Number(p.period), p.price_minor])),
      offered,
      t.tariff.currency,
    ),
    trialDays: t.tariff.trial_days === null ? null : Number(t.tariff.trial_days),
    setupFee:
      t.tariff.setup_fee_minor === null ? null : formatAmount(t.tariff.setup_fee_minor, t.tariff.currency),
    expiresOn: t.tariff.expires_on,
    addons: t.addons.map((a) => presentAddon(a, offered, t.tariff.currency)),
    createdAt: t.tariff.created_at,
    updatedAt: t.tariff.updated_at,
  };
}
export type TariffPresentation = ReturnType<typeof presentTariff>;

/**
 * Why a client cannot choose a control-panel value (a stable code the web app words):
 * `value_disabled` — staff switched the value off everywhere; `not_offered_on_tariff` — this
 * tariff does not offer it. (A value offered without a price for some period stays in `values`
 * with no price for that period: whether it can be chosen depends on the period.)
 */
export type UnavailableReason = 'value_disabled' | 'not_offered_on_tariff';
const unavailableReason = (v: { offered: boolean; active: boolean }): UnavailableReason =>
  v.active ? 'not_offered_on_tariff' : 'value_disabled';

/**
 * What a client may order: priced periods only, offered and active enumeration values only in
 * `values`; the addon's other values in `unavailableValues`, each with its reason.
 */
export function presentCatalogTariff(t: TariffAggregate) {
  const full = presentTariff(t);
  const priced = (list: { period: number; price: string | null }[]) =>
    list
      .filter((p): p is { period: number; price: string } => p.price !== null)
      .map(({ period, price }) => ({ period, price }));
  return {
    id: full.id,
    name: full.name,
    description: full.description,
    productType: full.productType,
    currency: full.currency,
    periods: priced(full.periods).map((p) =>
      p.period === TRIAL_PERIOD && full.trialDays ? { ...p, trialDays: full.trialDays } : p,
    ),
    setupFee: full.setupFee,
    expiresOn: full.expiresOn,
    addons: full.addons.map((a) => {
      const values = a.values
        .filter((v) => v.offered && v.active)
        .map((v) => ({
          id: v.valueId,
          name: v.name,
          internalName: v.internalName,
          prices: priced(v.prices),
        }));
      // The addon's other values, for a client to see what exists and why it cannot be chosen
      // (greyed in the order wizard). Kept apart from `values`, which stays "what may be ordered".
      const unavailableValues = a.values
        .filter((v) => !(v.offered && v.active))
        .map((v) => ({
          id: v.valueId,
          name: v.name,
          internalName: v.internalName,
          available: false as const,
          reason: unavailableReason(v),
        }));
      // A default value since disabled or switched off is no option: do not advertise it.
      const defaultValue =
        a.valueType === 'enumeration' && !values.some((v) => v.id === a.defaultValue) ? null : a.defaultValue;
      return {
        id: a.id,
        kind: a.kind,
        label: a.label,
        valueType: a.valueType,
        required: a.required,
        defaultValue,
        unit: a.unit,
        included: a.included,
        min: a.min,
        max: a.max,
        step: a.step,
        prices: priced(a.prices),
        values,
        unavailableValues,
      };
    }),
  };
}
