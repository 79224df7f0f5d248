import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, licenseTariff, service } from '../../../test/helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../../../test/helpers/context.js';
import { systemActor } from '../accounts/actor.js';
import { placeOrder } from '../orders/commands.js';
import {
  backoffMs,
  builtinHandler,
  cancelOperation,
  claimNext,
  MAX_ATTEMPTS,
  OperationError,
  type OperationHandler,
  retryOperation,
  runClaimed,
} from './engine.js';

const staff = systemActor('test');
let ctx: TestContext;
let serviceId: number;

beforeEach(async () => {
  ctx = await createTestContext({ now: '2021-11-16T10:00:00Z' });
  const tariff = await licenseTariff(ctx);
  const { actor } = await client(ctx, 'ops@example.com', '10.00');
  const { order } = await placeOrder(ctx, actor, {
    items: [{ tariffId: tariff.id, period: 1, params: { ip: '203.0.113.20', licname: 'ops' } }],
    payNow: true,
  });
  const item = await ctx.db.kysely
    .selectFrom('order_items')
    .select('service_id')
    .where('order_id', '=', order.id)
    .executeTakeFirstOrThrow();
  serviceId = Number(item.service_id);
});
afterEach(async () => {
  await expectLedgerBalanced(ctx);
  await ctx.testDb.destroy();
});

const op = async () =>
  ctx.db.kysely
    .selectFrom('operations')
    .selectAll()
    .where('service_id', '=', serviceId)
    .orderBy('id')
    .executeTakeFirstOrThrow();
const tasks = async () => ctx.db.kysely.selectFrom('staff_tasks').selectAll().execute();
const failing =
  (retryable: boolean): OperationHandler =>
  async () => {
    throw new OperationError(
      retryable ? 'upstream_timeout' : 'upstream_refused',
      'upstream said no',
      retryable,
    );
  };

describe('backoff', () => {
  it('grows exponentially from 5 s, is capped at 30 min, and jitters within ±20 %', () => {
    expect(backoffMs(1, 0.5)).toBe(5_000);
    expect(backoffMs(2, 0.5)).toBe(10_000);
    expect(backoffMs(5, 0.5)).toBe(80_000);
    expect(backoffMs(20, 0.5)).toBe(30 * 60_000);
    expect(backoffMs(3, 0)).toBe(16_000);
    expect(backoffMs(3, 0.999999)).toBeLessThanOrEqual(24_000);
  });
});

describe('retries and failure', () => {
  it('a retryable error waits with backoff; the 10th failure fails the operation and opens a staff task; the status never flips', async () => {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const claimed = await claimNext(ctx, 'w1');
      expect(claimed?.id, `attempt ${attempt} claimable`).toBeDefined();
      const outcome = await runClaimed(ctx, claimed!, 'w1', failing(true), { random: () => 0.5 });
      const row = await op();
      expect(Number(row.attempts)).toBe(attempt);
      if (attempt < MAX_ATTEMPTS) {
        expect(outcome).toBe('retry_wait');
        const wait = Date.parse(row.next_attempt_at) - ctx.clock.now().getTime();
        expect(wait).toBe(backoffMs(attempt, 0.5));
        // Not due before its time.
        expect(await claimNext(ctx, 'w1')).toBeNull();
        ctx.clock.advance(wait);
      } else {
        expect(outcome).toBe('failed');
      }
    }
    const row = await op();
    expect(row.status).toBe('failed');
    expect(JSON.parse(row.last_error!)).toMatchObject({ code: 'upstream_timeout', retryable: true });
    expect((await tasks()).map((t) => [t.kind, t.status, Number(t.operation_id)])).toEqual([
      ['operation_failed', 'open', Number(row.id)],
    ]);
    expect((await service(ctx, serviceId)).status).toBe('processing');
  });

  it('a permanent error fails at once and opens a task; staff retry runs it again and it completes', async () => {
    const claimed = await claimNext(ctx, 'w1');
    expect(await runClaimed(ctx, claimed!, 'w1', failing(false))).toBe('failed');
    expect((await op()).status).toBe('failed');
    expect(await claimNext(ctx, 'w1')).toBeNull();
    await retryOperation(ctx, staff, Number(claimed!.id));
    expect((await tasks())[0]).toMatchObject({ status: 'done', closed_by: 'system:test' });
    const again = await claimNext(ctx, 'w1');
    expect(Number(again!.attempts)).toBe(1);
    expect(await runClaimed(ctx, again!, 'w1', builtinHandler)).toBe('done');
    expect((await service(ctx, serviceId)).status).toBe('active');
  });

  it('staff can cancel a failed open: the service never opened, so it is closed', async () => {
    const claimed = await claimNext(ctx, 'w1');
    await runClaimed(ctx, claimed!, 'w1', failing(false));
    await cancelOperation(ctx, staff, Number(claimed!.id));
    expect((await op()).status).toBe('cancelled');
    expect((await tasks())[0]!.status).toBe('cancelled');
    expect((await service(ctx, serviceId)).status).toBe('deleted');
    await expect(cancelOperation(ctx, staff, Number(claimed!.id))).rejects.toMatchObject({
      code: 'operation_not_cancellable',
    });
    await expect(retryOperation(ctx, staff, Number(claimed!.id))).rejects.toMatchObject({
      code: 'operation_not_retryable',
    });
  });
});

describe('leases and order', () => {
  it('another worker takes over an operation whose lease expired; the first worker’s late result is dropped', async () => {
    const first = await claimNext(ctx, 'A', 60_000);
    expect(await claimNext(ctx, 'B', 60_000)).toBeNull();
    ctx.clock.advance(61_000);
    const second = await claimNext(ctx, 'B', 60_000);
    expect(second?.id).toEqual(first?.id);
    expect(Number(second!.attempts)).toBe(2);
    expect(await runClaimed(ctx, first!, 'A', builtinHandler)).toBe('lost');
    expect((await op()).status).toBe('running');
    expect(await runClaimed(ctx, second!, 'B', builtinHandler)).toBe('done');
    expect((await service(ctx, serviceId)).status).toBe('active');
  });

  it('a worker that lost its lease stops at its next step: the step is refused, nothing more is done', async () => {
    const first = await claimNext(ctx, 'A', 60_000);
    const done: string[] = [];
    const result = runClaimed(ctx, first!, 'A', async (_c, _op, tools) => {
      await tools.saveStep('one');
      done.push('one');
      // Meanwhile the lease expires and B takes the operation over.
      ctx.clock.advance(61_000);
      expect(await claimNext(ctx, 'B', 60_000)).not.toBeNull();
      await tools.saveStep('two');
      done.push('two');
      return {};
    });
    expect(await result).toBe('lost');
    expect(done).toEqual(['one']);
    expect((await op()).lease_owner).toBe('B');
  });

  it('operations of one service run in order, one at a time; a failed one holds the later ones back', async () => {
    const { suspendService } = await import('./suspension.js');
    const open = await claimNext(ctx, 'w1');
    await runClaimed(ctx, open!, 'w1', failing(false));
    // Staff suspend while open has failed: the suspend waits behind it.
    await ctx.db.kysely
      .updateTable('services')
      .set({ status: 'active' })
      .where('id', '=', serviceId)
      .execute();
    await suspendService(ctx, staff, serviceId, 'admin');
    expect(await claimNext(ctx, 'w1')).toBeNull();
    await cancelOperation(ctx, staff, Number(open!.id));
    const next = await claimNext(ctx, 'w1');
    expect(next?.kind).toBe('suspend');
  });

  it('steps: progress saved before a failure is kept, so a retry resumes after the last completed step', async () => {
    const effects: string[] = [];
    let failOnce = true;
    const handler: OperationHandler = async (_ctx, _op, tools) => {
      for (const step of ['create', 'bind', 'activate']) {
        if (tools.progress[step]) continue;
        if (step === 'activate' && failOnce) {
          failOnce = false;
          throw new OperationError('upstream_timeout', 'timed out', true);
        }
        effects.push(step);
        await tools.saveStep(step);
      }
      return { ok: true };
    };
    const a = await claimNext(ctx, 'w1');
    expect(await runClaimed(ctx, a!, 'w1', handler, { random: () => 0 })).toBe('retry_wait');
    expect(JSON.parse((await op()).progress!)).toEqual({ create: true, bind: true });
    ctx.clock.advance(backoffMs(1, 0));
    const b = await claimNext(ctx, 'w1');
    expect(await runClaimed(ctx, b!, 'w1', handler)).toBe('done');
    expect(effects).toEqual(['create', 'bind', 'activate']);
  });
});
