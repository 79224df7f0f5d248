import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, licenseTariff } from '../../../test/helpers/billing.js';
import {
  contextOn,
  createTestContext,
  expectLedgerBalanced,
  type TestContext,
} from '../../../test/helpers/context.js';
import { TEST_ENGINE } from '../../../test/helpers/db.js';
import { channelOf, inTransaction } from '../../platform/db/index.js';
import { LISTENER_NAME } from '../../platform/db/signals.js';
import { placeOrder } from '../orders/commands.js';
import type { OperationHandler } from './engine.js';
import { enqueueOperation } from './operations.js';
import { startWorker } from './worker.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ now: '2021-11-16T10:00:00Z' });
});
afterEach(async () => {
  await expectLedgerBalanced(ctx);
  await ctx.testDb.destroy();
});

describe('workers sharing one queue', () => {
  it('two workers never run the same operation, and never two operations of one service at once', async () => {
    const tariff = await licenseTariff(ctx);
    const { actor } = await client(ctx, 'w@example.com', '100.00');
    const services: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { order } = await placeOrder(ctx, actor, {
        items: [{ tariffId: tariff.id, period: 1, params: { ip: `203.0.113.${30 + i}`, licname: `w${i}` } }],
        payNow: true,
      });
      const item = await ctx.db.kysely
        .selectFrom('order_items')
        .select('service_id')
        .where('order_id', '=', order.id)
        .executeTakeFirstOrThrow();
      services.push(Number(item.service_id));
    }
    // Each service: open (enqueued by the order) + 3 set_param operations.
    await inTransaction(ctx.db, async (tx) => {
      for (const s of services)
        for (let k = 0; k < 3; k++) await enqueueOperation(tx, ctx, s, 'set_param', { k }, `test:${s}:${k}`);
    });
    const runs: { op: number; service: number; start: number; end: number }[] = [];
    const handler: OperationHandler = async (_c, op) => {
      const start = performance.now();
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
      runs.push({ op: Number(op.id), service: Number(op.service_id), start, end: performance.now() });
      return {};
    };
    // PostgreSQL: a second connection pool, as a second process has. SQLite: one connection per
    // process (the cross-process case is the lease test's); both workers share it.
    const other =
      TEST_ENGINE === 'postgres'
        ? contextOn(ctx.testDb.openAnother(), ctx.testDb, undefined, ctx.clock)
        : ctx;
    const a = startWorker(ctx, { concurrency: 3, pollMs: 20, resolve: () => handler });
    const b = startWorker(other, { concurrency: 3, pollMs: 20, resolve: () => handler });
    const total = services.length * 4;
    for (let i = 0; i < 500 && runs.length < total; i++) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([a.stop(), b.stop()]);

    expect(runs).toHaveLength(total);
    expect(new Set(runs.map((r) => r.op)).size).toBe(total);
    for (const s of services) {
      const mine = runs.filter((r) => r.service === s).sort((x, y) => x.start - y.start);
      expect(mine.map((r) => r.op)).toEqual([...mine.map((r) => r.op)].sort((x, y) => x - y));
      for (let i = 1; i < mine.length; i++) expect(mine[i]!.start).toBeGreaterThanOrEqual(mine[i - 1]!.end);
    }
    const left = await ctx.db.kysely
      .selectFrom('operations')
      .select('status')
      .where('status', '!=', 'done')
      .execute();
    expect(left).toEqual([]);
  });
});

describe('waking idle workers', () => {
  const POLL_MS = 60_000; // far longer than any wait below: only a signal can start these
  const started = async (runs: number[], n: number) => {
    for (let i = 0; i < 500 && runs.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    return runs.length;
  };

  it('an operation queued here, or through another connection pool on PostgreSQL, starts without waiting for the poll', async () => {
    const tariff = await licenseTariff(ctx);
    const { actor } = await client(ctx, 'wake@example.com', '100.00');
    const { order } = await placeOrder(ctx, actor, {
      items: [{ tariffId: tariff.id, period: 1, params: { ip: '203.0.113.60', licname: 'wake' } }],
      payNow: true,
    });
    const { service_id } = await ctx.db.kysely
      .selectFrom('order_items')
      .select('service_id')
      .where('order_id', '=', order.id)
      .executeTakeFirstOrThrow();
    const runs: number[] = [];
    const worker = startWorker(ctx, {
      pollMs: POLL_MS,
      resolve: () => async (_c, op) => {
        runs.push(Number(op.id));
        return {};
      },
    });
    try {
      expect(await started(runs, 1)).toBe(1); // the open, found by the first look
      await new Promise((r) => setTimeout(r, 200)); // the slot is asleep now

      await inTransaction(ctx.db, (tx) =>
        enqueueOperation(tx, ctx, Number(service_id), 'set_param', {}, 'wake:1'),
      );
      expect(await started(runs, 2)).toBe(2);

      if (TEST_ENGINE === 'postgres') {
        // Another process's enqueue: a second pool, told through LISTEN/NOTIFY.
        const other = contextOn(ctx.testDb.openAnother(), ctx.testDb, undefined, ctx.clock);
        await inTransaction(other.db, (tx) =>
          enqueueOperation(tx, other, Number(service_id), 'set_param', {}, 'wake:2'),
        );
        expect(await started(runs, 3)).toBe(3);

        // A rolled-back enqueue tells no one (and leaves nothing to run).
        await inTransaction(other.db, async (tx) => {
          await enqueueOperation(tx, other, Number(service_id), 'set_param', {}, 'wake:rolled-back');
          throw new Error('roll back');
        }).catch(() => {});

        // The listening connection dies: the worker listens again and is woken as before.
        const before = await listeners(ctx);
        expect(before.length).toBeGreaterThan(0);
        await sql`select pg_terminate_backend(pid) from pg_stat_activity where pid in (${sql.join(before)})`.execute(
          ctx.db.kysely,
        );
        for (let i = 0; i < 250; i++) {
          const now = await listeners(ctx);
          if (now.length > 0 && now.every((p) => !before.includes(p))) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await inTransaction(other.db, (tx) =>
          enqueueOperation(tx, other, Number(service_id), 'set_param', {}, 'wake:3'),
        );
        expect(await started(runs, 4)).toBe(4);
      }
    } finally {
      await worker.stop();
    }
    expect(new Set(runs).size).toBe(runs.length);
  });
});

/** The backends listening for this test's schema (the signals' dedicated connections). */
async function listeners(t: TestContext): Promise<number[]> {
  const { rows } = await sql<{ pid: number }>`
    select pid from pg_stat_activity
    where application_name = ${LISTENER_NAME} and query like ${`listen "${channelOf('operations', t.testDb.schema)}"%`}`.execute(
    t.db.kysely,
  );
  return rows.map((r) => r.pid);
}
