import {
  currencyExponent,
  formatScaled,
  isCurrency,
  MoneyError,
  parseScaled,
  rescale,
} from '../../domain/money.js';
import { isValidPeriod, PeriodError, parseDate, TRIAL_PERIOD } from '../../domain/periods.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, isUniqueViolation, type Tx } from '../../platform/db/index.js';
import { conflict, invalid } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorLabel, actorUserId, requireStaff } from '../accounts/actor.js';
import { getProviderCurrency } from '../accounts/commands.js';
import { loadTariffAggregates, presentTariff } from '../catalog/index.js';
import type { UpstreamPrices } from './commands.js';
import type { ImportedTariff } from './plugin.js';
import { openModuleFor, upstreamFailure } from './upstream.js';

/**
 * Importing a module's upstream tariffs (issue 12): each upstream tariff becomes a local one,
 * linked to the module under the upstream's id, so that a re-import finds it again.
 *
 * - New: a `hidden` tariff (staff review it before selling), its periods those the upstream
 *   prices; our prices copied from the upstream's only when the upstream sells in the
 *   provider's currency (rounded half up to the currency's minor unit) — in another currency
 *   there is no honest price to copy, so the periods have none until staff set them.
 * - Known: only the link changes — the upstream's prices and the plug-in's settings. Our
 *   price is ours; the answer names the tariffs whose upstream cost changed.
 * - Gone (linked, no longer offered upstream): reported, never deleted — services may use it.
 *
 * The upstream is asked before the transaction; the whole answer is checked before anything is
 * written; then one transaction writes it all, or nothing.
 */

export interface ImportedView {
  tariffId: number;
  externalId: string;
  name: string;
}

export interface ImportResult {
  moduleId: number;
  created: (ImportedView & { productType: string; pricesCopied: boolean })[];
  updated: (ImportedView & {
    costChanged: boolean;
    settingsChanged: boolean;
    before: UpstreamPrices | null;
    after: UpstreamPrices;
  })[];
  unchanged: number;
  gone: ImportedView[];
}

interface Checked {
  readonly source: ImportedTariff;
  readonly prices: { period: number; amountE4: bigint }[];
  readonly settings: string;
  readonly expiresOn: string | null;
  readonly productTypeId: number;
  readonly trialDays: number | null;
}

const badTariff = (
  t: Pick<ImportedTariff, 'externalId'> | null,
  problem: string,
  extra: Record<string, unknown> = {},
) =>
  invalid('import_invalid_tariff', `The upstream offered a tariff Billfold cannot import: ${problem}`, {
    externalId: t?.externalId ?? null,
    ...extra,
  });

/** Checks the plug-in's answer whole, before anything is written. */
async function check(
  ctx: AppContext,
  plugin: { tariffSettingsSchema?: { safeParse(v: unknown): { success: boolean; data?: unknown } } },
  served: readonly string[],
  tariffs: readonly ImportedTariff[],
): Promise<Checked[]> {
  const types = new Map(
    (await ctx.db.kysely.selectFrom('product_types').select(['id', 'code']).execute()).map((r) => [
      r.code,
      toId(r.id),
    ]),
  );
  const seen = new Set<string>();
  return tariffs.map((t) => {
    if (typeof t.externalId !== 'string' || t.externalId === '')
      throw badTariff(null, 'a tariff without an id.');
    if (seen.has(t.externalId)) throw badTariff(t, `tariff ${t.externalId} is listed twice.`);
    seen.add(t.externalId);
    if (typeof t.name !== 'string' || t.name.trim() === '' || t.name.length > 200)
      throw badTariff(t, `tariff ${t.externalId} has no usable name.`);
    const productTypeId = types.get(t.productType);
    if (productTypeId === undefined)
      throw badTariff(t, `there is no product type ${t.productType} here.`, { productType: t.productType });
    if (!served.includes(t.productType))
      throw badTariff(t, `the module does not serve ${t.productType}.`, { productType: t.productType });
    if (!isCurrency(t.currency))
      throw badTariff(t, `unknown currency ${JSON.stringify(t.currency)}.`, { currency: t.currency });
    if (t.prices.length === 0) throw badTariff(t, `tariff ${t.externalId} has no prices.`);
    const trialDays = t.trialDays ?? null;
    if (trialDays !== null && (!Number.isInteger(trialDays) || trialDays < 1 || trialDays > 366))
      throw badTariff(t, `tariff ${t.externalId} has a trial of ${trialDays} days.`, { trialDays });
    const prices = t.prices.map((p) => {
      // A trial is a period of its own (-100) whose length the tariff carries in days.
      if (p.period === TRIAL_PERIOD && trialDays === null)
        throw badTariff(t, `tariff ${t.externalId} offers a trial without saying how many days.`, {
          period: p.period,
        });
      if (!isValidPeriod(p.period) || (p.period < 1 && p.period !== TRIAL_PERIOD))
        throw badTariff(t, `period ${p.period} of tariff ${t.externalId} is not one Billfold sells.`, {
          period: p.period,
        });
      try {
        return { period: p.period, amountE4: parseScaled(p.amount, 4) };
      } catch (err) {
        if (err instanceof MoneyError)
          throw badTariff(t, `price ${JSON.stringify(p.amount)} of tariff ${t.externalId}: ${err.message}`, {
            period: p.period,
          });
        throw err;
      }
    });
    if (new Set(prices.map((p) => p.period)).size !== prices.length)
      throw badTariff(t, `tariff ${t.externalId} prices a period twice.`);
    prices.sort((a, b) => a.period - b.period);
    let expiresOn: string | null = null;
    if (t.expiresOn != null) {
      try {
        expiresOn = parseDate(t.expiresOn).toString();
      } catch (err) {
        if (err instanceof PeriodError)
          throw badTariff(t, `expiry ${JSON.stringify(t.expiresOn)} is no date.`);
        throw err;
      }
    }
    let settings = '{}';
    if (plugin.tariffSettingsSchema) {
      const parsed = plugin.tariffSettingsSchema.safeParse(t.settings ?? {});
      if (!parsed.success)
        throw badTariff(t, `the plug-in's settings for tariff ${t.externalId} are not valid.`);
      settings = JSON.stringify(parsed.data);
    }
    return { source: t, prices, settings, expiresOn, productTypeId, trialDays };
  });
}

const upstreamPricesOf = (c: Checked, importedAt: string): UpstreamPrices => ({
  currency: c.source.currency,
  prices: c.prices.map((p) => ({ period: p.period, amount: formatScaled(p.amountE4, 4) })),
  importedAt,
});

/** Same currency and the same price for the same periods (the instant of the import aside). */
const samePrices = (a: UpstreamPrices | null, b: UpstreamPrices) =>
  a !== null &&
  a.currency === b.currency &&
  JSON.stringify(a.prices.map((p) => [p.period, formatScaled(parseScaled(p.amount, 4), 4)])) ===
    JSON.stringify(b.prices.map((p) => [p.period, p.amount]));

async function createTariffFrom(
  tx: Tx,
  actor: Actor,
  moduleId: number,
  c: Checked,
  currency: string,
  now: string,
): Promise<{ tariffId: number; pricesCopied: boolean }> {
  const copy = c.source.currency === currency;
  const exponent = currencyExponent(currency);
  const tariff = await tx
    .insertInto('tariffs')
    .values({
      name: c.source.name.trim(),
      description: '',
      product_type_id: c.productTypeId,
      status: 'hidden',
      currency,
      setup_fee_minor: null,
      expires_on: c.expiresOn,
      trial_days: c.trialDays,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const tariffId = toId(tariff.id);
  await tx
    .insertInto('tariff_periods')
    .values(
      c.prices.map((p) => ({
        tariff_id: tariffId,
        period: p.period,
        price_minor: copy ? rescale(p.amountE4, 4, exponent) : null,
      })),
    )
    .execute();
  await tx
    .insertInto('tariff_modules')
    .values({
      tariff_id: tariffId,
      module_id: moduleId,
      sort_order: 0,
      settings: c.settings,
      external_id: c.source.externalId,
      upstream_prices: JSON.stringify(upstreamPricesOf(c, now)),
    })
    .execute();
  const [agg] = await loadTariffAggregates(tx, { ids: [tariffId] });
  await tx
    .insertInto('tariff_history')
    .values({
      tariff_id: tariffId,
      change: 'imported',
      before_json: null,
      after_json: JSON.stringify({
        ...presentTariff(agg!),
        importedFrom: { moduleId, externalId: c.source.externalId },
      }),
      actor_user_id: actorUserId(actor),
      actor_label: actorLabel(actor),
      created_at: now,
    })
    .execute();
  return { tariffId, pricesCopied: copy };
}

export async function importTariffs(ctx: AppContext, actor: Actor, moduleId: number): Promise<ImportResult> {
  requireStaff(actor);
  const { row, plugin, instance } = await openModuleFor(ctx, moduleId, 'importTariffs', 'import_unsupported');
  let offered: readonly ImportedTariff[];
  try {
    offered = await plugin.importTariffs!(instance, ctx);
  } catch (err) {
    throw upstreamFailure(err, row.name, 'list its tariffs');
  }
  const checked = await check(ctx, plugin, JSON.parse(row.product_types) as string[], offered);
  const currency = await getProviderCurrency(ctx);
  const now = isoNow(ctx.clock);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      const links = await tx
        .selectFrom('tariff_modules as l')
        .innerJoin('tariffs as t', 't.id', 'l.tariff_id')
        .select(['l.tariff_id', 'l.external_id', 'l.settings', 'l.upstream_prices', 't.name'])
        .where('l.module_id', '=', moduleId)
        .where('l.external_id', 'is not', null)
        .orderBy('l.tariff_id')
        .execute();
      const byExternal = new Map(links.map((l) => [l.external_id!, l]));
      const result: ImportResult = { moduleId, created: [], updated: [], unchanged: 0, gone: [] };
      for (const c of checked) {
        const link = byExternal.get(c.source.externalId);
        if (!link) {
          const made = await createTariffFrom(tx, actor, moduleId, c, currency, now);
          result.created.push({
            tariffId: made.tariffId,
            externalId: c.source.externalId,
            name: c.source.name.trim(),
            productType: c.source.productType,
            pricesCopied: made.pricesCopied,
          });
          continue;
        }
        const before =
          link.upstream_prices === null ? null : (JSON.parse(link.upstream_prices) as UpstreamPrices);
        const after = upstreamPricesOf(c, now);
        const costChanged = !samePrices(before, after);
        // The import owns only the keys it sets (the upstream tariff id); what staff added to
        // the link (fixed addons, an addon map) stays.
        const merged = JSON.stringify({
          ...(JSON.parse(link.settings) as Record<string, unknown>),
          ...(JSON.parse(c.settings) as Record<string, unknown>),
        });
        const settingsChanged = link.settings !== merged;
        if (!costChanged && !settingsChanged) {
          result.unchanged++;
          continue;
        }
        await tx
          .updateTable('tariff_modules')
          .set({ upstream_prices: JSON.stringify(after), settings: merged })
          .where('tariff_id', '=', link.tariff_id)
          .where('module_id', '=', moduleId)
          .execute();
        result.updated.push({
          tariffId: toId(link.tariff_id),
          externalId: c.source.externalId,
          name: link.name,
          costChanged,
          settingsChanged,
          before,
          after,
        });
      }
      const offeredIds = new Set(checked.map((c) => c.source.externalId));
      for (const l of links)
        if (!offeredIds.has(l.external_id!))
          result.gone.push({ tariffId: toId(l.tariff_id), externalId: l.external_id!, name: l.name });
      return result;
    });
  } catch (err) {
    // Another import of the same module linked the same upstream tariff meanwhile.
    if (isUniqueViolation(err))
      throw conflict('import_conflict', 'Another import of this module ran at the same time; run it again.', {
        moduleId,
      });
    throw err;
  }
}
