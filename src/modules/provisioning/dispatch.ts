import { parseScaled } from '../../domain/money.js';
import type { AppContext } from '../../platform/context.js';
import type { OperationRow, ProcessingModuleRow, Tx } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { builtinHandler, OperationError, type OperationHandler } from '../services/engine.js';
import { loadModuleInstance, pluginOf } from './instances.js';
import {
  featureOf,
  isHandOff,
  type LifecycleFn,
  type ModuleInstance,
  type ModuleType,
  type ServiceSnapshot,
  type SnapshotAddon,
} from './plugin.js';

type Reader = Tx | AppContext['db']['kysely'];

/**
 * Which module serves a service: the one already recorded on it, else — for its first
 * operation — the enabled module linked to its tariff with the lowest sort (link sort, then
 * module sort, then id), recorded on the service so later operations go to the same place.
 * A tariff without links needs nothing remote (null). A tariff whose linked modules are all
 * disabled cannot open yet: a retryable error, so the operation waits and, in the end, a
 * person is asked.
 */
async function moduleFor(ctx: AppContext, op: OperationRow): Promise<ProcessingModuleRow | null> {
  const service = await ctx.db.kysely
    .selectFrom('services')
    .select(['id', 'module_id', 'tariff_id'])
    .where('id', '=', op.service_id)
    .executeTakeFirstOrThrow();
  if (service.module_id !== null) return moduleRow(ctx.db.kysely, toId(service.module_id));
  if (op.kind !== 'open') return null;
  const links = await ctx.db.kysely
    .selectFrom('tariff_modules as l')
    .innerJoin('processing_modules as m', 'm.id', 'l.module_id')
    .selectAll('m')
    .where('l.tariff_id', '=', service.tariff_id)
    .orderBy('l.sort_order')
    .orderBy('m.sort_order')
    .orderBy('m.id')
    .execute();
  if (links.length === 0) return null;
  const chosen = links.find((m) => Number(m.enabled) === 1);
  if (!chosen) {
    throw new OperationError('no_enabled_module', 'Every module linked to this tariff is disabled.', true);
  }
  await ctx.db.kysely
    .updateTable('services')
    .set({ module_id: chosen.id })
    .where('id', '=', service.id)
    .where('module_id', 'is', null)
    .execute();
  return chosen;
}

const moduleRow = (db: Reader, id: number) =>
  db.selectFrom('processing_modules').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/**
 * The service as a plug-in sees it: its row, its product type, and its addons with their
 * kind and chosen value — an enumeration's value with its internal name (the upstream
 * tariff id of a "Control panel" choice).
 */
export async function serviceSnapshot(db: Reader, serviceId: number): Promise<ServiceSnapshot> {
  const s = await db
    .selectFrom('services as s')
    .innerJoin('product_types as p', 'p.id', 's.product_type_id')
    .innerJoin('accounts as acc', 'acc.id', 's.account_id')
    .selectAll('s')
    .select(['p.code as product_type', 'acc.email as account_email'])
    .where('s.id', '=', serviceId)
    .executeTakeFirstOrThrow();
  const addonValues = JSON.parse(s.addon_values) as Record<string, boolean | number>;
  const addonRows = await db
    .selectFrom('addons as a')
    .leftJoin('enumeration_values as v', (j) =>
      j.onRef('v.enumeration_id', '=', 'a.enumeration_id').on('a.value_type', '=', 'enumeration'),
    )
    .select([
      'a.id',
      'a.kind',
      'a.label',
      'a.value_type',
      'a.unit',
      'v.id as value_id',
      'v.name as value_name',
      'v.internal_name',
    ])
    .where('a.tariff_id', '=', s.tariff_id)
    .orderBy('a.sort_order')
    .orderBy('a.id')
    .execute();
  const addons: SnapshotAddon[] = [];
  for (const row of addonRows) {
    const id = toId(row.id);
    if (addons.some((a) => a.addonId === id)) continue;
    const value = Object.hasOwn(addonValues, String(id)) ? addonValues[String(id)]! : null;
    // An enumeration joins one row per value: the chosen one's (none: unset).
    const chosen =
      row.value_type === 'enumeration'
        ? addonRows.find((r) => toId(r.id) === id && r.value_id !== null && toId(r.value_id) === value)
        : undefined;
    addons.push({
      addonId: id,
      kind: row.kind,
      label: row.label,
      valueType: row.value_type as SnapshotAddon['valueType'],
      unit: row.unit,
      value: row.value_type === 'enumeration' && !chosen ? null : value,
      internalName: chosen?.internal_name ?? null,
      valueName: chosen?.value_name ?? null,
    });
  }
  return {
    id: toId(s.id),
    accountId: toId(s.account_id),
    accountEmail: s.account_email,
    tariffId: toId(s.tariff_id),
    productType: s.product_type,
    name: s.name,
    status: s.status,
    period: Number(s.period),
    expiresOn: s.expires_on,
    params: JSON.parse(s.params) as Record<string, string>,
    addonValues,
    addons,
    externalId: s.external_id,
    remoteId: s.remote_id,
  };
}

/** The remote ids this module's other live services hold. */
async function heldExternalIds(
  db: Reader,
  moduleId: number,
  serviceId: number,
): Promise<ReadonlySet<string>> {
  const rows = await db
    .selectFrom('services')
    .select('external_id')
    .where('module_id', '=', moduleId)
    .where('id', '!=', serviceId)
    .where('status', '!=', 'deleted')
    .where('external_id', 'is not', null)
    .execute();
  return new Set(rows.map((r) => String(r.external_id)));
}

/** The plug-in's settings for a tariff's link to a module (`{}` when unlinked or unset). */
export async function tariffSettingsOf(
  db: Reader,
  plugin: ModuleType,
  tariffId: number,
  moduleId: number,
): Promise<Record<string, unknown>> {
  const link = await db
    .selectFrom('tariff_modules')
    .select('settings')
    .where('tariff_id', '=', tariffId)
    .where('module_id', '=', moduleId)
    .executeTakeFirst();
  const raw = link ? (JSON.parse(link.settings) as Record<string, unknown>) : {};
  if (!plugin.tariffSettingsSchema) return raw;
  const parsed = plugin.tariffSettingsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new OperationError(
      'tariff_settings_invalid',
      `The settings of tariff #${tariffId} for this module are not valid any more; edit the tariff's module link.`,
      false,
    );
  }
  return parsed.data;
}

/**
 * The upstream balance guard: before an `open` or `prolong` spends upstream, a module with a
 * minimal balance whose plug-in can read the balance and price the operation refuses to
 * start when the balance after it would fall below the minimum (same currency only). It
 * fails at once — nothing was sent — and the failed operation is a staff task: top the
 * upstream account up, then retry.
 */
async function guardBalance(
  ctx: AppContext,
  plugin: ModuleType,
  module: ModuleInstance,
  service: ServiceSnapshot,
  tariffSettings: Record<string, unknown>,
  op: OperationRow,
  payload: Record<string, unknown>,
): Promise<void> {
  if (module.minBalance === null || !plugin.getBalance || !plugin.estimateCost) return;
  if (op.kind !== 'open' && op.kind !== 'prolong') return;
  const period =
    op.kind === 'prolong' && typeof payload.period === 'number' ? payload.period : service.period;
  const call = { ctx, module, service, tariffSettings };
  const cost = await plugin.estimateCost(call, op.kind, period);
  if (!cost) return;
  requireBalanceFor(await plugin.getBalance(module, ctx), cost, module.minBalance, `this ${op.kind}`);
}

/**
 * The minimum-balance rule, for the core's guard and for plug-ins that spend on another
 * module's account (a server's bundled license, on its license server's): throws
 * `upstream_balance_low` (permanent: a staff task; retry after a top-up) when the balance less
 * the cost would fall below the minimum. Different currencies are not compared.
 */
export function requireBalanceFor(
  balance: { amount: string; currency: string },
  cost: { amount: string; currency: string },
  minBalance: string | null,
  what: string,
): void {
  if (minBalance === null || balance.currency !== cost.currency) return;
  const after = parseScaled(balance.amount, 4, { allowNegative: true }) - parseScaled(cost.amount, 4);
  if (after < parseScaled(minBalance, 4)) {
    throw new OperationError(
      'upstream_balance_low',
      `The upstream balance ${balance.amount} ${balance.currency} minus ${what}'s cost ${cost.amount} would fall below the minimum ${minBalance}; top the upstream account up, then retry.`,
      false,
    );
  }
}

/**
 * The handler for an operation: its service's module's plug-in function for the operation's
 * kind. Services no module serves, and kinds a plug-in does not implement (a module with
 * nothing to do on `prolong`), complete with nothing remote done.
 */
export const resolveHandler =
  (ctx: AppContext) =>
  (_op: OperationRow): OperationHandler =>
  async (_ctx, op, tools) => {
    const row = await moduleFor(ctx, op);
    if (!row) return builtinHandler(ctx, op, tools);
    const plugin = pluginOf(ctx, row);
    const payload = JSON.parse(op.payload) as Record<string, unknown>;
    const feature = featureOf(op.kind, payload);
    const fn = plugin[feature] as LifecycleFn<Record<string, unknown>> | undefined;
    if (!fn) return { executor: 'none', module: row.name, unsupported: feature };
    const module = await loadModuleInstance(ctx, row);
    const service = await serviceSnapshot(ctx.db.kysely, toId(op.service_id));
    const tariffSettings = await tariffSettingsOf(ctx.db.kysely, plugin, service.tariffId, module.id);
    if (Object.keys(tools.progress).length === 0)
      await guardBalance(ctx, plugin, module, service, tariffSettings, op, payload);
    const outcome = await fn({
      ctx,
      module,
      service,
      tariffSettings,
      operation: { id: toId(op.id), kind: op.kind, payload, attempt: Number(op.attempts) },
      async step<T>(name: string, run: () => Promise<T>): Promise<T> {
        if (Object.hasOwn(tools.progress, name)) return tools.progress[name] as T;
        const value = await run();
        await tools.saveStep(name, value === undefined ? true : value);
        return value;
      },
      hasStep: (name) => Object.hasOwn(tools.progress, name),
      heldExternalIds: () => heldExternalIds(ctx.db.kysely, module.id, service.id),
    });
    if (isHandOff(outcome)) return { executor: row.name, handOff: outcome.handOff };
    return {
      executor: row.name,
      moduleId: toId(row.id),
      ...(outcome.serviceParams ? { serviceParams: outcome.serviceParams } : {}),
      ...(outcome.externalId !== undefined ? { externalId: outcome.externalId } : {}),
      ...(outcome.cost ? { cost: outcome.cost } : {}),
      ...(outcome.data ? { data: outcome.data } : {}),
    };
  };
