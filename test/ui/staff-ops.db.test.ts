import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/modules/services/engine.js';
import { startWorker } from '../../src/modules/services/worker.js';
import { DESKTOP, launchChromium, PHONE, requireWebBuild, screenshot } from '../helpers/browser.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { PASSWORD } from '../helpers/http.js';
import { openResellingShop, orderLicense, type ResellingShop, sellLite } from '../helpers/reselling.js';
import { call, ok } from '../helpers/shop.js';
import { apiSession, fillSignIn, openApp, overflow } from './helpers.js';

/**
 * The staff panel's operations half in a real browser, against the real application listening
 * on 127.0.0.1 over a fresh test database of the suite's engine (SQLite or PostgreSQL), with a
 * worker running queued operations. The upstream is the stateful in-memory license seller of
 * `test/fixtures/remote-catalog-module.ts`; it is told to refuse the next order once.
 *
 * 2021-12-16  Alpha orders ISPmanager 6 Lite (10.00 a month, auto-renew on): the upstream
 *             refuses, the `open` fails — a failed operation and a staff task.
 *             Staff see it on the dashboard, open it, retry it; it completes.
 * 2022-01-16  The license expires that day: staff preview the run for the date (it would
 *             renew it for 10.00 from the balance), run it, and the counts are the same.
 *
 * And a client's session typing /staff/... is sent to its own area, and the API refuses it (403).
 */

const STAFF = { email: 'boss@example.com', password: PASSWORD };
const CLIENT = { email: 'alpha@example.com', password: PASSWORD };

describe('web app: staff panel — dashboard, queue, billing run', () => {
  let shop: ResellingShop;
  let url: string;
  let browser: Browser;
  let worker: { stop: () => Promise<void> };
  let serviceId: number;

  beforeAll(async () => {
    requireWebBuild();
    shop = await openResellingShop();
    const lite = await sellLite(shop);
    shop.remote.failNext = new OperationError('upstream_refused', 'The upstream refused the order.', false);
    serviceId = await orderLicense(shop, lite, 1);
    ok(await call(shop, 'PUT', `/api/v1/services/${serviceId}/autoprolong`, shop.admin, { period: 1 }));
    url = await shop.t.app.listen({ host: '127.0.0.1', port: 0 });
    worker = startWorker(shop.ctx, { pollMs: 100 });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    if (shop) {
      await expectLedgerBalanced(shop.ctx);
      await shop.t.close();
    }
  });

  async function staffPage(viewport: { width: number; height: number }) {
    const { context, page } = await openApp(browser, url, viewport);
    await fillSignIn(page, STAFF);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/staff');
    return { context, page };
  }

  const failedOpId = async () =>
    Number(
      (
        await shop.ctx.db.kysely
          .selectFrom('operations')
          .select('id')
          .where('service_id', '=', serviceId)
          .where('kind', '=', 'open')
          .executeTakeFirstOrThrow()
      ).id,
    );

  it('staff see the failed operation on the dashboard, open it, retry it, and it completes', async () => {
    const opId = await failedOpId();
    const before = ok(await call(shop, 'GET', `/api/v1/operations/${opId}`, shop.admin));
    expect(before.status).toBe('failed');

    const { context, page } = await staffPage(DESKTOP);
    try {
      const failed = page.getByRole('table', { name: 'Failed operations' });
      await failed.getByText('The upstream refused the order.').waitFor();
      await page
        .getByRole('table', { name: 'Last billing runs' })
        .or(page.getByText('No billing run yet.'))
        .waitFor();
      // The charts drew (recharts renders SVG) and the upstream balance card answered for itself.
      expect(await page.locator('.recharts-surface').count()).toBeGreaterThanOrEqual(3);
      await page.getByText('Upstream', { exact: true }).waitFor();
      await screenshot(page, 'staff-dashboard-desktop');

      await failed.getByRole('link', { name: `Setting up #${opId}` }).click();
      await page.getByRole('heading', { name: `Setting up #${opId}` }).waitFor();
      await page.getByText('Last error: The upstream refused the order.').waitFor();
      await screenshot(page, 'staff-operation-failed-desktop');
      await page.getByRole('button', { name: 'Retry' }).click();
      await page.getByText('done', { exact: true }).waitFor({ timeout: 20_000 });
      await screenshot(page, 'staff-operation-done-desktop');

      const after = ok(await call(shop, 'GET', `/api/v1/operations/${opId}`, shop.admin));
      expect(after.status).toBe('done');
      const service = ok(await call(shop, 'GET', `/api/v1/services/${serviceId}`, shop.admin));
      expect(service.status).toBe('active');
      // Its task is closed: the queue is empty, and the dashboard says so.
      const tasks = ok(await call(shop, 'GET', '/api/v1/tasks?status=open', shop.admin));
      expect(tasks.items).toEqual([]);
      await nav(page, 'Queue').click();
      await page.getByText('Nothing needs staff right now.').waitFor();
      await nav(page, 'Dashboard').click();
      await page.getByText('No operation has failed.').waitFor();
    } finally {
      await context.close();
    }
  });

  it('a long queue is paged: 20 tasks, then the older ones, newest first', async () => {
    const inserted = await shop.ctx.db.kysely
      .insertInto('staff_tasks')
      .values(
        Array.from({ length: 25 }, (_, i) => ({
          kind: 'billing_error' as const,
          status: 'open' as const,
          title: `Billing error ${String(i + 1).padStart(2, '0')}`,
          details: JSON.stringify({ message: `Renewal ${i + 1} could not be charged.` }),
          created_at: '2021-12-16T10:00:00.000Z',
        })),
      )
      .returning('id')
      .execute();
    const { context, page } = await staffPage(DESKTOP);
    try {
      await nav(page, 'Queue').click();
      const tasks = page.getByRole('region', { name: 'Open tasks', exact: true });
      await tasks.getByText('Billing error 25').waitFor();
      const cards = tasks.getByRole('region', { name: /^Billing error \d\d$/ });
      expect(await cards.count()).toBe(20);
      expect(await cards.first().getAttribute('aria-label')).toBe('Billing error 25');
      expect(await cards.last().getAttribute('aria-label')).toBe('Billing error 06');
      const pager = page.getByRole('group', { name: 'Open tasks' });
      await pager.getByRole('button', { name: 'Older' }).click();
      await tasks.getByText('Billing error 05').waitFor();
      expect(await cards.count()).toBe(5);
      // The page turned from the bottom of a long list: the list's start is brought into view,
      // below the fixed header.
      const heading = await tasks.getByRole('heading', { name: 'Open tasks' }).boundingBox();
      expect(heading!.y).toBeGreaterThanOrEqual(60);
      expect(heading!.y).toBeLessThan(DESKTOP.height);
      expect(await pager.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
      await page.evaluate('window.scrollTo(0, 0)');
      await screenshot(page, 'staff-queue-paged-desktop');
      await pager.getByRole('button', { name: 'Newer' }).click();
      await tasks.getByText('Billing error 25').waitFor();
    } finally {
      await context.close();
      await shop.ctx.db.kysely
        .updateTable('staff_tasks')
        .set({ status: 'done', closed_at: '2021-12-16T10:00:00.000Z', closed_by: 'test' })
        .where(
          'id',
          'in',
          inserted.map((r) => r.id),
        )
        .execute();
    }
  });

  it('on a phone the dashboard and the queue fit the screen', async () => {
    const { context, page } = await staffPage(PHONE);
    try {
      await page.getByText('Revenue by day').waitFor();
      await page.locator('.recharts-surface').first().waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, 'staff-dashboard-phone');
      await page.getByRole('button', { name: 'Open navigation' }).click();
      await nav(page, 'Billing run').click();
      await page.getByRole('heading', { name: 'Billing run' }).waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, 'staff-billing-phone');
      // In Russian too.
      await page.getByText('RU', { exact: true }).click();
      await page.getByRole('heading', { name: 'Запуск биллинга' }).waitFor();
      await page.getByRole('button', { name: 'Открыть меню' }).click();
      await nav(page, 'Сводка').click();
      await page.getByRole('heading', { name: 'Сводка' }).waitFor();
      await page.getByText('Выручка по дням').waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, 'staff-dashboard-ru-phone');
    } finally {
      await context.close();
    }
  });

  it('staff preview the billing run for a date, then run it: the counts match', async () => {
    shop.ctx.clock.set(new Date('2022-01-16T10:00:00Z'));
    const service = ok(await call(shop, 'GET', `/api/v1/services/${serviceId}`, shop.admin));
    expect(service.expiresOn).toBe('2022-01-16');

    const { context, page } = await staffPage(DESKTOP);
    try {
      await nav(page, 'Billing run').click();
      await page.getByRole('textbox', { name: 'Date' }).fill('2022-01-16');
      await page.getByRole('button', { name: 'Preview' }).click();
      const preview = page.getByRole('region', { name: 'What the run for 2022-01-16 would do' });
      await preview.waitFor();
      const actions = preview.getByRole('table', { name: 'Actions' });
      await actions.getByRole('row', { name: `Service #${serviceId} renewal renewed 10.00 EUR` }).waitFor();
      const previewCounts = await countsOf(preview);
      expect(previewCounts.Renewed).toBe('1 (10.00 EUR)');
      await screenshot(page, 'staff-billing-preview-desktop');
      // Looking changed nothing.
      expect(ok(await call(shop, 'GET', `/api/v1/services/${serviceId}`, shop.admin)).expiresOn).toBe(
        '2022-01-16',
      );

      await page.getByRole('button', { name: 'Run billing for 2022-01-16' }).click();
      const done = page.getByRole('region', { name: 'The run for 2022-01-16 is done' });
      await done.waitFor();
      const doneCounts = await countsOf(done);
      expect(doneCounts).toEqual(previewCounts);
      await page
        .getByRole('table', { name: 'Last billing runs' })
        .getByRole('cell', { name: '2022-01-16' })
        .waitFor();
      await screenshot(page, 'staff-billing-run-desktop');

      expect(ok(await call(shop, 'GET', `/api/v1/services/${serviceId}`, shop.admin)).expiresOn).toBe(
        '2022-02-16',
      );
      const runs = ok(await call(shop, 'GET', '/api/v1/billing/runs', shop.admin));
      expect(runs.items[0]).toMatchObject({ date: '2022-01-16', status: 'completed' });
      expect(runs.items[0].summary).toMatchObject({ renewed: 1, renewedAmount: '10.00' });
    } finally {
      await context.close();
    }
  });

  it('a client typing a staff address lands in its own area, and the API refuses its staff calls', async () => {
    const { context, page } = await openApp(browser, url, DESKTOP);
    try {
      await fillSignIn(page, CLIENT);
      await page.getByRole('heading', { name: 'Services' }).waitFor();
      for (const path of ['/staff', '/staff/queue', `/staff/services/${serviceId}`, '/staff/billing']) {
        await page.goto(`${url}${path}`);
        await page.getByRole('heading', { name: 'Services' }).waitFor();
        expect(new URL(page.url()).pathname).toBe('/services');
        expect(await page.getByRole('link', { name: 'Billing run' }).count()).toBe(0);
      }
      await screenshot(page, 'staff-client-redirected-desktop');
      const api = await apiSession(url, CLIENT);
      for (const path of [
        '/api/v1/reports/dashboard',
        '/api/v1/tasks',
        '/api/v1/operations',
        '/api/v1/billing/runs',
        '/api/v1/accounts',
      ]) {
        const r = await api('GET', path);
        expect(r.status, path).toBe(403);
        expect(r.body.error.code).toBe('forbidden');
      }
      const run = await api('POST', '/api/v1/billing/run', { dryRun: true });
      expect(run.status).toBe(403);
    } finally {
      await context.close();
    }
  });
});

/** A staff nav entry. */
const nav = (page: Page, name: string) =>
  page.getByRole('navigation', { name: /Main navigation|Основн/ }).getByRole('link', { name });

/** The counts a run summary shows, label → value. */
async function countsOf(region: ReturnType<Page['getByRole']>): Promise<Record<string, string>> {
  const cells = region.locator('[data-count]');
  const out: Record<string, string> = {};
  for (let i = 0; i < (await cells.count()); i++) {
    const cell = cells.nth(i);
    out[(await cell.getAttribute('data-count'))!] = (
      (await cell.locator('p').nth(1).textContent()) ?? ''
    ).trim();
  }
  return out;
}
