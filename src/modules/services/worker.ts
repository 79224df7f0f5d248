import type { AppContext } from '../../platform/context.js';
import type { OperationRow } from '../../platform/db/index.js';
import { claimDelivery, runDelivery } from '../notify/outbox.js';
import { resolveHandler } from '../provisioning/dispatch.js';
import { claimNext, newWorkerId, type OperationHandler, runClaimed } from './engine.js';

/**
 * How long an idle worker sleeps before looking again when nothing wakes it. An enqueue wakes
 * idle workers at once (the database's signals: LISTEN/NOTIFY on PostgreSQL, in-process on
 * SQLite), so the poll only covers what no signal announces: a retry whose backoff ran out, a
 * lease that expired, an operation queued by another process on the same SQLite file, a lost
 * listening connection.
 */
export const DEFAULT_POLL_MS = 1000;

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
  let signalled = 0;
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
        const seen = signalled;
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
        // A signal that came while this slot was looking may be for a row it did not see yet.
        if (!op && !delivery && signalled === seen) await sleep(opts.pollMs ?? DEFAULT_POLL_MS);
      } catch (err) {
        ctx.logger.error({ err, worker }, 'worker slot error');
        await sleep(opts.pollMs ?? DEFAULT_POLL_MS);
      }
    }
  };
  // Woken by an enqueue: every sleeping slot looks (the ones that find nothing sleep again).
  const listening = ctx.db.signals.listen(
    'operations',
    () => {
      signalled++;
      for (const wake of [...sleepers]) wake();
    },
    (err) => ctx.logger.warn({ err, worker: id }, 'operations signal lost; polling until it is back'),
  );
  const slots = Array.from({ length: Math.max(1, opts.concurrency ?? 1) }, (_, n) => slot(n));
  return {
    id,
    async stop() {
      stopping = true;
      for (const wake of [...sleepers]) wake();
      await Promise.all(slots);
      await (await listening)();
    },
  };
}
