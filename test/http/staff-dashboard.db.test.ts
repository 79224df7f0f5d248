import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/modules/services/engine.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import { freshIp } from '../helpers/ips.js';
import { openResellingShop, orderLicense, type ResellingShop, sellLite } from '../helpers/reselling.js';
import { call, licenseItem, ok, orderPaid, payIn } from '../helpers/shop.js';

/**
 * The staff dashboard (GET /api/v1/reports/dashboard) and the staff filters of the service list,
 * on a small book worked out by hand. Lite sells at 10.00 a month / 100.00 a year against the
 * upstream's 7.5000 / 81.0000 EUR (the provider's currency is EUR).
 *
 * 2021-12-16  A orders Lite 1 month     revenue 10.00   cost 7.5000
 *             B orders Lite 12 months   revenue 100.00  cost 81.0000
 * 2022-01-10  A renews 1 month          revenue 10.00   cost 7.5000
 *             C orders Lite 1 month     revenue 10.00   the upstream refuses: failed, a staff task
 */

let shop: ResellingShop;
let lite: number;
let a: number;
let b: number;
let c: number;

beforeEach(async () => {
  shop = await openResellingShop();
  lite = await sellLite(shop);
  a = await orderLicense(shop, lite, 1);
  b = await orderLicense(shop, lite, 12);
  shop.ctx.clock.set(new Date('2022-01-10T12:00:00Z'));
  ok(await call(shop, 'POST', `/api/v1/services/${a}/renew`, shop.alpha.auth, { period: 1 }));
  await runQueuedOperations(shop.ctx);
  shop.remote.failNext = new OperationError('upstream_refused', 'The upstream refused the order.', false);
  c = await orderLicense(shop, lite, 1);
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const dashboard = async (query = '') =>
  ok(await call(shop, 'GET', `/api/v1/reports/dashboard${query ? `?${query}` : ''}`, shop.admin));

describe('GET /api/v1/reports/dashboard', () => {
  it('revenue, cost and margin per day and month, services, licenses, failures, tasks, modules, runs', async () => {
    const run = ok(await call(shop, 'POST', '/api/v1/billing/run', shop.admin, { date: '2022-01-10' }));
    const d = await dashboard('from=2021-12-16&to=2022-01-10');
    expect(d).toMatchObject({ from: '2021-12-16', to: '2022-01-10', timeZone: 'UTC' });

    // Every day of the range is there (26 days), zero where nothing happened.
    expect(d.revenueByDay).toHaveLength(26);
    const day = (key: string) => d.revenueByDay.find((p: { key: string }) => p.key === key);
    expect(day('2021-12-16')).toEqual({
      key: '2021-12-16',
      currency: 'EUR',
      revenue: '110.00',
      costs: [{ currency: 'EUR', amount: '88.5000' }],
      margin: '21.5000',
    });
    expect(day('2021-12-17')).toEqual({
      key: '2021-12-17',
      currency: 'EUR',
      revenue: '0.00',
      costs: [],
      margin: '0.0000',
    });
    // C was charged, but the upstream refused it: no cost.
    expect(day('2022-01-10')).toMatchObject({
      revenue: '20.00',
      costs: [{ currency: 'EUR', amount: '7.5000' }],
      margin: '12.5000',
    });

    // The 12 months ending with January 2022.
    expect(d.revenueByMonth.map((p: { key: string }) => p.key)).toEqual([
      '2021-02',
      '2021-03',
      '2021-04',
      '2021-05',
      '2021-06',
      '2021-07',
      '2021-08',
      '2021-09',
      '2021-10',
      '2021-11',
      '2021-12',
      '2022-01',
    ]);
    const month = (key: string) => d.revenueByMonth.find((p: { key: string }) => p.key === key);
    expect(month('2021-12')).toMatchObject({ revenue: '110.00', margin: '21.5000' });
    expect(month('2022-01')).toMatchObject({ revenue: '20.00', margin: '12.5000' });
    expect(month('2021-11')).toMatchObject({ revenue: '0.00', costs: [] });

    const statuses = Object.fromEntries(
      d.servicesByStatus.map((r: { productType: string; status: string; count: number }) => [
        `${r.productType}:${r.status}`,
        r.count,
      ]),
    );
    // C's open failed: it stays `processing` until staff retry or cancel it.
    expect(ok(await call(shop, 'GET', `/api/v1/services/${c}`, shop.admin)).status).toBe('processing');
    expect(statuses).toEqual({ 'soft:active': 2, 'soft:processing': 1 });
    expect(d.licensesByTariff).toEqual([
      {
        tariffId: lite,
        tariffName: 'ISPmanager 6 Lite',
        counts: { active: 2, processing: 1 },
      },
    ]);

    expect(d.failedOperations.count).toBe(1);
    expect(d.failedOperations.latest).toEqual([
      expect.objectContaining({ serviceId: c, kind: 'open', attempts: 1 }),
    ]);
    expect(d.failedOperations.latest[0].lastError).toMatchObject({ code: 'upstream_refused' });
    expect(d.openTasks).toMatchObject({ count: 1, byKind: { operation_failed: 1 } });
    expect(d.openTasks.latest[0]).toMatchObject({ serviceId: c, kind: 'operation_failed' });

    expect(d.modules).toEqual([
      expect.objectContaining({
        id: shop.moduleId,
        name: 'Upstream',
        type: 'remote-catalog-test',
        enabled: true,
      }),
    ]);
    expect(d.billingRuns).toHaveLength(1);
    expect(d.billingRuns[0]).toMatchObject({
      date: '2022-01-10',
      status: 'completed',
      renewed: run.renewed,
      suspended: run.suspended,
      deleted: run.deleted,
      reminders: run.reminders,
    });
    // B is untouched by the filters of the days: its 100.00 is all on 2021-12-16.
    expect(b).toBeGreaterThan(a);
  });

  it('defaults to the last 30 days; a day counts in the provider’s time zone, half-hour offsets too', async () => {
    const d = await dashboard();
    expect(d).toMatchObject({ from: '2021-12-12', to: '2022-01-10' });
    expect(d.revenueByDay).toHaveLength(30);

    // India is UTC+5:30: 19:00Z on 2022-01-10 is 00:30 on the 11th there.
    ok(await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { timeZone: 'Asia/Kolkata' }));
    shop.ctx.clock.set(new Date('2022-01-10T19:00:00Z'));
    await payIn(shop, shop.bravo.accountId, '50.00');
    await orderPaid(shop, shop.bravo, licenseItem(shop, { params: { ip: freshIp(), licname: 'late' } }));
    const india = await dashboard('from=2022-01-10&to=2022-01-11');
    expect(india.timeZone).toBe('Asia/Kolkata');
    expect(india.revenueByDay.map((p: { key: string; revenue: string }) => [p.key, p.revenue])).toEqual([
      ['2022-01-10', '20.00'],
      ['2022-01-11', '10.00'],
    ]);
    // In UTC the late order is on the 10th.
    ok(await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { timeZone: 'UTC' }));
    const utc = await dashboard('from=2022-01-10&to=2022-01-11');
    expect(utc.revenueByDay.map((p: { revenue: string }) => p.revenue)).toEqual(['30.00', '0.00']);
  });

  it('refuses bad dates and clients', async () => {
    expectError(
      await call(shop, 'GET', '/api/v1/reports/dashboard?from=2022-13-01', shop.admin),
      400,
      'invalid_date',
    );
    expectError(
      await call(shop, 'GET', '/api/v1/reports/dashboard?from=2022-01-10&to=2022-01-01', shop.admin),
      400,
      'invalid_range',
    );
    expectError(
      await call(shop, 'GET', '/api/v1/reports/dashboard?from=2020-01-01&to=2022-01-01', shop.admin),
      400,
      'invalid_range',
    );
    expectError(await call(shop, 'GET', '/api/v1/reports/dashboard', shop.alpha.auth), 403, 'forbidden');
  });
});

describe('GET /api/v1/services: staff filters', () => {
  const ids = async (query: string, auth = shop.admin) =>
    (ok(await call(shop, 'GET', `/api/v1/services?${query}`, auth)).items as { id: number }[]).map(
      (s) => s.id,
    );

  it('by product type, module and expiry range, paginated', async () => {
    // A vds service of the shop (no module serves vds): another product type, no module.
    await payIn(shop, shop.bravo.accountId, '100.00');
    const { serviceId: vds } = await orderPaid(shop, shop.bravo, {
      tariffId: shop.tariffs.vds,
      period: 1,
      params: { hostname: 'web1.example.com', os_template: 'debian-11' },
    });
    expect(await ids('productType=soft')).toEqual([c, b, a]);
    expect(await ids('productType=vds')).toEqual([vds]);
    expect(await ids('productType=nothing')).toEqual([]);
    // The module serves A, B and C (C's open failed there, the module stays chosen).
    expect(ok(await call(shop, 'GET', `/api/v1/services/${c}`, shop.admin)).moduleId).toBe(shop.moduleId);
    expect(await ids(`moduleId=${shop.moduleId}`)).toEqual([c, b, a]);
    expect(await ids('moduleId=999999')).toEqual([]);
    // A expires 2022-02-16 (renewed), B 2022-12-16.
    const exp = (id: number) =>
      call(shop, 'GET', `/api/v1/services/${id}`, shop.admin).then((r) => r.json().expiresOn as string);
    expect(await exp(a)).toBe('2022-02-16');
    expect(await exp(b)).toBe('2022-12-16');
    expect(await ids('expiresFrom=2022-02-16&expiresTo=2022-02-16')).toEqual([a]);
    expect(await ids('expiresFrom=2022-02-17&expiresTo=2022-12-16')).toEqual([b]);
    expect(await ids('productType=soft&expiresTo=2022-12-31&limit=1')).toHaveLength(1);
    const first = ok(await call(shop, 'GET', '/api/v1/services?productType=soft&limit=2', shop.admin));
    expect(first.items.map((s: { id: number }) => s.id)).toEqual([c, b]);
    expect(await ids(`productType=soft&limit=2&before=${first.nextBefore}`)).toEqual([a]);
    // A client sees only its own, whatever the filter.
    expect(await ids('productType=soft', shop.bravo.auth)).toEqual([]);
    expectError(
      await call(shop, 'GET', '/api/v1/services?expiresFrom=2022-2-1', shop.admin),
      400,
      'validation_failed',
    );
    expectError(await call(shop, 'GET', '/api/v1/services?moduleId=x', shop.admin), 400, 'validation_failed');
  });
});
