import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchChromium, PHONE, requireWebBuild, screenshot } from '../helpers/browser.js';
import { type Running, spawnBillfold, waitForOutput } from '../helpers/cli.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { apiSession } from './helpers.js';

/**
 * The client area in a real browser against a real `billfold serve --demo` on a fresh data
 * directory: the demo client orders a VPS with a bundled ISPmanager license through the API,
 * then signs in to the web app, finds the service in the list, opens it and copies the key;
 * another client typing that service's URL is told it is not found.
 *
 * The server keeps its data in SQLite whichever engine the suite runs on, so the PostgreSQL
 * run would repeat the same test: it is skipped there (like the demo journey).
 */

const ADMIN = { email: 'admin@example.com', password: 'admin-password-ui-1' };
const OTHER = { email: 'other@example.com', password: 'other-password-ui-1' };

describe.skipIf(TEST_ENGINE === 'postgres')('web app: the client area', () => {
  let dataDir: string;
  let server: Running;
  let url: string;
  let client: { email: string; password: string };
  let browser: Browser;
  let serviceId: number;
  let serviceName: string;
  let licenseKey: string;

  /** A signed-in API session (cookie + CSRF token), as the browser keeps one. */
  const session = (who: { email: string; password: string }) => apiSession(url, who);

  beforeAll(async () => {
    requireWebBuild();
    dataDir = mkdtempSync(join(tmpdir(), 'billfold-ui-'));
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

    // Staff make a second client account with a login.
    const admin = await session(ADMIN);
    const other = await admin('POST', '/api/v1/accounts', { name: 'Other Ltd', ...OTHER });
    expect(other.status, JSON.stringify(other.body)).toBe(201);

    // The demo client orders a VPS with ISPmanager 6 Pro, paid from the balance.
    const api = await session(client);
    const catalog = await api('GET', '/api/v1/catalog');
    const vps = catalog.body.tariffs.find((t: { productType: string }) => t.productType === 'vds');
    const panel = vps.addons.find((a: { kind: string }) => a.kind === 'control_panel');
    const pro = panel.values.find((v: { name: string }) => v.name === 'ISPmanager 6 Pro');
    const order = await api('POST', '/api/v1/orders', {
      items: [
        {
          tariffId: vps.id,
          period: 1,
          addonValues: { [String(panel.id)]: pro.id },
          params: { hostname: 'web.example.com', os_template: 'Ubuntu 22.04' },
        },
      ],
      payNow: true,
    });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    serviceId = order.body.items[0].serviceId;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = await api('GET', `/api/v1/services/${serviceId}`);
      if (s.body.status === 'active' && s.body.params.licenseKey) {
        serviceName = s.body.name;
        licenseKey = s.body.params.licenseKey;
        break;
      }
      if (Date.now() > deadline)
        throw new Error(`the service did not become active: ${JSON.stringify(s.body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }

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

  async function open(viewport: { width: number; height: number }) {
    const context: BrowserContext = await browser.newContext({ viewport, locale: 'en-US' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
    const page: Page = await context.newPage();
    await page.goto(url);
    await page.getByRole('heading', { name: 'Sign in to your account' }).waitFor();
    return { context, page };
  }

  async function signIn(page: Page, who: { email: string; password: string }) {
    await page.getByRole('textbox', { name: 'Email' }).fill(who.email);
    await page.getByLabel('Password', { exact: false }).first().fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function signedIn(
    viewport: { width: number; height: number },
    who: { email: string; password: string },
  ) {
    const { context, page } = await open(viewport);
    await signIn(page, who);
    await page.getByRole('heading', { name: 'Services' }).waitFor();
    return { context, page };
  }

  it('a client signs in, sees the service in the list, opens it and copies its license key', async () => {
    const { context, page } = await signedIn(DESKTOP, client);
    try {
      expect(new URL(page.url()).pathname).toBe('/services');
      const row = page.getByRole('row').filter({ hasText: serviceName });
      await row.getByText('active').waitFor();
      await screenshot(page, 'client-services-desktop');

      await row.getByRole('link', { name: serviceName }).click();
      await page.getByRole('heading', { name: serviceName }).waitFor();
      expect(new URL(page.url()).pathname).toBe(`/services/${serviceId}`);
      await page.getByText(licenseKey).waitFor();
      await page.getByRole('button', { name: 'Copy' }).click();
      await page.getByText('The license key is in your clipboard.').waitFor();
      expect(await page.evaluate('navigator.clipboard.readText()')).toBe(licenseKey);
      // Setting the server up is done: its operation says so in words.
      await page.getByRole('table', { name: 'Operations' }).getByText('done').first().waitFor();
      await screenshot(page, 'client-service-desktop');

      // A reload on the service's URL comes back to it (the server answers client routes with the app).
      await page.reload();
      await page.getByText(licenseKey).waitFor();

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByText('You are signed out.').waitFor();
      await page.getByRole('heading', { name: 'Sign in to your account' }).waitFor();
      await page.goto(`${url}/services/${serviceId}`);
      await page.getByRole('heading', { name: 'Sign in to your account' }).waitFor();
      expect(await page.getByText(licenseKey).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('on a 390 px phone the list and the service fit the screen', async () => {
    const { context, page } = await signedIn(PHONE, client);
    try {
      await page.getByRole('link', { name: serviceName }).click();
      await page.getByText(licenseKey).waitFor();
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(page, 'client-service-phone');
      await page.goto(`${url}/services`);
      await page.getByRole('link', { name: serviceName }).waitFor();
      await screenshot(page, 'client-services-phone');
    } finally {
      await context.close();
    }
  });

  it('a wrong password is refused in a sentence, in English or Russian', async () => {
    const { context, page } = await open(DESKTOP);
    try {
      await signIn(page, { email: OTHER.email, password: 'not-the-password' });
      await page.getByRole('alert').getByText('The email or password is wrong.').waitFor();
      await page.getByText('RU', { exact: true }).click();
      await page.getByRole('heading', { name: 'Вход в личный кабинет' }).waitFor();
      await page.getByRole('alert').getByText('Неверная почта или пароль.').waitFor();
      expect(await page.getByRole('radio', { name: 'RU' }).isChecked()).toBe(true);
      await screenshot(page, 'sign-in-refused-ru-desktop');
    } finally {
      await context.close();
    }
  });

  it("another client typing the service's URL sees a not-found page", async () => {
    const { context, page } = await signedIn(DESKTOP, OTHER);
    try {
      await page.getByText('You have no services yet.').waitFor();
      await page.goto(`${url}/services/${serviceId}`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(await page.getByText(licenseKey).count()).toBe(0);
      await screenshot(page, 'other-client-not-found-desktop');
    } finally {
      await context.close();
    }
  });
});
