import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { type Auth, expectError, type Method, moneySnapshot, request } from '../helpers/http.js';
import {
  balanceOf,
  type Client,
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
  staffActor,
  VDS_PARAMS,
} from '../helpers/shop.js';

/**
 * Services over HTTP (BILLING.md "Service statuses", "Renewal", "Tariff change", "Deletion
 * and refunds", "The daily billing run"; issue 4 items 3–8 and 10, "Bad input"). Each test
 * opens a fresh shop (clock 2021-12-16T10:00Z unless it says otherwise) and ends with the
 * ledger invariant.
 */
let shop: Shop;
let alpha: Client;
let bravo: Client;
const MISSING = 987654;

async function open(now?: string) {
  shop = await openShop(now ? { now } : {});
  alpha = shop.alpha;
  bravo = shop.bravo;
}
async function close() {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
}
/** A fresh shop for every test of the describe (tests that change state). */
function shopPerTest(now?: string) {
  beforeEach(() => open(now));
  afterEach(close);
}
/**
 * One shop for the whole describe: its tests only read or are refused (each proves it
 * changed nothing) or put back what they changed. The ledger is checked after each.
 */
function sharedShop() {
  beforeAll(() => open());
  afterEach(() => expectLedgerBalanced(shop.ctx));
  afterAll(() => shop?.t.close());
}

const svc = (method: Method, id: number, path: string, auth: Auth, body?: unknown) =>
  call(shop, method, `/api/v1/services/${id}${path}`, auth, body);
/** Orders a license (paid now) for `client` and lets the daily run open it. */
async function activeLicense(client: Client, extra: Record<string, unknown> = {}): Promise<number> {
  const { serviceId } = await orderPaid(shop, client, licenseItem(shop, extra));
  await runBillingHttp(shop);
  expect((await getService(shop, serviceId)).status).toBe('active');
  return serviceId;
}
const history = async (id: number, auth: Auth = shop.admin) =>
  ok(await svc('GET', id, '/history', auth)).items as {
    event: string;
    fromStatus: string | null;
    toStatus: string | null;
    details: Record<string, unknown>;
    actor: string;
    actorKind: 'staff' | 'client' | 'system';
  }[];
const setClock = (iso: string) => shop.ctx.clock.set(iso);

describe('client journey', () => {
  shopPerTest();

  it('order → processing → active; renewal quote, renew; autoprolong on/off; history; delete', async () => {
    await payIn(shop, alpha.accountId, '200.00');
    const { serviceId: id } = await orderPaid(shop, alpha, licenseItem(shop));
    expect(await getService(shop, id, alpha.auth)).toMatchObject({ status: 'processing', expiresOn: null });
    const run = await runBillingHttp(shop);
    expect(run).toMatchObject({ date: '2021-12-16', dryRun: false });
    expect(await getService(shop, id, alpha.auth)).toMatchObject({
      status: 'active',
      name: 'lic-alpha',
      activatedOn: '2021-12-16',
      expiresOn: '2022-01-16',
    });
    expect(await balanceOf(shop, alpha.accountId)).toBe('190.00');

    // Renewal quote: free, from expiresOn (active service), 12 months = monthly × 12.
    const before = await snapshot(shop.ctx);
    const q = ok(await svc('POST', id, '/renewal-quote', alpha.auth, { period: 12 }));
    expect(q).toMatchObject({
      tariffId: shop.tariffs.license,
      period: 12,
      start: '2022-01-16',
      end: '2023-01-16',
      cut: false,
      total: '120.00',
      resumes: false,
    });
    expect(q.lines).toHaveLength(1);
    expect(await snapshot(shop.ctx)).toBe(before);

    const renewed = ok(
      await svc('POST', id, '/renew', alpha.auth, { period: 12, idempotencyKey: 'renew-1' }),
    );
    expect(renewed.replayed).toBe(false);
    expect(renewed.quote).toEqual(q);
    expect(renewed.service).toMatchObject({ id, status: 'active', period: 12, expiresOn: '2023-01-16' });
    expect(await balanceOf(shop, alpha.accountId)).toBe('70.00');
    // The same request again (a retry): replayed, charged once.
    const retry = ok(await svc('POST', id, '/renew', alpha.auth, { period: 12, idempotencyKey: 'renew-1' }));
    expect(retry.replayed).toBe(true);
    expect(await balanceOf(shop, alpha.accountId)).toBe('70.00');
    expect((await getService(shop, id)).expiresOn).toBe('2023-01-16');

    const detail = await getService(shop, id, alpha.auth);
    expect(detail.charges.map((c: { kind: string; amount: string }) => [c.kind, c.amount])).toEqual([
      ['order', '10.00'],
      ['renewal', '120.00'],
    ]);
    expect(detail.charges[1]).toMatchObject({ period: 12, startOn: '2022-01-16', endOn: '2023-01-16' });
    expect(detail.operations.map((o: { kind: string }) => o.kind)).toEqual(['open', 'prolong']);

    const on = ok(await svc('PUT', id, '/autoprolong', alpha.auth, { period: 1 }));
    expect(on).toMatchObject({ id, autoprolong: 1 });
    const off = ok(await svc('PUT', id, '/autoprolong', alpha.auth, { period: null }));
    expect(off).toMatchObject({ id, autoprolong: null });

    const events = await history(id, alpha.auth);
    expect(events.map((e) => e.event)).toEqual([
      'ordered',
      'operation_open_done',
      'renewed',
      'autoprolong_changed',
      'autoprolong_changed',
    ]);
    const userActor = events[0]!.actor;
    expect(userActor).toMatch(/^user:\d+$/);
    expect(events[1]).toMatchObject({
      fromStatus: 'processing',
      toStatus: 'active',
      actor: 'system:operations',
    });
    expect(events[2]).toMatchObject({
      actor: userActor,
      details: { period: 12, start: '2022-01-16', expiresOn: '2023-01-16', cut: false, charged: '120.00' },
    });
    expect(events.slice(3).map((e) => e.details)).toEqual([
      { from: null, to: 1 },
      { from: 1, to: null },
    ]);

    // Delete: the product type lets clients delete; no refund by default; `close` completes it.
    const deleting = ok(await svc('DELETE', id, '', alpha.auth));
    expect(deleting).toMatchObject({ id, status: 'active' });
    const queued = ok(
      await call(shop, 'GET', `/api/v1/operations?serviceId=${id}&status=queued`, shop.admin),
    );
    expect(queued.items.map((o: { kind: string }) => o.kind)).toEqual(['close', 'prolong']);
    await runBillingHttp(shop);
    const deleted = await getService(shop, id, alpha.auth);
    expect(deleted).toMatchObject({ status: 'deleted', deletedAt: '2021-12-16T10:00:00.000Z' });
    expect(await balanceOf(shop, alpha.accountId)).toBe('70.00');
    expect((await history(id)).slice(-3).map((e) => e.event)).toEqual([
      'delete_requested',
      'operation_prolong_done',
      'operation_close_done',
    ]);
    const gone = ok(await call(shop, 'GET', '/api/v1/services?status=deleted', alpha.auth));
    expect(gone.items.map((s: { id: number }) => s.id)).toEqual([id]);
  });

  it('seed example: on 2021-12-16 a monthly 10.00 tariff expiring 2021-12-31 renews to 2021-12-31 for 4.84; from 2021-12-31 renewal is tariff_expired', async () => {
    await shop.t.close();
    await open('2021-11-16T10:00:00Z');
    await payIn(shop, alpha.accountId, '20.00');
    const id = await activeLicense(alpha, { tariffId: shop.tariffs.legacy });
    expect(await getService(shop, id)).toMatchObject({ activatedOn: '2021-11-16', expiresOn: '2021-12-16' });
    expect(await balanceOf(shop, alpha.accountId)).toBe('10.00');

    setClock('2021-12-16T10:00:00Z');
    const before = await snapshot(shop.ctx);
    const q = ok(await svc('POST', id, '/renewal-quote', alpha.auth, { period: 1 }));
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
      resumes: false,
    });
    // 12 months are cut the same way: 120.00 × 15/365 = 4.93.
    expect(ok(await svc('POST', id, '/renewal-quote', alpha.auth, { period: 12 }))).toMatchObject({
      end: '2021-12-31',
      grantedDays: 15,
      fullDays: 365,
      total: '4.93',
    });
    expect(await snapshot(shop.ctx)).toBe(before);

    const renewed = ok(await svc('POST', id, '/renew', alpha.auth, { period: 1 }));
    expect(renewed.service.expiresOn).toBe('2021-12-31');
    expect(renewed.quote.total).toBe('4.84');
    expect(await balanceOf(shop, alpha.accountId)).toBe('5.16');

    setClock('2021-12-31T00:00:00Z');
    const ended = await snapshot(shop.ctx);
    for (const path of ['/renewal-quote', '/renew']) {
      const err = expectError(await svc('POST', id, path, alpha.auth, { period: 1 }), 409, 'tariff_expired');
      expect(err.details).toMatchObject({ expiresOn: '2021-12-31' });
    }
    expectError(await svc('POST', id, '/renew', shop.admin, { period: 1 }), 409, 'tariff_expired');
    expect(await snapshot(shop.ctx)).toBe(ended);
  });

  it('client delete where the product type allows; 403 (nothing changed) once PATCH sets clientCanDelete false', async () => {
    await payIn(shop, alpha.accountId, '20.00');
    const first = await activeLicense(alpha);
    const second = await activeLicense(alpha, { params: { ip: '203.0.113.11', licname: 'lic-2' } });
    ok(await svc('DELETE', first, '', alpha.auth));

    const patched = ok(
      await call(shop, 'PATCH', '/api/v1/product-types/soft', shop.admin, { clientCanDelete: false }),
    );
    expect(patched).toMatchObject({ code: 'soft', clientCanDelete: false });
    const before = await snapshot(shop.ctx);
    expectError(await svc('DELETE', second, '', alpha.auth), 403, 'forbidden');
    expect(await snapshot(shop.ctx)).toBe(before);

    // Staff still may.
    ok(await svc('DELETE', second, '', shop.admin));
    await runBillingHttp(shop);
    expect((await getService(shop, first)).status).toBe('deleted');
    expect((await getService(shop, second)).status).toBe('deleted');
    expect((await history(second)).find((e) => e.event === 'delete_requested')?.actor).toBe('user:1');
    const frozen = await snapshot(shop.ctx);
    expectError(await svc('DELETE', second, '', shop.admin), 409, 'service_deleted');
    expect(await snapshot(shop.ctx)).toBe(frozen);
  });

  it('deletion refunds unused whole days only where the product type says so', async () => {
    await payIn(shop, alpha.accountId, '20.00');
    const kept = await activeLicense(alpha);
    const refunded = await activeLicense(alpha, { params: { ip: '203.0.113.11', licname: 'lic-2' } });
    expect(await balanceOf(shop, alpha.accountId)).toBe('0.00');
    setClock('2021-12-26T10:00:00Z');
    ok(await svc('DELETE', kept, '', alpha.auth));
    expect(await balanceOf(shop, alpha.accountId)).toBe('0.00');

    ok(await call(shop, 'PATCH', '/api/v1/product-types/soft', shop.admin, { refundUnusedDays: true }));
    ok(await svc('DELETE', refunded, '', alpha.auth));
    // Paid 10.00 for 2021-12-16..2022-01-16 (31 days); 21 unused → 10.00 × 21/31 = 6.774… → 6.77.
    expect(await balanceOf(shop, alpha.accountId)).toBe('6.77');
    const detail = await getService(shop, refunded, alpha.auth);
    expect(detail.charges.map((c: { kind: string; amount: string }) => [c.kind, c.amount])).toEqual([
      ['order', '10.00'],
      ['refund', '-6.77'],
    ]);
    expect(detail.charges[1]).toMatchObject({ startOn: '2021-12-26', endOn: '2022-01-16' });
    // A repeated delete refunds nothing more.
    ok(await svc('DELETE', refunded, '', alpha.auth));
    expect(await balanceOf(shop, alpha.accountId)).toBe('6.77');
  });

  it('a client suspends its own service (reason client) and resumes it; admin reasons are staff-only', async () => {
    await payIn(shop, alpha.accountId, '10.00');
    const id = await activeLicense(alpha);
    const before = await snapshot(shop.ctx);
    expectError(await svc('POST', id, '/suspend', alpha.auth, { reason: 'admin' }), 403, 'forbidden');
    expectError(await svc('POST', id, '/suspend', alpha.auth, { reason: 'abuse' }), 403, 'forbidden');
    expectError(
      await svc('POST', id, '/suspend', alpha.auth, { reason: 'expired' }),
      400,
      'validation_failed',
    );
    expect(await snapshot(shop.ctx)).toBe(before);

    ok(await svc('POST', id, '/suspend', alpha.auth, { reason: 'client' }));
    await runQueuedOperations(shop.ctx);
    expect(await getService(shop, id, alpha.auth)).toMatchObject({
      status: 'suspended',
      suspendReason: 'client',
      suspendedOn: '2021-12-16',
    });
    ok(await svc('POST', id, '/resume', alpha.auth));
    await runQueuedOperations(shop.ctx);
    expect(await getService(shop, id, alpha.auth)).toMatchObject({ status: 'active', suspendReason: null });
  });
});

describe('staff', () => {
  shopPerTest();

  it('list all services with filters (account, status, tariff, expiry) and pages; clients see their own', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    await payIn(shop, bravo.accountId, '100.00');
    const a1 = (await orderPaid(shop, alpha, licenseItem(shop))).serviceId;
    const b1 = (
      await orderPaid(shop, bravo, licenseItem(shop, { params: { ip: '198.51.100.7', licname: 'b' } }))
    ).serviceId;
    await runBillingHttp(shop);
    const a2 = (
      await orderPaid(shop, alpha, {
        tariffId: shop.tariffs.vds,
        period: 1,
        params: VDS_PARAMS,
      })
    ).serviceId;
    const ids = async (query: string, auth: Auth = shop.admin) =>
      ok(await call(shop, 'GET', `/api/v1/services${query}`, auth)).items.map((s: { id: number }) => s.id);
    expect(await ids('')).toEqual([a2, b1, a1]);
    expect(await ids(`?accountId=${alpha.accountId}`)).toEqual([a2, a1]);
    expect(await ids('?status=processing')).toEqual([a2]);
    expect(await ids(`?status=active&accountId=${bravo.accountId}`)).toEqual([b1]);
    expect(await ids(`?tariffId=${shop.tariffs.vds}`)).toEqual([a2]);
    expect(await ids('?expiresBefore=2022-01-17')).toEqual([b1, a1]);
    expect(await ids('?expiresBefore=2022-01-16')).toEqual([]);
    const page = ok(await call(shop, 'GET', '/api/v1/services?limit=2', shop.admin));
    expect(page.items.map((s: { id: number }) => s.id)).toEqual([a2, b1]);
    expect(page.nextBefore).toBe(b1);
    expect(await ids(`?limit=2&before=${page.nextBefore}`)).toEqual([a1]);
    // A client sees its own, whatever accountId says.
    expect(await ids('', alpha.auth)).toEqual([a2, a1]);
    expect(await ids(`?accountId=${bravo.accountId}`, alpha.auth)).toEqual([a2, a1]);
    expectError(
      await call(shop, 'GET', '/api/v1/services?status=frozen', shop.admin),
      400,
      'validation_failed',
    );
    expectError(
      await call(shop, 'GET', '/api/v1/services?expiresBefore=tomorrow', shop.admin),
      400,
      'validation_failed',
    );
  });

  it('suspend (admin, reason abuse) and resume; a client cannot lift a staff suspension', async () => {
    await payIn(shop, alpha.accountId, '10.00');
    const id = await activeLicense(alpha);
    const res = ok(await svc('POST', id, '/suspend', shop.admin, { reason: 'abuse' }));
    // The status changes when the operation completes.
    expect(res).toMatchObject({ id, status: 'active' });
    // Asked twice before it ran: still one operation.
    ok(await svc('POST', id, '/suspend', shop.admin, { reason: 'abuse' }));
    const ops = ok(await call(shop, 'GET', `/api/v1/operations?serviceId=${id}&status=queued`, shop.admin));
    expect(ops.items).toMatchObject([{ kind: 'suspend', payload: { reason: 'abuse' } }]);
    await runBillingHttp(shop);
    expect(await getService(shop, id, alpha.auth)).toMatchObject({
      status: 'suspended',
      suspendReason: 'abuse',
      suspendedOn: '2021-12-16',
    });
    expect(await history(id)).toContainEqual(
      expect.objectContaining({
        event: 'suspend_requested',
        actor: 'user:1',
        actorKind: 'staff',
        details: { reason: 'abuse' },
      }),
    );
    // Who acted, in kinds a client's page can word: the client who ordered, staff, Billfold's own jobs.
    const kinds = (await history(id)).map((h) => [h.event, h.actorKind]);
    expect(kinds).toContainEqual(['ordered', 'client']);
    expect(kinds).toContainEqual(['operation_open_done', 'system']);

    const before = await snapshot(shop.ctx);
    expectError(await svc('POST', id, '/resume', alpha.auth), 403, 'forbidden');
    expectError(
      await svc('POST', id, '/suspend', shop.admin, { reason: 'admin' }),
      409,
      'service_not_active',
    );
    expect(await snapshot(shop.ctx)).toBe(before);

    ok(await svc('POST', id, '/resume', shop.admin));
    await runBillingHttp(shop);
    expect(await getService(shop, id, alpha.auth)).toMatchObject({
      status: 'active',
      suspendReason: null,
      suspendedOn: null,
    });
    const frozen = await snapshot(shop.ctx);
    expectError(await svc('POST', id, '/resume', shop.admin), 409, 'service_not_suspended');
    expect(await snapshot(shop.ctx)).toBe(frozen);
  });

  it('change tariff over REST: given addon values and a period are used; omitted ones carry over', async () => {
    const { createAddon, createTariff } = await import('../../src/modules/catalog/commands.js');
    const plus = await createTariff(shop.ctx, staffActor, {
      name: 'VDS Plus',
      productType: 'vds',
      periods: [1, 3],
      prices: { '1': '30.00' },
    });
    const view = await createAddon(shop.ctx, staffActor, plus.id, {
      valueType: 'integer',
      kind: 'ram',
      label: 'Memory',
      unit: 'GB',
      included: 2,
      min: 1,
      max: 32,
      step: 1,
      defaultValue: 2,
      prices: { '1': '1.00' },
    });
    const plusRam = view.addons[0]!.id;
    await payIn(shop, alpha.accountId, '200.00');
    const { serviceId: id } = await orderPaid(shop, alpha, {
      tariffId: shop.tariffs.vds,
      period: 1,
      params: { ...VDS_PARAMS },
      addonValues: { [String(shop.addons.ram)]: 4 },
    });
    await runQueuedOperations(shop.ctx);
    ok(await svc('PUT', id, '/autoprolong', alpha.auth, { period: 1 }));
    // Carried: RAM 4 on the old tariff becomes Memory 4 (same kind) on the new one.
    const carried = ok(await svc('POST', id, '/tariff-change-quote', shop.admin, { tariffId: plus.id }));
    expect(carried.toTariffId).toBe(plus.id);
    ok(
      await svc('POST', id, '/change-tariff', shop.admin, {
        tariffId: plus.id,
        addonValues: { [String(plusRam)]: 6 },
        period: 3,
      }),
    );
    const after = await getService(shop, id);
    expect(after.addonValues).toEqual({ [String(plusRam)]: 6 });
    expect(after.autoprolong).toBe(3);
  });

  it('change tariff: the day-prorated difference is charged on an upgrade and credited on a downgrade', async () => {
    await payIn(shop, alpha.accountId, '30.00');
    const id = await activeLicense(alpha);
    setClock('2021-12-26T10:00:00Z');
    // Paid range 2021-12-16..2022-01-16 (31 days), 21 left: old 10.00 × 21/31 = 6.77, new 20.00 × 21/31 = 13.55.
    const before = await snapshot(shop.ctx);
    const quote = ok(
      await svc('POST', id, '/tariff-change-quote', alpha.auth, { tariffId: shop.tariffs.licensePro }),
    );
    expect(quote).toEqual({
      serviceId: id,
      fromTariffId: shop.tariffs.license,
      toTariffId: shop.tariffs.licensePro,
      remainingDays: 21,
      fullDays: 31,
      oldAmount: '6.77',
      newAmount: '13.55',
      difference: '6.78',
    });
    expectError(
      await svc('POST', id, '/change-tariff', alpha.auth, { tariffId: shop.tariffs.licensePro }),
      403,
      'forbidden',
    );
    expect(await snapshot(shop.ctx)).toBe(before);

    const up = ok(await svc('POST', id, '/change-tariff', shop.admin, { tariffId: shop.tariffs.licensePro }));
    expect(up.change).toEqual(quote);
    expect(up.service).toMatchObject({ id, tariffId: shop.tariffs.licensePro, expiresOn: '2022-01-16' });
    expect(await balanceOf(shop, alpha.accountId)).toBe('13.22');

    const down = ok(await svc('POST', id, '/change-tariff', shop.admin, { tariffId: shop.tariffs.license }));
    expect(down.change).toMatchObject({ oldAmount: '13.55', newAmount: '6.77', difference: '-6.78' });
    expect(down.service).toMatchObject({ tariffId: shop.tariffs.license, expiresOn: '2022-01-16' });
    expect(await balanceOf(shop, alpha.accountId)).toBe('20.00');

    const ledger = ok(
      await call(shop, 'GET', `/api/v1/accounts/${alpha.accountId}/ledger`, alpha.auth),
    ).items;
    expect(ledger.slice(0, 2).map((e: { kind: string; amount: string }) => [e.kind, e.amount])).toEqual([
      ['refund', '6.78'],
      ['charge', '-6.78'],
    ]);
    expect(
      (await history(id)).filter((e) => e.event === 'tariff_changed').map((e) => e.details.difference),
    ).toEqual(['6.78', '-6.78']);
    const detail = await getService(shop, id);
    expect(detail.operations.filter((o: { kind: string }) => o.kind === 'set_param')).toHaveLength(2);
  });

  it('change tariff refused: other product type, archived, ending before the service, same, unknown → nothing changed', async () => {
    await payIn(shop, alpha.accountId, '30.00');
    const id = await activeLicense(alpha);
    const before = await snapshot(shop.ctx);
    const refused: [number, number, string][] = [
      [shop.tariffs.vds, 400, 'product_type_mismatch'],
      [shop.tariffs.archived, 409, 'tariff_not_orderable'],
      [shop.tariffs.legacy, 409, 'tariff_expired'],
      [shop.tariffs.license, 400, 'same_tariff'],
      [MISSING, 404, 'tariff_not_found'],
    ];
    for (const [tariffId, status, code] of refused) {
      expectError(await svc('POST', id, '/tariff-change-quote', shop.admin, { tariffId }), status, code);
      expectError(await svc('POST', id, '/change-tariff', shop.admin, { tariffId }), status, code);
    }
    expectError(
      await svc('POST', id, '/change-tariff', shop.admin, { tariffId: shop.tariffs.licensePro, price: '0' }),
      400,
      'unknown_field',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('billing run: the dry run changes nothing and foretells the real run, which renews, suspends and notifies', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    const plain = await activeLicense(alpha);
    const auto = await activeLicense(alpha, {
      params: { ip: '203.0.113.11', licname: 'auto' },
      autoprolong: 1,
    });
    expect(await balanceOf(shop, alpha.accountId)).toBe('80.00');
    setClock('2022-01-16T01:00:00Z');

    const before = await snapshot(shop.ctx);
    const dry = await runBillingHttp(shop, { date: '2022-01-16', dryRun: true });
    expect(dry).toMatchObject({
      date: '2022-01-16',
      dryRun: true,
      renewed: 1,
      renewedAmount: '10.00',
      renewFailed: 0,
      suspended: 1,
      deleted: 0,
    });
    expect(dry.actions).toEqual(
      expect.arrayContaining([
        { serviceId: auto, step: 'renew', outcome: 'renewed', amount: '10.00' },
        { serviceId: plain, step: 'suspend', outcome: 'expired' },
      ]),
    );
    expect(await snapshot(shop.ctx)).toBe(before);
    const runDates = async () =>
      ok(await call(shop, 'GET', '/api/v1/billing/runs', shop.admin)).items.map(
        (r: { date: string }) => r.date,
      );
    // Only the runs that opened the services (on 2021-12-16): the dry run left no trace.
    expect(await runDates()).toEqual(['2021-12-16', '2021-12-16']);

    const real = await runBillingHttp(shop, { date: '2022-01-16' });
    expect(real).toMatchObject({
      dryRun: false,
      renewed: 1,
      renewedAmount: '10.00',
      suspended: 1,
      deleted: 0,
    });
    expect(await balanceOf(shop, alpha.accountId)).toBe('70.00');
    expect(await getService(shop, auto)).toMatchObject({ status: 'active', expiresOn: '2022-02-16' });
    expect(await getService(shop, plain)).toMatchObject({
      status: 'suspended',
      suspendReason: 'expired',
      suspendedOn: '2022-01-16',
    });
    expect((await history(auto)).map((e) => e.event)).toContain('renewed_automatically');
    const runs = ok(await call(shop, 'GET', '/api/v1/billing/runs', shop.admin)).items;
    expect(runs).toHaveLength(3);
    expect(runs[0]).toMatchObject({
      date: '2022-01-16',
      status: 'completed',
      summary: { dryRun: false, renewed: 1, suspended: 1 },
    });

    // Run again for the same date: the money and the services stay as they are.
    const money = await moneySnapshot(shop.ctx);
    const services = JSON.parse(await snapshot(shop.ctx)).services;
    const again = await runBillingHttp(shop, { date: '2022-01-16' });
    expect(again).toMatchObject({ renewed: 0, suspended: 0, deleted: 0 });
    expect(await moneySnapshot(shop.ctx)).toBe(money);
    expect(JSON.parse(await snapshot(shop.ctx)).services).toEqual(services);

    // The client is told; Bravo sees nothing of it.
    const notes = ok(await call(shop, 'GET', '/api/v1/notifications', alpha.auth)).items;
    expect(notes).toContainEqual(expect.objectContaining({ serviceId: plain, kind: 'service_suspended' }));
    expect(ok(await call(shop, 'GET', '/api/v1/notifications', bravo.auth)).items).toEqual([]);
    expect(
      ok(await call(shop, 'GET', `/api/v1/notifications?accountId=${alpha.accountId}`, bravo.auth)).items,
    ).toEqual([]);

    // Suspended for non-payment: resume is refused (renew instead); renewal starts today and resumes.
    const frozen = await snapshot(shop.ctx);
    expectError(await svc('POST', plain, '/resume', alpha.auth), 403, 'forbidden');
    expectError(await svc('POST', plain, '/resume', shop.admin), 409, 'service_expired');
    expect(await snapshot(shop.ctx)).toBe(frozen);
    setClock('2022-01-20T10:00:00Z');
    const q = ok(await svc('POST', plain, '/renewal-quote', alpha.auth, { period: 1 }));
    expect(q).toMatchObject({ start: '2022-01-20', end: '2022-02-20', total: '10.00', resumes: true });
    ok(await svc('POST', plain, '/renew', alpha.auth, { period: 1 }));
    await runQueuedOperations(shop.ctx);
    expect(await getService(shop, plain)).toMatchObject({
      status: 'active',
      suspendReason: null,
      expiresOn: '2022-02-20',
    });
    expect(await balanceOf(shop, alpha.accountId)).toBe('60.00');
  });

  it('billing run input: a bad date or an unknown field → 400, nothing run', async () => {
    const before = await snapshot(shop.ctx);
    expectError(
      await call(shop, 'POST', '/api/v1/billing/run', shop.admin, { date: '2022-02-30' }),
      400,
      'invalid_date',
    );
    expectError(
      await call(shop, 'POST', '/api/v1/billing/run', shop.admin, { date: 'today' }),
      400,
      'invalid_date',
    );
    expectError(
      await call(shop, 'POST', '/api/v1/billing/run', shop.admin, { dryRun: true, force: true }),
      400,
      'unknown_field',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('a real run for a day that has not come is date_in_future (it would suspend paid services and stall the scheduler); a dry run may look ahead', async () => {
    await payIn(shop, alpha.accountId, '10.00');
    const id = await activeLicense(alpha);
    const before = await snapshot(shop.ctx);
    const err = expectError(
      await call(shop, 'POST', '/api/v1/billing/run', shop.admin, { date: '2022-01-16' }),
      400,
      'date_in_future',
    );
    expect(err.details).toEqual({ date: '2022-01-16', today: '2021-12-16' });
    expectError(
      await call(shop, 'POST', '/api/v1/billing/run', shop.admin, { date: '2021-12-17' }),
      400,
      'date_in_future',
    );
    // Looking ahead changes nothing: the service that expires on 2022-01-16 would be suspended then.
    const ahead = await runBillingHttp(shop, { date: '2022-01-16', dryRun: true });
    expect(ahead).toMatchObject({ dryRun: true, suspended: 1 });
    expect(ahead.actions).toContainEqual({ serviceId: id, step: 'suspend', outcome: 'expired' });
    expect(await snapshot(shop.ctx)).toBe(before);
    // A past day (catching up) is fine.
    ok(await call(shop, 'POST', '/api/v1/billing/run', shop.admin, { date: '2021-12-15' }));
    expect((await getService(shop, id)).status).toBe('active');
  });
});

describe('a client sees only its own services (404, not 403, for another account)', () => {
  const BRAVO_SECRETS = ['Bravo Secret Industries', 'bravo@example.com', 'lic-bravo', '198.51.100.7'];
  let bravoService: number;

  sharedShop();
  beforeAll(async () => {
    // Both have money: only the scoping stands between Alpha and Bravo's service.
    await payIn(shop, alpha.accountId, '500.00');
    await payIn(shop, bravo.accountId, '500.00');
    await activeLicense(alpha);
    bravoService = await activeLicense(bravo, { params: { ip: '198.51.100.7', licname: 'lic-bravo' } });
  });

  async function expectHidden(method: Method, path: string, body?: unknown) {
    const before = await snapshot(shop.ctx);
    const res = await svc(method, bravoService, path, alpha.auth, body);
    const err = expectError(res, 404, 'service_not_found');
    expect(err.details).toEqual({});
    for (const secret of BRAVO_SECRETS) expect(res.body).not.toContain(secret);
    const missing = await svc(method, MISSING, path, alpha.auth, body);
    expect(missing.body).toBe(res.body);
    expect(await snapshot(shop.ctx)).toBe(before);
    // Bravo itself (or staff) may: the route works, the refusal is the scoping.
    return before;
  }

  it('GET /services/:id', async () => {
    ok(await svc('GET', bravoService, '', bravo.auth));
    await expectHidden('GET', '');
  });

  it('GET /services/:id/history', async () => {
    ok(await svc('GET', bravoService, '/history', bravo.auth));
    await expectHidden('GET', '/history');
  });

  it('POST /services/:id/renewal-quote', async () => {
    ok(await svc('POST', bravoService, '/renewal-quote', bravo.auth, { period: 1 }));
    await expectHidden('POST', '/renewal-quote', { period: 1 });
  });

  it('POST /services/:id/renew', async () => {
    await expectHidden('POST', '/renew', { period: 12 });
    expect((await getService(shop, bravoService)).expiresOn).toBe('2022-01-16');
    expect(await balanceOf(shop, alpha.accountId)).toBe('490.00');
    expect(await balanceOf(shop, bravo.accountId)).toBe('490.00');
  });

  it('PUT /services/:id/autoprolong', async () => {
    await expectHidden('PUT', '/autoprolong', { period: 1 });
    expect((await getService(shop, bravoService)).autoprolong).toBeNull();
  });

  it('POST /services/:id/tariff-change-quote', async () => {
    ok(
      await svc('POST', bravoService, '/tariff-change-quote', bravo.auth, {
        tariffId: shop.tariffs.licensePro,
      }),
    );
    await expectHidden('POST', '/tariff-change-quote', { tariffId: shop.tariffs.licensePro });
  });

  it('POST /services/:id/suspend', async () => {
    await expectHidden('POST', '/suspend', { reason: 'client' });
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, bravoService)).status).toBe('active');
  });

  it('POST /services/:id/resume', async () => {
    ok(await svc('POST', bravoService, '/suspend', bravo.auth, { reason: 'client' }));
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, bravoService)).status).toBe('suspended');
    await expectHidden('POST', '/resume');
    expect((await getService(shop, bravoService)).status).toBe('suspended');
    // Put it back for the other tests of this describe.
    ok(await svc('POST', bravoService, '/resume', bravo.auth));
    await runQueuedOperations(shop.ctx);
    expect((await getService(shop, bravoService)).status).toBe('active');
  });

  it('DELETE /services/:id', async () => {
    await expectHidden('DELETE', '');
    await runBillingHttp(shop);
    expect((await getService(shop, bravoService)).status).toBe('active');
  });

  it('GET /services and GET /notifications list only the own account, whatever accountId says', async () => {
    for (const url of [
      '/api/v1/services',
      `/api/v1/services?accountId=${bravo.accountId}`,
      `/api/v1/notifications?accountId=${bravo.accountId}`,
    ]) {
      const res = await call(shop, 'GET', url, alpha.auth);
      expect(res.statusCode, res.body).toBe(200);
      for (const item of res.json().items) expect(item.accountId).toBe(alpha.accountId);
      for (const secret of BRAVO_SECRETS) expect(res.body).not.toContain(secret);
    }
  });
});

describe('admin-only routes → 403 for a client, nothing changed', () => {
  let own: number;
  sharedShop();
  beforeAll(async () => {
    await payIn(shop, alpha.accountId, '100.00');
    own = await activeLicense(alpha);
  });

  const routes: [string, Method, () => string, (() => unknown)?][] = [
    [
      'POST /services/:id/change-tariff (own service)',
      'POST',
      () => `/api/v1/services/${own}/change-tariff`,
      () => ({ tariffId: shop.tariffs.licensePro }),
    ],
    ['GET /operations', 'GET', () => '/api/v1/operations'],
    ['POST /billing/run', 'POST', () => '/api/v1/billing/run', () => ({ date: '2022-01-16' })],
    ['POST /billing/run (dry run)', 'POST', () => '/api/v1/billing/run', () => ({ dryRun: true })],
    ['GET /billing/runs', 'GET', () => '/api/v1/billing/runs'],
  ];
  it.each(routes)('%s', async (_name, method, url, body) => {
    const before = await snapshot(shop.ctx);
    expectError(await call(shop, method, url(), alpha.auth, body?.()), 403, 'forbidden');
    expect(await snapshot(shop.ctx)).toBe(before);
  });
});

describe('every order, service and billing route needs a signed-in user (401)', () => {
  shopPerTest();
  const routes: [Method, string][] = [
    ['POST', '/api/v1/quotes'],
    ['POST', '/api/v1/orders'],
    ['GET', '/api/v1/orders'],
    ['GET', '/api/v1/orders/1'],
    ['POST', '/api/v1/orders/1/pay'],
    ['POST', '/api/v1/orders/1/cancel'],
    ['GET', '/api/v1/services'],
    ['GET', '/api/v1/services/1'],
    ['GET', '/api/v1/services/1/history'],
    ['POST', '/api/v1/services/1/renewal-quote'],
    ['POST', '/api/v1/services/1/renew'],
    ['PUT', '/api/v1/services/1/autoprolong'],
    ['POST', '/api/v1/services/1/tariff-change-quote'],
    ['POST', '/api/v1/services/1/change-tariff'],
    ['POST', '/api/v1/services/1/suspend'],
    ['POST', '/api/v1/services/1/resume'],
    ['DELETE', '/api/v1/services/1'],
    ['GET', '/api/v1/operations'],
    ['POST', '/api/v1/billing/run'],
    ['GET', '/api/v1/billing/runs'],
    ['GET', '/api/v1/notifications'],
  ];
  it('all of them', async () => {
    for (const [method, url] of routes) {
      const res = await request(
        shop.t.app,
        method,
        url,
        method === 'GET' || method === 'DELETE' ? {} : { body: {} },
      );
      expectError(res, 401, 'unauthenticated');
    }
  });
});

describe('bad input on services: a clear code and nothing changed', () => {
  shopPerTest();
  beforeEach(async () => {
    await payIn(shop, alpha.accountId, '100.00');
  });

  it('renewal of a deleted service → service_deleted (quote, renew, autoprolong)', async () => {
    const id = await activeLicense(alpha);
    ok(await svc('DELETE', id, '', alpha.auth));
    await runBillingHttp(shop);
    expect((await getService(shop, id)).status).toBe('deleted');
    const before = await snapshot(shop.ctx);
    expectError(await svc('POST', id, '/renewal-quote', alpha.auth, { period: 1 }), 409, 'service_deleted');
    expectError(await svc('POST', id, '/renew', alpha.auth, { period: 1 }), 409, 'service_deleted');
    expectError(await svc('POST', id, '/renew', shop.admin, { period: 1 }), 409, 'service_deleted');
    expectError(await svc('PUT', id, '/autoprolong', alpha.auth, { period: 1 }), 409, 'service_deleted');
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('trial renewal → trial_not_renewable (quote, renew, autoprolong)', async () => {
    const id = await activeLicense(alpha, { tariffId: shop.tariffs.trial, period: -100 });
    expect(await getService(shop, id)).toMatchObject({ period: -100, expiresOn: '2021-12-30' });
    const before = await snapshot(shop.ctx);
    expectError(
      await svc('POST', id, '/renewal-quote', alpha.auth, { period: 1 }),
      409,
      'trial_not_renewable',
    );
    expectError(await svc('POST', id, '/renew', alpha.auth, { period: 1 }), 409, 'trial_not_renewable');
    expectError(await svc('POST', id, '/renew', alpha.auth, { period: -100 }), 409, 'trial_not_renewable');
    expectError(await svc('PUT', id, '/autoprolong', alpha.auth, { period: 1 }), 409, 'trial_not_renewable');
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('renewal for a period the tariff does not offer → period_not_offered; renewing a processing service → service_not_renewable', async () => {
    const id = await activeLicense(alpha);
    const processing = (await orderPaid(shop, alpha, licenseItem(shop))).serviceId;
    const before = await snapshot(shop.ctx);
    expectError(
      await svc('POST', id, '/renewal-quote', alpha.auth, { period: 3 }),
      400,
      'period_not_offered',
    );
    expectError(await svc('POST', id, '/renew', alpha.auth, { period: 3 }), 400, 'period_not_offered');
    expectError(await svc('PUT', id, '/autoprolong', alpha.auth, { period: 3 }), 400, 'period_not_offered');
    expectError(await svc('POST', id, '/renew', alpha.auth, { period: 2 }), 400, 'validation_failed');
    expectError(
      await svc('POST', processing, '/renew', alpha.auth, { period: 1 }),
      409,
      'service_not_renewable',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('renewal with a short balance → insufficient_balance, nothing changed', async () => {
    const id = await activeLicense(alpha);
    // 90.00 left; 12 months cost 120.00.
    const before = await snapshot(shop.ctx);
    const err = expectError(
      await svc('POST', id, '/renew', alpha.auth, { period: 12 }),
      409,
      'insufficient_balance',
    );
    expect(err.details).toMatchObject({ required: '120.00', available: '90.00' });
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('unknown fields in service bodies → unknown_field', async () => {
    const id = await activeLicense(alpha);
    const before = await snapshot(shop.ctx);
    expectError(
      await svc('POST', id, '/renewal-quote', alpha.auth, { period: 1, discount: 50 }),
      400,
      'unknown_field',
    );
    expectError(
      await svc('POST', id, '/renew', alpha.auth, { period: 1, price: '0.01' }),
      400,
      'unknown_field',
    );
    expectError(
      await svc('PUT', id, '/autoprolong', alpha.auth, { period: 1, forever: true }),
      400,
      'unknown_field',
    );
    expectError(
      await svc('POST', id, '/suspend', alpha.auth, { reason: 'client', silently: true }),
      400,
      'unknown_field',
    );
    expectError(
      await svc('POST', id, '/tariff-change-quote', alpha.auth, {
        tariffId: shop.tariffs.licensePro,
        free: true,
      }),
      400,
      'unknown_field',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
  });
});

describe("a renewal's idempotencyKey is the client's own: it cannot name system or other accounts' keys", () => {
  shopPerTest();

  it('a key naming the next order’s charge (order:<id>) does not make that order free', async () => {
    await payIn(shop, alpha.accountId, '20.00');
    const id = await activeLicense(alpha);
    // Learn the next order id: order and cancel one.
    const probe = ok(
      await call(shop, 'POST', '/api/v1/orders', alpha.auth, { items: [licenseItem(shop)] }),
      201,
    );
    ok(await call(shop, 'POST', `/api/v1/orders/${probe.id}/cancel`, alpha.auth));
    ok(await svc('POST', id, '/renew', alpha.auth, { period: 1, idempotencyKey: `order:${probe.id + 1}` }));
    expect(await balanceOf(shop, alpha.accountId)).toBe('0.00');
    // Nothing left to pay with: the next order (10.00, the same amount) must be refused.
    const before = await snapshot(shop.ctx);
    expectError(
      await call(shop, 'POST', '/api/v1/orders', alpha.auth, { items: [licenseItem(shop)], payNow: true }),
      409,
      'insufficient_balance',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('two accounts may use the same key; a retry with it replays only the own renewal', async () => {
    await payIn(shop, alpha.accountId, '50.00');
    await payIn(shop, bravo.accountId, '50.00');
    const a = await activeLicense(alpha);
    const b = await activeLicense(bravo, { params: { ip: '198.51.100.7', licname: 'lic-bravo' } });
    expect(ok(await svc('POST', a, '/renew', alpha.auth, { period: 1, idempotencyKey: 'k1' })).replayed).toBe(
      false,
    );
    const theirs = ok(await svc('POST', b, '/renew', bravo.auth, { period: 1, idempotencyKey: 'k1' }));
    expect(theirs).toMatchObject({ replayed: false, service: { expiresOn: '2022-02-16' } });
    expect(ok(await svc('POST', a, '/renew', alpha.auth, { period: 1, idempotencyKey: 'k1' })).replayed).toBe(
      true,
    );
    expect(await balanceOf(shop, alpha.accountId)).toBe('30.00');
    expect(await balanceOf(shop, bravo.accountId)).toBe('30.00');
    expect((await getService(shop, a)).expiresOn).toBe('2022-02-16');
  });

  it('a key naming another account’s future refund (delete-refund:<id>) does not block that refund', async () => {
    await payIn(shop, alpha.accountId, '50.00');
    await payIn(shop, bravo.accountId, '10.00');
    const a = await activeLicense(alpha);
    const b = await activeLicense(bravo, { params: { ip: '198.51.100.7', licname: 'lic-bravo' } });
    ok(await svc('POST', a, '/renew', alpha.auth, { period: 1, idempotencyKey: `delete-refund:${b}` }));
    ok(await call(shop, 'PATCH', '/api/v1/product-types/soft', shop.admin, { refundUnusedDays: true }));
    setClock('2021-12-26T10:00:00Z');
    ok(await svc('DELETE', b, '', bravo.auth));
    expect(await balanceOf(shop, bravo.accountId)).toBe('6.77');
  });
});

/**
 * After DELETE the service stays `active` until its `close` operation completes; meanwhile it
 * must not be renewed (manually or by the daily run): it would be charged, then closed.
 */
describe('a service whose deletion is pending is not renewed', () => {
  shopPerTest();

  it('manual renewal after DELETE, before close completes → 409 service_deleted, nothing charged', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    const id = await activeLicense(alpha);
    ok(await svc('DELETE', id, '', alpha.auth));
    const before = await snapshot(shop.ctx);
    expectError(await svc('POST', id, '/renew', alpha.auth, { period: 1 }), 409, 'service_deleted');
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('the daily run does not auto-renew a service deleted the day before it expires', async () => {
    await payIn(shop, alpha.accountId, '100.00');
    const id = await activeLicense(alpha, { autoprolong: 1 });
    setClock('2022-01-15T10:00:00Z');
    ok(await svc('DELETE', id, '', alpha.auth));
    const run = await runBillingHttp(shop);
    expect(run.renewed).toBe(0);
    expect(await balanceOf(shop, alpha.accountId)).toBe('90.00');
    expect((await getService(shop, id)).status).toBe('deleted');
  });
});
