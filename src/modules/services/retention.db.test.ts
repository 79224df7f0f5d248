import { Temporal } from 'temporal-polyfill';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { client, licenseTariff, orderLicense } from '../../../test/helpers/billing.js';
import {
  contextOn,
  createTestContext,
  expectLedgerBalanced,
  type TestContext,
} from '../../../test/helpers/context.js';
import { TEST_ENGINE } from '../../../test/helpers/db.js';
import { inTransaction } from '../../platform/db/index.js';
import { runBilling } from '../billing/run.js';
import { drainOperations } from './engine.js';
import { enqueueOperation, withdrawOperation } from './operations.js';
import { archiveOperations, findOperation, operationsOfService } from './retention.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ now: '2021-01-10T10:00:00Z' });
});
afterEach(async () => {
  await expectLedgerBalanced(ctx);
  await ctx.testDb.destroy();
});

const statuses = async (table: 'operations' | 'operations_archive') =>
  (await ctx.db.kysely.selectFrom(table).select(['id', 'status']).orderBy('id').execute()).map(
    (r) => `${r.id}:${r.status}`,
  );

/**
 * A license with four operations on 2021-01-10: its open (done, and pointed at by a closed staff
 * task), a cancelled set_param, a queued one nothing runs; and one done 100 days later.
 */
async function book() {
  const tariff = await licenseTariff(ctx);
  const { actor } = await client(ctx, 'keep@example.com', '100.00');
  const serviceId = await orderLicense(ctx, actor, tariff.id);
  const [open] = await operationsOfService(ctx.db.kysely, serviceId);
  await ctx.db.kysely
    .insertInto('staff_tasks')
    .values({
      operation_id: open!.id,
      service_id: serviceId,
      kind: 'manual_action',
      status: 'done',
      title: 'Checked by hand',
      details: '{}',
      created_at: '2021-01-10T10:00:00.000Z',
      closed_at: '2021-01-10T11:00:00.000Z',
      closed_by: 'staff',
    })
    .execute();
  const cancelled = await inTransaction(ctx.db, async (tx) => {
    const op = await enqueueOperation(tx, ctx, serviceId, 'set_param', { param: 'note' }, 'keep:cancelled');
    await withdrawOperation(tx, ctx, Number(op.id));
    return op;
  });
  const queued = await inTransaction(ctx.db, (tx) =>
    enqueueOperation(tx, ctx, serviceId, 'set_param', { param: 'note' }, 'keep:queued'),
  );
  // The queued one blocks the service's later operations: take it out of the way by hand.
  await ctx.db.kysely
    .updateTable('operations')
    .set({ next_attempt_at: '2099-01-01T00:00:00.000Z', status: 'retry_wait' })
    .where('id', '=', queued.id)
    .execute();
  ctx.clock.set('2021-04-20T10:00:00Z');
  return { serviceId, open: Number(open!.id), cancelled: Number(cancelled.id), queued: Number(queued.id) };
}

describe('archiving finished operations', () => {
  it('moves done and cancelled operations older than the retention, after the daily run, and finds them afterwards', async () => {
    const b = await book();
    expect(await statuses('operations')).toEqual([
      `${b.open}:done`,
      `${b.cancelled}:cancelled`,
      `${b.queued}:retry_wait`,
    ]);
    const openBefore = await findOperation(ctx.db.kysely, b.open);

    // 100 days later (retention 90): the day's run moves the two finished ones, not the waiting
    // one (nor the suspension the run itself queued behind it: the license expired meanwhile).
    const summary = await runBilling(ctx, { date: Temporal.PlainDate.from('2021-04-20') });
    expect(summary.archivedOperations).toBe(2);
    const hot = await statuses('operations');
    expect(hot[0]).toBe(`${b.queued}:retry_wait`);
    expect(hot.slice(1).every((s) => s.endsWith(':queued'))).toBe(true);
    expect(await statuses('operations_archive')).toEqual([`${b.open}:done`, `${b.cancelled}:cancelled`]);

    // Moved whole: every column as it was, found by id and by service, the task still points at it.
    expect(await findOperation(ctx.db.kysely, b.open)).toEqual(openBefore);
    expect(openBefore).toMatchObject({ kind: 'open', status: 'done' });
    expect(
      (await operationsOfService(ctx.db.kysely, b.serviceId)).map((o) => Number(o.id)).slice(0, 3),
    ).toEqual([b.open, b.cancelled, b.queued]);
    const task = await ctx.db.kysely
      .selectFrom('staff_tasks')
      .select('operation_id')
      .where('kind', '=', 'manual_action')
      .executeTakeFirstOrThrow();
    expect(Number(task.operation_id)).toBe(b.open);

    // A recent one stays; running it again moves nothing.
    await inTransaction(ctx.db, (tx) =>
      enqueueOperation(tx, ctx, b.serviceId, 'set_param', { param: 'note' }, 'keep:recent'),
    );
    expect(await archiveOperations(ctx)).toMatchObject({ archived: 0 });
    // A dry run or a past day's run does not archive.
    const dry = await runBilling(ctx, { date: Temporal.PlainDate.from('2021-04-20'), dryRun: true });
    expect(dry.archivedOperations).toBeNull();
  });

  it('batches, and two archivers at once move each operation exactly once', async () => {
    const tariff = await licenseTariff(ctx);
    const { actor } = await client(ctx, 'many@example.com', '1000.00');
    for (let i = 0; i < 12; i++) await orderLicense(ctx, actor, tariff.id);
    await drainOperations(ctx);
    ctx.clock.set('2021-06-01T10:00:00Z');
    const other =
      TEST_ENGINE === 'postgres'
        ? contextOn(ctx.testDb.openAnother(), ctx.testDb, undefined, ctx.clock)
        : ctx;
    const [a, c] = await Promise.all([
      archiveOperations(ctx, { batch: 2 }),
      archiveOperations(other, { batch: 3 }),
    ]);
    expect(a.archived + c.archived).toBe(12);
    expect(await statuses('operations')).toEqual([]);
    expect(await statuses('operations_archive')).toHaveLength(12);
  });
});
