import { todayOf } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { runQueuedOperations } from '../services/executor.js';
import { datesToRun, lastCompletedRunDate, runBilling } from './run.js';

/**
 * Background work inside `billfold serve`: the daily billing run (once per calendar day,
 * catching up the days the process was down) and the built-in operation executor. Ticks
 * never overlap; an error is logged and the next tick tries again. Several processes may run
 * this at once: every step of the run is idempotent.
 */
export function startBackgroundJobs(
  ctx: AppContext,
  opts: { billingEveryMs?: number; operationsEveryMs?: number } = {},
): { stop: () => Promise<void> } {
  let billingBusy: Promise<void> | null = null;
  let opsBusy: Promise<void> | null = null;

  const billingTick = () => {
    if (billingBusy) return;
    billingBusy = (async () => {
      const dates = datesToRun(await lastCompletedRunDate(ctx), todayOf(ctx.clock));
      for (const date of dates) {
        const summary = await runBilling(ctx, { date });
        const { actions: _a, ...brief } = summary;
        ctx.logger.info({ billing: brief }, 'daily billing run completed');
      }
    })()
      .catch((err: unknown) => ctx.logger.error({ err }, 'daily billing run failed'))
      .finally(() => {
        billingBusy = null;
      });
  };
  const opsTick = () => {
    if (opsBusy) return;
    opsBusy = runQueuedOperations(ctx)
      .then((n) => {
        if (n > 0) ctx.logger.info({ completed: n }, 'operations completed');
      })
      .catch((err: unknown) => ctx.logger.error({ err }, 'operation executor failed'))
      .finally(() => {
        opsBusy = null;
      });
  };
  const billingTimer = setInterval(billingTick, opts.billingEveryMs ?? 60_000);
  const opsTimer = setInterval(opsTick, opts.operationsEveryMs ?? 2_000);
  billingTimer.unref();
  opsTimer.unref();
  billingTick();
  opsTick();
  return {
    async stop() {
      clearInterval(billingTimer);
      clearInterval(opsTimer);
      await Promise.allSettled([billingBusy, opsBusy]);
    },
  };
}
