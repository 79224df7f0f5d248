import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { drainDeliveries } from '../../src/modules/notify/outbox.js';
import { BUILTIN } from '../../src/modules/notify/templates.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import { call, ok, openShop, payIn, type Shop } from '../helpers/shop.js';

/**
 * The notification endpoints over HTTP: the outbox and its retry, templates, webhooks (staff
 * only: a client gets 403), and a client's own preferences.
 */
let shop: Shop;
beforeEach(async () => {
  shop = await openShop();
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

describe('deliveries', () => {
  it('staff list the outbox, see a delivery with its attempts and retry a held one; clients may not', async () => {
    await payIn(shop, shop.alpha.accountId, '15.00', 'p-1');
    // No SMTP server in this configuration: the mail is logged and held.
    await drainDeliveries(shop.ctx);
    const list = ok(await call(shop, 'GET', '/api/v1/deliveries?status=held', shop.admin));
    expect(list.items).toHaveLength(1);
    const d = list.items[0];
    expect(d).toMatchObject({
      channel: 'email',
      kind: 'payment_received',
      accountId: shop.alpha.accountId,
      target: 'alpha@example.com',
      status: 'held',
    });
    const detail = ok(await call(shop, 'GET', `/api/v1/deliveries/${d.id}`, shop.admin));
    expect(detail.payload.subject).toBe('Payment of €15.00 received');
    expect(detail.attemptLog).toMatchObject([{ attempt: 1, outcome: 'held', statusCode: null }]);
    expect(ok(await call(shop, 'GET', '/api/v1/deliveries?status=failed', shop.admin)).items).toEqual([]);

    const retried = ok(await call(shop, 'POST', `/api/v1/deliveries/${d.id}/retry`, shop.admin));
    expect(retried).toMatchObject({ id: d.id, status: 'queued', attempts: 0 });
    expectError(
      await call(shop, 'POST', `/api/v1/deliveries/${d.id}/retry`, shop.admin),
      409,
      'delivery_not_retryable',
    );
    expectError(
      await call(shop, 'POST', '/api/v1/deliveries/999999/retry', shop.admin),
      404,
      'delivery_not_found',
    );
    expectError(await call(shop, 'GET', '/api/v1/deliveries/999999', shop.admin), 404, 'delivery_not_found');
    expectError(
      await call(shop, 'GET', '/api/v1/deliveries?status=lost', shop.admin),
      400,
      'validation_failed',
    );

    for (const [method, url] of [
      ['GET', '/api/v1/deliveries'],
      ['GET', `/api/v1/deliveries/${d.id}`],
      ['POST', `/api/v1/deliveries/${d.id}/retry`],
    ] as const)
      expectError(await call(shop, method, url, shop.alpha.auth), 403, 'forbidden');
  });
});

describe('templates', () => {
  it('staff override a template after it rendered against a sample; a bad one saves nothing', async () => {
    const all = ok(await call(shop, 'GET', '/api/v1/notification-templates', shop.admin));
    expect(all.items).toHaveLength(18);
    const url = '/api/v1/notification-templates/renewal_reminder/en';
    const bad = expectError(
      await call(shop, 'PUT', url, shop.admin, {
        subject: 'Expires {{expiresOn}}',
        text: 'Pay {{amountDue}}',
        html: '<p>x</p>',
      }),
      400,
      'template_invalid',
    );
    expect(bad.details).toMatchObject({ part: 'text', problem: 'unknown variable "amountDue"' });
    expectError(
      await call(shop, 'PUT', url, shop.admin, {
        subject: 'x',
        text: '{{#daysLeft}} open',
        html: '<p>x</p>',
      }),
      400,
      'template_invalid',
    );
    const unchanged = all.items.find(
      (t: { kind: string; language: string }) => t.kind === 'renewal_reminder' && t.language === 'en',
    );
    expect(unchanged).toMatchObject({ overridden: false, subject: BUILTIN.renewal_reminder.en.subject });

    const saved = ok(
      await call(shop, 'PUT', url, shop.admin, {
        subject: 'Heads up: {{serviceName}} ends {{expiresOn}}',
        text: '{{daysLeft}} days left.',
        html: '<p>{{daysLeft}} days left.</p>',
      }),
    );
    expect(saved).toMatchObject({
      overridden: true,
      subject: 'Heads up: {{serviceName}} ends {{expiresOn}}',
    });
    expect(saved.updatedBy).toMatch(/^user:\d+$/);
    const reset = ok(await call(shop, 'DELETE', url, shop.admin));
    expect(reset).toMatchObject({ overridden: false, subject: BUILTIN.renewal_reminder.en.subject });
    expectError(
      await call(shop, 'PUT', '/api/v1/notification-templates/no_such/en', shop.admin, saved),
      400,
      'validation_failed',
    );
    expectError(await call(shop, 'GET', '/api/v1/notification-templates', shop.alpha.auth), 403, 'forbidden');
    expectError(
      await call(shop, 'PUT', url, shop.alpha.auth, { subject: 'a', text: 'b', html: 'c' }),
      403,
      'forbidden',
    );
  });
});

describe('webhooks', () => {
  it('staff register an endpoint (secret shown once), list it, see its deliveries; loopback is refused; clients may not', async () => {
    expectError(
      await call(shop, 'POST', '/api/v1/webhooks', shop.admin, {
        url: 'http://127.0.0.1:9/x',
        events: ['payment.recorded'],
      }),
      400,
      'webhook_url_refused',
    );
    expectError(
      await call(shop, 'POST', '/api/v1/webhooks', shop.admin, {
        url: 'https://203.0.113.9/x',
        events: ['no.such'],
      }),
      400,
      'validation_failed',
    );
    const created = ok(
      await call(shop, 'POST', '/api/v1/webhooks', shop.admin, {
        url: 'https://203.0.113.9/billfold',
        events: ['payment.recorded', 'service.renewed'],
      }),
      201,
    );
    expect(created.secret).toMatch(/^whsec_/);
    expect(created).toMatchObject({ status: 'active', events: ['payment.recorded', 'service.renewed'] });
    const listed = ok(await call(shop, 'GET', '/api/v1/webhooks', shop.admin));
    expect(listed.items).toHaveLength(1);
    expect(listed.items[0]).not.toHaveProperty('secret');

    await payIn(shop, shop.bravo.accountId, '3.00', 'p-hook');
    const deliveries = ok(await call(shop, 'GET', `/api/v1/webhooks/${created.id}/deliveries`, shop.admin));
    expect(deliveries.items).toMatchObject([
      { channel: 'webhook', kind: 'payment.recorded', status: 'queued', attempts: 0, attemptLog: [] },
    ]);
    const patched = ok(
      await call(shop, 'PATCH', `/api/v1/webhooks/${created.id}`, shop.admin, { status: 'disabled' }),
    );
    expect(patched.status).toBe('disabled');
    expectError(
      await call(shop, 'GET', '/api/v1/webhooks/999/deliveries', shop.admin),
      404,
      'webhook_not_found',
    );
    for (const [method, url, body] of [
      ['GET', '/api/v1/webhooks', undefined],
      ['POST', '/api/v1/webhooks', { url: 'https://203.0.113.9/x', events: ['payment.recorded'] }],
      ['PATCH', `/api/v1/webhooks/${created.id}`, { status: 'active' }],
      ['GET', `/api/v1/webhooks/${created.id}/deliveries`, undefined],
    ] as const)
      expectError(await call(shop, method, url, shop.alpha.auth, body), 403, 'forbidden');
  });
});

describe('my notification preferences', () => {
  it('a client reads and sets its mail language and reminders; only reminder kinds can be turned off', async () => {
    const url = '/api/v1/me/notification-preferences';
    expect(ok(await call(shop, 'GET', url, shop.alpha.auth))).toEqual({
      language: 'en',
      reminders: { renewal_reminder: true, low_balance: true },
    });
    const set = ok(
      await call(shop, 'PUT', url, shop.alpha.auth, { language: 'ru', reminders: { low_balance: false } }),
    );
    expect(set).toEqual({ language: 'ru', reminders: { renewal_reminder: true, low_balance: false } });
    expectError(
      await call(shop, 'PUT', url, shop.alpha.auth, { reminders: { payment_received: false } }),
      400,
      'unknown_field',
    );
    expectError(await call(shop, 'PUT', url, shop.alpha.auth, { language: 'de' }), 400, 'validation_failed');
    // Another client's preferences are its own.
    expect(ok(await call(shop, 'GET', url, shop.bravo.auth)).reminders.low_balance).toBe(true);
    const back = ok(await call(shop, 'PUT', url, shop.alpha.auth, { reminders: { low_balance: true } }));
    expect(back).toEqual({ language: 'ru', reminders: { renewal_reminder: true, low_balance: true } });
    // Staff have no client account.
    expectError(await call(shop, 'GET', url, shop.admin), 403, 'no_account');
  });
});
