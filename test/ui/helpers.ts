import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { requireWebBuild, screenshot } from '../helpers/browser.js';
import { type Running, spawnBillfold, waitForOutput } from '../helpers/cli.js';

/**
 * Shared set-up of the web app's Chromium tests: a real `billfold serve --demo` on a fresh data
 * directory, API sessions beside the browser (to act as staff or as the client through the API),
 * and signing in through the sign-in page.
 */

export interface Credentials {
  email: string;
  password: string;
}

export interface Demo {
  readonly url: string;
  /** The demo client the server printed (balance 500.00). */
  readonly client: Credentials;
  readonly server: Running;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

export async function startDemo(admin: Credentials): Promise<Demo> {
  requireWebBuild();
  const dataDir = mkdtempSync(join(tmpdir(), 'billfold-ui-'));
  const server = spawnBillfold(['serve', '--demo', '--host', '127.0.0.1', '--port', '0'], {
    BILLFOLD_DATA_DIR: dataDir,
    BILLFOLD_ADMIN_EMAIL: admin.email,
    BILLFOLD_ADMIN_PASSWORD: admin.password,
  });
  const stop = async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const [, email, password] = await waitForOutput(server, (out) =>
      /Sign in as the demo client.*\n\s+email:\s+(\S+)\n\s+password:\s+(\S+)/.exec(out),
    );
    const url = /Billfold is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output().stdout)![1]!;
    return { url, client: { email: email!, password: password! }, server, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export type ApiCall = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: ReturnType<typeof JSON.parse> }>;

/** A signed-in API session (cookie + CSRF token), as the browser keeps one. */
export async function apiSession(url: string, who: Credentials): Promise<ApiCall> {
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(who),
  });
  expect(login.status).toBe(200);
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('bf_session='))!;
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  return async (method, path, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        cookie,
        ...(method !== 'GET' ? { 'x-csrf-token': csrfToken } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

/** A fresh browser context on the sign-in page (clipboard allowed, English). */
export async function openApp(browser: Browser, url: string, viewport: { width: number; height: number }) {
  const context: BrowserContext = await browser.newContext({ viewport, locale: 'en-US' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
  const page: Page = await context.newPage();
  recordCalls(page);
  await page.goto(url);
  await page.getByRole('heading', { name: 'Sign in to your account' }).waitFor();
  return { context, page };
}

export async function fillSignIn(page: Page, who: Credentials): Promise<void> {
  await page.getByRole('textbox', { name: 'Email' }).fill(who.email);
  await page.getByLabel('Password', { exact: false }).first().fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Horizontal overflow of the page in pixels (0 or less: it fits the screen). */
export const overflow = (page: Page): Promise<number> =>
  page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');

/** The page's last API answers and console errors, newest last: what a failed wait reports. */
const pageLog = new WeakMap<Page, string[]>();

function recordCalls(page: Page): void {
  const log: string[] = [];
  pageLog.set(page, log);
  const add = (line: string) => {
    log.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
    if (log.length > 40) log.shift();
  };
  page.on('response', (res) => {
    const u = new URL(res.url());
    if (u.pathname.startsWith('/api/'))
      add(`${res.request().method()} ${u.pathname}${u.search} ${res.status()}`);
  });
  page.on('requestfailed', (req) => add(`${req.method()} ${req.url()} failed: ${req.failure()?.errorText}`));
  page.on('console', (m) => {
    if (m.type() === 'error') add(`console: ${m.text()}`);
  });
}

/**
 * Waits for `locator` to be visible. On a timeout it fails with what explains it: the page's
 * last API calls, the notifications on screen, a screenshot, and `state()` (say, the service as
 * the API has it) — a wait that depends on a worker and a poll otherwise fails with no clue.
 */
export async function waitOrExplain(
  page: Page,
  locator: Locator,
  what: string,
  state: () => Promise<unknown>,
  timeout = 20_000,
): Promise<void> {
  try {
    await locator.waitFor({ timeout });
  } catch (err) {
    const shot = await screenshot(page, `failed-${what.replace(/[^a-z0-9]+/gi, '-')}`).catch((e) =>
      String(e),
    );
    const notices = await page
      .locator('.mantine-Notification-root')
      .allInnerTexts()
      .catch(() => []);
    const detail = {
      waitedFor: what,
      notices,
      calls: pageLog.get(page) ?? [],
      state: await state().catch((e: unknown) => String(e)),
      screenshot: shot,
    };
    let text: string;
    try {
      text = JSON.stringify(detail, null, 2);
    } catch {
      text = inspect(detail, { depth: 6 });
    }
    throw new Error(`${(err as Error).message}\n${text}`);
  }
}
