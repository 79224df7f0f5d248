import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ACCOUNT as BILLMGR_ACCOUNT,
  type FakeBillmanager,
  startFakeBillmanager,
} from '../../src/integrations/billmanager/fake-server.js';
import {
  type FakeVmmanager,
  startFakeVmmanager,
  DEFAULT_ADMIN as VM_ADMIN,
} from '../../src/integrations/vmmanager6/fake-server.js';
import { CONTROL_PANEL_VALUES } from '../../src/modules/catalog/seed.js';
import {
  ARTIFACTS,
  DESKTOP,
  launchChromium,
  PHONE,
  requireWebBuild,
  screenshot,
} from '../helpers/browser.js';
import { type Running, spawnBillfold, waitForOutput } from '../helpers/cli.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { type ApiCall, apiSession, fillSignIn, openApp, overflow } from './helpers.js';

/**
 * Issue 15 part B in a real browser against a real `billfold serve` on an EMPTY data directory
 * (no --demo): staff build the brief's configuration through the staff pages only: the "Server
 * Control Panel" enumeration with its six values and their internal names (upstream license
 * tariff ids), a license tariff ending 2021-12-31, a VPS tariff with a Control-panel addon priced
 * per value; deleting a value in use is refused and explained, disabling it withdraws it. A
 * VMmanager processing module is made with the form generated from the plug-in's JSON Schema
 * (against the stateful fake VMmanager), its password never comes back, and linking it to the
 * panel tariff without a license server is refused with the API's reason; a BILLmanager module
 * (the fake BILLmanager) shows its balance and imports its tariffs, becomes the VM module's
 * license server, and the link is accepted with its settings. Then a client orders
 * that VPS with "ISPmanager 6 Pro" in the client wizard and sees the price lines of the quote
 * (it stops at the quote: no module is needed to price an order, and the order's processing is
 * covered by the demo journey in order.db.test.ts).
 *
 * The server keeps its data in SQLite whichever engine the suite runs on: skipped on PostgreSQL
 * (like the other UI journeys).
 */

const ADMIN = { email: 'admin@example.com', password: 'admin-password-ui-1' };
const CLIENT = { email: 'buyer@example.com', password: 'buyer-password-ui-1' };
/** Monthly prices of the panel values on the VPS tariff, by internal name. */
const PANEL_PRICE: Record<string, string> = {
  '3541': '4.00',
  '4601': '11.00',
  '55227': '6.00',
  '55228': '9.00',
  '55229': '14.00',
  '55230': '20.00',
};

describe.skipIf(TEST_ENGINE === 'postgres')('web app: staff build the catalog', () => {
  let dataDir: string;
  let server: Running;
  let url: string;
  let browser: Browser;
  let vm: FakeVmmanager;
  let billmgr: FakeBillmanager;
  let admin: ApiCall;

  beforeAll(async () => {
    requireWebBuild();
    vm = await startFakeVmmanager();
    billmgr = await startFakeBillmanager();
    dataDir = mkdtempSync(join(tmpdir(), 'billfold-ui-catalog-'));
    server = spawnBillfold(['serve', '--host', '127.0.0.1', '--port', '0'], {
      BILLFOLD_DATA_DIR: dataDir,
      BILLFOLD_ADMIN_EMAIL: ADMIN.email,
      BILLFOLD_ADMIN_PASSWORD: ADMIN.password,
    });
    url = (
      await waitForOutput(server, (out) => /Billfold is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(out))
    )[1]!;
    admin = await apiSession(url, ADMIN);
    // Nothing is configured: no enumeration, no tariff, no module.
    expect((await admin('GET', '/api/v1/enumerations')).body.items).toEqual([]);
    expect((await admin('GET', '/api/v1/tariffs')).body.items).toEqual([]);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await vm?.close();
    await billmgr?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Picks an option of a Mantine select labelled `label` inside `scope`. */
  async function choose(page: Page, scope: Page | Locator, label: string, option: string | RegExp) {
    await scope
      .getByRole('textbox', { name: label, exact: true })
      .or(scope.getByRole('combobox', { name: label, exact: true }))
      .first()
      .click();
    await page.getByRole('option', { name: option }).first().click();
  }

  const dialog = (page: Page) => page.getByRole('dialog');
  /** The page from its top (a full-page shot scrolled down draws the fixed header mid-page). */
  const shot = async (page: Page, name: string) => {
    await page.evaluate('window.scrollTo(0, 0)');
    await screenshot(page, name);
  };
  /** What a dialog shows where it is scrolled to (a full-page shot would stretch the overlay). */
  const dialogShot = async (page: Page, name: string) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  };
  const still = (page: Page) => page.waitForFunction('document.getAnimations().length === 0');

  async function staffPage(viewport: { width: number; height: number }) {
    const { context, page } = await openApp(browser, url, viewport);
    await fillSignIn(page, ADMIN);
    await page.getByRole('heading', { name: 'Services' }).waitFor();
    return { context, page };
  }

  it('staff build the enumeration, a license tariff ending 2021-12-31 and a VPS tariff with a Control-panel addon priced per value; a client orders it with ISPmanager 6 Pro, sees the price lines, pays and gets it active', async () => {
    const { context, page } = await staffPage(DESKTOP);
    try {
      // ---- the enumeration and its six values ----
      await page.getByRole('link', { name: 'Enumerations' }).click();
      await page.getByText('No enumerations yet.').waitFor();
      await page.getByRole('button', { name: 'New enumeration' }).click();
      await dialog(page).getByRole('textbox', { name: 'Name', exact: true }).fill('Server Control Panel');
      await dialog(page).getByRole('button', { name: 'Create' }).click();
      await page.getByRole('heading', { name: 'Server Control Panel' }).waitFor();
      for (const v of CONTROL_PANEL_VALUES) {
        await page.getByRole('button', { name: 'Add value' }).click();
        await dialog(page).getByRole('textbox', { name: 'Name', exact: true }).fill(v.name);
        await dialog(page).getByRole('textbox', { name: 'Internal name' }).fill(v.internalName);
        await dialog(page).getByRole('button', { name: 'Save' }).click();
        await dialog(page).waitFor({ state: 'detached' });
        await page
          .getByRole('table', { name: 'Values' })
          .getByRole('cell', { name: v.name, exact: true })
          .waitFor();
      }
      // An internal name is unique within the enumeration: the API's refusal shows in the form.
      await page.getByRole('button', { name: 'Add value' }).click();
      await dialog(page).getByRole('textbox', { name: 'Name', exact: true }).fill('Pro again');
      await dialog(page).getByRole('textbox', { name: 'Internal name' }).fill('55228');
      await dialog(page).getByRole('button', { name: 'Save' }).click();
      await dialog(page).getByText('Another value of this enumeration has this internal name.').waitFor();
      await page.keyboard.press('Escape');
      await dialog(page).waitFor({ state: 'detached' });
      const values = page.getByRole('table', { name: 'Values' }).getByRole('row');
      expect(await values.count()).toBe(1 + CONTROL_PANEL_VALUES.length);
      await still(page);
      await shot(page, 'staff-catalog-enumeration-desktop');
      const enumeration = (await admin('GET', '/api/v1/enumerations')).body.items[0];
      expect(
        enumeration.values.map((v: { name: string; internalName: string }) => [v.name, v.internalName]),
      ).toEqual(CONTROL_PANEL_VALUES.map((v) => [v.name, v.internalName]));

      // ---- a license tariff ending 2021-12-31 (ISPmanager 5, upstream id 3541) ----
      await page.getByRole('link', { name: 'Tariffs' }).click();
      await page.getByRole('button', { name: 'New tariff' }).click();
      await choose(page, dialog(page), 'Product type', 'ISPsystem licenses');
      await dialog(page).getByRole('textbox', { name: 'ID (optional)' }).fill('3541');
      await dialog(page)
        .getByRole('textbox', { name: 'Name', exact: true })
        .fill('ISPmanager Lite (ISPmanager 5)');
      await dialog(page).getByRole('checkbox', { name: '12 months' }).check();
      await dialog(page).getByRole('textbox', { name: 'Prices: 1 month' }).fill('7.00');
      await dialog(page).getByRole('textbox', { name: 'Prices: 12 months' }).fill('70.00');
      await dialog(page).getByRole('textbox', { name: 'Expiration date' }).fill('2021-12-31');
      await dialog(page).getByRole('button', { name: 'Create' }).click();
      await page.waitForURL(/\/staff\/catalog\/tariffs\/3541$/);
      await page.getByRole('heading', { name: 'ISPmanager Lite (ISPmanager 5)' }).waitFor();
      const terms = page.getByRole('table', { name: 'Prices' });
      await terms.getByRole('row', { name: /Expiration date\s*2021-12-31/ }).waitFor();
      await terms.getByRole('row', { name: /12 months\s*70\.00/ }).waitFor();
      const license = (await admin('GET', '/api/v1/tariffs/3541')).body;
      expect(license).toMatchObject({ productType: 'soft', expiresOn: '2021-12-31', status: 'active' });

      // ---- the VPS tariff ----
      await page.getByRole('link', { name: 'All tariffs' }).click();
      await page.getByRole('button', { name: 'New tariff' }).click();
      await choose(page, dialog(page), 'Product type', 'VPS');
      await dialog(page).getByRole('textbox', { name: 'Name', exact: true }).fill('VPS Start');
      await dialog(page).getByRole('checkbox', { name: '12 months' }).check();
      await dialog(page).getByRole('textbox', { name: 'Prices: 1 month' }).fill('10.00');
      await dialog(page).getByRole('textbox', { name: 'Prices: 12 months' }).fill('100.00');
      await dialog(page).getByRole('button', { name: 'Create' }).click();
      await page.waitForURL(/\/staff\/catalog\/tariffs\/\d+$/);
      const vpsId = Number(/(\d+)$/.exec(page.url())![1]);
      await page.getByRole('heading', { name: 'VPS Start' }).waitFor();

      // A setup fee added later is in the tariff's history, with who changed it.
      await page.getByRole('button', { name: 'Edit tariff' }).click();
      await dialog(page).getByRole('textbox', { name: 'Setup fee' }).fill('5.00');
      await dialog(page).getByRole('button', { name: 'Save' }).click();
      await dialog(page).waitFor({ state: 'detached' });
      await page
        .getByRole('table', { name: 'Prices' })
        .getByRole('row', { name: /Setup fee\s*5\.00/ })
        .waitFor();
      await page
        .getByRole('table', { name: 'History' })
        .getByText(/setupFee: null → "5\.00"/)
        .waitFor();

      // ---- the Control-panel addon: one price per value and period, all offered ----
      await page.getByRole('button', { name: 'Add addon' }).click();
      const addon = dialog(page);
      await addon.getByRole('textbox', { name: 'Label' }).fill('Control panel');
      await choose(page, addon, 'Enumeration', 'Server Control Panel');
      const grid = addon.getByRole('table', { name: 'Price grid' });
      await grid.waitFor();
      for (const v of CONTROL_PANEL_VALUES)
        await grid.getByRole('textbox', { name: `${v.name}: 1 month` }).fill(PANEL_PRICE[v.internalName]!);
      await grid.getByRole('textbox', { name: 'ISPmanager 6 Pro: 12 months' }).fill('90.00');
      await still(page);
      await dialogShot(page, 'staff-catalog-addon-grid-desktop');
      await addon.getByRole('button', { name: 'Save' }).click();
      await addon.waitFor({ state: 'detached' });
      const shown = page.getByRole('table', { name: 'Control panel: Price grid' });
      await shown.getByRole('row', { name: /ISPmanager 6 Pro.*55228.*yes\s*9\.00\s*90\.00/ }).waitFor();
      await shown.getByRole('row', { name: /ISPmanager 6 Host.*55229.*yes\s*14\.00\s*168\.00/ }).waitFor();
      const vps = (await admin('GET', `/api/v1/tariffs/${vpsId}`)).body;
      expect(vps.addons).toHaveLength(1);
      expect(vps.addons[0]).toMatchObject({ kind: 'control_panel', valueType: 'enumeration' });
      expect(
        vps.addons[0].values.map(
          (v: { internalName: string; prices: { period: number; price: string }[] }) => [
            v.internalName,
            v.prices.find((p) => p.period === 1)?.price,
          ],
        ),
      ).toEqual(CONTROL_PANEL_VALUES.map((v) => [v.internalName, PANEL_PRICE[v.internalName]]));
      // No configuration problem yet: no module serves it.
      expect((await admin('GET', `/api/v1/tariffs/${vpsId}/problems`)).body.items).toEqual([]);
      await still(page);
      await shot(page, 'staff-catalog-vps-tariff-desktop');

      // ---- a value in use cannot be deleted: the page says who uses it and disables it instead ----
      await page.goto(`${url}/staff/catalog/enumerations/${enumeration.id}`);
      await page.getByRole('button', { name: 'Delete ISPmanager Lite', exact: true }).click();
      await dialog(page).getByRole('button', { name: 'Delete' }).click();
      const inUse = dialog(page).getByRole('alert');
      await inUse.getByText('This value is in use and cannot be deleted').waitFor();
      await inUse.getByRole('link', { name: String(vpsId) }).waitFor();
      await still(page);
      await dialogShot(page, 'staff-catalog-value-in-use-desktop');
      await dialog(page).getByRole('button', { name: 'Disable' }).click();
      await dialog(page).waitFor({ state: 'detached' });
      await page
        .getByRole('table', { name: 'Values' })
        .getByRole('row', { name: /ISPmanager Lite\s*3541.*disabled/ })
        .waitFor();
      const lite = (await admin('GET', `/api/v1/enumerations/${enumeration.id}`)).body.values.find(
        (v: { internalName: string }) => v.internalName === '3541',
      );
      expect(lite.status).toBe('disabled');

      // ---- a processing module from the plug-in's JSON Schema; its password is write-only ----
      await page.getByRole('link', { name: 'Processing modules' }).click();
      await page.getByText('No processing modules yet.').waitFor();
      await page.getByRole('link', { name: 'New module' }).click();
      await choose(page, page, 'Module type', /VMmanager 6/);
      await page.getByRole('textbox', { name: 'Name', exact: true }).fill('VM cluster');
      await page.getByRole('textbox', { name: 'Url', exact: true }).fill(vm.url);
      await page.getByRole('textbox', { name: 'Email', exact: true }).fill(VM_ADMIN.email);
      await page.getByRole('textbox', { name: 'Password', exact: true }).fill('wrong-password');
      await page.getByRole('textbox', { name: 'Timeout ms', exact: true }).fill('5000');
      await page.getByRole('button', { name: 'Create' }).click();
      await page.waitForURL(/\/staff\/modules\/\d+$/);
      const moduleId = Number(/(\d+)$/.exec(page.url())![1]);
      await page.getByRole('button', { name: 'Check connection' }).click();
      await page.getByRole('alert').filter({ hasText: 'Connection failed' }).waitFor();
      // The password field starts empty ("set"): a new one replaces it; empty leaves it as it is.
      const password = page.getByRole('textbox', { name: 'Password', exact: true });
      expect(await password.inputValue()).toBe('');
      await page.getByText('Set. Leave empty to keep it').waitFor();
      await password.fill(VM_ADMIN.password);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByText('"VM cluster" is saved.').waitFor();
      // The save refetches the module and the form takes it: type only once that is done (on a
      // loaded machine the refetch can land after the typing and put the old name back). Enter
      // submits: the notification of the last save covers the button's corner.
      await page.waitForLoadState('networkidle');
      const moduleName = page.getByRole('textbox', { name: 'Name', exact: true });
      await moduleName.fill('VM cluster A');
      await moduleName.press('Enter');
      // The save is read back from the API (its notification may come and go while a loaded
      // machine is slow to look).
      await expect
        .poll(async () => (await admin('GET', `/api/v1/modules/${moduleId}`)).body.name, { timeout: 30_000 })
        .toBe('VM cluster A');
      await page.getByRole('button', { name: 'Check connection' }).click();
      await page.getByRole('alert').filter({ hasText: 'Connection works' }).waitFor();
      const module = (await admin('GET', `/api/v1/modules/${moduleId}`)).body;
      expect(module).toMatchObject({
        name: 'VM cluster A',
        type: 'vmmanager6',
        secrets: { password: 'set' },
      });
      expect(module.params).toMatchObject({ url: vm.url, email: VM_ADMIN.email, timeoutMs: 5000 });
      expect(JSON.stringify(module)).not.toContain(VM_ADMIN.password);
      await page.getByText('No license server is linked').waitFor();
      await still(page);
      await shot(page, 'staff-catalog-module-desktop');

      // ---- the tariff ↔ module link with its settings; without a license server it is refused ----
      await page.goto(`${url}/staff/catalog/tariffs/${vpsId}`);
      await choose(page, page, 'Link a module', /VM cluster A/);
      await page.getByRole('button', { name: 'Next' }).click();
      await dialog(page).getByRole('textbox', { name: 'Cluster id', exact: true }).fill('1');
      await dialog(page).getByRole('textbox', { name: 'Os ids', exact: true }).fill('1, 2');
      await dialog(page).getByRole('button', { name: 'Save' }).click();
      const refusal = dialog(page).getByRole('alert');
      await refusal
        .getByText('This change would break the control-panel configuration of a tariff.')
        .waitFor();
      await refusal.getByText(/has no license server/).waitFor();
      await refusal.scrollIntoViewIfNeeded();
      await still(page);
      await dialogShot(page, 'staff-catalog-link-refused-desktop');
      await page.keyboard.press('Escape');
      expect((await admin('GET', `/api/v1/tariffs/${vpsId}/modules`)).body.items).toEqual([]);

      // ---- the license server: a BILLmanager module, its balance, its tariffs imported ----
      await page.getByRole('link', { name: 'Processing modules' }).click();
      await page.getByRole('link', { name: 'New module' }).click();
      await choose(page, page, 'Module type', /BILLmanager/);
      await page.getByRole('textbox', { name: 'Name', exact: true }).fill('ISPsystem licenses');
      await page.getByRole('textbox', { name: 'Url', exact: true }).fill(billmgr.url);
      await page.getByRole('textbox', { name: 'Username', exact: true }).fill(BILLMGR_ACCOUNT.username);
      await page.getByRole('textbox', { name: 'Password', exact: true }).fill(BILLMGR_ACCOUNT.password);
      await page.getByRole('button', { name: 'Create' }).click();
      await page.waitForURL(/\/staff\/modules\/\d+$/);
      const licenseServerId = Number(/(\d+)$/.exec(page.url())![1]);
      await page.getByRole('button', { name: 'Check connection' }).click();
      await page.getByRole('alert').filter({ hasText: 'Connection works' }).waitFor();
      await page.getByRole('button', { name: 'Upstream balance' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: 'Upstream balance' })
        .filter({ hasText: '100.00 EUR' })
        .waitFor();
      await page.getByRole('button', { name: 'Import tariffs' }).click();
      const imported = page
        .getByRole('alert')
        .filter({ hasText: /Imported: \d+ new, 0 updated, 0 unchanged\./ });
      await imported.waitFor();
      await imported.getByRole('link', { name: 'ISPmanager 6 Pro' }).waitFor();
      await still(page);
      await shot(page, 'staff-catalog-license-server-desktop');
      const importedTariffs = (await admin('GET', '/api/v1/tariffs?status=hidden')).body.items;
      expect(importedTariffs.map((x: { name: string }) => x.name)).toContain('ISPmanager 6 Pro');

      // The VM module orders its panels' licenses there; now the link is accepted, with its settings.
      await page.goto(`${url}/staff/modules/${moduleId}`);
      await choose(page, page, 'License server', /ISPsystem licenses/);
      await page.getByRole('textbox', { name: 'Name', exact: true }).press('Enter');
      await page.getByText('"VM cluster A" is saved.').last().waitFor();
      expect((await admin('GET', `/api/v1/modules/${moduleId}`)).body.licenseServerId).toBe(licenseServerId);
      await page.goto(`${url}/staff/catalog/tariffs/${vpsId}`);
      await choose(page, page, 'Link a module', /VM cluster A/);
      await page.getByRole('button', { name: 'Next' }).click();
      await dialog(page).getByRole('textbox', { name: 'Cluster id', exact: true }).fill('1');
      await dialog(page).getByRole('textbox', { name: 'Os ids', exact: true }).fill('1, 2');
      await dialog(page).getByRole('textbox', { name: 'Cpu', exact: true }).fill('2');
      await dialog(page).getByRole('textbox', { name: 'Ram mib', exact: true }).fill('2048');
      await dialog(page).getByRole('textbox', { name: 'Hdd mib', exact: true }).fill('20480');
      await dialog(page).getByRole('button', { name: 'Save' }).click();
      await dialog(page).waitFor({ state: 'detached' });
      await page
        .getByRole('table', { name: 'Processing modules' })
        .getByRole('row', { name: /VM cluster A.*"clusterId":1,"osIds":\[1,2\],"cpu":2/ })
        .waitFor();
      const links = (await admin('GET', `/api/v1/tariffs/${vpsId}/modules`)).body.items;
      expect(links).toMatchObject([
        { moduleId, settings: { clusterId: 1, osIds: [1, 2], cpu: 2, ramMib: 2048, hddMib: 20480 } },
      ]);
      expect((await admin('GET', `/api/v1/tariffs/${vpsId}/problems`)).body.items).toEqual([]);
      await still(page);
      await shot(page, 'staff-catalog-vps-linked-desktop');
    } finally {
      await context.close();
    }

    // ---- a client orders the VPS with ISPmanager 6 Pro and sees the price lines ----
    const made = await admin('POST', '/api/v1/accounts', { name: 'Buyer Ltd', ...CLIENT });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const paid = await admin('POST', `/api/v1/accounts/${made.body.account.id}/payments`, {
      amount: '100.00',
      method: 'manual',
      reference: 'ui-catalog',
    });
    expect(paid.status, JSON.stringify(paid.body)).toBe(201);
    const { context: clientContext, page: client } = await openApp(browser, url, DESKTOP);
    try {
      await fillSignIn(client, CLIENT);
      await client.getByRole('heading', { name: 'Services' }).waitFor();
      // Staff pages are not for clients: the app sends them back, the API answers 403.
      await client.goto(`${url}/staff/catalog/tariffs`);
      await client.waitForURL(/\/services$/);
      expect((await (await apiSession(url, CLIENT))('GET', '/api/v1/tariffs')).status).toBe(403);

      await client.getByRole('link', { name: 'Order' }).click();
      await client.getByRole('radio', { name: 'VPS', exact: true }).check();
      await client.getByRole('button', { name: 'Next' }).click();
      await client.getByRole('radio', { name: 'VPS Start' }).check();
      await client.getByRole('button', { name: 'Next' }).click();
      // The disabled value is greyed with the reason, not offered; Pro says its price.
      await client.getByRole('radio', { name: /^ISPmanager 6 Pro — 9\.00 EUR$/ }).check();
      const lite = client.getByRole('radio', { name: /^ISPmanager Lite —/ });
      expect(await lite.count()).toBe(1);
      expect(await lite.isDisabled()).toBe(true);
      await client.getByText(/^ISPmanager Lite — no longer offered$/).waitFor();
      await client.getByRole('button', { name: 'Next' }).click();
      await client.getByRole('textbox', { name: 'Host name' }).fill('shop.example.com');
      await client.getByRole('textbox', { name: 'Operating system' }).fill('Ubuntu 22.04');
      await client.getByRole('button', { name: 'Next' }).click();
      const quote = client.getByRole('table', { name: 'Price' });
      await quote.waitFor();
      await quote.getByRole('row').filter({ hasText: 'VPS Start' }).filter({ hasText: '10.00' }).waitFor();
      await quote
        .getByRole('row')
        .filter({ hasText: 'ISPmanager 6 Pro' })
        .filter({ hasText: '9.00' })
        .waitFor();
      await quote
        .getByRole('row')
        .filter({ hasText: 'Setup fee: VPS Start' })
        .filter({ hasText: '5.00' })
        .waitFor();
      await quote.getByRole('row').filter({ hasText: 'Total' }).filter({ hasText: '24.00 EUR' }).waitFor();
      await still(client);
      await screenshot(client, 'staff-catalog-client-quote-desktop');

      // Paid from the balance, the server is set up on the VM module and its panel's license
      // ordered from the license server: the service becomes active with its key.
      await client.getByRole('button', { name: 'Pay 24.00 EUR from balance' }).click();
      await client.waitForURL(/\/services\/\d+$/);
      await client.getByText('active', { exact: true }).waitFor({ timeout: 60_000 });
      await client.getByLabel('License key').waitFor({ timeout: 60_000 });
      await screenshot(client, 'staff-catalog-client-service-desktop');
    } finally {
      await clientContext.close();
    }
  });

  it('staff add a number addon and an on/off addon to the VPS tariff; the page reads in Russian too', async () => {
    const { context, page } = await staffPage(DESKTOP);
    try {
      const vps = (await admin('GET', '/api/v1/tariffs?productType=vds')).body.items[0];
      await page.goto(`${url}/staff/catalog/tariffs/${vps.id}`);
      await page.getByRole('heading', { name: 'VPS Start' }).waitFor();

      await page.getByRole('button', { name: 'Add addon' }).click();
      await dialog(page).getByText('Number', { exact: true }).click();
      await choose(page, dialog(page), 'Kind', 'RAM');
      await dialog(page).getByRole('textbox', { name: 'Label', exact: true }).fill('Extra RAM');
      await dialog(page).getByRole('textbox', { name: 'Unit', exact: true }).fill('GB');
      await dialog(page).getByRole('textbox', { name: 'Included', exact: true }).fill('1');
      await dialog(page).getByRole('textbox', { name: 'Minimum', exact: true }).fill('1');
      await dialog(page).getByRole('textbox', { name: 'Maximum', exact: true }).fill('8');
      await dialog(page).getByRole('textbox', { name: 'Step', exact: true }).fill('1');
      await dialog(page)
        .getByRole('textbox', { name: 'Price per unit above the included: 1 month' })
        .fill('1.50');
      await dialog(page).getByRole('button', { name: 'Save' }).click();
      await dialog(page).waitFor({ state: 'detached' });
      await page.getByRole('region', { name: 'Extra RAM' }).getByText('1 month: 1.50').waitFor();

      await page.getByRole('button', { name: 'Add addon' }).click();
      await dialog(page).getByText('On / off', { exact: true }).click();
      await choose(page, dialog(page), 'Kind', 'Other');
      await dialog(page).getByRole('textbox', { name: 'Label', exact: true }).fill('Daily backups');
      await dialog(page).getByRole('textbox', { name: 'Price when on: 1 month' }).fill('2.00');
      await dialog(page).getByRole('button', { name: 'Save' }).click();
      await dialog(page).waitFor({ state: 'detached' });
      await page.getByRole('region', { name: 'Daily backups' }).getByText('1 month: 2.00').waitFor();

      // A range the API refuses is said next to the form, and nothing is added.
      await page.getByRole('button', { name: 'Add addon' }).click();
      await dialog(page).getByText('Number', { exact: true }).click();
      await dialog(page).getByRole('textbox', { name: 'Label', exact: true }).fill('Disk');
      await dialog(page).getByRole('textbox', { name: 'Unit', exact: true }).fill('GB');
      await dialog(page).getByRole('textbox', { name: 'Minimum', exact: true }).fill('9');
      await dialog(page).getByRole('textbox', { name: 'Maximum', exact: true }).fill('2');
      await dialog(page).getByRole('button', { name: 'Save' }).click();
      await dialog(page).getByRole('alert').getByText('The minimum is greater than the maximum.').waitFor();
      await page.keyboard.press('Escape');

      const addons = (await admin('GET', `/api/v1/tariffs/${vps.id}`)).body.addons;
      expect(addons.map((a: { label: string; valueType: string }) => [a.label, a.valueType])).toEqual([
        ['Control panel', 'enumeration'],
        ['Extra RAM', 'integer'],
        ['Daily backups', 'boolean'],
      ]);
      expect(addons[1]).toMatchObject({ kind: 'ram', unit: 'GB', included: 1, min: 1, max: 8, step: 1 });
      expect(addons[1].prices.find((p: { period: number }) => p.period === 1).price).toBe('1.50');

      await page.getByText('RU', { exact: true }).click();
      await page.getByRole('heading', { name: 'Дополнения' }).waitFor();
      await page.getByRole('table', { name: 'Control panel: Сетка цен' }).waitFor();
      await still(page);
      await shot(page, 'staff-catalog-vps-tariff-ru-desktop');
    } finally {
      await context.close();
    }
  });

  it('on a 390 px phone the tariff page, the module form and the settings fit the screen; settings save the provider and add staff', async () => {
    const { context, page } = await staffPage(PHONE);
    try {
      const vps = (await admin('GET', '/api/v1/tariffs?productType=vds')).body.items[0];
      await page.goto(`${url}/staff/catalog/tariffs/${vps.id}`);
      await page.getByRole('heading', { name: 'VPS Start' }).waitFor();
      await still(page);
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await shot(page, 'staff-catalog-vps-tariff-phone');

      await page.goto(`${url}/staff/modules/new`);
      await choose(page, page, 'Module type', /VMmanager 6/);
      await page.getByRole('textbox', { name: 'Url', exact: true }).waitFor();
      await still(page);
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await shot(page, 'staff-catalog-new-module-phone');

      await page.getByRole('button', { name: 'Open navigation' }).click();
      await page.getByRole('link', { name: 'Provider settings' }).click();
      const provider = page.getByRole('region', { name: 'Provider' });
      await provider.getByRole('textbox', { name: 'Provider name' }).fill('Example Hosting');
      await provider.getByRole('textbox', { name: 'Time zone' }).fill('Europe/Moscow');
      await provider.getByRole('button', { name: 'Save' }).click();
      await page.getByText('Provider settings are saved.').waitFor();
      // The save refetches the provider into the form: type only once that is done.
      await page.waitForLoadState('networkidle');
      await provider.getByRole('textbox', { name: 'Time zone' }).fill('Mars/Olympus');
      await provider.getByRole('button', { name: 'Save' }).click();
      await provider.getByRole('alert').waitFor();
      const staff = page.getByRole('region', { name: 'Staff users' });
      await staff.getByRole('textbox', { name: 'New staff email' }).fill('support@example.com');
      await staff.getByRole('textbox', { name: 'Their password', exact: true }).fill('support-password-1');
      await staff.getByRole('button', { name: 'Add staff user' }).click();
      await staff.getByRole('cell', { name: 'support@example.com', exact: true }).waitFor();
      await still(page);
      expect(await overflow(page)).toBeLessThanOrEqual(0);
      await shot(page, 'staff-catalog-settings-phone');
      expect((await admin('GET', '/api/v1/provider')).body).toMatchObject({
        name: 'Example Hosting',
        timeZone: 'Europe/Moscow',
      });
      const users = (await admin('GET', '/api/v1/users?role=admin')).body.items;
      expect(users.map((u: { email: string }) => u.email)).toContain('support@example.com');

      // The new staff user makes a token; staff see it by its hint and revoke it: it stops working.
      const support = await apiSession(url, { email: 'support@example.com', password: 'support-password-1' });
      const made = await support('POST', '/api/v1/me/tokens', { name: 'monitoring' });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      const bearer = (path: string) =>
        fetch(`${url}${path}`, { headers: { authorization: `Bearer ${made.body.token}` } });
      expect((await bearer('/api/v1/me')).status).toBe(200);
      await staff.getByRole('button', { name: 'API tokens of support@example.com' }).click();
      const tokens = dialog(page).getByRole('table', { name: 'Tokens' });
      await tokens.getByRole('cell', { name: made.body.hint }).waitFor();
      expect(await dialog(page).textContent()).not.toContain(made.body.token);
      await dialog(page).getByRole('button', { name: 'Revoke token "monitoring"' }).click();
      await dialog(page).getByRole('button', { name: 'Revoke now' }).click();
      await tokens.getByText('revoked').waitFor();
      await still(page);
      await dialogShot(page, 'staff-catalog-user-tokens-phone');
      expect((await bearer('/api/v1/me')).status).toBe(401);
    } finally {
      await context.close();
    }
  });
});
