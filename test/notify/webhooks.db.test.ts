import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordPayment } from '../../src/modules/accounts/commands.js';
import { createWebhook, updateWebhook } from '../../src/modules/notify/commands.js';
import { drainDeliveries } from '../../src/modules/notify/outbox.js';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { claimNext, OperationError, retryOperation, runClaimed } from '../../src/modules/services/engine.js';
import { client, licenseTariff, orderLicense, staff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';
import {
  startWebhookReceiver,
  verifyBillfoldSignature,
  type WebhookReceiver,
} from '../helpers/webhook-receiver.js';

/**
 * Webhooks to a receiver on 127.0.0.1 (loopback allowed by the test's configuration only):
 * every call is signed and the receiver verifies it with the documented scheme; a receiver that
 * answers 500 three times and then 200 gets the event once it recovers; a wrong secret fails.
 */
const SECRET = 'whsec_test_0123456789abcdef';
let base: TestContext;
let ctx: TestContext;
let rx: WebhookReceiver;

beforeEach(async () => {
  rx = await startWebhookReceiver();
  base = await createTestContext({ now: '2021-12-16T10:00:00Z' });
  ctx = { ...base, config: { ...base.config, webhooksAllowPrivate: true } };
});
afterEach(async () => {
  await expectLedgerBalanced(base);
  await base.testDb.destroy();
  await rx.close();
});

const nowSec = () => Math.floor(base.clock.now().getTime() / 1000);

describe('webhooks', () => {
  it('every call is signed; the receiver verifies each, and the events carry what happened', async () => {
    await createWebhook(ctx, staff, {
      url: `${rx.url}/hooks`,
      events: ['payment.recorded', 'service.activated'],
      secret: SECRET,
    });
    const tariff = await licenseTariff(ctx);
    const c = await client(ctx, 'hook@example.com', '10.00');
    const serviceId = await orderLicense(ctx, c.actor, tariff.id);
    expect(await drainDeliveries(ctx)).toBe(2);
    expect(rx.calls.map((x) => x.headers['billfold-event'])).toEqual([
      'payment.recorded',
      'service.activated',
    ]);
    for (const call of rx.calls) {
      expect(
        verifyBillfoldSignature(SECRET, String(call.headers['billfold-signature']), call.body, nowSec()),
      ).toBe(true);
      expect(call.headers['content-type']).toBe('application/json');
    }
    const [payment, activated] = rx.calls.map((x) => JSON.parse(x.body));
    expect(payment).toMatchObject({
      event: 'payment.recorded',
      data: { accountId: c.accountId, amount: '10.00', currency: 'EUR', method: 'manual' },
    });
    expect(activated).toMatchObject({
      event: 'service.activated',
      data: { serviceId, accountId: c.accountId, status: 'active', expiresOn: '2022-01-16' },
    });
    // A tampered body, a stale timestamp or another secret fails verification.
    const call = rx.calls[0]!;
    const header = String(call.headers['billfold-signature']);
    expect(verifyBillfoldSignature(SECRET, header, call.body.replace('10.00', '99.00'), nowSec())).toBe(
      false,
    );
    expect(verifyBillfoldSignature(SECRET, header, call.body, nowSec() + 3600)).toBe(false);
    expect(verifyBillfoldSignature('whsec_wrong_secret_000000', header, call.body, nowSec())).toBe(false);
  });

  it('an endpoint registered with another secret fails the receiver’s verification', async () => {
    await createWebhook(ctx, staff, {
      url: `${rx.url}/other`,
      events: ['payment.recorded'],
      secret: 'whsec_not_the_receivers',
    });
    await client(ctx, 'wrong@example.com', '5.00');
    await drainDeliveries(ctx);
    expect(rx.calls).toHaveLength(1);
    const call = rx.calls[0]!;
    expect(
      verifyBillfoldSignature(SECRET, String(call.headers['billfold-signature']), call.body, nowSec()),
    ).toBe(false);
  });

  it('a receiver that answers 500 three times, then 200, gets the event once it recovers; attempts are kept', async () => {
    const { row: hook } = await createWebhook(ctx, staff, {
      url: `${rx.url}/flaky`,
      events: ['payment.recorded'],
      secret: SECRET,
    });
    rx.script = [500, 500, 500];
    const c = await client(ctx, 'flaky@example.com');
    await recordPayment(ctx, staff, c.accountId, { amount: '7.50', method: 'bank', reference: 'flaky-1' });
    for (let i = 0; i < 3; i++) {
      expect(await drainDeliveries(ctx)).toBe(0);
      // Not due again before its backoff is over.
      expect(await drainDeliveries(ctx)).toBe(0);
      base.clock.advance(60_000);
    }
    expect(await drainDeliveries(ctx)).toBe(1);
    expect(await drainDeliveries(ctx)).toBe(0);
    expect(rx.calls.map((x) => x.answered)).toEqual([500, 500, 500, 200]);
    // The same event each time (same id and body), signed each time.
    expect(new Set(rx.calls.map((x) => x.body)).size).toBe(1);
    expect(new Set(rx.calls.map((x) => x.headers['billfold-delivery'])).size).toBe(1);
    for (const call of rx.calls)
      expect(
        verifyBillfoldSignature(SECRET, String(call.headers['billfold-signature']), call.body, nowSec()),
      ).toBe(true);
    const d = await ctx.db.kysely
      .selectFrom('deliveries')
      .selectAll()
      .where('webhook_id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(d).toMatchObject({ status: 'done', last_error: null });
    const attempts = await ctx.db.kysely
      .selectFrom('delivery_attempts')
      .select(['attempt', 'outcome', 'status_code'])
      .where('delivery_id', '=', d.id)
      .orderBy('id')
      .execute();
    expect(attempts.map((a) => [Number(a.attempt), a.outcome, Number(a.status_code)])).toEqual([
      [1, 'error', 500],
      [2, 'error', 500],
      [3, 'error', 500],
      [4, 'sent', 200],
    ]);
  });

  it('a disabled endpoint gets nothing more; a 4xx answer is final', async () => {
    const { row: hook } = await createWebhook(ctx, staff, {
      url: `${rx.url}/gone`,
      events: ['payment.recorded'],
      secret: SECRET,
    });
    rx.script = [410];
    await client(ctx, 'gone@example.com', '1.00');
    await drainDeliveries(ctx);
    const d = await ctx.db.kysely
      .selectFrom('deliveries')
      .selectAll()
      .where('webhook_id', '=', hook.id)
      .execute();
    expect(d.map((x) => x.status)).toEqual(['failed']);
    await updateWebhook(ctx, staff, Number(hook.id), { status: 'disabled' });
    await client(ctx, 'gone2@example.com', '1.00');
    await drainDeliveries(ctx);
    expect(rx.calls).toHaveLength(1);
  });

  it('an operation that fails for good is an operation.failed event; failing again after a retry is another', async () => {
    await createWebhook(ctx, staff, { url: `${rx.url}/ops`, events: ['operation.failed'], secret: SECRET });
    const tariff = await licenseTariff(ctx);
    const c = await client(ctx, 'ops@example.com', '10.00');
    await placeOrder(ctx, c.actor, {
      items: [{ tariffId: tariff.id, period: 1, params: { ip: '203.0.113.77', licname: 'ops' } }],
      payNow: true,
    });
    const refuse = async () => {
      throw new OperationError('upstream_refused', 'the upstream refused the order', false);
    };
    const op = (await claimNext(ctx, 'w1'))!;
    expect(await runClaimed(ctx, op, 'w1', refuse)).toBe('failed');
    await retryOperation(ctx, staff, Number(op.id));
    expect(await runClaimed(ctx, (await claimNext(ctx, 'w1'))!, 'w1', refuse)).toBe('failed');
    await drainDeliveries(ctx);
    const events = rx.calls.map((x) => JSON.parse(x.body));
    expect(events.map((e) => e.event)).toEqual(['operation.failed', 'operation.failed']);
    expect(events[0].data).toMatchObject({
      operationId: Number(op.id),
      kind: 'open',
      code: 'upstream_refused',
    });
    expect(events[0].id).not.toBe(events[1].id);
  });

  it('without the test setting, loopback and private endpoints are refused (webhook_url_refused)', async () => {
    for (const url of [
      `${rx.url}/x`,
      'http://10.0.0.5/x',
      'http://[::1]:8080/x',
      'http://169.254.169.254/latest',
      // IPv4 written as IPv6 (URL parsing makes it ::ffff:7f00:1), and NAT64 (found in review)
      'http://[::ffff:127.0.0.1]:8080/x',
      'http://[::ffff:a9fe:a9fe]/latest',
      'http://[64:ff9b::a00:5]/x',
      'http://[fd00::1]/x',
      'ftp://example.com/x',
    ])
      await expect(createWebhook(base, staff, { url, events: ['payment.recorded'] })).rejects.toMatchObject({
        code: 'webhook_url_refused',
      });
    expect(await base.db.kysely.selectFrom('webhooks').select('id').execute()).toEqual([]);
  });
});
