import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import { openResellingShop, orderLicense, type ResellingShop, sellLite } from '../helpers/reselling.js';
import { call, ok } from '../helpers/shop.js';

/**
 * The margin report (GET /api/v1/reports/margins) on a small book, every number worked out by
 * hand. Our Lite price 10.00 a month / 100.00 a year against the upstream's 7.5000 / 81.0000
 * EUR; Pro sold at 15.00 against 12.3456 USD (no margin: another currency).
 *
 * 2021-12-16  A orders Lite 1 month     revenue 10.00   cost 7.5000 EUR
 *             B orders Lite 12 months   revenue 100.00  cost 81.0000 EUR
 *             C orders Pro 1 month      revenue 15.00   cost 12.3456 USD
 * 2022-01-10  A renews 1 month          revenue 10.00   cost 7.5000 EUR
 *             B is deleted: 340 of its 365 days unused (2022-01-10 .. 2022-12-16),
 *             refunded 100.00 × 340 / 365 = 93.15          revenue −93.15
 */

let shop: ResellingShop;
let a: number;
let b: number;
let c: number;
let lite: number;
let pro: number;
let refund: bigint;

beforeEach(async () => {
  shop = await openResellingShop();
  lite = await sellLite(shop);
  const proLink = await shop.ctx.db.kysely
    .selectFrom('tariff_modules')
    .select('tariff_id')
    .where('external_id', '=', '55228')
    .executeTakeFirstOrThrow();
  pro = Number(proLink.tariff_id);
  ok(
    await call(shop, 'PATCH', `/api/v1/tariffs/${pro}`, shop.admin, {
      status: 'active',
      prices: { '1': '15.00' },
    }),
  );
  a = await orderLicense(shop, lite, 1);
  b = await orderLicense(shop, lite, 12);
  c = await orderLicense(shop, pro, 1);
  shop.ctx.clock.set(new Date('2022-01-10T12:00:00Z'));
  ok(await call(shop, 'POST', `/api/v1/services/${a}/renew`, shop.alpha.auth, { period: 1 }));
  // Deleting a soft license refunds its unused days when the product type says so.
  ok(await call(shop, 'PATCH', '/api/v1/product-types/soft', shop.admin, { refundUnusedDays: true }));
  ok(await call(shop, 'DELETE', `/api/v1/services/${b}`, shop.admin));
  await runQueuedOperations(shop.ctx);
  const r = await shop.ctx.db.kysely
    .selectFrom('service_charges')
    .select('amount_minor')
    .where('service_id', '=', b)
    .where('kind', '=', 'refund')
    .executeTakeFirst();
  refund = r?.amount_minor ?? 0n;
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const report = async (query: string) =>
  ok(await call(shop, 'GET', `/api/v1/reports/margins?${query}`, shop.admin));

describe('margins', () => {
  it('per service: revenue net of refunds, upstream cost, margin only in one currency', async () => {
    // B was refunded the unused part of its year (a credit, stored negative).
    expect(refund).toBe(-9315n);
    const r = await report('from=2021-12-01&to=2022-01-31&groupBy=service');
    expect(r).toMatchObject({ from: '2021-12-01', to: '2022-01-31', groupBy: 'service' });
    const row = (id: number) => r.rows.find((x: { serviceId: number }) => x.serviceId === id);
    expect(row(a)).toMatchObject({
      key: String(a),
      tariffId: lite,
      tariffName: 'ISPmanager 6 Lite',
      currency: 'EUR',
      revenue: '20.00',
      costs: [{ currency: 'EUR', amount: '15.0000' }],
      margin: '5.0000',
    });
    expect(row(b)).toMatchObject({
      revenue: '6.85',
      costs: [{ currency: 'EUR', amount: '81.0000' }],
      margin: '-74.1500',
    });
    expect(row(c)).toMatchObject({
      revenue: '15.00',
      costs: [{ currency: 'USD', amount: '12.3456' }],
      margin: null,
    });
    expect(r.rows.map((x: { serviceId: number }) => x.serviceId)).toEqual([a, b, c]);
    expect(r.totals).toEqual([
      expect.objectContaining({
        key: 'total',
        currency: 'EUR',
        revenue: '41.85',
        costs: [
          { currency: 'EUR', amount: '96.0000' },
          { currency: 'USD', amount: '12.3456' },
        ],
        margin: null,
      }),
    ]);
  });

  it('per month and per tariff, and a range that cuts the book', async () => {
    const months = await report('from=2021-12-01&to=2022-01-31&groupBy=month');
    expect(months.rows.map((x: Record<string, unknown>) => [x.month, x.revenue, x.costs, x.margin])).toEqual([
      [
        '2021-12',
        '125.00',
        [
          { currency: 'EUR', amount: '88.5000' },
          { currency: 'USD', amount: '12.3456' },
        ],
        null,
      ],
      ['2022-01', '-83.15', [{ currency: 'EUR', amount: '7.5000' }], '-90.6500'],
    ]);
    const tariffs = await report('from=2021-12-01&to=2022-01-31&groupBy=tariff');
    expect(tariffs.rows.map((x: Record<string, unknown>) => [x.tariffId, x.revenue, x.margin])).toEqual([
      [lite, '26.85', '-69.1500'],
      [pro, '15.00', null],
    ]);
    // December only: the renewal and the refund fall outside.
    const december = await report('from=2021-12-01&to=2021-12-31&groupBy=tariff');
    expect(december.rows.map((x: Record<string, unknown>) => [x.tariffId, x.revenue, x.margin])).toEqual([
      [lite, '110.00', '21.5000'],
      [pro, '15.00', null],
    ]);
    // Default: this month so far (the clock is at 2022-01-10), per service.
    const now = await report('');
    expect(now).toMatchObject({ from: '2022-01-01', to: '2022-01-10', groupBy: 'service' });
    expect(now.rows.map((x: { serviceId: number }) => x.serviceId)).toEqual([a, b]);
  });

  it('refuses bad dates and ranges; staff only', async () => {
    expectError(
      await call(shop, 'GET', '/api/v1/reports/margins?from=2022-02-30', shop.admin),
      400,
      'invalid_date',
    );
    expectError(
      await call(shop, 'GET', '/api/v1/reports/margins?from=2022-02-01&to=2022-01-01', shop.admin),
      400,
      'invalid_range',
    );
    expectError(
      await call(shop, 'GET', '/api/v1/reports/margins?groupBy=year', shop.admin),
      400,
      'validation_failed',
    );
    expectError(await call(shop, 'GET', '/api/v1/reports/margins', shop.alpha.auth), 403, 'forbidden');
  });
});
