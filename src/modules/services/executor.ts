import type { AppContext } from '../../platform/context.js';
import { drainOperations } from './engine.js';

/**
 * Runs every operation due now through the engine with the built-in handler (services no
 * processing module serves: nothing remote to do). Used by `serve`'s background loop, by
 * `billing run` and the billing API after a run, and by tests to let time's effects happen.
 */
export async function runQueuedOperations(ctx: AppContext, opts: { limit?: number } = {}): Promise<number> {
  return drainOperations(ctx, { ...(opts.limit ? { limit: opts.limit } : {}) });
}
