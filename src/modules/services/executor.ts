import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction } from '../../platform/db/index.js';
import { systemActor } from '../accounts/actor.js';
import { completeOperation } from './lifecycle.js';

/**
 * The built-in path that completes operations of services no processing module serves yet
 * (issue 4's contract; the provisioning engine replaces it with plug-ins, leases and
 * retries). Operations run in id order, so one service's operations complete in the order
 * they were enqueued. Each completion is one transaction (post-state + `done`).
 */
export async function runQueuedOperations(ctx: AppContext, opts: { limit?: number } = {}): Promise<number> {
  const actor = systemActor('operations');
  const due = await ctx.db.kysely
    .selectFrom('operations')
    .selectAll()
    .where('status', '=', 'queued')
    .where('next_attempt_at', '<=', isoNow(ctx.clock))
    .orderBy('id')
    .limit(opts.limit ?? 500)
    .execute();
  let done = 0;
  for (const op of due) {
    const completed = await inTransaction(ctx.db, async (tx) => {
      const fresh = await tx.selectFrom('operations').selectAll().where('id', '=', op.id).executeTakeFirst();
      if (fresh?.status !== 'queued') return false;
      await completeOperation(tx, ctx, fresh, actor, { executor: 'builtin' });
      return true;
    });
    if (completed) done++;
  }
  return done;
}
