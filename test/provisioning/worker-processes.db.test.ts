import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { enqueueOperation } from '../../src/modules/services/operations.js';
import { inTransaction } from '../../src/platform/db/index.js';
import { childEnv, children, kill, spawnWorker, until } from '../fixtures/worker-processes.js';
import { client, licenseTariff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';

/**
 * Worker processes sharing one queue (`billfold worker` started twice): two child processes,
 * three slots each, over 10 services × 4 operations whose handler sleeps a little and reports
 * when it ran. Every operation runs exactly once, both processes work, and the runs of one
 * service never overlap and follow the operations' id order. On PostgreSQL the claims race
 * for rows (FOR UPDATE SKIP LOCKED); on SQLite they queue on the file's write lock.
 */

const NOW = '2021-11-16T10:00:00Z';
const SERVICES = 10;
const PER_SERVICE = 4; // open (from the order) + 3 set_param
const PARKED = '9999-12-31T00:00:00.000Z';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ now: NOW, file: true });
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => kill(c)));
  try {
    await expectLedgerBalanced(ctx);
  } finally {
    await ctx.testDb.destroy();
  }
});

describe('worker processes sharing one queue', () => {
  it('two worker processes never run the same operation, nor two operations of one service at once', async () => {
    const tariff = await licenseTariff(ctx);
    const { actor } = await client(ctx, 'procs@example.com', `${SERVICES * 10}.00`);
    const services: number[] = [];
    for (let i = 0; i < SERVICES; i++) {
      const { order } = await placeOrder(ctx, actor, {
        items: [{ tariffId: tariff.id, period: 1, params: { ip: `203.0.113.${60 + i}`, licname: `p${i}` } }],
        payNow: true,
      });
      const item = await ctx.db.kysely
        .selectFrom('order_items')
        .select('service_id')
        .where('order_id', '=', order.id)
        .executeTakeFirstOrThrow();
      services.push(Number(item.service_id));
    }
    await inTransaction(ctx.db, async (tx) => {
      for (const s of services)
        for (let k = 0; k < PER_SERVICE - 1; k++)
          await enqueueOperation(tx, ctx, s, 'set_param', { k }, `procs:${s}:${k}`);
    });
    const ops = await ctx.db.kysely.selectFrom('operations').select(['id', 'service_id', 'status']).execute();
    expect(ops).toHaveLength(SERVICES * PER_SERVICE);
    expect(ops.every((o) => o.status === 'queued')).toBe(true);

    // Parked until both processes run, so neither drains the queue before the other starts.
    await ctx.db.kysely.updateTable('operations').set({ next_attempt_at: PARKED }).execute();
    const env = {
      ...(await childEnv(ctx)),
      WORKER_CHILD_CONCURRENCY: '3',
      WORKER_CHILD_POLL_MS: '20',
      WORKER_CHILD_HANDLER: 'sleep:10-40',
      WORKER_CHILD_NOW: NOW,
      WORKER_CHILD_NOW_AT: String(Date.now()),
    };
    const a = spawnWorker(env);
    const b = spawnWorker(env);
    await Promise.all([a.started(), b.started()]);
    await ctx.db.kysely.updateTable('operations').set({ next_attempt_at: NOW }).execute();

    const notDone = async () =>
      Number(
        (
          await ctx.db.kysely
            .selectFrom('operations')
            .select((e) => e.fn.countAll().as('n'))
            .where('status', '!=', 'done')
            .executeTakeFirstOrThrow()
        ).n,
      );
    await until(
      async () => (await notDone()) === 0,
      'every operation to be done',
      60_000,
      () => {
        for (const w of [a, b])
          if (w.proc.exitCode !== null) throw new Error(`a worker exited:\n${w.output()}`);
      },
    );
    const stopped = await Promise.all([kill(a, 'SIGTERM'), kill(b, 'SIGTERM')]);
    expect(stopped, a.output() + b.output()).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);

    const runs = [...a.runs(), ...b.runs()];
    const diagnostics = `A:\n${a.output()}\nB:\n${b.output()}`;
    // Every operation ran exactly once, successfully, and each is done after one attempt.
    expect(runs, diagnostics).toHaveLength(ops.length);
    expect(runs.map((r) => r.op).sort((x, y) => x - y)).toEqual(
      ops.map((o) => Number(o.id)).sort((x, y) => x - y),
    );
    expect(runs.every((r) => r.ok)).toBe(true);
    const final = await ctx.db.kysely.selectFrom('operations').select(['status', 'attempts']).execute();
    expect(final.every((o) => o.status === 'done' && Number(o.attempts) === 1)).toBe(true);
    // Both processes did work.
    expect(new Set(runs.map((r) => r.pid))).toEqual(new Set([a.pid, b.pid]));
    expect(a.runs().length).toBeGreaterThan(0);
    expect(b.runs().length).toBeGreaterThan(0);
    // Per service: one at a time (the next starts after the previous ended, whichever process
    // ran either), in id order. Times are Date.now() of one machine's wall clock.
    for (const s of services) {
      const mine = runs.filter((r) => r.service === s).sort((x, y) => x.start - y.start || x.op - y.op);
      expect(mine).toHaveLength(PER_SERVICE);
      expect(mine.map((r) => r.op)).toEqual(mine.map((r) => r.op).sort((x, y) => x - y));
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.start).toBeGreaterThanOrEqual(mine[i - 1]!.end);
    }
  }, 120_000);
});
