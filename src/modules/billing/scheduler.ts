import { today as todayIn } from '../../platform/calendar.js';
import type { AppContext } from '../../platform/context.js';
import { DEFAULT_POLL_MS, startWorker } from '../services/worker.js';
import { datesToRun, lastCompletedRunDate, runBilling } from './run.js';

/**
 * Background work inside `billfold serve`: the daily billing run (once per calendar day,
 * catching up the days the process was down) and one operation worker (the same worker
 * `billfold worker` runs). Billing ticks never overlap; an error is logged and the next tick
 * tries again. Several processes may run this at once: every step of the run is idempotent.
 */
export function startBackgroundJobs(
  ctx: AppContext,
  opts: { billingEveryMs?: number; operationsEveryMs?: number } = {},
): { stop: () => Promise<void> } {
  let billingBusy: Promise<void> | null = null;

  const billingTick = () => {
    if (billingBusy) return;
    billingBusy = (async () => {
      const dates = datesToRun(await lastCompletedRunDate(ctx), await todayIn(ctx));
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
  const billingTimer = setInterval(billingTick, opts.billingEveryMs ?? 60_000);
  billingTimer.unref();
  billingTick();
  const worker = startWorker(ctx, { pollMs: opts.operationsEveryMs ?? DEFAULT_POLL_MS });
  return {
    async stop() {
      clearInterval(billingTimer);
      await Promise.allSettled([billingBusy, worker.stop()]);
    },
  };
}
