import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchChromium, PHONE, requireWebBuild, screenshot } from '../helpers/browser.js';
import { type Running, spawnBillfold, waitForOutput } from '../helpers/cli.js';
import { TEST_ENGINE } from '../helpers/db.js';

/**
 * The order wizard in a real browser against a real `billfold serve --demo`: the demo client
 * orders a VPS with ISPmanager 6 Pro step by step (product → tariff → period and panel →
 * parameters → quote), pays from the balance and lands on the new service, which becomes active
 * with its license key. Parameters are checked in the page and by the server (its refusal shows
 * on the field), and a tariff that ends mid-period is quoted by days.
 *
 * The server keeps its data in SQLite whichever engine the suite runs on: skipped on PostgreSQL
 * (like the client-area test).
 */

const ADMIN = { email: 'admin@example.com', password: 'admin-password-ui-1' };

describe.skipIf(TEST_ENGINE === 'postgres')('web app: the order wizard', () => {
  let dataDir: string;
  let server: Running;
  let url: string;
  let client: { email: string; password: string };
  let browser: Browser;
  let shortTariff: { name: string; expiresOn: string };

  async function adminApi(method: 'GET' | 'POST', path: string, body?: unknown) {
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0]!)
      .find((c) => c.startsWith('bf_session='))!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        cookie,
        ...(method === 'POST' ? { 'x-csrf-token': csrfToken } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  }

  beforeAll(async () => {
    requireWebBuild();
    dataDir = mkdtempSync(join(tmpdir(), 'billfold-ui-order-'));
    server = spawnBillfold(['serve', '--demo', '--host', '127.0.0.1', '--port', '0'], {
      BILLFOLD_DATA_DIR: dataDir,
      BILLFOLD_ADMIN_EMAIL: ADMIN.email,
      BILLFOLD_ADMIN_PASSWORD: ADMIN.password,
    });
    const [, email, password] = await waitForOutput(server, (out) =>
      /Sign in as the demo client.*\n\s+email:\s+(\S+)\n\s+password:\s+(\S+)/.exec(out),
    );
    client = { email: email!, password: password! };
    url = /Billfold is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output().stdout)![1]!;

    // Staff add a tariff that can be ordered for 15 more days: a month of it is cut by days.
    const catalog = (await (await fetch(`${url}/api/v1/catalog`)).json()) as { today: string };
    const expiresOn = Temporal.PlainDate.from(catalog.today).add({ days: 15 }).toString();
    shortTariff = { name: 'Platform, ending soon', expiresOn };
    const made = await adminApi('POST', '/api/v1/tariffs', {
      name: shortTariff.name,
      productType: 'platform',
      periods: [1],
      prices: { '1': '10.00' },
      expiresOn,
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    // And a license tariff: a license is bound to an address the order names.
    const license = await adminApi('POST', '/api/v1/tariffs', {
      name: 'A bound license',
      productType: 'soft',
      periods: [1],
      prices: { '1': '5.00' },
    });
    expect(license.status, JSON.stringify(license.body)).toBe(201);

    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function signedIn(viewport: { width: number; height: number }) {
    const context = await browser.newContext({ viewport, locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByRole('textbox', { name: 'Email' }).fill(client.email);
    await page.getByLabel('Password', { exact: false }).first().fill(client.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Services' }).waitFor();
    return { context, page };
  }

  /** The stepper's transitions have finished (a screenshot mid-way shows a half-drawn step). */
  const still = (page: Page) => page.waitForFunction('document.getAnimations().length === 0');

  const next = (page: Page) => page.getByRole('button', { name: 'Next' }).click();

  /** Through the wizard to the quote of a VPS with ISPmanager 6 Pro; `openNav` for the phone's menu. */
  async function quoteVpsWithPro(page: Page, openNav: boolean) {
    if (openNav) await page.getByRole('button', { name: 'Open navigation' }).click();
    await page.getByRole('link', { name: 'Order' }).click();
    await page.getByRole('heading', { name: 'Order a service' }).waitFor();
    await page.getByRole('radio', { name: 'VPS', exact: true }).check();
    await next(page);
    await page.getByRole('radio', { name: 'VPS with a control panel' }).check();
    await next(page);
    // The panel's values each say their price for the period; Pro is chosen.
    const pro = page.getByRole('radio', { name: /^ISPmanager 6 Pro — \d+\.\d\d \w+$/ });
    await pro.check();
    // ISPmanager 5 is no longer sold upstream: the VPS tariff lists it, greyed, saying why.
    const lite5 = page.getByRole('radio', { name: 'ISPmanager Lite — not available with this tariff' });
    expect(await lite5.isDisabled()).toBe(true);
    const proPrice = /— (\d+\.\d\d \w+)$/.exec(
      (await page.getByText(/^ISPmanager 6 Pro — /).textContent())!,
    )![1]!;
    await next(page);

    // Parameters are checked as typed before the server is asked.
    const hostname = page.getByRole('textbox', { name: 'Host name' });
    await hostname.fill('not a host!');
    await page.getByRole('textbox', { name: 'Operating system' }).fill('Ubuntu 22.04');
    await next(page);
    await page.getByText('This is not a host name').waitFor();
    expect(await page.getByRole('table', { name: 'Price' }).count()).toBe(0);
    await hostname.fill('shop.example.com');
    await next(page);

    const quote = page.getByRole('table', { name: 'Price' });
    await quote.waitFor();
    return { quote, proPrice };
  }

  it('the demo client orders a VPS with ISPmanager 6 Pro, pays from the balance and sees it active with its key', async () => {
    const { context, page } = await signedIn(DESKTOP);
    try {
      const { quote, proPrice } = await quoteVpsWithPro(page, false);
      // The quote's lines: the tariff and the Pro panel with its price, and the total.
      await quote.getByRole('row', { name: /VPS with a control panel/ }).waitFor();
      const proRow = quote.getByRole('row').filter({ hasText: 'ISPmanager 6 Pro' });
      expect(await proRow.textContent()).toContain(proPrice);
      await quote.getByRole('row').filter({ hasText: 'Total' }).waitFor();
      await page.getByText('Your balance: 500.00').waitFor();
      await still(page);
      await screenshot(page, 'order-quote-desktop');

      await page.getByRole('button', { name: /^Pay .* from balance$/ }).click();
      await page.waitForURL(/\/services\/\d+$/);
      await page.getByText(/Order \d+ is paid/).waitFor();
      // The demo's worker sets the server up and issues the panel's license within seconds.
      await page.getByText('active', { exact: true }).waitFor({ timeout: 60_000 });
      const key = page.getByLabel('License key');
      await key.waitFor({ timeout: 60_000 });
      expect((await key.textContent())?.trim().length).toBeGreaterThan(0);
      await screenshot(page, 'order-service-active-desktop');
    } finally {
      await context.close();
    }
  });

  it('on a 390 px phone the quote step fits the screen', async () => {
    const { context, page } = await signedIn(PHONE);
    try {
      await quoteVpsWithPro(page, true);
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await still(page);
      await screenshot(page, 'order-quote-phone');
    } finally {
      await context.close();
    }
  });

  it("the server's refusal of a parameter shows on its field; a tariff ending mid-period is quoted by days and left awaiting payment", async () => {
    const { context, page } = await signedIn(DESKTOP);
    try {
      await page.getByRole('link', { name: 'Order' }).click();
      // A license is bound to an address: one the page cannot judge (IPv6-like) goes to the server.
      await page.getByRole('radio', { name: 'ISPsystem licenses' }).check();
      await next(page);
      await page.getByRole('radio', { name: 'A bound license' }).check();
      await next(page);
      await next(page);
      await page.getByRole('textbox', { name: 'IP address' }).fill('1::2::3');
      await page.getByRole('textbox', { name: 'License name' }).fill('shop');
      await next(page);
      await page.getByText('This is not an IPv4 or IPv6 address.').waitFor();
      expect(await page.getByRole('table', { name: 'Price' }).count()).toBe(0);

      await page.goto(`${url}/order`);
      await page.getByRole('radio', { name: 'VMmanager/DCImanager licenses' }).check();
      await next(page);
      await page.getByRole('radio', { name: shortTariff.name }).check();
      await next(page);
      await next(page);
      await page.getByText('This product needs no parameters.').waitFor();
      await next(page);
      await page.getByText('The tariff ends before the period does').waitFor();
      await page.getByText(new RegExp(`runs until ${shortTariff.expiresOn}`)).waitFor();
      const line = page.getByRole('table', { name: 'Price' }).getByText(/^\d+ of \d+ days, \d+\.\d\d/);
      expect(await line.textContent()).toMatch(
        /^15 of (28|29|30|31) days, \d+\.\d\d \(full period 10\.00\)$/,
      );
      await still(page);
      await screenshot(page, 'order-quote-cut-desktop');

      // Left awaiting payment: no service yet, the order says what it waits for.
      await page.getByRole('button', { name: 'Order, pay later' }).click();
      await page.getByText(/^Order \d+ is awaiting payment$/).waitFor();
      await page.getByText(/paid from your balance, 4\.84 \w+, as soon as/).waitFor();
    } finally {
      await context.close();
    }
  });
});
