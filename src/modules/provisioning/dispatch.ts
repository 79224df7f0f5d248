import type { AppContext } from '../../platform/context.js';
import type { OperationRow, ProcessingModuleRow } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { builtinHandler, OperationError, type OperationHandler } from '../services/engine.js';
import { loadModuleInstance, pluginOf } from './instances.js';
import { FEATURE_OF_OPERATION, isHandOff, type LifecycleFn, type ServiceSnapshot } from './plugin.js';

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
  if (service.module_id !== null) {
    return ctx.db.kysely
      .selectFrom('processing_modules')
      .selectAll()
      .where('id', '=', service.module_id)
      .executeTakeFirstOrThrow();
  }
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

async function snapshot(ctx: AppContext, serviceId: number): Promise<ServiceSnapshot> {
  const s = await ctx.db.kysely
    .selectFrom('services as s')
    .innerJoin('product_types as p', 'p.id', 's.product_type_id')
    .selectAll('s')
    .select('p.code as product_type')
    .where('s.id', '=', serviceId)
    .executeTakeFirstOrThrow();
  return {
    id: toId(s.id),
    accountId: toId(s.account_id),
    tariffId: toId(s.tariff_id),
    productType: s.product_type,
    name: s.name,
    status: s.status,
    period: Number(s.period),
    expiresOn: s.expires_on,
    params: JSON.parse(s.params) as Record<string, string>,
    addonValues: JSON.parse(s.addon_values) as Record<string, boolean | number>,
    externalId: s.external_id,
  };
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
    const feature = FEATURE_OF_OPERATION[op.kind];
    const fn = plugin[feature] as LifecycleFn<Record<string, unknown>> | undefined;
    if (!fn) return { executor: 'none', module: row.name, unsupported: feature };
    const module = await loadModuleInstance(ctx, row);
    const outcome = await fn({
      ctx,
      module,
      service: await snapshot(ctx, toId(op.service_id)),
      operation: {
        id: toId(op.id),
        kind: op.kind,
        payload: JSON.parse(op.payload) as Record<string, unknown>,
        attempt: Number(op.attempts),
      },
      async step<T>(name: string, run: () => Promise<T>): Promise<T> {
        if (Object.hasOwn(tools.progress, name)) return tools.progress[name] as T;
        const value = await run();
        await tools.saveStep(name, value === undefined ? true : value);
        return value;
      },
    });
    if (isHandOff(outcome)) return { executor: row.name, handOff: outcome.handOff };
    return {
      executor: row.name,
      ...(outcome.serviceParams ? { serviceParams: outcome.serviceParams } : {}),
      ...(outcome.externalId !== undefined ? { externalId: outcome.externalId } : {}),
      ...(outcome.data ? { data: outcome.data } : {}),
    };
  };
