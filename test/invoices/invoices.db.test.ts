import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appHooks } from '../../src/app/hooks.js';
import { recordPayment } from '../../src/modules/accounts/index.js';
import type { AppContext } from '../../src/platform/context.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { createClient, createToken, expectError, login } from '../helpers/http.js';
import { pdfText } from '../helpers/pdf.js';
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
} from '../helpers/shop.js';

/**
 * Invoices and receipts (issue 16, item 5): a numbered, immutable document for each payment
 * and each order's or renewal's charge, with both parties' details and the VAT included in
 * the prices, served as JSON and PDF to its owner and staff.
 */

let shop: Shop;
let alpha: Client;
let bravo: Client;

beforeEach(async () => {
  shop = await openShop();
  alpha = shop.alpha;
  bravo = shop.bravo;
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const SELLER = {
  legalName: 'ООО «Облачные системы»',
  legalAddress: '125009, Москва, ул. Тверская, д. 1',
  taxId: '7701234567',
  vatNumber: 'RU7701234567',
};
const BUYER = {
  legalName: 'ИП Иванов Иван Иванович',
  legalAddress: '190000, Санкт-Петербург, Невский пр., д. 10',
  taxId: '500100732259',
};

async function withLegalDetails(vatRate: string | null = '20') {
  ok(await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { ...SELLER, vatRate }));
  ok(await call(shop, 'PATCH', `/api/v1/accounts/${alpha.accountId}`, shop.admin, BUYER));
}

const list = async (auth = shop.admin, query = '') =>
  ok(await call(shop, 'GET', `/api/v1/invoices${query}`, auth)).items as {
    id: number;
    number: number;
    kind: string;
    accountId: number;
    total: string;
    net: string;
    vat: string;
    paymentId: number | null;
    orderId: number | null;
    serviceId: number | null;
    ledgerEntryId: number;
  }[];
const pdfOf = async (id: number, auth = shop.admin, lang?: 'en' | 'ru') => {
  const res = await call(shop, 'GET', `/api/v1/invoices/${id}/pdf${lang ? `?lang=${lang}` : ''}`, auth);
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('application/pdf');
  expect(res.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
  return { text: await pdfText(res.rawPayload), disposition: String(res.headers['content-disposition']) };
};
const sumOf = (amounts: string[]) => amounts.reduce((a, s) => a + BigInt(s.replace('.', '')), 0n);
const cents = (s: string) => BigInt(s.replace('.', ''));

describe('receipts', () => {
  it('a payment gets receipt No. 1 with both parties and the VAT included; its PDF reads back with the totals and the Cyrillic names', async () => {
    await withLegalDetails('20');
    const payment = await payIn(shop, alpha.accountId, '120.00', 'BANK-77');

    const [summary] = await list(alpha.auth);
    expect(summary).toMatchObject({
      number: 1,
      kind: 'receipt',
      accountId: alpha.accountId,
      issuedOn: '2021-12-16',
      currency: 'EUR',
      total: '120.00',
      net: '100.00',
      vat: '20.00',
      vatRate: '20',
      paymentId: payment.id,
      orderId: null,
      ledgerEntryId: payment.ledgerEntryId,
    });
    const doc = ok(await call(shop, 'GET', `/api/v1/invoices/${summary!.id}`, alpha.auth));
    expect(doc.seller).toEqual({
      name: 'My hosting',
      legalName: SELLER.legalName,
      address: SELLER.legalAddress,
      taxId: SELLER.taxId,
      vatNumber: SELLER.vatNumber,
    });
    expect(doc.buyer).toMatchObject({
      accountId: alpha.accountId,
      email: 'alpha@example.com',
      legalName: BUYER.legalName,
      taxId: BUYER.taxId,
    });
    expect(doc.pricesIncludeVat).toBe(true);
    expect(doc.payment).toEqual({ id: payment.id, method: 'bank', reference: 'BANK-77' });
    expect(doc.lines).toEqual([
      expect.objectContaining({
        description: 'Payment (bank) BANK-77',
        amount: '120.00',
        net: '100.00',
        vat: '20.00',
      }),
    ]);

    const en = await pdfOf(summary!.id, alpha.auth);
    expect(en.disposition).toBe('attachment; filename="receipt-1.pdf"');
    for (const s of [
      'Receipt No. 1',
      'Date: 2021-12-16',
      SELLER.legalName,
      SELLER.legalAddress,
      `Tax ID: ${SELLER.taxId}`,
      BUYER.legalName,
      `Tax ID: ${BUYER.taxId}`,
      'Total without VAT 100.00',
      'VAT 20 % 20.00',
      'Total 120.00 EUR',
      'Prices include VAT at 20 %.',
      'Payment: bank BANK-77',
    ])
      expect(en.text).toContain(s);
    const ru = await pdfOf(summary!.id, alpha.auth, 'ru');
    for (const s of [
      'Квитанция № 1',
      'Продавец',
      'Покупатель',
      BUYER.legalName,
      'НДС 20 % 20.00',
      'Всего 120.00 EUR',
    ])
      expect(ru.text).toContain(s);
  });

  it('no VAT rate: everything is net, the PDF says so; an account without legal details prints its name', async () => {
    const payment = await payIn(shop, bravo.accountId, '33.33');
    const [doc] = await list(bravo.auth);
    expect(doc).toMatchObject({
      total: '33.33',
      net: '33.33',
      vat: '0.00',
      vatRate: null,
      paymentId: payment.id,
    });
    const { text } = await pdfOf(doc!.id, bravo.auth);
    expect(text).toContain('Bravo Secret Industries');
    expect(text).toContain('No VAT charged.');
    expect(text).toContain('Total 33.33 EUR');
  });

  it('the document keeps what it said when issued: later renames and VAT changes do not touch it, and the database refuses to edit it', async () => {
    await withLegalDetails('20');
    await payIn(shop, alpha.accountId, '10.00');
    const [summary] = await list();
    const before = ok(await call(shop, 'GET', `/api/v1/invoices/${summary!.id}`, shop.admin));
    const pdfBefore = (await pdfOf(summary!.id)).text;

    ok(
      await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { legalName: 'New Name LLC', vatRate: '22' }),
    );
    ok(
      await call(shop, 'PATCH', `/api/v1/accounts/${alpha.accountId}`, shop.admin, {
        name: 'Renamed',
        legalName: null,
        taxId: null,
      }),
    );
    expect(ok(await call(shop, 'GET', `/api/v1/invoices/${summary!.id}`, shop.admin))).toEqual(before);
    expect((await pdfOf(summary!.id)).text).toBe(pdfBefore);
    // The next document prints the new details.
    await payIn(shop, alpha.accountId, '12.20');
    const [next] = await list();
    const nextDoc = ok(await call(shop, 'GET', `/api/v1/invoices/${next!.id}`, shop.admin));
    expect(nextDoc).toMatchObject({ number: 2, vatRate: '22', vat: '2.20', net: '10.00' });
    expect(nextDoc.seller.legalName).toBe('New Name LLC');
    expect(nextDoc.buyer).toMatchObject({ name: 'Renamed', legalName: null, taxId: null });

    const db = shop.ctx.db.kysely;
    await expect(
      db.updateTable('documents').set({ content: '{}' }).where('id', '=', summary!.id).execute(),
    ).rejects.toThrow(/immutable/);
    await expect(db.deleteFrom('documents').where('id', '=', summary!.id).execute()).rejects.toThrow(
      /immutable/,
    );
    expect(ok(await call(shop, 'GET', `/api/v1/invoices/${summary!.id}`, shop.admin))).toEqual(before);
  });

  it('bad legal details or VAT rates are refused with a stable code and change nothing', async () => {
    const before = ok(await call(shop, 'GET', '/api/v1/provider', shop.admin));
    for (const vatRate of ['101', '-5', '20%', '1.234', 20]) {
      const res = await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { vatRate });
      expectError(res, 400, 'validation_failed');
    }
    expectError(
      await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { legalName: '' }),
      400,
      'validation_failed',
    );
    expectError(
      await call(shop, 'PATCH', `/api/v1/accounts/${alpha.accountId}`, shop.admin, { taxId: 'x'.repeat(65) }),
      400,
      'validation_failed',
    );
    expect(ok(await call(shop, 'GET', '/api/v1/provider', shop.admin))).toEqual(before);
    // A client cannot set its own account's details through the staff endpoint.
    expect(
      (await call(shop, 'PATCH', `/api/v1/accounts/${alpha.accountId}`, alpha.auth, { legalName: 'Me' }))
        .statusCode,
    ).toBe(403);
    const set = ok(await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { ...SELLER, vatRate: '8.5' }));
    expect(set).toMatchObject({ ...SELLER, vatRate: '8.5' });
    expect(
      ok(await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { vatRate: null })).vatRate,
    ).toBeNull();
  });
});

describe('invoices for charges', () => {
  it('a paid order gets an invoice with its priced lines (tariff, setup fee, addons); totals equal the ledger charge', async () => {
    await withLegalDetails('20');
    await payIn(shop, alpha.accountId, '100.00');
    const { order, serviceId } = await orderPaid(shop, alpha, {
      tariffId: shop.tariffs.vds,
      period: 1,
      params: { hostname: 'web1.example.com', os_template: 'debian-11' },
      addonValues: {
        [shop.addons.ram]: 4,
        [shop.addons.panel]: shop.panels.lite6,
        [shop.addons.backups]: true,
      },
    });
    const docs = await list(alpha.auth);
    expect(docs.map((d) => [d.number, d.kind])).toEqual([
      [2, 'invoice'],
      [1, 'receipt'],
    ]);
    const invoice = ok(await call(shop, 'GET', `/api/v1/invoices/${docs[0]!.id}`, alpha.auth));
    expect(invoice).toMatchObject({ orderId: order.id, total: order.total, currency: 'EUR' });
    const entry = await shop.ctx.db.kysely
      .selectFrom('ledger_entries')
      .selectAll()
      .where('id', '=', invoice.ledgerEntryId)
      .executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ kind: 'charge', ref_type: 'order', amount_minor: -cents(order.total) });
    // VDS Start 20.00 + setup 5.00 + RAM 2 GB over the included 2 × 1.50 + panel 5.00 + backups 3.00 = 36.00.
    expect(order.total).toBe('36.00');
    const descriptions = invoice.lines.map((l: { description: string }) => l.description);
    expect(descriptions).toEqual(expect.arrayContaining(['VDS Start', 'Setup fee: VDS Start', 'Backups']));
    for (const l of invoice.lines) {
      expect(l).toMatchObject({ serviceId, months: 1, start: null, end: null });
      expect(cents(l.net) + cents(l.vat)).toBe(cents(l.amount));
    }
    expect(sumOf(invoice.lines.map((l: { amount: string }) => l.amount))).toBe(cents(invoice.total));
    expect(sumOf(invoice.lines.map((l: { vat: string }) => l.vat))).toBe(cents(invoice.vat));
    expect(sumOf(invoice.lines.map((l: { net: string }) => l.net))).toBe(cents(invoice.net));
    // VAT is taken out of each line and rounded there (BILLING.md: one rounding point per line,
    // sums of rounded lines): 20.00 → 3.33, 5.00 → 0.83 (twice), 3.00 → 0.50 (twice) = 5.99,
    // not the 6.00 that 36.00 × 20/120 would give.
    expect(invoice.lines.map((l: { amount: string; vat: string }) => [l.amount, l.vat]).sort()).toEqual(
      [
        ['20.00', '3.33'],
        ['5.00', '0.83'],
        ['5.00', '0.83'],
        ['3.00', '0.50'],
        ['3.00', '0.50'],
      ].sort(),
    );
    expect(invoice).toMatchObject({ vat: '5.99', net: '30.01', total: '36.00' });

    const { text, disposition } = await pdfOf(invoice.id, alpha.auth);
    expect(disposition).toBe('attachment; filename="invoice-2.pdf"');
    for (const s of [
      'Invoice No. 2',
      'VDS Start',
      `service #${serviceId}`,
      '1 mo.',
      'Total 36.00 EUR',
      'VAT 20 % 5.99',
    ])
      expect(text).toContain(s);
    expect(text).toContain(`Order #${order.id}`);
  });

  it('a renewal gets an invoice for the range it bought; an order paid later by a payment gets its own; free trials none', async () => {
    await payIn(shop, alpha.accountId, '10.00');
    const { serviceId } = await orderPaid(shop, alpha, licenseItem(shop));
    await runBillingHttp(shop);
    expect((await getService(shop, serviceId)).expiresOn).toBe('2022-01-16');
    // Not enough for the renewal: refused, nothing issued.
    const before = await snapshot(shop.ctx);
    const refused = await call(shop, 'POST', `/api/v1/services/${serviceId}/renew`, alpha.auth, {
      period: 12,
    });
    expectError(refused, 409, 'insufficient_balance');
    expect(await snapshot(shop.ctx)).toBe(before);
    expect(await list()).toHaveLength(2);

    await payIn(shop, alpha.accountId, '120.00');
    ok(await call(shop, 'POST', `/api/v1/services/${serviceId}/renew`, alpha.auth, { period: 12 }));
    const [renewal] = await list(alpha.auth, '?kind=invoice');
    const doc = ok(await call(shop, 'GET', `/api/v1/invoices/${renewal!.id}`, alpha.auth));
    expect(doc).toMatchObject({ number: 4, kind: 'invoice', serviceId, orderId: null, total: '120.00' });
    expect(doc.lines).toEqual([
      expect.objectContaining({
        description: 'ISPmanager Lite',
        serviceId,
        months: 12,
        start: '2022-01-16',
        end: '2023-01-16',
        amount: '120.00',
      }),
    ]);
    expect((await pdfOf(doc.id, alpha.auth)).text).toContain('2022-01-16 – 2023-01-16');

    // An order waiting for money is paid by the payment that covers it, in its transaction:
    // the order's invoice, then the payment's receipt.
    const waiting = ok(
      await call(shop, 'POST', '/api/v1/orders', bravo.auth, { items: [licenseItem(shop)], payNow: false }),
      201,
    );
    expect(waiting.status).toBe('awaiting_payment');
    await payIn(shop, bravo.accountId, '10.00');
    const bravoDocs = await list(bravo.auth);
    expect(bravoDocs.map((d) => [d.number, d.kind, d.total, d.orderId])).toEqual([
      [6, 'receipt', '10.00', null],
      [5, 'invoice', '10.00', waiting.id],
    ]);

    // A free trial charges nothing and issues nothing.
    const count = (await list()).length;
    await orderPaid(shop, alpha, licenseItem(shop, { tariffId: shop.tariffs.trial, period: -100 }));
    expect(await list()).toHaveLength(count);
  });

  it('the daily run’s automatic renewal gets its invoice too, issued on the provider’s date', async () => {
    ok(
      await call(shop, 'PATCH', '/api/v1/provider', shop.admin, { timeZone: 'Europe/Moscow', vatRate: '20' }),
    );
    await payIn(shop, alpha.accountId, '30.00');
    const { serviceId } = await orderPaid(shop, alpha, licenseItem(shop, { autoprolong: 1 }));
    await runBillingHttp(shop);
    expect((await getService(shop, serviceId)).expiresOn).toBe('2022-01-16');
    // 2022-01-14 22:30 UTC is already 2022-01-15 in Moscow: one day before the end, renewed.
    shop.ctx.clock.set('2022-01-14T22:30:00Z');
    await runBillingHttp(shop);
    expect((await getService(shop, serviceId)).expiresOn).toBe('2022-02-16');
    const [auto] = await list(alpha.auth, '?kind=invoice');
    const doc = ok(await call(shop, 'GET', `/api/v1/invoices/${auto!.id}`, alpha.auth));
    expect(doc).toMatchObject({ number: 3, serviceId, issuedOn: '2022-01-15', total: '10.00', vat: '1.67' });
    expect(doc.lines).toEqual([
      expect.objectContaining({ start: '2022-01-16', end: '2022-02-16', amount: '10.00', net: '8.33' }),
    ]);
  });
  it('a tariff upgrade gets an invoice for the difference over the days left; a downgrade credits and issues nothing', async () => {
    await withLegalDetails('20');
    await payIn(shop, alpha.accountId, '30.00');
    const { serviceId } = await orderPaid(shop, alpha, licenseItem(shop));
    await runBillingHttp(shop);
    expect((await getService(shop, serviceId)).expiresOn).toBe('2022-01-16');
    shop.ctx.clock.set('2021-12-26T10:00:00Z');
    const count = (await list()).length;
    // 21 of 31 paid days left: 20.00 × 21/31 = 13.55 on Pro, 10.00 × 21/31 = 6.77 on Lite.
    const up = ok(
      await call(shop, 'POST', `/api/v1/services/${serviceId}/change-tariff`, shop.admin, {
        tariffId: shop.tariffs.licensePro,
      }),
    );
    expect(up.change.difference).toBe('6.78');
    expect(await list()).toHaveLength(count + 1);
    // Newest first: the order's invoice, then this one.
    const docs = await list(alpha.auth, '?kind=invoice');
    expect(docs).toHaveLength(2);
    const doc = ok(await call(shop, 'GET', `/api/v1/invoices/${docs[0]!.id}`, alpha.auth));
    expect(doc).toMatchObject({
      kind: 'invoice',
      serviceId,
      orderId: null,
      issuedOn: '2021-12-26',
      total: '6.78',
      vat: '1.13',
      net: '5.65',
    });
    expect(doc.lines).toEqual([
      expect.objectContaining({
        description: 'Tariff change ISPmanager Lite → ISPmanager Pro for 21 days',
        serviceId,
        months: null,
        start: '2021-12-26',
        end: '2022-01-16',
        amount: '6.78',
      }),
    ]);
    // The document is the ledger's charge, to the cent.
    const ledger = ok(
      await call(shop, 'GET', `/api/v1/accounts/${alpha.accountId}/ledger`, alpha.auth),
    ).items;
    expect(ledger[0]).toMatchObject({ id: docs[0]!.ledgerEntryId, kind: 'charge', amount: '-6.78' });
    expect((await pdfOf(doc.id, alpha.auth)).text).toContain('2021-12-26 – 2022-01-16');

    // Back down: 6.78 credited, no document (credit notes are not built).
    ok(
      await call(shop, 'POST', `/api/v1/services/${serviceId}/change-tariff`, shop.admin, {
        tariffId: shop.tariffs.license,
      }),
    );
    expect(await list()).toHaveLength(count + 1);
  });
});

describe('who sees documents', () => {
  it('owner and staff read the list, the document and its PDF; another client gets 404 like for a missing one', async () => {
    await payIn(shop, alpha.accountId, '10.00');
    await payIn(shop, bravo.accountId, '20.00');
    const all = await list();
    expect(all.map((d) => d.number)).toEqual([2, 1]);
    const alphaDoc = all.find((d) => d.accountId === alpha.accountId)!;
    expect((await list(alpha.auth)).map((d) => d.id)).toEqual([alphaDoc.id]);
    expect((await list(shop.admin, `?accountId=${bravo.accountId}`)).map((d) => d.accountId)).toEqual([
      bravo.accountId,
    ]);
    // A client naming another account learns nothing of it.
    expectError(
      await call(shop, 'GET', `/api/v1/invoices?accountId=${alpha.accountId}`, bravo.auth),
      404,
      'account_not_found',
    );
    for (const path of [`/api/v1/invoices/${alphaDoc.id}`, `/api/v1/invoices/${alphaDoc.id}/pdf`]) {
      expect((await call(shop, 'GET', path, alpha.auth)).statusCode).toBe(200);
      expect((await call(shop, 'GET', path, shop.admin)).statusCode).toBe(200);
      expectError(await call(shop, 'GET', path, bravo.auth), 404, 'invoice_not_found');
    }
    expectError(await call(shop, 'GET', '/api/v1/invoices/987654', shop.admin), 404, 'invoice_not_found');
    expectError(await call(shop, 'GET', '/api/v1/invoices/987654/pdf', alpha.auth), 404, 'invoice_not_found');
    expectError(
      await call(shop, 'GET', `/api/v1/invoices/${alphaDoc.id}/pdf?lang=de`, alpha.auth),
      400,
      'validation_failed',
    );
    expect(
      (await call(shop, 'GET', `/api/v1/invoices/${alphaDoc.id}`, { bearer: 'bf_nope' })).statusCode,
    ).toBe(401);
  });
});

/**
 * A context whose payments fail after a number was drawn in their transaction: the credit hook
 * pays the account's waiting orders as always (issuing their invoices), then throws.
 */
function failsAfterNumbering(ctx: AppContext): AppContext {
  return {
    ...ctx,
    hooks: {
      async afterCredit(tx, c, accountId) {
        await appHooks.afterCredit(tx, c, accountId);
        const last = await tx
          .selectFrom('documents')
          .select('number')
          .where('account_id', '=', accountId)
          .orderBy('number', 'desc')
          .executeTakeFirst();
        if (!last) throw new Error('test set-up: nothing was numbered in this transaction');
        throw new Error(`rolled back after issuing No. ${last.number}`);
      },
    },
  };
}

describe('numbering', () => {
  const numbers = async () =>
    (await shop.ctx.db.kysely.selectFrom('documents').select('number').orderBy('number').execute()).map((r) =>
      Number(r.number),
    );

  it('a payment rolled back after it was numbered takes its number back: the next one gets it', async () => {
    await payIn(shop, alpha.accountId, '1.00');
    const waiting = ok(
      await call(shop, 'POST', '/api/v1/orders', alpha.auth, { items: [licenseItem(shop)], payNow: false }),
      201,
    );
    const before = await snapshot(shop.ctx);
    // The payment pays the waiting order (its invoice takes No. 2), then its transaction fails.
    await expect(
      recordPayment(failsAfterNumbering(shop.ctx), staffActor, alpha.accountId, {
        amount: '10.00',
        method: 'bank',
        reference: 'LOST-1',
      }),
    ).rejects.toThrow('rolled back after issuing No. 2');
    expect(await snapshot(shop.ctx)).toBe(before);
    expect(await numbers()).toEqual([1]);
    // The next payment pays the order: its invoice gets No. 2 again, the receipt No. 3.
    await payIn(shop, alpha.accountId, '10.00');
    expect(await numbers()).toEqual([1, 2, 3]);
    expect((await list(alpha.auth)).map((d) => [d.number, d.kind, d.orderId])).toEqual([
      [3, 'receipt', null],
      [2, 'invoice', waiting.id],
      [1, 'receipt', null],
    ]);
  });

  it(`20 concurrent payments (some rolled back) are numbered without gaps or repeats${TEST_ENGINE === 'postgres' ? ' on 20 connections' : ''}`, async () => {
    // 20 accounts, each with its own login, paying at once over HTTP and through commands.
    const accounts = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const email = `payer${i}@example.com`;
        const { account } = await createClient(shop.ctx, email, { name: `Плательщик ${i}` });
        return {
          id: Number(account.id),
          auth: { bearer: await createToken(shop.t.app, await login(shop.t.app, email)) },
        };
      }),
    );
    // PostgreSQL: half the payments come over HTTP (the app's pool, 10 connections), half
    // through the command on a second pool of 10, so 20 transactions can be open at once.
    // SQLite serialises them in its one writer. Of the command ones, every other one fails
    // after a number was drawn in its transaction, and rolls back.
    const second: AppContext =
      TEST_ENGINE === 'postgres' ? { ...shop.ctx, db: shop.ctx.testDb.openAnother() } : shop.ctx;
    const failing = failsAfterNumbering(second);
    // Each payment that will fail first pays a waiting order, so it draws a number before it fails.
    for (const [i, a] of accounts.entries())
      if (i % 4 === 3)
        ok(
          await call(shop, 'POST', '/api/v1/orders', a.auth, { items: [licenseItem(shop)], payNow: false }),
          201,
        );
    const results = await Promise.allSettled(
      accounts.map((a, i) => {
        const body = { amount: i % 4 === 3 ? '10.00' : `${i + 1}.00`, method: 'bank', reference: `R-${i}` };
        if (i % 2 === 0) return call(shop, 'POST', `/api/v1/accounts/${a.id}/payments`, shop.admin, body);
        return recordPayment(i % 4 === 3 ? failing : second, staffActor, a.id, body);
      }),
    );
    const committed = results.filter(
      (r) => r.status === 'fulfilled' && (!('statusCode' in r.value) || r.value.statusCode === 201),
    );
    const rolledBack = results.filter((r) => r.status === 'rejected');
    expect(committed).toHaveLength(15);
    expect(rolledBack).toHaveLength(5);
    for (const r of rolledBack)
      expect((r as PromiseRejectedResult).reason.message).toMatch(/^rolled back after issuing No\. \d+$/);
    expect(await numbers()).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    // Each committed payment has exactly its own receipt, for its amount.
    const docs = await shop.ctx.db.kysely.selectFrom('documents').selectAll().execute();
    const payments = await shop.ctx.db.kysely.selectFrom('payments').selectAll().execute();
    expect(docs).toHaveLength(payments.length);
    for (const p of payments) {
      const d = docs.find((x) => Number(x.payment_id) === Number(p.id))!;
      expect(d).toMatchObject({
        kind: 'receipt',
        total_minor: p.amount_minor,
        ledger_entry_id: p.ledger_entry_id,
      });
    }
    const counter = await shop.ctx.db.kysely
      .selectFrom('document_counters')
      .selectAll()
      .executeTakeFirstOrThrow();
    expect(Number(counter.next_number)).toBe(16);
  });

  it(`10 upgrades and 10 payments of the same accounts at once: each upgrade has its invoice, numbers have no gap${TEST_ENGINE === 'postgres' ? ' (two pools)' : ''}`, async () => {
    const accounts = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const email = `upgrader${i}@example.com`;
        const { account } = await createClient(shop.ctx, email, { name: `Upgrader ${i}` });
        const c: Client = {
          accountId: Number(account.id),
          auth: { bearer: await createToken(shop.t.app, await login(shop.t.app, email)) },
        };
        return c;
      }),
    );
    const services: number[] = [];
    for (const c of accounts) {
      await payIn(shop, c.accountId, '16.78');
      services.push((await orderPaid(shop, c, licenseItem(shop))).serviceId);
    }
    await runBillingHttp(shop);
    shop.ctx.clock.set('2021-12-26T10:00:00Z');
    const issuedBefore = (await numbers()).length;
    // Each upgrade (21 of 31 days: 6.78, already on the balance) races a payment to its own
    // account: the upgrade over HTTP (the app's pool), the payment through the command on a
    // second pool, so on PostgreSQL both hold their locks (service, account, counter) at once.
    const second: AppContext =
      TEST_ENGINE === 'postgres' ? { ...shop.ctx, db: shop.ctx.testDb.openAnother() } : shop.ctx;
    const results = await Promise.allSettled(
      accounts.flatMap((c, i) => [
        call(shop, 'POST', `/api/v1/services/${services[i]}/change-tariff`, shop.admin, {
          tariffId: shop.tariffs.licensePro,
        }),
        recordPayment(second, staffActor, c.accountId, {
          amount: '1.00',
          method: 'bank',
          reference: `U-${i}`,
        }),
      ]),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    for (const [i, r] of results.entries())
      if (i % 2 === 0)
        expect(
          (r as PromiseFulfilledResult<{ statusCode: number; body: string }>).value.statusCode,
          String(i),
        ).toBe(200);
    const issued = await numbers();
    expect(issued).toEqual(Array.from({ length: issued.length }, (_, i) => i + 1));
    expect(issued.length - issuedBefore).toBe(20);
    const charges = await shop.ctx.db.kysely
      .selectFrom('ledger_entries')
      .select(['id', 'amount_minor', 'account_id'])
      .where('description', 'like', '%tariff change%')
      .execute();
    expect(charges).toHaveLength(10);
    for (const e of charges) {
      const d = await shop.ctx.db.kysely
        .selectFrom('documents')
        .selectAll()
        .where('ledger_entry_id', '=', e.id)
        .executeTakeFirstOrThrow();
      expect(d).toMatchObject({ kind: 'invoice', total_minor: -e.amount_minor, account_id: e.account_id });
    }
    // 16.78 paid in, 10.00 for the order, 6.78 for the upgrade, 1.00 paid during it.
    for (const c of accounts) expect(await balanceOf(shop, c.accountId)).toBe('1.00');
  });
});
