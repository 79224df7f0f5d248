import { Temporal } from 'temporal-polyfill';
import { isTariffEnded } from '../../domain/periods.js';
import { today as todayIn } from '../../platform/calendar.js';
import type { AppContext } from '../../platform/context.js';
import type { EnumerationRow, EnumerationValueRow, ProductTypeRow } from '../../platform/db/index.js';
import { notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, requireStaff } from '../accounts/actor.js';
import { getProviderCurrency } from '../accounts/commands.js';
import { loadTariffAggregates, type TariffAggregate } from './aggregate.js';
import { presentCatalogTariff, presentTariff, type TariffPresentation } from './presenters.js';

export async function listProductTypes(ctx: AppContext): Promise<ProductTypeRow[]> {
  return ctx.db.kysely.selectFrom('product_types').selectAll().orderBy('id').execute();
}

export async function getProductType(ctx: AppContext, code: string): Promise<ProductTypeRow> {
  const t = await ctx.db.kysely
    .selectFrom('product_types')
    .selectAll()
    .where('code', '=', code)
    .executeTakeFirst();
  if (!t) throw notFound('product_type', { code });
  return t;
}

export async function listEnumerations(
  ctx: AppContext,
  actor: Actor,
): Promise<{ enumeration: EnumerationRow; values: EnumerationValueRow[] }[]> {
  requireStaff(actor);
  const [enums, values] = await Promise.all([
    ctx.db.kysely.selectFrom('enumerations').selectAll().orderBy('id').execute(),
    ctx.db.kysely.selectFrom('enumeration_values').selectAll().orderBy('sort_order').orderBy('id').execute(),
  ]);
  return enums.map((enumeration) => ({
    enumeration,
    values: values.filter((v) => toId(v.enumeration_id) === toId(enumeration.id)),
  }));
}

export async function getEnumeration(ctx: AppContext, actor: Actor, id: number) {
  requireStaff(actor);
  const enumeration = await ctx.db.kysely
    .selectFrom('enumerations')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!enumeration) throw notFound('enumeration', { enumerationId: id });
  const values = await ctx.db.kysely
    .selectFrom('enumeration_values')
    .selectAll()
    .where('enumeration_id', '=', id)
    .orderBy('sort_order')
    .orderBy('id')
    .execute();
  return { enumeration, values };
}

export async function listTariffs(
  ctx: AppContext,
  actor: Actor,
  filter: { productType?: string | undefined; status?: 'active' | 'hidden' | 'archived' | undefined },
): Promise<TariffPresentation[]> {
  requireStaff(actor);
  const aggs = await loadTariffAggregates(ctx.db.kysely, filter.status ? { statuses: [filter.status] } : {});
  return aggs
    .filter((a) => !filter.productType || a.productType.code === filter.productType)
    .map(presentTariff);
}

export async function getTariffAggregate(ctx: AppContext, id: number): Promise<TariffAggregate> {
  const [agg] = await loadTariffAggregates(ctx.db.kysely, { ids: [id] });
  if (!agg) throw notFound('tariff', { tariffId: id });
  return agg;
}

export async function getTariff(ctx: AppContext, actor: Actor, id: number): Promise<TariffPresentation> {
  requireStaff(actor);
  return presentTariff(await getTariffAggregate(ctx, id));
}

export async function tariffHistory(ctx: AppContext, actor: Actor, id: number) {
  requireStaff(actor);
  await getTariffAggregate(ctx, id);
  return ctx.db.kysely
    .selectFrom('tariff_history')
    .selectAll()
    .where('tariff_id', '=', id)
    .orderBy('id', 'desc')
    .execute();
}

/** True when a client may order this tariff today: active and not past its expiration date. */
export function isOrderable(t: TariffAggregate, today: string): boolean {
  return t.tariff.status === 'active' && !isTariffEnded(t.tariff.expires_on, Temporal.PlainDate.from(today));
}

/**
 * A product type as the catalog shows it: its name and the service parameters an order of it
 * must carry (the order form asks for them; `validateServiceParams` checks them).
 */
function presentCatalogProductType(t: ProductTypeRow) {
  return { code: t.code, name: t.name, serviceParams: JSON.parse(t.service_params) as string[] };
}

/** The public catalog: what a client can order now (by the injected clock), with prices and addon options. */
export async function publicCatalog(ctx: AppContext, filter: { productType?: string | undefined } = {}) {
  const today = (await todayIn(ctx)).toString();
  const [aggs, types, currency] = await Promise.all([
    loadTariffAggregates(ctx.db.kysely, { statuses: ['active'] }),
    listProductTypes(ctx),
    getProviderCurrency(ctx),
  ]);
  const tariffs = aggs
    .filter(
      (a) => isOrderable(a, today) && (!filter.productType || a.productType.code === filter.productType),
    )
    .map(presentCatalogTariff)
    .filter((t) => t.periods.length > 0);
  const used = new Set(tariffs.map((t) => t.productType));
  return {
    currency,
    today,
    productTypes: types.filter((t) => used.has(t.code)).map(presentCatalogProductType),
    tariffs,
  };
}
