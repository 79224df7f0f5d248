import { Temporal } from 'temporal-polyfill';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runBilling } from '../../src/modules/billing/run.js';
import { drainDeliveries } from '../../src/modules/notify/outbox.js';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { client, licenseTariff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';
import { freshIp } from '../helpers/ips.js';
import { type FakeSmtp, type ReceivedMail, startFakeSmtp, withSmtp } from '../helpers/smtp.js';

/**
 * Mail through a real SMTP server (`smtp-server` on 127.0.0.1): the daily run's reminders and a
 * failed renewal arrive once each, with the amounts and dates formatted for the reader; a
 * server that is down for a while gets everything once it is back, nothing twice.
 */
let base: TestContext;
let ctx: TestContext;
let smtp: FakeSmtp;

beforeEach(async () => {
  smtp = await startFakeSmtp();
  base = await createTestContext({ now: '2021-12-16T10:00:00Z' });
  ctx = withSmtp(base, smtp.url);
});
afterEach(async () => {
  await expectLedgerBalanced(base);
  await base.testDb.destroy();
  await smtp.close();
});

async function orderOne(
  c: TestContext,
  actor: Awaited<ReturnType<typeof client>>['actor'],
  tariffId: number,
  autoprolong: number | null,
) {
  const { order } = await placeOrder(c, actor, {
    items: [{ tariffId, period: 1, params: { ip: freshIp(), licname: 'ISPmanager Lite' }, autoprolong }],
    payNow: true,
  });
  await runQueuedOperations(c);
  const row = await c.db.kysely
    .selectFrom('order_items')
    .select('service_id')
    .where('order_id', '=', order.id)
    .executeTakeFirstOrThrow();
  return Number(row.service_id);
}

const day = (d: string) => Temporal.PlainDate.from(d);
/** Runs the daily run for `date` as the scheduler would: on that day. */
async function runOn(date: string) {
  base.clock.set(`${date}T06:00:00Z`);
  return runBilling(ctx, { date: day(date) });
}

/** Two accounts: one with a service that does not renew itself, one whose auto-renewal cannot be paid. */
async function book() {
  const tariff = await licenseTariff(ctx, { prices: { '1': '12.34' } });
  const a = await client(ctx, 'anna@example.com', '12.34');
  const sa = await orderOne(ctx, a.actor, tariff.id, null);
  const b = await client(ctx, 'boris@example.com', '12.34');
  await ctx.db.kysely.updateTable('accounts').set({ language: 'ru' }).where('id', '=', b.accountId).execute();
  const sb = await orderOne(ctx, b.actor, tariff.id, 1);
  // What the book itself sent (payments, paid orders, active services) is not this test's.
  await drainDeliveries(ctx);
  smtp.received.length = 0;
  const last = await ctx.db.kysely
    .selectFrom('deliveries')
    .select(({ fn }) => fn.max('id').as('id'))
    .executeTakeFirst();
  mark = Number(last?.id ?? 0);
  return { sa, sb };
}
let mark = 0;
/** The deliveries queued since the book was made. */
const newDeliveries = () =>
  ctx.db.kysely.selectFrom('deliveries').selectAll().where('id', '>', mark).orderBy('id').execute();

describe('mail from the daily run', () => {
  it('reminders and a failed renewal arrive once each, with the right amounts and dates', async () => {
    const { sa, sb } = await book();
    // Both expire 2022-01-16. Three days before: a reminder (anna), low balance (boris, in Russian).
    await runOn('2022-01-13');
    await runOn('2022-01-13'); // a rerun queues nothing more
    expect(await drainDeliveries(ctx)).toBe(2);
    expect(smtp.received).toHaveLength(2);
    const reminder = smtp.received.find((m) => m.kind === 'renewal_reminder')!;
    expect(reminder.to).toBe('anna@example.com');
    expect(reminder.subject).toBe(`ISPmanager Lite (#${sa}) expires on 16 January 2022`);
    expect(reminder.text).toContain('expires on 16 January 2022 (3 days left)');
    expect(reminder.html).toContain('<p>Hello anna@example.com,</p>');
    const low = smtp.received.find((m) => m.kind === 'low_balance')!;
    expect(low.to).toBe('boris@example.com');
    expect(low.subject).toBe(`Не хватает средств для продления ISPmanager Lite (#${sb})`);
    expect(low.text).toContain(
      'продлевается автоматически 16 января 2022 г. (осталось дней: 3); нужно 12,34\u00a0€.',
    );

    // The day before: the renewal fails (no money), boris is told; anna gets her 1-day reminder.
    await runOn('2022-01-15');
    await drainDeliveries(ctx);
    await drainDeliveries(ctx);
    const failed = smtp.received.filter((m) => m.kind === 'renewal_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.subject).toBe(`Не удалось продлить ISPmanager Lite (#${sb})`);
    expect(failed[0]!.text).toContain(
      `Не удалось продлить услугу ISPmanager Lite (#${sb}) (insufficient_balance). Для продления нужно 12,34\u00a0€.`,
    );
    expect(failed[0]!.text).toContain('Дата окончания срока: 16 января 2022 г.\n');
    expect(smtp.received.filter((m) => m.kind === 'renewal_reminder').map((m) => m.text)).toEqual([
      expect.stringContaining('(3 days left)'),
      expect.stringContaining('(1 days left)'),
    ]);
    // Every message once, each with its own stable Message-ID.
    const ids = smtp.received.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^<delivery-\d+@hosting\.example>$/);
    const rows = await newDeliveries();
    expect(rows.every((r) => r.status === 'done' && r.sent_at !== null)).toBe(true);
    expect(rows).toHaveLength(smtp.received.length);
  });

  it('a client who turned reminders off gets none, but still hears that the renewal failed', async () => {
    const { sb } = await book();
    const owner = await ctx.db.kysely
      .selectFrom('services')
      .select('account_id')
      .where('id', '=', sb)
      .executeTakeFirstOrThrow();
    await ctx.db.kysely
      .insertInto('notification_opt_outs')
      .values({ account_id: owner.account_id, kind: 'low_balance', created_at: '2021-12-16T10:00:00.000Z' })
      .execute();
    await runOn('2022-01-15');
    await drainDeliveries(ctx);
    const toBoris = smtp.received.filter((m) => m.to === 'boris@example.com').map((m) => m.kind);
    expect(toBoris).toEqual(['renewal_failed']);
    // The notification itself is still recorded (the client area lists it).
    const kinds = await ctx.db.kysely
      .selectFrom('notifications')
      .select('kind')
      .where('account_id', '=', owner.account_id)
      .execute();
    expect(kinds.map((k) => k.kind).sort()).toEqual(['low_balance', 'renewal_failed']);
  });
});

describe('mail for payments, orders and services', () => {
  it('a payment, the paid order and the active license are each mailed once', async () => {
    const tariff = await licenseTariff(ctx, { prices: { '1': '12.34' } });
    const c = await client(ctx, 'carla@example.com', '20.00');
    const serviceId = await orderOne(ctx, c.actor, tariff.id, null);
    await drainDeliveries(ctx);
    await drainDeliveries(ctx);
    expect(smtp.received.map((m) => m.kind)).toEqual(['payment_received', 'order_paid', 'service_active']);
    const [payment, order, active] = smtp.received as [ReceivedMail, ReceivedMail, ReceivedMail];
    expect(payment.subject).toBe('Payment of €20.00 received');
    expect(payment.text).toContain('on 16 December 2021 at 10:00. Your balance is €20.00.');
    expect(order.text).toContain('We received the payment of €12.34 for your order');
    const svc = await ctx.db.kysely
      .selectFrom('services')
      .select('params')
      .where('id', '=', serviceId)
      .executeTakeFirstOrThrow();
    const ip = (JSON.parse(svc.params) as { ip: string }).ip;
    expect(active.subject).toBe(`ISPmanager Lite (#${serviceId}) is ready`);
    expect(active.text).toContain('is active until 16 January 2022.');
    expect(active.text).toContain(`Server IP: ${ip}`);
    expect(active.text).not.toContain('License key');
    expect(active.html).toContain(`Server IP: ${ip}`);
  });
});

describe('SMTP down for a while', () => {
  it('retries with backoff and delivers everything once the server is back, none twice', async () => {
    await book();
    await runOn('2022-01-13');
    await smtp.stop();
    expect(await drainDeliveries(ctx)).toBe(0);
    let rows = await newDeliveries();
    expect(rows.map((r) => [r.status, Number(r.attempts)])).toEqual([
      ['retry_wait', 1],
      ['retry_wait', 1],
    ]);
    expect(JSON.parse(rows[0]!.last_error!)).toMatchObject({ code: 'smtp_unavailable' });
    // Not due yet: nothing is tried before the backoff is over.
    expect(await drainDeliveries(ctx)).toBe(0);
    expect(
      (
        await ctx.db.kysely
          .selectFrom('delivery_attempts')
          .select('id')
          .where('delivery_id', '>', mark)
          .execute()
      ).length,
    ).toBe(2);
    // Still down after the first wait: a second failure, a longer wait.
    base.clock.advance(7_000);
    await drainDeliveries(ctx);
    rows = await newDeliveries();
    expect(rows.map((r) => Number(r.attempts))).toEqual([2, 2]);
    await smtp.start();
    base.clock.advance(15_000);
    expect(await drainDeliveries(ctx)).toBe(2);
    expect(await drainDeliveries(ctx)).toBe(0);
    expect(smtp.received).toHaveLength(2);
    expect(new Set(smtp.received.map((m) => m.messageId)).size).toBe(2);
    const attempts = await ctx.db.kysely
      .selectFrom('delivery_attempts')
      .select(['outcome'])
      .where('delivery_id', '>', mark)
      .orderBy('id')
      .execute();
    expect(attempts.map((a) => a.outcome)).toEqual(['error', 'error', 'error', 'error', 'sent', 'sent']);
  });

  it('with no SMTP server configured, mail is logged and held; it goes once one is set', async () => {
    await book();
    await runOn('2022-01-13');
    const noSmtp = withSmtp(base, undefined);
    expect(await drainDeliveries(noSmtp)).toBe(0);
    const held = await newDeliveries();
    expect(held.map((r) => r.status)).toEqual(['held', 'held']);
    expect(smtp.received).toHaveLength(0);
    expect(await drainDeliveries(ctx)).toBe(2);
    expect(smtp.received).toHaveLength(2);
  });

  it('a message the server refuses for good (5xx) fails at once, visible to staff', async () => {
    await book();
    smtp.refuse.add('anna@example.com');
    await runOn('2022-01-13');
    await drainDeliveries(ctx);
    const rows = await newDeliveries();
    const statuses = rows.map((r) => r.status).sort();
    expect(statuses).toEqual(['done', 'failed']);
  });
});
