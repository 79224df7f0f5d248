import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import {
  balanceOf,
  call,
  getService,
  licenseItem,
  ok,
  openShop,
  orderPaid,
  payIn,
  runBillingHttp,
  type Shop,
  snapshot,
} from '../helpers/shop.js';

/**
 * `POST /services/{id}/deletion-quote` (BILLING.md "Deletion and refunds"): what a deletion
 * would do, before the client confirms it — whether they may, and the refund — with no side
 * effects, and the same figure the deletion then pays. Clock 2021-12-16T10:00Z.
 */
let shop: Shop;
beforeEach(async () => {
  shop = await openShop();
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const quote = (id: number, auth = shop.alpha.auth) =>
  call(shop, 'POST', `/api/v1/services/${id}/deletion-quote`, auth);

async function activeLicense(extra: Record<string, unknown> = {}): Promise<number> {
  const { serviceId } = await orderPaid(shop, shop.alpha, licenseItem(shop, extra));
  await runBillingHttp(shop);
  expect((await getService(shop, serviceId)).status).toBe('active');
  return serviceId;
}

describe('deletion quote', () => {
  it('by default nothing is refunded; where the product type refunds, the quote is what DELETE pays', async () => {
    await payIn(shop, shop.alpha.accountId, '10.00');
    const id = await activeLicense();
    const before = await snapshot(shop.ctx);
    expect(ok(await quote(id))).toEqual({
      serviceId: id,
      allowed: true,
      pending: false,
      refundsUnusedDays: false,
      unusedDays: 0,
      refund: '0.00',
      currency: 'EUR',
    });
    expect(await snapshot(shop.ctx)).toBe(before);

    ok(await call(shop, 'PATCH', '/api/v1/product-types/soft', shop.admin, { refundUnusedDays: true }));
    shop.ctx.clock.set('2021-12-26T10:00:00Z');
    // Paid 10.00 for 2021-12-16..2022-01-16 (31 days); 21 unused → 6.77.
    const q = ok(await quote(id));
    expect(q).toMatchObject({
      allowed: true,
      pending: false,
      refundsUnusedDays: true,
      unusedDays: 21,
      refund: '6.77',
    });
    expect(await balanceOf(shop, shop.alpha.accountId)).toBe('0.00');

    ok(await call(shop, 'DELETE', `/api/v1/services/${id}`, shop.alpha.auth));
    expect(await balanceOf(shop, shop.alpha.accountId)).toBe(q.refund);
    // The deletion is on its way: deleting again would change nothing, and refund nothing.
    expect(ok(await quote(id))).toMatchObject({ pending: true, unusedDays: 0, refund: '0.00' });

    await runBillingHttp(shop);
    expect((await getService(shop, id)).status).toBe('deleted');
    const frozen = await snapshot(shop.ctx);
    expectError(await quote(id), 409, 'service_deleted');
    expect(await snapshot(shop.ctx)).toBe(frozen);
  });

  it('a client whose product type staff alone may delete is told before trying; staff may', async () => {
    await payIn(shop, shop.alpha.accountId, '10.00');
    const id = await activeLicense();
    ok(await call(shop, 'PATCH', '/api/v1/product-types/soft', shop.admin, { clientCanDelete: false }));
    expect(ok(await quote(id))).toMatchObject({ allowed: false });
    expect(ok(await quote(id, shop.admin))).toMatchObject({ allowed: true });
    expectError(await call(shop, 'DELETE', `/api/v1/services/${id}`, shop.alpha.auth), 403, 'forbidden');
  });

  it("another account's service and a missing one are not found, and nothing changes", async () => {
    await payIn(shop, shop.alpha.accountId, '10.00');
    const id = await activeLicense();
    const before = await snapshot(shop.ctx);
    expectError(await quote(id, shop.bravo.auth), 404, 'service_not_found');
    expectError(await quote(987654), 404, 'service_not_found');
    expect(await snapshot(shop.ctx)).toBe(before);
  });
});
