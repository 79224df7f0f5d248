import { Temporal } from 'temporal-polyfill';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  balance,
  client,
  licenseTariff,
  orderLicense,
  pay,
  service,
  staff,
} from '../../../test/helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../../../test/helpers/context.js';
import { freshIp } from '../../../test/helpers/ips.js';
import type { AppContext } from '../../platform/context.js';
import { runBilling } from '../billing/run.js';
import { placeOrder } from '../orders/commands.js';
import { setAutoprolong } from './commands.js';
import { deleteService } from './deletion.js';
import { runQueuedOperations } from './executor.js';
import { quoteRenewal, renewService } from './renewal.js';
import { changeTariff } from './tariff-change.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext({ now: '2021-11-16T10:00:00Z' });
});
afterEach(async () => {
  await expectLedgerBalanced(ctx);
  await ctx.testDb.destroy();
});

describe('renewal and the tariff-expiration cut', () => {
  it('seed example: on 2021-12-16 a monthly 10.00 tariff expiring 2021-12-31 renews to 2021-12-31 for 4.84', async () => {
    const tariff = await licenseTariff(ctx, { expiresOn: '2021-12-31' });
    const { accountId, actor } = await client(ctx, 'seed@example.com', '100.00');
    const id = await orderLicense(ctx, actor, tariff.id);
    expect((await service(ctx, id)).expires_on).toBe('2021-12-16');
    ctx.clock.set('2021-12-16T10:00:00Z');
    const quote = await quoteRenewal(ctx, actor, id, 1);
    expect(quote.priced.cut).toMatchObject({ cut: true, grantedDays: 15, fullDays: 31 });
    expect(quote.priced.totalMinor).toBe(4_84n);
    const before = await balance(ctx, accountId);
    await renewService(ctx, actor, id, 1);
    expect((await service(ctx, id)).expires_on).toBe('2021-12-31');
    expect(before - (await balance(ctx, accountId))).toBe(4_84n);
  });

  it('on or after the tariff expiration date renewal is tariff_expired and nothing is charged', async () => {
    const tariff = await licenseTariff(ctx, { expiresOn: '2021-12-31' });
    const { accountId, actor } = await client(ctx, 'late@example.com', '100.00');
    const id = await orderLicense(ctx, actor, tariff.id);
    ctx.clock.set('2021-12-31T00:00:00Z');
    const before = await balance(ctx, accountId);
    await expect(renewService(ctx, actor, id, 1)).rejects.toMatchObject({ code: 'tariff_expired' });
    expect(await balance(ctx, accountId)).toBe(before);
  });

  it('an active service extends from expiresOn; a retried renewal renews once', async () => {
    const tariff = await licenseTariff(ctx);
    const { accountId, actor } = await client(ctx, 'a@example.com', '100.00');
    const id = await orderLicense(ctx, actor, tariff.id);
    ctx.clock.set('2021-12-01T10:00:00Z');
    const first = await renewService(ctx, actor, id, 1, { idempotencyKey: 'renew-r1' });
    const retry = await renewService(ctx, actor, id, 1, { idempotencyKey: 'renew-r1' });
    expect(first.replayed).toBe(false);
    expect(retry.replayed).toBe(true);
    expect((await service(ctx, id)).expires_on).toBe('2022-01-16');
    expect(await balance(ctx, accountId)).toBe(100_00n - 10_00n - 10_00n);
  });

  it('a service suspended for non-payment renews from today and is resumed', async () => {
    const tariff = await licenseTariff(ctx);
    const { actor } = await client(ctx, 'b@example.com', '10.00');
    const id = await orderLicense(ctx, actor, tariff.id);
    ctx.clock.set('2021-12-16T01:00:00Z');
    await runBilling(ctx, { date: Temporal.PlainDate.from('2021-12-16') });
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({
      status: 'suspended',
      suspend_reason: 'expired',
      suspended_on: '2021-12-16',
    });
    ctx.clock.set('2021-12-20T10:00:00Z');
    await pay(ctx, Number((await service(ctx, id)).account_id), '10.00');
    await renewService(ctx, actor, id, 1);
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({
      status: 'active',
      suspend_reason: null,
      expires_on: '2022-01-20',
    });
  });

  it('trials are not renewable', async () => {
    const tariff = await licenseTariff(ctx, { periods: [1, -100], trialDays: 14 });
    const { actor } = await client(ctx, 't@example.com', '10.00');
    const id = await orderLicense(ctx, actor, tariff.id, { period: -100 });
    expect((await service(ctx, id)).expires_on).toBe('2021-11-30');
    await expect(renewService(ctx, actor, id, 1)).rejects.toMatchObject({ code: 'trial_not_renewable' });
    await expect(setAutoprolong(ctx, actor, id, 1)).rejects.toMatchObject({ code: 'trial_not_renewable' });
  });
});

describe('orders', () => {
  it('pay_now with a short balance is insufficient_balance and changes nothing', async () => {
    const tariff = await licenseTariff(ctx);
    const { accountId, actor } = await client(ctx, 'short@example.com', '5.00');
    const count = async (t: 'orders' | 'services' | 'operations') =>
      Number(
        (
          await ctx.db.kysely
            .selectFrom(t)
            .select((e) => e.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    await expect(
      placeOrder(ctx, actor, {
        items: [{ tariffId: tariff.id, period: 1, params: { ip: freshIp(), licname: 'x' } }],
        payNow: true,
      }),
    ).rejects.toMatchObject({ code: 'insufficient_balance' });
    expect([await count('orders'), await count('services'), await count('operations')]).toEqual([0, 0, 0]);
    expect(await balance(ctx, accountId)).toBe(5_00n);
  });

  it("an order awaiting payment is paid in the payment's own transaction, oldest first", async () => {
    const tariff = await licenseTariff(ctx);
    const { accountId, actor } = await client(ctx, 'wait@example.com');
    const item = () => ({ tariffId: tariff.id, period: 1, params: { ip: freshIp(), licname: 'x' } });
    const first = await placeOrder(ctx, actor, { items: [item()] });
    const second = await placeOrder(ctx, actor, { items: [item(), item()] });
    expect(first.order.status).toBe('awaiting_payment');
    await pay(ctx, accountId, '15.00');
    expect(await orderStatuses(ctx, accountId)).toEqual(['paid', 'awaiting_payment']);
    await pay(ctx, accountId, '15.00');
    expect(await orderStatuses(ctx, accountId)).toEqual(['paid', 'paid']);
    expect(Number(second.order.id)).toBeGreaterThan(Number(first.order.id));
    expect(await balance(ctx, accountId)).toBe(0n);
  });

  it('the same idempotency key twice is one order', async () => {
    const tariff = await licenseTariff(ctx);
    const { accountId, actor } = await client(ctx, 'idem@example.com', '50.00');
    const input = {
      items: [{ tariffId: tariff.id, period: 1, params: { ip: freshIp(), licname: 'x' } }],
      payNow: true,
      idempotencyKey: 'k1',
    };
    const a = await placeOrder(ctx, actor, input);
    const b = await placeOrder(ctx, actor, input);
    expect(b.order.id).toEqual(a.order.id);
    expect(b.replayed).toBe(true);
    expect(await balance(ctx, accountId)).toBe(40_00n);
    // The same key with another request is refused, not silently answered with the first order.
    await expect(
      placeOrder(ctx, actor, { ...input, items: [{ ...input.items[0]!, period: 12 }] }),
    ).rejects.toMatchObject({
      code: 'idempotency_key_reused',
    });
    expect(await balance(ctx, accountId)).toBe(40_00n);
  });
});

describe('tariff change and deletion', () => {
  it('an upgrade charges the day-prorated difference at once, a downgrade credits it', async () => {
    const lite = await licenseTariff(ctx);
    const pro = await licenseTariff(ctx, { name: 'Pro', prices: { '1': '20.00' } });
    const { accountId, actor } = await client(ctx, 'up@example.com', '100.00');
    const id = await orderLicense(ctx, actor, lite.id); // 2021-11-16 .. 2021-12-16, 30 days
    ctx.clock.set('2021-12-01T10:00:00Z'); // 15 days left of 30
    const before = await balance(ctx, accountId);
    await changeTariff(ctx, actor, id, pro.id);
    expect(before - (await balance(ctx, accountId))).toBe(5_00n);
    await changeTariff(ctx, actor, id, lite.id);
    expect(before - (await balance(ctx, accountId))).toBe(0n);
  });

  it('deletion refunds unused days only where the product type says so', async () => {
    const { updateProductType } = await import('../catalog/commands.js');
    const tariff = await licenseTariff(ctx);
    const { accountId, actor } = await client(ctx, 'del@example.com', '20.00');
    const a = await orderLicense(ctx, actor, tariff.id);
    ctx.clock.set('2021-12-01T10:00:00Z');
    await deleteService(ctx, actor, a);
    expect(await balance(ctx, accountId)).toBe(10_00n);
    await updateProductType(ctx, staff, 'soft', { refundUnusedDays: true });
    const b = await orderLicense(ctx, actor, tariff.id); // 2021-12-01 .. 2022-01-01, 31 days
    ctx.clock.set('2021-12-11T10:00:00Z'); // 21 unused days
    await deleteService(ctx, actor, b);
    await runQueuedOperations(ctx);
    expect(await balance(ctx, accountId)).toBe(6_77n); // 0.00 + round(10.00 × 21 / 31) = 6.77
    expect((await service(ctx, b)).status).toBe('deleted');
  });
});

describe('activation', () => {
  it('paid time starts at activation: an order processed 3 days late still gets its full period', async () => {
    const tariff = await licenseTariff(ctx);
    const { actor } = await client(ctx, 'late-open@example.com', '10.00');
    const { order } = await placeOrder(ctx, actor, {
      items: [{ tariffId: tariff.id, period: 1, params: { ip: '203.0.113.7', licname: 'late' } }],
      payNow: true,
    });
    const item = await ctx.db.kysely
      .selectFrom('order_items')
      .select('service_id')
      .where('order_id', '=', order.id)
      .executeTakeFirstOrThrow();
    const id = Number(item.service_id);
    expect(await service(ctx, id)).toMatchObject({ status: 'processing', expires_on: null });
    ctx.clock.set('2021-11-19T09:00:00Z');
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({
      status: 'active',
      activated_on: '2021-11-19',
      expires_on: '2021-12-19',
    });
  });

  it('a late activation never runs past the tariff end: the days it can no longer grant are credited back', async () => {
    const tariff = await licenseTariff(ctx, { expiresOn: '2021-12-01' });
    const { accountId, actor } = await client(ctx, 'late-cut@example.com', '10.00');
    // Ordered 2021-11-16: 15 of 30 days until the tariff ends → 5.00 charged.
    const { order } = await placeOrder(ctx, actor, {
      items: [{ tariffId: tariff.id, period: 1, params: { ip: '203.0.113.8', licname: 'cut' } }],
      payNow: true,
    });
    expect(order.total_minor).toBe(5_00n);
    // Opened 5 days late: only 10 days remain → 5.00 × 10/15 = 3.33 deserved, 1.67 back.
    ctx.clock.set('2021-11-21T09:00:00Z');
    await runQueuedOperations(ctx);
    const item = await ctx.db.kysely
      .selectFrom('order_items')
      .select('service_id')
      .where('order_id', '=', order.id)
      .executeTakeFirstOrThrow();
    expect(await service(ctx, Number(item.service_id))).toMatchObject({
      status: 'active',
      expires_on: '2021-12-01',
    });
    expect(await balance(ctx, accountId)).toBe(10_00n - 5_00n + 1_67n);
  });

  it('awaiting orders are paid strictly oldest first: a later, smaller order does not jump the queue', async () => {
    const cheap = await licenseTariff(ctx, { name: 'Cheap', prices: { '1': '1.00' } });
    const dear = await licenseTariff(ctx, { name: 'Dear', prices: { '1': '50.00' } });
    const { accountId, actor } = await client(ctx, 'fifo@example.com');
    await placeOrder(ctx, actor, {
      items: [{ tariffId: dear.id, period: 1, params: { ip: freshIp(), licname: 'f' } }],
    });
    await placeOrder(ctx, actor, {
      items: [{ tariffId: cheap.id, period: 1, params: { ip: freshIp(), licname: 'f' } }],
    });
    await pay(ctx, accountId, '10.00');
    expect(await orderStatuses(ctx, accountId)).toEqual(['awaiting_payment', 'awaiting_payment']);
    await pay(ctx, accountId, '41.00');
    expect(await orderStatuses(ctx, accountId)).toEqual(['paid', 'paid']);
    expect(await balance(ctx, accountId)).toBe(0n);
    await expectLedgerBalanced(ctx);
  });
});

describe('late activation across months of different lengths', () => {
  it('the activated range is priced from the activation date: granted and full days both counted from it', async () => {
    ctx.clock.set('2022-01-30T10:00:00Z');
    const tariff = await licenseTariff(ctx, { expiresOn: '2022-02-20', prices: { '1': '10.00' } });
    const { accountId, actor } = await client(ctx, 'feb@example.com', '10.00');
    // Ordered 2022-01-30: natural end 2022-02-28 (29 days), cut at 02-20 → 21/29 → 7.24.
    const { order } = await placeOrder(ctx, actor, {
      items: [{ tariffId: tariff.id, period: 1, params: { ip: '203.0.113.11', licname: 'feb' } }],
      payNow: true,
    });
    expect(order.total_minor).toBe(7_24n);
    // Activated 2022-02-02: natural end 2022-03-02 (28 days), cut at 02-20 → 18/28 → 6.43 kept.
    ctx.clock.set('2022-02-02T10:00:00Z');
    await runQueuedOperations(ctx);
    expect(await balance(ctx, accountId)).toBe(10_00n - 6_43n);
  });
});

describe('tariff change after an early renewal', () => {
  it('converts every paid day from today, the current range and the renewed one alike', async () => {
    const lite = await licenseTariff(ctx);
    const pro = await licenseTariff(ctx, { name: 'Pro', prices: { '1': '20.00' } });
    const { accountId, actor } = await client(ctx, 'early@example.com', '100.00');
    const id = await orderLicense(ctx, actor, lite.id); // 2021-11-16 .. 2021-12-16
    ctx.clock.set('2021-12-01T10:00:00Z');
    await renewService(ctx, actor, id, 1); // .. 2022-01-16, the renewed range starts 2021-12-16
    const before = await balance(ctx, accountId);
    await changeTariff(ctx, actor, id, pro.id);
    // 46 paid days left (2021-12-01 .. 2022-01-16) over a 31-day period:
    // round(20.00 × 46/31) − round(10.00 × 46/31) = 29.68 − 14.84 = 14.84.
    expect(before - (await balance(ctx, accountId))).toBe(14_84n);
  });
});

describe('deletion refund over every paid range', () => {
  it('after an upgrade, the unused days are returned at the rate actually paid: order part + upgrade part', async () => {
    const { updateProductType } = await import('../catalog/commands.js');
    await updateProductType(ctx, staff, 'soft', { refundUnusedDays: true });
    const lite = await licenseTariff(ctx);
    const pro = await licenseTariff(ctx, { name: 'Pro', prices: { '1': '20.00' } });
    const { accountId, actor } = await client(ctx, 'refund-up@example.com', '100.00');
    const id = await orderLicense(ctx, actor, lite.id); // 10.00 for 2021-11-16 .. 2021-12-16 (30 days)
    ctx.clock.set('2021-12-01T10:00:00Z');
    await changeTariff(ctx, actor, id, pro.id); // +5.00 for 2021-12-01 .. 2021-12-16 (15 days)
    ctx.clock.set('2021-12-06T10:00:00Z');
    const before = await balance(ctx, accountId);
    await deleteService(ctx, actor, id);
    // 10 unused days: round(10.00 × 10/30) + round(5.00 × 10/15) = 3.33 + 3.33.
    expect((await balance(ctx, accountId)) - before).toBe(6_66n);
  });

  it('after an early renewal, the current range and the renewed one are both returned', async () => {
    const { updateProductType } = await import('../catalog/commands.js');
    await updateProductType(ctx, staff, 'soft', { refundUnusedDays: true });
    const lite = await licenseTariff(ctx);
    const { accountId, actor } = await client(ctx, 'refund-early@example.com', '100.00');
    const id = await orderLicense(ctx, actor, lite.id); // 2021-11-16 .. 2021-12-16
    ctx.clock.set('2021-12-01T10:00:00Z');
    await renewService(ctx, actor, id, 1); // 10.00 for 2021-12-16 .. 2022-01-16 (31 days)
    const before = await balance(ctx, accountId);
    await deleteService(ctx, actor, id);
    // round(10.00 × 15/30) + 10.00 (the whole renewed range) = 5.00 + 10.00.
    expect((await balance(ctx, accountId)) - before).toBe(15_00n);
  });
});

async function orderStatuses(ctx: AppContext, accountId: number): Promise<string[]> {
  const rows = await ctx.db.kysely
    .selectFrom('orders')
    .select('status')
    .where('account_id', '=', accountId)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.status);
}
