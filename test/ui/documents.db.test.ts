import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchChromium, PHONE, screenshot } from '../helpers/browser.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { pdfText } from '../helpers/pdf.js';
import { type ApiCall, apiSession, type Demo, fillSignIn, openApp, overflow, startDemo } from './helpers.js';

/**
 * The client's documents (issue 16, item 5) in a real browser against `billfold serve --demo`:
 * the demo top-up's receipt and, after an order paid through the API, its invoice are listed on
 * the Balance page; the PDF link downloads a file that reads back with the document's number and
 * total, in English or, with the language switched, in Russian; the list fits a phone.
 * The server keeps its data in SQLite whichever engine the suite runs on: skipped on PostgreSQL
 * (like the other UI tests).
 */

const ADMIN = { email: 'admin@example.com', password: 'admin-password-ui-3' };

interface Doc {
  id: number;
  number: number;
  kind: 'receipt' | 'invoice';
  total: string;
  currency: string;
  orderId: number | null;
}

describe.skipIf(TEST_ENGINE === 'postgres')('web app: documents on the Balance page', () => {
  let demo: Demo;
  let browser: Browser;
  let api: ApiCall;
  let docs: Doc[];

  beforeAll(async () => {
    demo = await startDemo(ADMIN);
    api = await apiSession(demo.url, demo.client);
    // The client orders a VPS through the API, paid from the demo balance: an invoice.
    const catalog = await api('GET', '/api/v1/catalog');
    const vps = catalog.body.tariffs.find((t: { productType: string }) => t.productType === 'vds');
    const order = await api('POST', '/api/v1/orders', {
      items: [
        {
          tariffId: vps.id,
          period: 1,
          params: { hostname: 'docs.example.com', os_template: 'Ubuntu 22.04' },
        },
      ],
      payNow: true,
    });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    docs = (await api('GET', '/api/v1/invoices')).body.items;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  async function openBalance(viewport: { width: number; height: number }) {
    const { context, page } = await openApp(browser, demo.url, viewport);
    await fillSignIn(page, demo.client);
    await page.getByRole('heading', { name: 'Services' }).waitFor();
    await page.goto(`${demo.url}/balance`);
    await page.getByRole('table', { name: 'Documents' }).waitFor();
    return { context, page };
  }

  async function download(page: Page, name: string): Promise<string> {
    const [file] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name }).click(),
    ]);
    return pdfText(new Uint8Array(await (await import('node:fs/promises')).readFile((await file.path())!)));
  }

  it('lists the receipt and the invoice with their totals; the PDF link downloads the document (EN, then RU)', async () => {
    const receipt = docs.find((d) => d.kind === 'receipt')!;
    const invoice = docs.find((d) => d.kind === 'invoice')!;
    expect(receipt.total).toBe('500.00');
    expect(invoice.orderId).not.toBeNull();
    const { context, page } = await openBalance(DESKTOP);
    try {
      const table = page.getByRole('table', { name: 'Documents' });
      for (const d of [receipt, invoice]) {
        const row = table
          .getByRole('row')
          .filter({ has: page.getByRole('cell', { name: String(d.number), exact: true }) });
        await row.getByText(d.kind === 'receipt' ? 'Receipt' : 'Invoice').waitFor();
        await row.getByText(`${d.total} ${d.currency}`).waitFor();
      }
      await table.getByText(`order #${invoice.orderId}`).waitFor();
      await screenshot(page, 'client-documents-desktop');

      const en = await download(page, `Download invoice No. ${invoice.number} as PDF`);
      expect(en).toContain(`Invoice No. ${invoice.number}`);
      expect(en).toContain(`Total ${invoice.total} ${invoice.currency}`);

      await page.getByText('RU', { exact: true }).click();
      await page.getByRole('table', { name: 'Документы' }).getByText('Квитанция').waitFor();
      const ru = await download(page, `Скачать квитанцию № ${receipt.number} в PDF`);
      expect(ru).toContain(`Квитанция № ${receipt.number}`);
      expect(ru).toContain('Всего 500.00');
      await screenshot(page, 'client-documents-desktop-ru');
    } finally {
      await context.close();
    }
  });

  it('on a 390 px phone the documents fit the screen with their PDF links in view', async () => {
    const { context, page } = await openBalance(PHONE);
    try {
      const table = page.getByRole('table', { name: 'Documents' });
      await table.scrollIntoViewIfNeeded();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      const box = await table.boundingBox();
      expect(box!.x + box!.width).toBeLessThanOrEqual(PHONE.width);
      for (const d of docs) {
        const link = await page
          .getByRole('link', { name: `Download ${d.kind} No. ${d.number} as PDF` })
          .boundingBox();
        expect(link!.x + link!.width).toBeLessThanOrEqual(PHONE.width);
      }
      await screenshot(page, 'client-documents-phone');
    } finally {
      await context.close();
    }
  });
});
