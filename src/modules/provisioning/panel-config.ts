import { PricingError, periodPrice } from '../../domain/pricing.js';
import type { AppContext } from '../../platform/context.js';
import { type Conn, lockRows, type Tx } from '../../platform/db/index.js';
import { invalid, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, requireStaff } from '../accounts/actor.js';
import { loadTariffAggregates } from '../catalog/aggregate.js';
import { tariffForPricing } from '../catalog/pricing-adapter.js';

/**
 * The control-panel configuration of server tariffs (issue 13 item 4): what would otherwise
 * surface only when a client orders, found when staff configure.
 *
 * A `vds`/`dedic` tariff's `control_panel` enumeration addon offers values whose internal name
 * is the license server's upstream tariff id, or `none` ("no panel", no license). The tariff's
 * server modules (plug-ins with `usesLicenseServer`) name that license server; its known
 * upstream tariffs are its tariff links: their `external_id` (what an import recorded) or the
 * `pricelist` of their settings.
 */

/** The internal name of the value meaning "no panel": no license is bundled. */
export const NO_PANEL = 'none';
/** The product types whose tariffs bundle a control-panel license. */
export const PANEL_PRODUCT_TYPES: readonly string[] = ['vds', 'dedic'];

export type PanelProblem =
  | {
      readonly code: 'panel_price_missing';
      readonly tariffId: number;
      readonly addonId: number;
      readonly valueId: number;
      readonly period: number;
      readonly message: string;
    }
  | {
      readonly code: 'panel_not_upstream_tariff';
      readonly tariffId: number;
      readonly addonId: number;
      readonly valueId: number;
      readonly internalName: string;
      readonly moduleId: number;
      readonly licenseServerId: number;
      readonly message: string;
    }
  | {
      readonly code: 'license_server_missing';
      readonly tariffId: number;
      readonly moduleId: number;
      readonly message: string;
    };

type Reader = Conn | Tx;

/** The upstream tariff ids each license server knows, from its tariff links. */
async function upstreamTariffs(db: Reader, serverIds: readonly number[]): Promise<Map<number, Set<string>>> {
  const known = new Map<number, Set<string>>(serverIds.map((id) => [id, new Set<string>()]));
  if (serverIds.length === 0) return known;
  const links = await db
    .selectFrom('tariff_modules')
    .select(['module_id', 'external_id', 'settings'])
    .where('module_id', 'in', [...serverIds])
    .execute();
  for (const l of links) {
    const set = known.get(toId(l.module_id))!;
    if (l.external_id) set.add(l.external_id);
    const pricelist = (JSON.parse(l.settings) as { pricelist?: unknown }).pricelist;
    if (typeof pricelist === 'string' || typeof pricelist === 'number') set.add(String(pricelist));
  }
  return known;
}

/**
 * Every problem of these tariffs' control-panel configuration, in a stable order (tariff,
 * addon, value, period / module). Tariffs of other product types, or without a control-panel
 * addon, have none. Only values the tariff offers count (offered on the addon and active in
 * the enumeration): a withdrawn value can no longer be chosen.
 */
export async function panelProblems(
  ctx: Pick<AppContext, 'plugins'>,
  db: Reader,
  tariffIds: readonly number[],
): Promise<PanelProblem[]> {
  const aggs = (await loadTariffAggregates(db, { ids: tariffIds })).filter((a) =>
    PANEL_PRODUCT_TYPES.includes(a.productType.code),
  );
  const withPanel = aggs.filter((a) =>
    a.addons.some((x) => x.addon.kind === 'control_panel' && x.addon.value_type === 'enumeration'),
  );
  if (withPanel.length === 0) return [];
  const links = await db
    .selectFrom('tariff_modules as l')
    .innerJoin('processing_modules as m', 'm.id', 'l.module_id')
    .select(['l.tariff_id', 'm.id', 'm.name', 'm.module_type', 'm.license_server_id'])
    .where(
      'l.tariff_id',
      'in',
      withPanel.map((a) => a.tariff.id),
    )
    .orderBy('m.id')
    .execute();
  const servers = links.filter((l) => ctx.plugins.get(l.module_type)?.usesLicenseServer);
  const known = await upstreamTariffs(db, [
    ...new Set(servers.flatMap((s) => (s.license_server_id === null ? [] : [toId(s.license_server_id)]))),
  ]);
  const problems: PanelProblem[] = [];
  for (const agg of withPanel) {
    const tariffId = toId(agg.tariff.id);
    const priced = tariffForPricing(agg);
    const offeredPeriods = new Set(agg.periods.map((p) => Number(p.period)));
    const modules = servers.filter((s) => toId(s.tariff_id) === tariffId);
    let offersPanel = false;
    for (const addon of priced.addons) {
      if (addon.kind !== 'control_panel' || addon.valueType !== 'enumeration') continue;
      for (const [valueId, value] of addon.values) {
        if (!value.offered) continue;
        for (const period of offeredPeriods) {
          try {
            periodPrice(value.prices, period, offeredPeriods);
          } catch (err) {
            if (!(err instanceof PricingError && err.code === 'price_missing')) throw err;
            problems.push({
              code: 'panel_price_missing',
              tariffId,
              addonId: addon.id,
              valueId,
              period,
              message: `"${value.name}" of addon "${addon.label}" has no price for period ${period} (and no monthly price to reckon it from).`,
            });
          }
        }
        if (value.internalName === NO_PANEL) continue;
        offersPanel = true;
        for (const m of modules) {
          if (m.license_server_id === null) continue;
          const serverId = toId(m.license_server_id);
          if (known.get(serverId)!.has(value.internalName)) continue;
          problems.push({
            code: 'panel_not_upstream_tariff',
            tariffId,
            addonId: addon.id,
            valueId,
            internalName: value.internalName,
            moduleId: toId(m.id),
            licenseServerId: serverId,
            message: `"${value.name}" (${value.internalName}) is no upstream tariff of license server #${serverId} of module "${m.name}": import its tariffs, or link a tariff to it with that pricelist.`,
          });
        }
      }
    }
    if (!offersPanel) continue;
    for (const m of modules) {
      if (m.license_server_id !== null) continue;
      problems.push({
        code: 'license_server_missing',
        tariffId,
        moduleId: toId(m.id),
        message: `Module "${m.name}" has no license server, and the tariff offers a control panel.`,
      });
    }
  }
  return problems;
}

/** What makes a problem the same problem before and after a write (its message aside). */
const keyOf = ({ message: _m, ...rest }: PanelProblem) => JSON.stringify(rest);

/**
 * Runs a configuration write in the caller's transaction and refuses it (400
 * `panel_config_invalid`, the new problems in `details.problems`) when it gives these tariffs a
 * control-panel problem they did not have. Problems already there do not block it: staff can
 * still change what is unrelated, and fix problems one write at a time. The tariffs' rows are
 * locked first, so two writes to one tariff are checked one after the other.
 */
export async function guardPanelConfig<T>(
  tx: Tx,
  ctx: Pick<AppContext, 'plugins'>,
  tariffIds: readonly number[],
  write: () => Promise<T>,
): Promise<T> {
  const ids = [...new Set(tariffIds)].sort((a, b) => a - b);
  if (ids.length === 0) return write();
  await lockRows(tx, tx.selectFrom('tariffs').select('id').where('id', 'in', ids).orderBy('id')).execute();
  const before = new Set((await panelProblems(ctx, tx, ids)).map(keyOf));
  const result = await write();
  const introduced = (await panelProblems(ctx, tx, ids)).filter((p) => !before.has(keyOf(p)));
  if (introduced.length > 0) {
    throw invalid(
      'panel_config_invalid',
      `This change would break the control-panel configuration: ${introduced[0]!.message}${introduced.length > 1 ? ` (and ${introduced.length - 1} more)` : ''}`,
      { problems: introduced },
    );
  }
  return result;
}

/** The tariffs linked to server modules whose license server is one of these modules. */
export async function tariffsServedBy(db: Reader, licenseServerIds: readonly number[]): Promise<number[]> {
  if (licenseServerIds.length === 0) return [];
  const rows = await db
    .selectFrom('tariff_modules as l')
    .innerJoin('processing_modules as m', 'm.id', 'l.module_id')
    .select('l.tariff_id')
    .distinct()
    .where('m.license_server_id', 'in', [...licenseServerIds])
    .execute();
  return rows.map((r) => toId(r.tariff_id));
}

/** The tariffs linked to a module. */
export async function tariffsLinkedTo(db: Reader, moduleId: number): Promise<number[]> {
  const rows = await db
    .selectFrom('tariff_modules')
    .select('tariff_id')
    .where('module_id', '=', moduleId)
    .execute();
  return rows.map((r) => toId(r.tariff_id));
}

/** Staff's read-only view of one tariff's control-panel problems (`GET /api/v1/tariffs/{id}/problems`). */
export async function tariffProblems(
  ctx: AppContext,
  actor: Actor,
  tariffId: number,
): Promise<PanelProblem[]> {
  requireStaff(actor);
  const tariff = await ctx.db.kysely
    .selectFrom('tariffs')
    .select('id')
    .where('id', '=', tariffId)
    .executeTakeFirst();
  if (!tariff) throw notFound('tariff', { tariffId });
  return panelProblems(ctx, ctx.db.kysely, [tariffId]);
}
