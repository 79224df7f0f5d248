import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DESKTOP, launchChromium, PHONE, screenshot } from '../helpers/browser.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { type ApiCall, apiSession, type Demo, fillSignIn, openApp, overflow, startDemo } from './helpers.js';

/**
 * The email preferences on the Settings page, in a real browser against `billfold serve --demo`:
 * the demo client turns low-balance reminders off and switches the mail language to Russian;
 * the API then says so. Skipped on PostgreSQL (the server keeps SQLite whichever engine runs).
 */
const ADMIN = { email: 'admin@example.com', password: 'admin-password-ui-16' };

describe.skipIf(TEST_ENGINE === 'postgres')('web app: email preferences', () => {
  let demo: Demo;
  let browser: Browser;
  let api: ApiCall;

  beforeAll(async () => {
    demo = await startDemo(ADMIN);
    api = await apiSession(demo.url, demo.client);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it('a client turns a reminder off and chooses Russian mail', async () => {
    const { context, page } = await openApp(browser, demo.url, DESKTOP);
    try {
      await fillSignIn(page, demo.client);
      await page.getByRole('heading', { name: 'Services' }).waitFor();
      await page.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
      const section = page.getByRole('region', { name: 'Email notifications' });
      await section.waitFor();
      const low = section.getByRole('checkbox', { name: 'Low balance before an automatic renewal' });
      expect(await low.isChecked()).toBe(true);
      const save = section.getByRole('button', { name: 'Save' });
      expect(await save.isDisabled()).toBe(true);
      await low.uncheck();
      await section.getByText('Russian').click();
      await screenshot(page, 'notify-prefs-desktop');
      await save.click();
      await page.getByText('Your email preferences are saved.').waitFor();
      expect((await api('GET', '/api/v1/me/notification-preferences')).body).toEqual({
        language: 'ru',
        reminders: { renewal_reminder: true, low_balance: false },
      });
    } finally {
      await context.close();
    }
  });

  it('on a 390 px phone the section fits the screen', async () => {
    const { context, page } = await openApp(browser, demo.url, PHONE);
    try {
      await fillSignIn(page, demo.client);
      await page.getByRole('heading', { name: 'Services' }).waitFor();
      await page.goto(`${demo.url}/settings`);
      await page.getByRole('region', { name: 'Email notifications' }).waitFor();
      await page
        .getByRole('checkbox', { name: 'Renewal reminders (5, 3, 1 days before a service expires)' })
        .waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, 'notify-prefs-phone');
    } finally {
      await context.close();
    }
  });
});
