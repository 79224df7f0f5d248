import type { AppContext } from '../../platform/context.js';
import { inTransaction } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { enqueueOperation } from '../services/operations.js';
import { loadModuleInstance } from './instances.js';

/**
 * The modules' daily upkeep (plug-in `daily`), after today's billing run and reconciliation:
 * each enabled module whose plug-in has one is given the date and a way to queue operations
 * on its own active services. A module that fails is logged and listed; it never fails the run.
 */
export interface DailyUpkeep {
  modules: number;
  /** The plug-ins' counts, summed by name (`renewalsQueued`, `lapsed`, ...). */
  counts: Record<string, number>;
  failed: { moduleId: number; name: string; code: string; message: string }[];
}

export async function runModuleUpkeep(ctx: AppContext, date: string): Promise<DailyUpkeep> {
  const out: DailyUpkeep = { modules: 0, counts: {}, failed: [] };
  const modules = await ctx.db.kysely
    .selectFrom('processing_modules')
    .selectAll()
    .where('enabled', '=', 1)
    .orderBy('id')
    .execute();
  for (const row of modules) {
    const plugin = ctx.plugins.get(row.module_type);
    if (!plugin?.daily) continue;
    const moduleId = toId(row.id);
    out.modules++;
    try {
      const module = await loadModuleInstance(ctx, row);
      const counts = await plugin.daily({
        ctx,
        module,
        date,
        queueSetParam: (serviceId, payload, key) =>
          inTransaction(ctx.db, async (tx) => {
            const live = await tx
              .selectFrom('services')
              .select('id')
              .where('id', '=', serviceId)
              .where('module_id', '=', moduleId)
              .where('status', '=', 'active')
              .executeTakeFirst();
            if (!live) return false;
            await enqueueOperation(tx, ctx, serviceId, 'set_param', payload, key);
            return true;
          }),
      });
      for (const [name, n] of Object.entries(counts)) out.counts[name] = (out.counts[name] ?? 0) + n;
    } catch (err) {
      const code =
        typeof (err as { code?: unknown })?.code === 'string'
          ? (err as { code: string }).code
          : 'internal_error';
      const message = err instanceof Error ? err.message : String(err);
      out.failed.push({ moduleId, name: row.name, code, message });
      ctx.logger.error({ err, moduleId, date }, 'daily module upkeep: a module failed');
    }
  }
  return out;
}
