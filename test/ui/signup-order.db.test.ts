import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchChromium, PHONE, requireWebBuild, screenshot } from '../helpers/browser.js';
import { type Running, spawnBillfold, waitForOutput } from '../helpers/cli.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { apiSession, fillSignIn, openApp, overflow } from './helpers.js';

/**
 * The newcomer's whole way in, in a real browser against a real `billfold serve` on a fresh
 * data directory (`catalog seed-ispsystem`, nothing else): a client signs up on the sign-in
 * page, staff record their payment through the API, the client sees it on the balance, orders
 * ISPmanager Lite for an IP address through the wizard, pays from the balance, sees the
 * license active and copies its key (the clipboard holds it).
 *
 * The clock is 2021-11-16: the seeded license tariffs are sold until 2021-12-31. The server
 * keeps its data in SQLite whichever engine the suite runs on, so the PostgreSQL run is skipped
 * (like the other UI tests).
 */

const ADMIN = { email: 'staff@example.com', password: 'staff-password-ui-1' };
const CLIENT = { name: 'Newcomer Hosting', email: 'newcomer@example.com', password: 'newcomer-password-1' };
const IP = '198.51.100.23';

describe.skipIf(TEST_ENGINE === 'postgres')('web app: sign up, top up, order a license, copy its key', () => {
  let dataDir: string;
  let server: Running | null = null;
  let url: string;
  let browser: Browser;
  let serviceId: number;
  let licenseKey: string;

  const env = () => ({
    BILLFOLD_DATA_DIR: dataDir,
    BILLFOLD_CLOCK: '2021-11-16T10:00:00Z',
    BILLFOLD_ADMIN_EMAIL: ADMIN.email,
    BILLFOLD_ADMIN_PASSWORD: ADMIN.password,
  });

  beforeAll(async () => {
    requireWebBuild();
    dataDir = mkdtempSync(join(tmpdir(), 'billfold-ui-signup-'));
    for (const args of [['migrate'], ['catalog', 'seed-ispsystem']]) {
      const p = spawnBillfold(args, env());
      const { code } = await p.exited;
      expect(code, `${args.join(' ')}:\n${p.output().stdout}\n${p.output().stderr}`).toBe(0);
    }
    server = spawnBillfold(['serve', '--host', '127.0.0.1', '--port', '0'], env());
    url = await waitForOutput(
      server,
      (out) => /Billfold is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1],
    );
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** The stepper's transitions have finished (a screenshot mid-way shows a half-drawn step). */
  const still = (page: Page) => page.waitForFunction('document.getAnimations().length === 0');
  const next = (page: Page) => page.getByRole('button', { name: 'Next' }).click();

  it('a newcomer signs up, is topped up by staff, orders a license for an IP, sees it active and copies the key', async () => {
    const { context, page } = await openApp(browser, url, DESKTOP);
    try {
      // Sign-up is offered on the sign-in page of a new installation.
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.getByRole('heading', { name: 'Create an account' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/sign-up');
      // A password shorter than the rule is caught before the server is asked.
      await page.getByRole('textbox', { name: 'Your name or company' }).fill(CLIENT.name);
      await page.getByRole('textbox', { name: 'Email' }).fill(CLIENT.email);
      await page.getByLabel('Password', { exact: false }).first().fill('short');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByText('The password needs at least 10 characters.').waitFor();
      await page.getByLabel('Password', { exact: false }).first().fill(CLIENT.password);
      await screenshot(page, 'signup-desktop');
      await page.getByRole('button', { name: 'Create account' }).click();

      // Signed in at once, in an empty client area.
      await page.getByRole('heading', { name: 'Services' }).waitFor();
      await page.getByText('You have no services yet.').waitFor();
      expect(new URL(page.url()).pathname).toBe('/services');

      // Staff record the client's bank transfer through the API.
      const staff = await apiSession(url, ADMIN);
      const accounts = await staff('GET', `/api/v1/accounts?q=${encodeURIComponent(CLIENT.email)}`);
      const account = accounts.body.items.find((a: { email: string }) => a.email === CLIENT.email);
      expect(account, JSON.stringify(accounts.body)).toMatchObject({ name: CLIENT.name, balance: '0.00' });
      const paid = await staff('POST', `/api/v1/accounts/${account.id}/payments`, {
        amount: '50.00',
        method: 'bank',
        reference: 'TRX-2021-11-16-1',
      });
      expect(paid.status, JSON.stringify(paid.body)).toBe(201);

      await page.getByRole('link', { name: 'Balance' }).click();
      await page.getByRole('heading', { name: 'Balance' }).first().waitFor();
      await page.getByRole('table', { name: 'Payments' }).getByText('TRX-2021-11-16-1').waitFor();
      await page.getByText('50.00 EUR').first().waitFor();

      // The order: a license is bound to the IP the client names.
      await page.getByRole('link', { name: 'Order' }).click();
      await page.getByRole('heading', { name: 'Order a service' }).waitFor();
      await page.getByRole('radio', { name: 'ISPsystem licenses' }).check();
      await next(page);
      await page.getByRole('radio', { name: 'ISPmanager Lite', exact: true }).check();
      await next(page);
      await next(page);
      await page.getByRole('textbox', { name: 'IP address' }).fill(IP);
      await page.getByRole('textbox', { name: 'License name' }).fill('newcomer-web');
      await next(page);
      const quote = page.getByRole('table', { name: 'Price' });
      await quote.waitFor();
      await quote.getByRole('row').filter({ hasText: 'Total' }).waitFor();
      await page.getByText('Your balance: 50.00').waitFor();
      await still(page);
      await screenshot(page, 'signup-order-quote-desktop');
      await page.getByRole('button', { name: /^Pay .* from balance$/ }).click();
      await page.waitForURL(/\/services\/\d+$/);
      serviceId = Number(/\/services\/(\d+)$/.exec(page.url())![1]);

      // The license module issues it within seconds; the page follows it to active with its key.
      await page.getByText('active', { exact: true }).waitFor({ timeout: 60_000 });
      const key = page.getByLabel('License key');
      await key.waitFor({ timeout: 60_000 });
      licenseKey = (await key.textContent())!.trim();
      expect(licenseKey.length).toBeGreaterThan(0);
      await page.getByText(IP).first().waitFor();
      await page.getByRole('button', { name: 'Copy' }).click();
      await page.getByText('The license key is in your clipboard.').waitFor();
      expect(await page.evaluate('navigator.clipboard.readText()')).toBe(licenseKey);

      // What the browser showed is what the API says.
      const client = await apiSession(url, { email: CLIENT.email, password: CLIENT.password });
      const license = await client('GET', `/api/v1/services/${serviceId}/license`);
      expect(license.body).toMatchObject({ key: licenseKey, ip: IP });
      // The history says who in words: the client's own order is "You", the setting up Billfold's.
      const history = page.getByRole('table', { name: 'History' });
      await history
        .getByRole('row')
        .filter({ hasText: 'Ordered' })
        .getByText('You', { exact: true })
        .waitFor();
      await history.getByText('System (setting up and changes)').first().waitFor();
      expect(await history.getByText(/user:\d+|system:/).count()).toBe(0);
      await screenshot(page, 'signup-service-active-desktop');
    } finally {
      await context.close();
    }
  });

  it('on a 390 px phone the newcomer’s service list and license fit the screen', async () => {
    const { context, page } = await openApp(browser, url, PHONE);
    try {
      await fillSignIn(page, CLIENT);
      await page.getByRole('heading', { name: 'Services' }).waitFor();
      await page.locator(`a[href="/services/${serviceId}"]`).first().waitFor();
      // On a phone the list is stacked rows, each value labelled with its column.
      await page.locator('td[data-label="Status"]').getByText('active').waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, 'signup-services-phone');
      await page.goto(`${url}/services/${serviceId}`);
      await page.getByText(licenseKey).waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, 'signup-service-phone');
    } finally {
      await context.close();
    }
  });

  it('on a 390 px phone the sign-up form fits, and an email already used is refused in a sentence', async () => {
    const { context, page } = await openApp(browser, url, PHONE);
    try {
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.getByRole('textbox', { name: 'Your name or company' }).fill('Someone Else');
      await page.getByRole('textbox', { name: 'Email' }).fill(CLIENT.email);
      await page.getByLabel('Password', { exact: false }).first().fill('another-password-42');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page
        .getByRole('alert')
        .getByText('An account with this email already exists. Sign in instead, or use another email.')
        .waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await still(page);
      await screenshot(page, 'signup-email-taken-phone');
      // "Sign in" leads back to the sign-in page; in Russian the offer to sign up is there too.
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Sign in to your account' }).waitFor();
      await page.getByText('RU', { exact: true }).click();
      await page.getByRole('link', { name: 'Зарегистрироваться' }).click();
      await page.getByRole('heading', { name: 'Регистрация' }).waitFor();
    } finally {
      await context.close();
    }
  });
});
