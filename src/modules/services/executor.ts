import type { AppContext } from '../../platform/context.js';
import { resolveHandler } from '../provisioning/dispatch.js';
import { drainOperations } from './engine.js';

/**
 * Runs every operation due now, one after another, each through its service's processing
 * module (or nothing remote when no module serves it). Used by `serve`'s background loop, by
 * `billing run` and the billing API after a run, and by tests to let time's effects happen.
 */
export async function runQueuedOperations(ctx: AppContext, opts: { limit?: number } = {}): Promise<number> {
  return drainOperations(ctx, { resolve: resolveHandler(ctx), ...(opts.limit ? { limit: opts.limit } : {}) });
}

/**
 * Runs what is due for one service now, in this process (a BILLmanager API order that should
 * come back with its key issued). A worker elsewhere may take some of them: claims are leased.
 */
export async function runServiceOperations(ctx: AppContext, serviceId: number): Promise<number> {
  return drainOperations(ctx, { resolve: resolveHandler(ctx), serviceId, limit: 20 });
}
