import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ROOT } from './cli.js';

/**
 * Debian's chromium driven by playwright-core (no browser download exists here; `.ci/run`
 * installs the package when it is missing).
 */
export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium" (.ci/run does).`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** The two screens every journey is checked on. */
export const DESKTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** Screenshots of the journeys (gitignored), for people to look at. */
export const ARTIFACTS = join(ROOT, 'test-artifacts');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The web app must have been built (`npm install` does it) for `billfold serve` to serve it. */
export function requireWebBuild(): void {
  if (!existsSync(join(ROOT, 'web/dist/index.html')))
    throw new Error(
      'web/dist is missing: run "npm run build:web" (npm install runs it) before the UI tests.',
    );
}
