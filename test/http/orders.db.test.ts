import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { updateTariff } from '../../src/modules/catalog/commands.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { type Auth, expectError, type Method } from '../helpers/http.js';
import {
  balanceOf,
  type Client,
  call,
  countOf,
  getService,
  LICENSE_PARAMS,
  licenseItem,
  ok,
  openShop,
  payIn,
  runBillingHttp,
  type Shop,
  snapshot,
  staffActor,
  VDS_PARAMS,
} from '../helpers/shop.js';

/**
 * Quotes and orders over HTTP (BILLING.md "Orders and payment", "Tariff expiration and
 * proration"; issue 4 items 1, 2 and 10, "Bad input"). Each test opens a fresh shop (clock
 * 2021-12-16T10:00Z) and ends with the ledger invariant.
 */
let shop: Shop;
let alpha: Client;
let bravo: Client;
const MISSING = 987654;

async function open() {
  shop = await openShop();
  alpha = shop.alpha;
  bravo = shop.bravo;
}
async function close() {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
}
/** A fresh shop for every test of the describe (tests that change state). */
function shopPerTest() {
  beforeEach(open);
  afterEach(close);
}
/**
 * One shop for the whole describe: its tests only read or are refused (each proves it
 * changed nothing), so they cannot disturb one another. The ledger is checked after each.
 */
function sharedShop() {
  beforeAll(open);
  afterEach(() => expectLedgerBalanced(shop.ctx));
  afterAll(() => shop?.t.close());
}

const quote = (body: unknown, auth: Auth = alpha.auth) => call(shop, 'POST', '/api/v1/quotes', auth, body);
const order = (body: unknown, auth: Auth = alpha.auth) => call(shop, 'POST', '/api/v1/orders', auth, body);
const vdsItem = (extra: Record<string, unknown> = {}) => ({
  tariffId: shop.tariffs.vds,
  period: 1,
  addonValues: { [shop.addons.ram]: 4, [shop.addons.panel]: shop.panels.lite6 },
  params: { ...VDS_PARAMS },
  ...extra,
});
const amounts = (lines: { amount: string }[]) => lines.map((l) => l.amount);

describe('quotes: lines, dates and the tariff-end cut, without side effects', () => {
  shopPerTest();

  it('seed example: on 2021-12-16 a monthly 10.00 tariff expiring 2021-12-31 is quoted to 2021-12-31 for 4.84, and the order charges exactly that', async () => {
    await payIn(shop, alpha.accountId, '20.00');
    const before = await snapshot(shop.ctx);
    const item = licenseItem(shop, { tariffId: shop.tariffs.legacy });
    const q = ok(await quote(item));
    expect(q).toEqual({
      tariffId: shop.tariffs.legacy,
      period: 1,
      currency: 'EUR',
      start: '2021-12-16',
      end: '2021-12-31',
      naturalEnd: '2022-01-16',
      grantedDays: 15,
      fullDays: 31,
      cut: true,
      lines: [
        {
          kind: 'tariff',
          addonId: null,
          label: 'ISPmanager Legacy',
          quantity: 1,
          value: null,
          unitPrice: '10.00',
          fullAmount: '10.00',
          amount: '4.84',
        },
      ],
      total: '4.84',
    });
    // A quote is free: nothing written.
    expect(await snapshot(shop.ctx)).toBe(before);

    const placed = ok(await order({ items: [item], payNow: true }), 201);
    expect(placed).toMatchObject({ status: 'paid', total: '4.84' });
    expect(placed.items[0]).toMatchObject({ amount: '4.84', grantedDays: 15, fullDays: 31 });
    expect(await balanceOf(shop, alpha.accountId)).toBe('15.16');
    await runBillingHttp(shop);
    expect(await getService(shop, placed.items[0].serviceId, alpha.auth)).toMatchObject({
      status: 'active',
      activatedOn: '2021-12-16',
      expiresOn: '2021-12-31',
    });
  });

  it('lines for the tariff, the setup fee and each addon; addons are cut with the same fraction, the setup fee is not', async () => {
    const before = await snapshot(shop.ctx);
    const full = ok(await quote(vdsItem()));
    expect(full).toMatchObject({
      start: '2021-12-16',
      end: '2022-01-16',
      naturalEnd: '2022-01-16',
      grantedDays: 31,
      fullDays: 31,
      cut: false,
      total: '33.00',
    });
    expect(
      full.lines.map((l: { kind: string; label: string; amount: string }) => [l.kind, l.label, l.amount]),
    ).toEqual([
      ['tariff', 'VDS Start', '20.00'],
      ['setup', 'Setup fee: VDS Start', '5.00'],
      ['addon', 'RAM (4 GB)', '3.00'],
      ['addon', 'Control panel: ISPmanager 6 Lite', '5.00'],
    ]);
    expect(full.lines[2]).toMatchObject({
      addonId: shop.addons.ram,
      quantity: 2,
      value: 4,
      unitPrice: '1.50',
    });
    expect(full.lines[3]).toMatchObject({ addonId: shop.addons.panel, value: shop.panels.lite6 });
    expect(await snapshot(shop.ctx)).toBe(before);

    await updateTariff(shop.ctx, staffActor, shop.tariffs.vds, { expiresOn: '2021-12-31' });
    const beforeCut = await snapshot(shop.ctx);
    const cut = ok(await quote(vdsItem()));
    expect(cut).toMatchObject({ end: '2021-12-31', grantedDays: 15, fullDays: 31, cut: true });
    // 20.00 × 15/31 = 9.677… → 9.68; setup 5.00 whole; 3.00 × 15/31 = 1.451… → 1.45; 5.00 × 15/31 = 2.419… → 2.42.
    expect(amounts(cut.lines)).toEqual(['9.68', '5.00', '1.45', '2.42']);
    expect(cut.lines.map((l: { fullAmount: string }) => l.fullAmount)).toEqual([
      '20.00',
      '5.00',
      '3.00',
      '5.00',
    ]);
    expect(cut.total).toBe('18.55');
    expect(await snapshot(shop.ctx)).toBe(beforeCut);
  });

  it('an addon left out takes its default; a boolean addon switched on is a line', async () => {
    const q = ok(await quote(vdsItem({ addonValues: { [shop.addons.backups]: true }, period: 3 })));
    // 3 months: monthly × 3 (no explicit price); RAM at its default 2 GB = the included amount, no charge.
    expect(q).toMatchObject({ start: '2021-12-16', end: '2022-03-16', cut: false });
    expect(
      q.lines.map((l: { kind: string; label: string; amount: string }) => [l.kind, l.label, l.amount]),
    ).toEqual([
      ['tariff', 'VDS Start', '60.00'],
      ['setup', 'Setup fee: VDS Start', '5.00'],
      ['addon', 'RAM (2 GB)', '0.00'],
      ['addon', 'Backups', '9.00'],
    ]);
    expect(q.lines[2]).toMatchObject({ addonId: shop.addons.ram, value: 2, quantity: 0 });
    expect(q.total).toBe('74.00');
  });
});

describe('orders', () => {
  shopPerTest();

  it('client journey: quote, order with payNow, the service is processing until the billing run opens it', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    const q = ok(await quote(vdsItem()));
    const res = await order({ items: [vdsItem({ autoprolong: 1 })], payNow: true, idempotencyKey: 'cart-1' });
    const placed = ok(res, 201);
    expect(placed).toMatchObject({
      accountId: alpha.accountId,
      status: 'paid',
      currency: 'EUR',
      total: q.total,
      cancelReason: null,
      createdAt: '2021-12-16T10:00:00.000Z',
      paidAt: '2021-12-16T10:00:00.000Z',
    });
    expect(placed.items).toHaveLength(1);
    const item = placed.items[0];
    expect(item).toMatchObject({
      tariffId: shop.tariffs.vds,
      period: 1,
      amount: '33.00',
      grantedDays: 31,
      fullDays: 31,
      params: VDS_PARAMS,
      addonValues: { [shop.addons.ram]: 4, [shop.addons.panel]: shop.panels.lite6 },
    });
    // The order is priced exactly as its quote.
    expect(amounts(item.lines)).toEqual(amounts(q.lines));
    expect(await balanceOf(shop, alpha.accountId)).toBe('67.00');

    const ledger = ok(await call(shop, 'GET', `/api/v1/accounts/${alpha.accountId}/ledger`, alpha.auth));
    expect(ledger.items[0]).toMatchObject({
      kind: 'charge',
      amount: '-33.00',
      refType: 'order',
      refId: placed.id,
    });

    expect(
      ok(await call(shop, 'GET', '/api/v1/orders', alpha.auth)).items.map((o: { id: number }) => o.id),
    ).toEqual([placed.id]);
    expect(ok(await call(shop, 'GET', `/api/v1/orders/${placed.id}`, alpha.auth))).toEqual(placed);

    const processing = await getService(shop, item.serviceId, alpha.auth);
    expect(processing).toMatchObject({
      accountId: alpha.accountId,
      tariffId: shop.tariffs.vds,
      name: 'web1.example.com',
      status: 'processing',
      autoprolong: 1,
      activatedOn: null,
      expiresOn: null,
      params: VDS_PARAMS,
    });
    expect(processing.charges).toMatchObject([{ kind: 'order', amount: '33.00' }]);
    expect(processing.operations).toMatchObject([{ kind: 'open', status: 'queued' }]);
    const listed = ok(await call(shop, 'GET', '/api/v1/services', alpha.auth));
    expect(listed.items.map((s: { id: number; status: string }) => [s.id, s.status])).toEqual([
      [item.serviceId, 'processing'],
    ]);

    await runBillingHttp(shop);
    const active = await getService(shop, item.serviceId, alpha.auth);
    expect(active).toMatchObject({
      status: 'active',
      activatedOn: '2021-12-16',
      periodStart: '2021-12-16',
      expiresOn: '2022-01-16',
    });
    expect(active.operations).toMatchObject([{ kind: 'open', status: 'done' }]);
    expect(await balanceOf(shop, alpha.accountId)).toBe('67.00');
  });

  it('without payNow the order waits (awaiting_payment) and is paid, oldest first, when staff record a payment', async () => {
    const first = ok(await order({ items: [licenseItem(shop)] }), 201);
    const second = ok(await order({ items: [vdsItem()] }), 201);
    expect(first).toMatchObject({ status: 'awaiting_payment', total: '10.00', paidAt: null });
    expect(first.items[0].serviceId).toBeNull();
    expect(second).toMatchObject({ status: 'awaiting_payment', total: '33.00' });
    expect(await countOf(shop.ctx, 'services')).toBe(0);
    expect(await countOf(shop.ctx, 'ledger_entries')).toBe(0);

    // 5.00 covers neither: both wait.
    await payIn(shop, alpha.accountId, '5.00');
    const status = async (id: number) =>
      ok(await call(shop, 'GET', `/api/v1/orders/${id}`, alpha.auth)).status;
    expect([await status(first.id), await status(second.id)]).toEqual([
      'awaiting_payment',
      'awaiting_payment',
    ]);
    // 20.00: the oldest (10.00) is paid; the second (33.00) still waits — it never jumps the queue.
    await payIn(shop, alpha.accountId, '15.00');
    expect([await status(first.id), await status(second.id)]).toEqual(['paid', 'awaiting_payment']);
    expect(await balanceOf(shop, alpha.accountId)).toBe('10.00');
    await payIn(shop, alpha.accountId, '30.00');
    expect([await status(first.id), await status(second.id)]).toEqual(['paid', 'paid']);
    expect(await balanceOf(shop, alpha.accountId)).toBe('7.00');

    const awaiting = ok(await call(shop, 'GET', '/api/v1/orders?status=awaiting_payment', alpha.auth));
    expect(awaiting.items).toEqual([]);
    const services = ok(await call(shop, 'GET', '/api/v1/services', alpha.auth)).items;
    expect(services.map((s: { status: string }) => s.status)).toEqual(['processing', 'processing']);
    const paid = ok(await call(shop, 'GET', `/api/v1/orders/${first.id}`, alpha.auth));
    expect(paid.items[0].serviceId).toBe(services[1].id);
  });

  it('an awaiting order whose tariff was archived meanwhile is cancelled, not paid, when money arrives', async () => {
    const placed = ok(await order({ items: [licenseItem(shop)] }), 201);
    await updateTariff(shop.ctx, staffActor, shop.tariffs.license, { status: 'archived' });
    await payIn(shop, alpha.accountId, '50.00');
    const after = ok(await call(shop, 'GET', `/api/v1/orders/${placed.id}`, alpha.auth));
    expect(after.status).toBe('cancelled');
    expect(after.cancelReason).toMatch(/^tariff_not_orderable/);
    expect(await balanceOf(shop, alpha.accountId)).toBe('50.00');
    expect(await countOf(shop.ctx, 'services')).toBe(0);
  });

  it('the same idempotencyKey twice is one order (201, then 200 with the same order) and one charge', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    const body = { items: [licenseItem(shop)], payNow: true, idempotencyKey: 'checkout-42' };
    const first = await order(body);
    expect(first.statusCode, first.body).toBe(201);
    const again = await order(body);
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(await countOf(shop.ctx, 'orders')).toBe(1);
    expect(await countOf(shop.ctx, 'services')).toBe(1);
    expect(await balanceOf(shop, alpha.accountId)).toBe('90.00');
    const charges = ok(
      await call(shop, 'GET', `/api/v1/accounts/${alpha.accountId}/ledger`, alpha.auth),
    ).items.filter((e: { kind: string }) => e.kind === 'charge');
    expect(charges).toHaveLength(1);
    // The key is per account: Bravo may use the same key for an order of its own.
    await payIn(shop, bravo.accountId, '100.00');
    const bravoOrder = await order({ ...body, items: [licenseItem(shop)] }, bravo.auth);
    expect(bravoOrder.statusCode, bravoOrder.body).toBe(201);
    expect(bravoOrder.json().id).not.toBe(first.json().id);
  });

  it('POST /orders/:id/pay pays an awaiting order from the balance; /cancel cancels one; neither acts twice', async () => {
    await payIn(shop, alpha.accountId, '15.00');
    const a = ok(await order({ items: [licenseItem(shop)] }), 201);
    const b = ok(await order({ items: [licenseItem(shop)] }), 201);
    expect(a.status).toBe('awaiting_payment');
    const paid = ok(await call(shop, 'POST', `/api/v1/orders/${a.id}/pay`, alpha.auth));
    expect(paid).toMatchObject({ id: a.id, status: 'paid', paidAt: '2021-12-16T10:00:00.000Z' });
    expect(await balanceOf(shop, alpha.accountId)).toBe('5.00');

    // b costs 10.00, 5.00 left: refused and nothing changed.
    const before = await snapshot(shop.ctx);
    expectError(
      await call(shop, 'POST', `/api/v1/orders/${b.id}/pay`, alpha.auth),
      409,
      'insufficient_balance',
    );
    expect(await snapshot(shop.ctx)).toBe(before);

    const cancelled = ok(await call(shop, 'POST', `/api/v1/orders/${b.id}/cancel`, alpha.auth));
    expect(cancelled).toMatchObject({ id: b.id, status: 'cancelled', cancelReason: 'cancelled by request' });
    const frozen = await snapshot(shop.ctx);
    expectError(
      await call(shop, 'POST', `/api/v1/orders/${b.id}/pay`, alpha.auth),
      409,
      'order_not_awaiting_payment',
    );
    expectError(
      await call(shop, 'POST', `/api/v1/orders/${a.id}/cancel`, alpha.auth),
      409,
      'order_not_awaiting_payment',
    );
    expectError(
      await call(shop, 'POST', `/api/v1/orders/${a.id}/pay`, alpha.auth),
      409,
      'order_not_awaiting_payment',
    );
    expect(await snapshot(shop.ctx)).toBe(frozen);
  });

  it('concurrent payers of one awaiting order: it is paid once — one charge, one service; the others get 409', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    const placed = ok(await order({ items: [licenseItem(shop)] }), 201);
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => call(shop, 'POST', `/api/v1/orders/${placed.id}/pay`, alpha.auth)),
    );
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.statusCode !== 200))
      expectError(r, 409, 'order_not_awaiting_payment');
    expect(await countOf(shop.ctx, 'services')).toBe(1);
    expect(await countOf(shop.ctx, 'operations')).toBe(1);
    expect(await balanceOf(shop, alpha.accountId)).toBe('90.00');
    const paid = ok(await call(shop, 'GET', `/api/v1/orders/${placed.id}`, alpha.auth));
    expect(paid.items[0].serviceId).toBe(
      results.find((r) => r.statusCode === 200)!.json().items[0].serviceId,
    );
  });

  it('concurrent cancel and pay of one order: exactly one wins, the others get 409 (never a 500)', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    for (let i = 0; i < 3; i++) {
      const placed = ok(await order({ items: [licenseItem(shop)] }), 201);
      const results = await Promise.all(
        ['cancel', 'pay', 'cancel', 'pay'].map((action) =>
          call(shop, 'POST', `/api/v1/orders/${placed.id}/${action}`, alpha.auth),
        ),
      );
      expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
      for (const r of results.filter((r) => r.statusCode !== 200))
        expectError(r, 409, 'order_not_awaiting_payment');
      const final = ok(await call(shop, 'GET', `/api/v1/orders/${placed.id}`, alpha.auth));
      expect(final.status).toBe(results.find((r) => r.statusCode === 200)!.json().status);
    }
    const orders = ok(await call(shop, 'GET', '/api/v1/orders', alpha.auth)).items;
    const paid = orders.filter((o: { status: string }) => o.status === 'paid').length;
    expect(await countOf(shop.ctx, 'services')).toBe(paid);
    expect(await balanceOf(shop, alpha.accountId)).toBe(`${100 - 10 * paid}.00`);
  });

  it('concurrent placements with one idempotencyKey: one order (one 201, the rest 200 with it), one charge', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    const body = { items: [licenseItem(shop)], payNow: true, idempotencyKey: 'double-click' };
    const results = await Promise.all([1, 2, 3, 4].map(() => order(body)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.json().id)).size).toBe(1);
    expect(await countOf(shop.ctx, 'orders')).toBe(1);
    expect(await countOf(shop.ctx, 'services')).toBe(1);
    expect(await balanceOf(shop, alpha.accountId)).toBe('90.00');
  });

  it('concurrent orders of one account all go through, each charged once (no lock-order deadlock)', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    const results = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((n) =>
        order({
          items: [licenseItem(shop, { params: { ip: `203.0.113.${40 + n}`, licname: `c${n}` } })],
          payNow: true,
        }),
      ),
    );
    expect(
      results.map((r) => r.statusCode),
      results.map((r) => r.body).join('\n'),
    ).toEqual([201, 201, 201, 201, 201, 201]);
    expect(await countOf(shop.ctx, 'services')).toBe(6);
    expect(await balanceOf(shop, alpha.accountId)).toBe('40.00');
  });

  it('staff place an order for a client (accountId required) and may list every account’s orders', async () => {
    await payIn(shop, alpha.accountId, '10.00');
    const before = await snapshot(shop.ctx);
    expectError(
      await order({ items: [licenseItem(shop)], payNow: true }, shop.admin),
      400,
      'account_required',
    );
    expectError(
      await order({ accountId: MISSING, items: [licenseItem(shop)], payNow: true }, shop.admin),
      404,
      'account_not_found',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
    const placed = ok(
      await order({ accountId: alpha.accountId, items: [licenseItem(shop)], payNow: true }, shop.admin),
      201,
    );
    expect(placed).toMatchObject({ accountId: alpha.accountId, status: 'paid', placedBy: 'user:1' });
    expect(await balanceOf(shop, alpha.accountId)).toBe('0.00');
    ok(await order({ items: [licenseItem(shop)] }, bravo.auth), 201);
    const all = ok(await call(shop, 'GET', '/api/v1/orders', shop.admin));
    expect(all.items.map((o: { accountId: number }) => o.accountId)).toEqual([
      bravo.accountId,
      alpha.accountId,
    ]);
    const onlyAlpha = ok(await call(shop, 'GET', `/api/v1/orders?accountId=${alpha.accountId}`, shop.admin));
    expect(onlyAlpha.items.map((o: { id: number }) => o.id)).toEqual([placed.id]);
  });

  it('a trial is free; an order of several items is one charge for their sum', async () => {
    await payIn(shop, alpha.accountId, '50.00');
    const placed = ok(
      await order({
        items: [
          licenseItem(shop, { tariffId: shop.tariffs.trial, period: -100 }),
          licenseItem(shop),
          vdsItem(),
        ],
        payNow: true,
      }),
      201,
    );
    expect(placed.total).toBe('43.00');
    expect(amounts(placed.items)).toEqual(['0.00', '10.00', '33.00']);
    expect(await balanceOf(shop, alpha.accountId)).toBe('7.00');
    await runBillingHttp(shop);
    const trial = await getService(shop, placed.items[0].serviceId, alpha.auth);
    expect(trial).toMatchObject({ status: 'active', period: -100, expiresOn: '2021-12-30' });
  });
});

describe('a client sees only its own orders (404, not 403, for another account)', () => {
  const BRAVO_SECRETS = ['Bravo Secret Industries', 'bravo@example.com', 'lic-bravo'];
  let bravoOrder: { id: number };

  sharedShop();
  beforeAll(async () => {
    await payIn(shop, alpha.accountId, '100.00');
    // Bravo has the money (credited before the order, so the order still waits for Bravo's
    // own "pay"): only the scoping stands between Alpha and paying Bravo's order.
    ok(
      await call(shop, 'POST', `/api/v1/accounts/${bravo.accountId}/adjustments`, shop.admin, {
        amount: '50.00',
        description: 'goodwill',
      }),
      201,
    );
    bravoOrder = ok(
      await order(
        { items: [licenseItem(shop, { params: { ip: '198.51.100.7', licname: 'lic-bravo' } })] },
        bravo.auth,
      ),
      201,
    );
  });

  async function expectHidden(method: Method, path: string) {
    const before = await snapshot(shop.ctx);
    const res = await call(shop, method, `/api/v1/orders/${bravoOrder.id}${path}`, alpha.auth);
    const err = expectError(res, 404, 'order_not_found');
    expect(err.details).toEqual({});
    for (const secret of BRAVO_SECRETS) expect(res.body).not.toContain(secret);
    const missing = await call(shop, method, `/api/v1/orders/${MISSING}${path}`, alpha.auth);
    expect(missing.body).toBe(res.body);
    expect(await snapshot(shop.ctx)).toBe(before);
  }

  it('GET /orders/:id', async () => {
    ok(await call(shop, 'GET', `/api/v1/orders/${bravoOrder.id}`, bravo.auth));
    await expectHidden('GET', '');
  });

  it('POST /orders/:id/pay', async () => {
    await expectHidden('POST', '/pay');
    expect(ok(await call(shop, 'GET', `/api/v1/orders/${bravoOrder.id}`, shop.admin)).status).toBe(
      'awaiting_payment',
    );
    expect(await balanceOf(shop, alpha.accountId)).toBe('100.00');
  });

  it('POST /orders/:id/cancel', async () => {
    await expectHidden('POST', '/cancel');
    expect(ok(await call(shop, 'GET', `/api/v1/orders/${bravoOrder.id}`, shop.admin)).status).toBe(
      'awaiting_payment',
    );
  });

  it('GET /orders lists only the own orders, whatever accountId says', async () => {
    for (const url of ['/api/v1/orders', `/api/v1/orders?accountId=${bravo.accountId}`]) {
      const res = await call(shop, 'GET', url, alpha.auth);
      expect(ok(res).items).toEqual([]);
      for (const secret of BRAVO_SECRETS) expect(res.body).not.toContain(secret);
    }
  });

  it('POST /orders for another account is account_not_found and charges nobody', async () => {
    const before = await snapshot(shop.ctx);
    const res = await order({ accountId: bravo.accountId, items: [licenseItem(shop)], payNow: true });
    expectError(res, 404, 'account_not_found');
    expect((await order({ accountId: MISSING, items: [licenseItem(shop)], payNow: true })).body).toBe(
      res.body,
    );
    expect(await snapshot(shop.ctx)).toBe(before);
  });
});

describe('bad input: a clear code and nothing changed', () => {
  interface BadCase {
    readonly name: string;
    readonly item: () => Record<string, unknown>;
    readonly status: number;
    readonly code: string;
    readonly detail?: Record<string, unknown>;
  }
  const cases: BadCase[] = [
    {
      name: 'unknown tariff',
      item: () => licenseItem(shop, { tariffId: MISSING }),
      status: 400,
      code: 'tariff_not_found',
      detail: { tariffId: MISSING },
    },
    {
      name: 'period not offered (3 months on a 1/12-month tariff)',
      item: () => licenseItem(shop, { period: 3 }),
      status: 400,
      code: 'period_not_offered',
      detail: { period: 3 },
    },
    {
      name: 'trial on a tariff without one',
      item: () => licenseItem(shop, { period: -100 }),
      status: 400,
      code: 'period_not_offered',
    },
    {
      name: 'unknown addon',
      item: () => vdsItem({ addonValues: { [MISSING]: 1 } }),
      status: 400,
      code: 'unknown_addon',
    },
    {
      name: 'an addon of another tariff',
      item: () => licenseItem(shop, { addonValues: { [shop.addons.ram]: 4 } }),
      status: 400,
      code: 'unknown_addon',
    },
    {
      name: 'addon value out of range (RAM 64 GB, max 16)',
      item: () => vdsItem({ addonValues: { [shop.addons.ram]: 64 } }),
      status: 400,
      code: 'addon_value_out_of_range',
      detail: { addonId: 0, value: 64, min: 1, max: 16 },
    },
    {
      name: 'addon value of the wrong type',
      item: () => vdsItem({ addonValues: { [shop.addons.backups]: 3 } }),
      status: 400,
      code: 'addon_value_invalid',
    },
    {
      name: 'enumeration value switched off for this tariff',
      item: () => vdsItem({ addonValues: { [shop.addons.panel]: shop.panels.business6 } }),
      status: 400,
      code: 'enumeration_value_not_offered',
      detail: { reason: 'switched_off' },
    },
    {
      name: 'enumeration value not in the enumeration',
      item: () => vdsItem({ addonValues: { [shop.addons.panel]: MISSING } }),
      status: 400,
      code: 'enumeration_value_not_offered',
      detail: { reason: 'not_in_enumeration' },
    },
    {
      name: 'missing required service param (licname)',
      item: () => licenseItem(shop, { params: { ip: LICENSE_PARAMS.ip } }),
      status: 400,
      code: 'service_param_required',
      detail: { param: 'licname' },
    },
    {
      name: 'blank required service param',
      item: () => vdsItem({ params: { hostname: '  ', os_template: 'debian-11' } }),
      status: 400,
      code: 'service_param_required',
      detail: { param: 'hostname' },
    },
    {
      name: 'invalid IP',
      item: () => licenseItem(shop, { params: { ip: '999.1.1.1', licname: 'x' } }),
      status: 400,
      code: 'invalid_ip',
      detail: { param: 'ip', value: '999.1.1.1' },
    },
    {
      name: 'invalid host name',
      item: () => vdsItem({ params: { hostname: 'not a host!', os_template: 'debian-11' } }),
      status: 400,
      code: 'invalid_hostname',
    },
    {
      name: 'a parameter the product type does not have',
      item: () => licenseItem(shop, { params: { ...LICENSE_PARAMS, root_password: 'x' } }),
      status: 400,
      code: 'unknown_service_param',
    },
    {
      name: 'archived tariff',
      item: () => licenseItem(shop, { tariffId: shop.tariffs.archived }),
      status: 409,
      code: 'tariff_not_orderable',
    },
    {
      name: 'expired tariff (ended 2021-12-10)',
      item: () => licenseItem(shop, { tariffId: shop.tariffs.ended }),
      status: 409,
      code: 'tariff_expired',
      detail: { expiresOn: '2021-12-10' },
    },
    {
      name: 'unknown field in an item',
      item: () => licenseItem(shop, { quantity: 2 }),
      status: 400,
      code: 'unknown_field',
    },
  ];

  sharedShop();
  beforeAll(async () => {
    await payIn(shop, alpha.accountId, '500.00');
  });

  for (const c of cases) {
    it(`${c.name} → ${c.code}, on the quote and the order (alone or with a good item)`, async () => {
      const before = await snapshot(shop.ctx);
      const key = `mixed-${c.code}-${c.name}`;
      const item = c.item();
      const detail = c.detail
        ? Object.fromEntries(
            Object.entries(c.detail).map(([k, v]) => [k, k === 'addonId' ? shop.addons.ram : v]),
          )
        : undefined;
      const bodies: [string, unknown][] = [
        ['/api/v1/quotes', item],
        ['/api/v1/orders', { items: [item], payNow: true }],
        ['/api/v1/orders', { items: [item] }],
        ['/api/v1/orders', { items: [licenseItem(shop), item], payNow: true, idempotencyKey: key }],
      ];
      for (const [url, body] of bodies) {
        const err = expectError(await call(shop, 'POST', url, alpha.auth, body), c.status, c.code);
        if (detail) expect(err.details).toMatchObject(detail);
      }
      expect(await snapshot(shop.ctx)).toBe(before);
      // The key of the refused order was not used up: the same key orders fine now.
      ok(await order({ items: [licenseItem(shop)], payNow: true, idempotencyKey: key }), 201);
    });
  }

  it('payNow with a short balance → insufficient_balance; nothing changed (no order, service or charge)', async () => {
    await payIn(shop, bravo.accountId, '9.99');
    const before = await snapshot(shop.ctx);
    const err = expectError(
      await order({ items: [licenseItem(shop)], payNow: true, idempotencyKey: 'short' }, bravo.auth),
      409,
      'insufficient_balance',
    );
    expect(err.details).toMatchObject({ required: '10.00', available: '9.99', currency: 'EUR' });
    // Staff ordering for Bravo are refused the same way.
    expectError(
      await order({ accountId: bravo.accountId, items: [licenseItem(shop)], payNow: true }, shop.admin),
      409,
      'insufficient_balance',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
    expect(await balanceOf(shop, bravo.accountId)).toBe('9.99');
    // One cent more and the same request (same key) goes through once.
    await payIn(shop, bravo.accountId, '0.01');
    ok(await order({ items: [licenseItem(shop)], payNow: true, idempotencyKey: 'short' }, bravo.auth), 201);
    expect(await balanceOf(shop, bravo.accountId)).toBe('0.00');
  });

  it('autoprolong with a trial period, on a trial, or a period not offered → trial_not_renewable / period_not_offered', async () => {
    const before = await snapshot(shop.ctx);
    expectError(
      await order({ items: [licenseItem(shop, { autoprolong: -100 })], payNow: true }),
      400,
      'trial_not_renewable',
    );
    expectError(
      await order({ items: [licenseItem(shop, { autoprolong: 3 })], payNow: true }),
      400,
      'period_not_offered',
    );
    // A trial never renews (PUT autoprolong refuses it for a trial service too).
    expectError(
      await order({
        items: [licenseItem(shop, { tariffId: shop.tariffs.trial, period: -100, autoprolong: 1 })],
        payNow: true,
      }),
      400,
      'trial_not_renewable',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('unknown fields on the order, the quote and an order action → unknown_field', async () => {
    const before = await snapshot(shop.ctx);
    const err = expectError(
      await order({ items: [licenseItem(shop)], payNow: true, coupon: 'FREE' }),
      400,
      'unknown_field',
    );
    expect(err.details.issues).toEqual([
      { path: 'coupon', code: 'unknown_field', message: 'Unknown field "coupon".' },
    ]);
    expectError(await quote({ ...licenseItem(shop), autoprolong: 1 }), 400, 'unknown_field');
    expectError(await quote({ ...licenseItem(shop), price: '0.01' }), 400, 'unknown_field');
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('malformed orders: no items, a period that is no period, a wrong type → validation_failed', async () => {
    const before = await snapshot(shop.ctx);
    expectError(await order({ items: [], payNow: true }), 400, 'validation_failed');
    expectError(
      await order({ items: [licenseItem(shop, { period: 2 })], payNow: true }),
      400,
      'validation_failed',
    );
    expectError(await order({ items: [licenseItem(shop, { tariffId: 'one' })] }), 400, 'validation_failed');
    expectError(await quote({ tariffId: shop.tariffs.license }), 400, 'validation_failed');
    expect(await snapshot(shop.ctx)).toBe(before);
  });
});
