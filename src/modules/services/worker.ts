import type { AppContext } from '../../platform/context.js';
import type { OperationRow } from '../../platform/db/index.js';
import { claimDelivery, runDelivery } from '../notify/outbox.js';
import { resolveHandler } from '../provisioning/dispatch.js';
import { claimNext, newWorkerId, type OperationHandler, runClaimed } from './engine.js';

/**
 * How long an idle worker sleeps before looking again: the wait between an enqueue and its
 * start (p50 about half of it). A claim on an idle queue is one indexed read, so looking twice
 * a second per slot costs next to nothing.
 */
export const DEFAULT_POLL_MS = 500;

/**
 * A worker: `concurrency` slots, each claiming and running operations — and deliveries from
 * the outbox — until stopped. Several
 * worker processes (`billfold worker`) on one PostgreSQL share the queue safely: claims skip
 * locked rows and leases hand a dead worker's operation to another.
 */
export function startWorker(
  ctx: AppContext,
  opts: {
    concurrency?: number;
    pollMs?: number;
    leaseMs?: number;
    resolve?: (op: OperationRow) => OperationHandler;
  } = {},
): { id: string; stop: () => Promise<void> } {
  const id = newWorkerId();
  const resolve = opts.resolve ?? resolveHandler(ctx);
  let stopping = false;
  // Every sleeping slot, so that stop() wakes them all (not only the last one to fall asleep).
  const sleepers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const wake = () => {
        clearTimeout(t);
        sleepers.delete(wake);
        r();
      };
      const t = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  const slot = async (n: number) => {
    const worker = `${id}/${n}`;
    while (!stopping) {
      try {
        const op = await claimNext(ctx, worker, opts.leaseMs);
        if (op) {
          const outcome = await runClaimed(
            ctx,
            op,
            worker,
            resolve(op),
            opts.leaseMs ? { leaseMs: opts.leaseMs } : {},
          );
          ctx.logger.info(
            { operationId: Number(op.id), kind: op.kind, outcome, worker },
            'operation finished',
          );
        }
        // The delivery outbox (mail, webhooks) is drained by the same slots, one after each
        // operation, so neither queue starves the other.
        const delivery = await claimDelivery(ctx, worker, opts.leaseMs);
        if (delivery) {
          const outcome = await runDelivery(ctx, delivery, worker);
          ctx.logger.info(
            { deliveryId: Number(delivery.id), channel: delivery.channel, outcome, worker },
            'delivery finished',
          );
        }
        if (!op && !delivery) await sleep(opts.pollMs ?? DEFAULT_POLL_MS);
      } catch (err) {
        ctx.logger.error({ err, worker }, 'worker slot error');
        await sleep(opts.pollMs ?? DEFAULT_POLL_MS);
      }
    }
  };
  const slots = Array.from({ length: Math.max(1, opts.concurrency ?? 1) }, (_, n) => slot(n));
  return {
    id,
    async stop() {
      stopping = true;
      for (const wake of [...sleepers]) wake();
      await Promise.all(slots);
    },
  };
}
