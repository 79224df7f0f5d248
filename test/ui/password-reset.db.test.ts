import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../fixtures/worker-processes.js';
import { DESKTOP, launchChromium, PHONE, screenshot } from '../helpers/browser.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { type Demo, fillSignIn, openApp, overflow, startDemo } from './helpers.js';

/**
 * Password reset in a real browser against `billfold serve --demo` with no SMTP server: the
 * worker logs the held mail (as `npm start` does), the test reads the link from that log, opens
 * it, sets a new password and signs in with it. Skipped on PostgreSQL (the server keeps SQLite).
 */
const ADMIN = { email: 'admin@example.com', password: 'admin-password-ui-17' };
const NEW_PASSWORD = 'reset-by-mail-password-1';

describe.skipIf(TEST_ENGINE === 'postgres')('web app: password reset', () => {
  let demo: Demo;
  let browser: Browser;

  beforeAll(async () => {
    demo = await startDemo(ADMIN);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const linkInLog = () => /reset-password\?token=([A-Za-z0-9_-]{43})/.exec(demo.server.output().stdout)?.[1];

  it('asks for a link, opens it, sets a new password and signs in with it', async () => {
    const { context, page } = await openApp(browser, demo.url, DESKTOP);
    try {
      await page.getByRole('link', { name: 'Forgot your password?' }).click();
      const form = page.getByRole('form', { name: 'Reset your password' });
      await form.getByRole('textbox', { name: 'Email' }).fill(demo.client.email);
      await form.getByRole('button', { name: 'Send the link' }).click();
      await page.getByRole('status').getByText('If a user signs in with this address').waitFor();
      await screenshot(page, 'password-reset-sent-desktop');
      await until(() => linkInLog() !== undefined, 'the held reset mail in the log', 30_000);
      await page.goto(`${demo.url}/reset-password?token=${linkInLog()}`);
      const reset = page.getByRole('form', { name: 'Choose a new password' });
      await reset.getByLabel(/^New password/).fill(NEW_PASSWORD);
      await reset.getByLabel('Repeat the new password').fill('something-else-entirely');
      await reset.getByRole('button', { name: 'Set the password' }).click();
      await reset.getByText('The two new passwords differ.').waitFor();
      await reset.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
      await reset.getByRole('button', { name: 'Set the password' }).click();
      await page.getByRole('status').getByText('Your password is set.').waitFor();
      await screenshot(page, 'password-reset-done-desktop');
      await page.getByRole('link', { name: 'Back to sign-in' }).click();
      await page.getByRole('heading', { name: 'Sign in to your account' }).waitFor();
      await fillSignIn(page, { email: demo.client.email, password: NEW_PASSWORD });
      await page.getByRole('heading', { name: 'Services' }).waitFor();
    } finally {
      await context.close();
    }
  });

  it('a used link is refused in a sentence; the page fits a 390 px phone', async () => {
    const { context, page } = await openApp(browser, demo.url, PHONE);
    try {
      await page.goto(`${demo.url}/reset-password?token=${linkInLog()}`);
      const reset = page.getByRole('form', { name: 'Choose a new password' });
      await reset.getByLabel(/^New password/).fill('yet-another-password-1');
      await reset.getByLabel('Repeat the new password').fill('yet-another-password-1');
      await reset.getByRole('button', { name: 'Set the password' }).click();
      await reset
        .getByRole('alert')
        .getByText('This reset link is unknown, expired or used already.')
        .waitFor();
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await screenshot(page, 'password-reset-refused-phone');
    } finally {
      await context.close();
    }
  });
});
