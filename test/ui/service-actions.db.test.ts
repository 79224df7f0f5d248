import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchChromium, PHONE, requireWebBuild, screenshot } from '../helpers/browser.js';
import { type Running, spawnBillfold, waitForOutput } from '../helpers/cli.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { apiSession } from './helpers.js';

/**
 * The client's actions on a license in a real browser against a real `billfold serve` on a
 * fresh data directory, seeded through the CLI (`catalog seed-ispsystem`, an account with a
 * login and a payment) and the API (the client orders ISPmanager Lite, 3541, sold until
 * 2021-12-31).
 *
 * The license is ordered with the clock at 2021-11-16 (a month: it expires 2021-12-16), then
 * the server is restarted with BILLFOLD_CLOCK=2021-12-16T10:00:00Z: renewing then grants the
 * 15 days left of the tariff's life out of 31, 15/31 of 10.00 = 4.84 (BILLING.md), shown
 * before paying. The server keeps its data in SQLite whichever engine the suite runs on, so
 * the PostgreSQL run is skipped (like the client-area test).
 */

const CLIENT = { email: 'lic@example.com', password: 'client-password-ui-1' };
const FIRST_IP = '203.0.113.12';

describe.skipIf(TEST_ENGINE === 'postgres')('web app: a license service’s actions', () => {
  let dataDir: string;
  let server: Running | null = null;
  let url: string;
  let browser: Browser;
  let serviceId: number;

  const env = (clock: string) => ({ BILLFOLD_DATA_DIR: dataDir, BILLFOLD_CLOCK: clock });

  async function cli(args: string[]) {
    const p = spawnBillfold(args, env('2021-11-16T10:00:00Z'));
    const { code } = await p.exited;
    expect(code, `${args.join(' ')}:\n${p.output().stdout}\n${p.output().stderr}`).toBe(0);
  }

  async function start(clock: string) {
    server = spawnBillfold(['serve', '--host', '127.0.0.1', '--port', '0'], env(clock));
    url = await waitForOutput(
      server,
      (out) => /Billfold is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1],
    );
  }

  async function stop() {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    server = null;
  }

  /** The client's API session (cookie + CSRF token), as the browser keeps one. */
  const session = () => apiSession(url, CLIENT);

  beforeAll(async () => {
    requireWebBuild();
    dataDir = mkdtempSync(join(tmpdir(), 'billfold-ui-actions-'));
    await cli(['migrate']);
    await cli(['catalog', 'seed-ispsystem']);
    await cli([
      'account',
      'create',
      '--email',
      CLIENT.email,
      '--name',
      'Licence Ltd',
      '--password',
      CLIENT.password,
    ]);
    await cli([
      'payment',
      'add',
      '--email',
      CLIENT.email,
      '--amount',
      '50.00',
      '--method',
      'manual',
      '--ref',
      'ui-1',
    ]);

    // A month before: the client orders ISPmanager Lite for an address, paid from the balance.
    await start('2021-11-16T10:00:00Z');
    let api = await session();
    const catalog = await api('GET', '/api/v1/catalog');
    const lite = catalog.body.tariffs.find((t: { name: string }) => t.name === 'ISPmanager Lite');
    expect(lite, JSON.stringify(catalog.body)).toBeTruthy();
    const order = await api('POST', '/api/v1/orders', {
      items: [{ tariffId: lite.id, period: 1, params: { ip: FIRST_IP, licname: 'web-1' } }],
      payNow: true,
    });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    serviceId = order.body.items[0].serviceId;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const l = await api('GET', `/api/v1/services/${serviceId}/license`);
      if (l.status === 200 && l.body.key) break;
      if (Date.now() > deadline) throw new Error(`the license was not issued: ${JSON.stringify(l.body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await stop();

    // The day the client comes back: the license runs out today, the tariff at the month's end.
    await start('2021-12-16T10:00:00Z');
    api = await session();
    const s = await api('GET', `/api/v1/services/${serviceId}`);
    expect(s.body.expiresOn).toBe('2021-12-16');
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function signedIn(viewport: { width: number; height: number }) {
    const context = await browser.newContext({ viewport, locale: 'en-US' });
    const page: Page = await context.newPage();
    await page.goto(url);
    await page.getByRole('textbox', { name: 'Email' }).fill(CLIENT.email);
    await page.getByLabel('Password', { exact: false }).first().fill(CLIENT.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Services' }).waitFor();
    await page.goto(`${url}/services/${serviceId}`);
    await page.getByRole('heading', { name: 'Renewal' }).waitFor();
    return { context, page };
  }

  it('on a phone the renewal preview fits the screen', async () => {
    const { context, page } = await signedIn(PHONE);
    try {
      await page.getByRole('button', { name: 'Renew…' }).click();
      await page.getByText('15 of 31 days, 4.84 EUR').waitFor();
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(page, 'service-renew-preview-phone');
      await page.getByRole('button', { name: 'Cancel' }).click();
      await page.getByRole('button', { name: 'Renew…' }).waitFor();
    } finally {
      await context.close();
    }
  });

  it('the client renews: 15 of 31 days and 4.84 before paying, then the new expiry 2021-12-31', async () => {
    const { context, page } = await signedIn(DESKTOP);
    try {
      const api = await session();
      const balance = async () => (await api('GET', '/api/v1/me')).body.account.balance as string;
      const before = await balance();
      expect(before).toBe('40.00');
      await page.getByRole('button', { name: 'Renew…' }).click();
      const preview = page.getByLabel('Before you pay');
      await preview.getByText('15 of 31 days, 4.84 EUR').waitFor();
      await preview.getByText('From 2021-12-16 until 2021-12-31.').waitFor();
      await screenshot(page, 'service-renew-preview-desktop');
      // Nothing is charged by looking.
      const s = await api('GET', `/api/v1/services/${serviceId}`);
      expect(s.body.expiresOn).toBe('2021-12-16');
      expect(await balance()).toBe(before);

      await page.getByRole('button', { name: 'Pay 4.84 EUR and renew' }).click();
      await page.getByText('Renewed: the service now runs until 2021-12-31.').waitFor();
      await page.getByText('2021-12-31', { exact: true }).waitFor();
      const after = await api('GET', `/api/v1/services/${serviceId}`);
      expect(after.body.expiresOn).toBe('2021-12-31');
      const renewal = after.body.charges.filter((c: { kind: string }) => c.kind === 'renewal');
      expect(renewal.map((c: { amount: string }) => c.amount)).toEqual(['4.84']);
      expect(await balance()).toBe('35.16');
      await page.getByRole('table', { name: 'History' }).getByText('Renewed', { exact: true }).waitFor();

      // Auto-renew is turned on and off from the same page.
      await page.getByRole('switch', { name: 'Renew automatically from the balance' }).click({ force: true });
      await page.getByText('Auto-renew is on.').waitFor();
      expect((await api('GET', `/api/v1/services/${serviceId}`)).body.autoprolong).toBe(1);
    } finally {
      await context.close();
    }
  });

  it('the client changes the license IP once, a second time in the month is refused with the reason; a new key', async () => {
    const { context, page } = await signedIn(DESKTOP);
    try {
      // The rule is stated before the client tries.
      await page
        .getByLabel('IP change rule')
        .getByText('It has not been changed yet, so you can change it now.', { exact: false })
        .waitFor();
      await page.getByRole('textbox', { name: 'New IP address' }).fill('203.0.113.20');
      await page.getByRole('button', { name: 'Change IP' }).click();
      await page.getByText('The IP address change is done or on its way.').waitFor();
      await page.getByText('It was last changed on 2021-12-16', { exact: false }).waitFor();
      const api = await session();
      expect((await api('GET', `/api/v1/services/${serviceId}/license`)).body.ip).toBe('203.0.113.20');

      await page.getByRole('textbox', { name: 'New IP address' }).fill('203.0.113.21');
      await page.getByRole('button', { name: 'Change IP' }).click();
      const refusal = page.getByRole('alert').filter({ hasText: 'The IP address was not changed' });
      await refusal.getByText('already been changed this month', { exact: false }).waitFor();
      await refusal.getByText('the next change is possible from 2022-01-01', { exact: false }).waitFor();
      expect((await api('GET', `/api/v1/services/${serviceId}/license`)).body.ip).toBe('203.0.113.20');
      await page.evaluate('window.scrollTo(0, 0)');
      await screenshot(page, 'service-ip-refused-desktop');

      // A new key is not limited: it replaces the old one on the page.
      const oldKey = (await api('GET', `/api/v1/services/${serviceId}/license`)).body.key as string;
      await page.getByRole('button', { name: 'Issue a new key' }).click();
      await page.getByText('A new key is issued or on its way.').waitFor();
      const newKey = (await api('GET', `/api/v1/services/${serviceId}/license`)).body.key as string;
      expect(newKey).not.toBe(oldKey);
      await page.getByText(newKey).waitFor();
      expect(await page.getByText(oldKey).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('the client deletes: the server says first what it refunds (licenses: nothing), then the deletion is asked', async () => {
    const { context, page } = await signedIn(DESKTOP);
    try {
      await page.getByRole('button', { name: 'Delete…' }).click();
      await page
        .getByLabel('What deleting does')
        .getByText('This kind of service does not refund unused days', { exact: false })
        .waitFor();
      const api = await session();
      const balance = (await api('GET', '/api/v1/me')).body.account.balance;
      await page.getByRole('button', { name: 'Delete the service' }).click();
      await page.getByText('Deletion requested: the service is removed shortly.').waitFor();
      await page.getByRole('table', { name: 'History' }).getByText('Deletion asked').waitFor();
      expect((await api('GET', '/api/v1/me')).body.account.balance).toBe(balance);
      // The license issuer removes it at once: the page follows the close to its end.
      await page.getByText('deleted', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Delete…' }).waitFor({ state: 'detached' });
      expect((await api('GET', `/api/v1/services/${serviceId}`)).body.status).toBe('deleted');
    } finally {
      await context.close();
    }
  });
});
