import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimNext, OperationError, runClaimed } from '../../src/modules/services/engine.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import { balanceOf, call, licenseItem, ok, openShop, orderPaid, payIn, type Shop } from '../helpers/shop.js';

let shop: Shop;
beforeEach(async () => {
  shop = await openShop();
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

/** Orders a license and makes its `open` fail for good, as an upstream refusal would. */
async function failedOpen() {
  await payIn(shop, shop.alpha.accountId, '10.00');
  const { serviceId } = await orderPaid(shop, shop.alpha, licenseItem(shop));
  const op = await claimNext(shop.ctx, 'test-worker');
  expect(Number(op!.service_id)).toBe(serviceId);
  await runClaimed(shop.ctx, op!, 'test-worker', async () => {
    throw new OperationError('upstream_refused', 'the upstream refused the order', false);
  });
  return { serviceId, operationId: Number(op!.id) };
}

describe('operations and staff tasks over HTTP', () => {
  it('a failed operation shows in the service detail and as an open task; retry completes it and closes the task', async () => {
    const { serviceId, operationId } = await failedOpen();
    const detail = ok(await call(shop, 'GET', `/api/v1/services/${serviceId}`, shop.alpha.auth));
    expect(detail.status).toBe('processing');
    expect(detail.operations[0]).toMatchObject({
      id: operationId,
      kind: 'open',
      status: 'failed',
      attempts: 1,
      lastError: { code: 'upstream_refused', retryable: false },
    });
    const tasks = ok(await call(shop, 'GET', '/api/v1/tasks?status=open', shop.admin));
    expect(tasks.items).toHaveLength(1);
    expect(tasks.items[0]).toMatchObject({
      operationId,
      serviceId,
      kind: 'operation_failed',
      status: 'open',
    });

    const retried = ok(await call(shop, 'POST', `/api/v1/operations/${operationId}/retry`, shop.admin));
    expect(retried).toMatchObject({ status: 'queued', attempts: 0 });
    expect(ok(await call(shop, 'GET', '/api/v1/tasks?status=open', shop.admin)).items).toEqual([]);
    ok(await call(shop, 'POST', '/api/v1/billing/run', shop.admin, {}));
    expect(ok(await call(shop, 'GET', `/api/v1/operations/${operationId}`, shop.admin)).status).toBe('done');
    expect(ok(await call(shop, 'GET', `/api/v1/services/${serviceId}`, shop.admin)).status).toBe('active');
  });

  it('cancelling a failed open closes the service that never opened and refunds it; a second cancel or a retry is a 409', async () => {
    const { serviceId, operationId } = await failedOpen();
    const service = ok(await call(shop, 'GET', `/api/v1/services/${serviceId}`, shop.admin));
    expect(await balanceOf(shop, service.accountId)).toBe('0.00');
    expect(ok(await call(shop, 'POST', `/api/v1/operations/${operationId}/cancel`, shop.admin)).status).toBe(
      'cancelled',
    );
    expect(ok(await call(shop, 'GET', `/api/v1/services/${serviceId}`, shop.admin)).status).toBe('deleted');
    const charged = await shop.ctx.db.kysely
      .selectFrom('service_charges')
      .select('amount_minor')
      .where('service_id', '=', serviceId)
      .execute();
    // The order's charge and its refund: the client paid nothing in the end.
    expect(charged.reduce((s, c) => s + BigInt(c.amount_minor), 0n)).toBe(0n);
    expect(await balanceOf(shop, service.accountId)).toBe('10.00');
    expectError(
      await call(shop, 'POST', `/api/v1/operations/${operationId}/cancel`, shop.admin),
      409,
      'operation_not_cancellable',
    );
    expectError(
      await call(shop, 'POST', `/api/v1/operations/${operationId}/retry`, shop.admin),
      409,
      'operation_not_retryable',
    );
    expectError(await call(shop, 'GET', '/api/v1/operations/999999', shop.admin), 404, 'operation_not_found');
  });

  it('operations and tasks are staff-only: a client gets 403 and changes nothing', async () => {
    const { operationId } = await failedOpen();
    for (const [method, url] of [
      ['GET', '/api/v1/operations'],
      ['GET', `/api/v1/operations/${operationId}`],
      ['POST', `/api/v1/operations/${operationId}/retry`],
      ['POST', `/api/v1/operations/${operationId}/cancel`],
      ['GET', '/api/v1/tasks'],
    ] as const) {
      expectError(await call(shop, method, url, shop.alpha.auth), 403, 'forbidden');
    }
    expect(ok(await call(shop, 'GET', `/api/v1/operations/${operationId}`, shop.admin)).status).toBe(
      'failed',
    );
  });

  it('tasks come newest first, a page at a time: nextBefore leads to the next page until it is null', async () => {
    const at = '2021-12-16T10:00:00.000Z';
    await shop.ctx.db.kysely
      .insertInto('staff_tasks')
      .values(
        Array.from({ length: 5 }, (_, i) => ({
          kind: 'billing_error' as const,
          status: 'open' as const,
          title: `task ${i}`,
          details: '{}',
          created_at: at,
        })),
      )
      .execute();
    const seen: string[] = [];
    let before: number | null | undefined;
    for (let pages = 0; before !== null; pages++) {
      expect(pages).toBeLessThan(4);
      const url = `/api/v1/tasks?status=open&limit=2${before ? `&before=${before}` : ''}`;
      const body = ok(await call(shop, 'GET', url, shop.admin)) as {
        items: { title: string }[];
        nextBefore: number | null;
      };
      seen.push(...body.items.map((t) => t.title));
      before = body.nextBefore;
    }
    expect(seen).toEqual(['task 4', 'task 3', 'task 2', 'task 1', 'task 0']);
  });

  it('failed operations filter on whether a staff task is open for them; a bad filter is a 400', async () => {
    const first = await failedOpen();
    const second = await failedOpen();
    // The first one's task was closed without touching the operation (an older installation's
    // task, or one closed in the database): it is failed with no open task.
    await shop.ctx.db.kysely
      .updateTable('staff_tasks')
      .set({ status: 'done', closed_at: '2021-12-16T10:00:00.000Z', closed_by: 'test' })
      .where('operation_id', '=', first.operationId)
      .execute();
    const ids = async (query: string) =>
      (
        ok(await call(shop, 'GET', `/api/v1/operations?status=failed${query}`, shop.admin)).items as {
          id: number;
        }[]
      ).map((o) => o.id);
    expect(await ids('')).toEqual([second.operationId, first.operationId]);
    expect(await ids('&openTask=false')).toEqual([first.operationId]);
    expect(await ids('&openTask=true')).toEqual([second.operationId]);
    expect(await ids('&openTask=false&limit=1')).toEqual([first.operationId]);
    expectError(
      await call(shop, 'GET', '/api/v1/operations?status=failed&openTask=maybe', shop.admin),
      400,
      'validation_failed',
    );
  });
});
