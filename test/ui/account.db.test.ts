import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchChromium, PHONE, screenshot } from '../helpers/browser.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { type ApiCall, apiSession, type Demo, fillSignIn, openApp, overflow, startDemo } from './helpers.js';

/**
 * The client's account pages in a real browser against a real `billfold serve --demo`: the
 * demo client sees the 500.00 top-up on Balance and, after an order paid from the balance
 * through the API, the charge with the balance after it; creates an API token and sees it
 * once; changes the password, signs out and signs in with the new one.
 *
 * The server keeps its data in SQLite whichever engine the suite runs on: skipped on PostgreSQL
 * (like the client-area test).
 */

const ADMIN = { email: 'admin@example.com', password: 'admin-password-ui-2' };
const NEW_PASSWORD = 'a-new-password-for-demo-1';

/** Minor units of a 2-decimal amount string, exactly (no floating point). */
function cents(amount: string): number {
  const m = /^(-?)(\d+)\.(\d{2})$/.exec(amount);
  if (!m) throw new Error(`not a 2-decimal amount: ${amount}`);
  return (m[1] ? -1 : 1) * (Number(m[2]) * 100 + Number(m[3]));
}
const text = (c: number) =>
  `${c < 0 ? '-' : ''}${Math.floor(Math.abs(c) / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`;

interface Entry {
  id: number;
  kind: string;
  amount: string;
  balanceAfter: string;
  description: string;
}

describe.skipIf(TEST_ENGINE === 'postgres')('web app: the client account pages', () => {
  let demo: Demo;
  let browser: Browser;
  let api: ApiCall;
  let accountId: number;

  beforeAll(async () => {
    demo = await startDemo(ADMIN);
    api = await apiSession(demo.url, demo.client);
    accountId = (await api('GET', '/api/v1/me')).body.account.id;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  async function signedIn(viewport: { width: number; height: number }, who = demo.client) {
    const { context, page } = await openApp(browser, demo.url, viewport);
    await fillSignIn(page, who);
    await page.getByRole('heading', { name: 'Services' }).waitFor();
    return { context, page };
  }

  async function openBalance(page: Page) {
    await page.getByRole('navigation').getByRole('link', { name: 'Balance' }).click();
    await page.getByRole('heading', { name: 'Balance', level: 2 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/balance');
  }

  const ledgerRow = (page: Page, description: string) =>
    page.getByRole('table', { name: 'Ledger' }).getByRole('row').filter({ hasText: description });

  it('Balance shows the 500.00 top-up, then the order’s charge with the balance after it', async () => {
    const { context, page } = await signedIn(DESKTOP);
    try {
      await openBalance(page);
      await page
        .getByLabel('Balance', { exact: true })
        .getByText(/^500\.00 /)
        .waitFor();
      const topUp = page
        .getByRole('table', { name: 'Ledger' })
        .getByRole('row')
        .filter({ hasText: 'Payment' });
      await topUp.getByRole('cell', { name: '+500.00' }).waitFor();
      await topUp.getByRole('cell', { name: '500.00', exact: true }).waitFor();
      await page
        .getByRole('table', { name: 'Payments' })
        .getByRole('row')
        .filter({ hasText: 'demo-balance' })
        .getByText(/^500\.00 /)
        .waitFor();

      // The client orders a VPS with a control panel through the API, paid from the balance.
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
            params: { hostname: 'shop.example.com', os_template: 'Ubuntu 22.04' },
          },
        ],
        payNow: true,
      });
      expect(order.status, JSON.stringify(order.body)).toBe(201);

      // What the API recorded, oldest first: each entry's balance after is the one before plus its amount.
      const ledger = await api('GET', `/api/v1/accounts/${accountId}/ledger?limit=500`);
      const entries = (ledger.body.items as Entry[]).slice().reverse();
      const charges = entries.filter((e) => e.kind === 'charge');
      expect(charges.length).toBeGreaterThan(0);
      let running = 0;
      for (const e of entries) {
        running += cents(e.amount);
        expect(cents(e.balanceAfter), e.description).toBe(running);
      }
      const balance = (await api('GET', `/api/v1/accounts/${accountId}/balance`)).body.balance as string;
      expect(cents(balance)).toBe(running);
      expect(running).toBeLessThan(50_000);

      await page.reload();
      await page.getByLabel('Balance', { exact: true }).getByText(`${balance} `, { exact: false }).waitFor();
      for (const charge of charges) {
        const row = ledgerRow(page, charge.description);
        await row.getByText('Charge').waitFor();
        await row.getByRole('cell', { name: `−${text(-cents(charge.amount))}` }).waitFor();
        await row.getByRole('cell', { name: charge.balanceAfter, exact: true }).waitFor();
      }
      await screenshot(page, 'client-balance-desktop');
    } finally {
      await context.close();
    }
  });

  it('on a 390 px phone the balance page fits the screen', async () => {
    const { context, page } = await signedIn(PHONE);
    try {
      await page.getByRole('button', { name: 'Open navigation' }).click();
      await openBalance(page);
      await page.getByRole('table', { name: 'Ledger' }).getByText('Charge').first().waitFor();
      // The navigation has slid away (it closes on a choice).
      await page.waitForFunction("(document.querySelector('nav')?.getBoundingClientRect().right ?? 0) <= 0");
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      // The ledger fits without scrolling sideways: the balance after each entry is in view.
      const table = await page.getByRole('table', { name: 'Ledger' }).boundingBox();
      expect(table!.x + table!.width).toBeLessThanOrEqual(PHONE.width);
      await screenshot(page, 'client-balance-phone');
    } finally {
      await context.close();
    }
  });

  it('the ledger pages back with Older and each page shows the balance after its entries', async () => {
    // Staff post enough corrections to make a second page (the page holds 20 entries).
    const admin = await apiSession(demo.url, ADMIN);
    for (let i = 1; i <= 20; i++) {
      const adj = await admin('POST', `/api/v1/accounts/${accountId}/adjustments`, {
        amount: '1.25',
        description: `Goodwill credit ${i}`,
      });
      expect(adj.status, JSON.stringify(adj.body)).toBe(201);
    }
    const all = (await api('GET', `/api/v1/accounts/${accountId}/ledger?limit=500`)).body.items as Entry[];
    expect(all.length).toBeGreaterThan(20);
    const { context, page } = await signedIn(DESKTOP);
    try {
      await openBalance(page);
      const rows = page.getByRole('table', { name: 'Ledger' }).getByRole('row');
      await ledgerRow(page, 'Goodwill credit 20').waitFor();
      expect(await rows.count()).toBe(1 + 20);
      await page.getByRole('group', { name: 'Ledger pages' }).getByRole('button', { name: 'Older' }).click();
      await ledgerRow(page, 'demo-balance').waitFor();
      expect(await rows.count()).toBe(1 + all.length - 20);
      for (const e of all.slice(20))
        await ledgerRow(page, e.description)
          .getByRole('cell', { name: e.balanceAfter, exact: true })
          .waitFor();
      await page.getByRole('group', { name: 'Ledger pages' }).getByRole('button', { name: 'Newer' }).click();
      await ledgerRow(page, 'Goodwill credit 20')
        .getByRole('cell', { name: all[0]!.balanceAfter, exact: true })
        .waitFor();
    } finally {
      await context.close();
    }
  });

  it('a client creates an API token, sees it once, copies it, and it works', async () => {
    const { context, page } = await signedIn(DESKTOP);
    try {
      await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
      await page.getByRole('heading', { name: 'Settings', level: 2 }).waitFor();
      await page.getByRole('textbox', { name: 'Name' }).fill('backup script');
      await page.getByRole('button', { name: 'Create token' }).click();
      const shown = page.getByLabel('New API token');
      await shown.waitFor();
      const token = (await shown.textContent())!.trim();
      expect(token).toMatch(/^bf_/);
      await page.getByText('it is shown only once').waitFor();
      await page.getByRole('button', { name: 'Copy' }).click();
      await page.getByText('The token is in your clipboard.').waitFor();
      expect(await page.evaluate('navigator.clipboard.readText()')).toBe(token);
      await screenshot(page, 'client-token-created-desktop');

      // The token is the client's own.
      const me = await fetch(`${demo.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { user: { email: string } }).user.email).toBe(demo.client.email);

      // Dismissed, it is gone; the list shows its name and only a hint.
      await page.getByRole('button', { name: 'I have saved it' }).click();
      const row = page
        .getByRole('table', { name: 'API tokens' })
        .getByRole('row')
        .filter({ hasText: 'backup script' });
      await row.waitFor();
      expect(await page.getByText(token).count()).toBe(0);
      await page.reload();
      await row.waitFor();
      expect(await page.content()).not.toContain(token);

      // Revoked after a confirmation, it stops working.
      await row.getByRole('button', { name: 'Revoke token "backup script"' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
      await page.getByText('Token "backup script" is revoked.').waitFor();
      await row.getByText('revoked').waitFor();
      const after = await fetch(`${demo.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(after.status).toBe(401);
    } finally {
      await context.close();
    }
  });

  it('a client changes the password, signs out, and signs in with the new one', async () => {
    const { context, page } = await signedIn(DESKTOP);
    try {
      await page.goto(`${demo.url}/settings`);
      const form = page.getByRole('form', { name: 'Change password' });
      await form.waitFor();
      // A wrong current password is refused in a sentence; nothing changes.
      await form.getByLabel('Current password').fill('not-the-password');
      await form.getByLabel(/^New password/).fill(NEW_PASSWORD);
      await form.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
      await form.getByRole('button', { name: 'Change password' }).click();
      await form.getByRole('alert').getByText('The current password is wrong.').waitFor();

      await form.getByLabel('Current password').fill(demo.client.password);
      await form.getByRole('button', { name: 'Change password' }).click();
      await page.getByText('Your password is changed.').waitFor();
      expect(await form.getByLabel('Current password').inputValue()).toBe('');
      // This session stays; the API session signed in before the change is ended.
      expect((await api('GET', '/api/v1/me')).status).toBe(401);
      await page.getByRole('navigation').getByRole('link', { name: 'Balance' }).click();
      await page.getByRole('heading', { name: 'Balance', level: 2 }).waitFor();

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in to your account' }).waitFor();
      await fillSignIn(page, demo.client);
      await page.getByRole('alert').getByText('The email or password is wrong.').waitFor();
      await fillSignIn(page, { email: demo.client.email, password: NEW_PASSWORD });
      await page.getByRole('heading', { name: 'Services' }).waitFor();
    } finally {
      await context.close();
    }
  });
});
