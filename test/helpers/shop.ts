import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { systemActor } from '../../src/modules/accounts/index.js';
import { createAddon, createTariff } from '../../src/modules/catalog/commands.js';
import type { TariffPresentation } from '../../src/modules/catalog/presenters.js';
import type { CreateTariffInput } from '../../src/modules/catalog/schemas.js';
import { seedControlPanels } from '../../src/modules/catalog/seed.js';
import type { AnyModuleType } from '../../src/modules/provisioning/plugin.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import type { OperationKind } from '../../src/platform/db/index.js';
import type { TestContext } from './context.js';
import {
  type Auth,
  createAdmin,
  createClient,
  createHttpTest,
  createToken,
  type HttpTest,
  login,
  type Method,
  moneySnapshot,
  request,
} from './http.js';
import { freshIp } from './ips.js';

/**
 * A small shop for the order and service HTTP tests: an admin, clients Alpha and Bravo (each
 * signed in with an API token, which does not expire while the clock moves), and a catalog:
 *
 * - `license` — ISPmanager Lite (soft: params ip + licname), 1 and 12 months, 10.00/month;
 * - `licensePro` — same product type, 20.00/month (tariff changes);
 * - `vds` — VDS Start (vds: hostname + os_template), 1/3/12 months, 20.00/month, setup 5.00,
 *   addons RAM (integer, 2 GB included, 1–16, 1.50/GB above), Control panel (enumeration:
 *   ISPmanager 6 Lite 5.00, 6 Pro 8.00, 6 Business not offered) and Backups (boolean, 3.00);
 * - `legacy` — soft, 10.00/month, expires 2021-12-31 (the seed example);
 * - `archived`, `ended` (expired 2021-12-10), `trial` (14-day trial, then 10.00/month).
 */
export const staffActor = systemActor('test');

export interface Client {
  readonly accountId: number;
  readonly auth: Auth;
}

export interface Shop {
  readonly t: HttpTest;
  readonly ctx: TestContext;
  readonly admin: Auth;
  readonly alpha: Client;
  readonly bravo: Client;
  readonly tariffs: {
    readonly license: number;
    readonly licensePro: number;
    readonly vds: number;
    readonly legacy: number;
    readonly archived: number;
    readonly ended: number;
    readonly trial: number;
  };
  readonly addons: { readonly ram: number; readonly panel: number; readonly backups: number };
  /** Control-panel enumeration value ids by upstream id. */
  readonly panels: { readonly lite6: number; readonly pro6: number; readonly business6: number };
}

export const LICENSE_PARAMS = { ip: '203.0.113.10', licname: 'lic-alpha' } as const;
export const VDS_PARAMS = { hostname: 'web1.example.com', os_template: 'debian-11' } as const;

export async function openShop(
  opts: { now?: string; moduleTypes?: readonly AnyModuleType[] } = {},
): Promise<Shop> {
  const t = await createHttpTest(opts);
  const ctx = t.ctx;
  await createAdmin(ctx, 'boss@example.com');
  const admin = { bearer: await createToken(t.app, await login(t.app, 'boss@example.com')) };
  const makeClient = async (email: string, name: string): Promise<Client> => {
    const { account } = await createClient(ctx, email, { name });
    return {
      accountId: Number(account.id),
      auth: { bearer: await createToken(t.app, await login(t.app, email)) },
    };
  };
  const alpha = await makeClient('alpha@example.com', 'Alpha Hosting');
  const bravo = await makeClient('bravo@example.com', 'Bravo Secret Industries');

  const tariff = async (input: Partial<CreateTariffInput> & { name: string }) =>
    (
      await createTariff(ctx, staffActor, {
        productType: 'soft',
        periods: [1, 12],
        prices: { '1': '10.00' },
        ...input,
      })
    ).id;
  const license = await tariff({ name: 'ISPmanager Lite' });
  const licensePro = await tariff({ name: 'ISPmanager Pro', prices: { '1': '20.00' } });
  const legacy = await tariff({ name: 'ISPmanager Legacy', expiresOn: '2021-12-31' });
  const archived = await tariff({ name: 'ISPmanager Old', status: 'archived' });
  const ended = await tariff({ name: 'ISPmanager Ended', expiresOn: '2021-12-10' });
  const trial = await tariff({ name: 'ISPmanager Trial', periods: [1, -100], trialDays: 14 });
  const vds = await tariff({
    name: 'VDS Start',
    productType: 'vds',
    periods: [1, 3, 12],
    prices: { '1': '20.00' },
    setupFee: '5.00',
  });

  const { enumerationId } = await seedControlPanels(ctx);
  const values = await ctx.db.kysely
    .selectFrom('enumeration_values')
    .select(['id', 'internal_name'])
    .where('enumeration_id', '=', enumerationId)
    .execute();
  const value = (internal: string) => Number(values.find((v) => v.internal_name === internal)!.id);
  const panels = { lite6: value('55227'), pro6: value('55228'), business6: value('55230') };
  await createAddon(ctx, staffActor, vds, {
    valueType: 'integer',
    kind: 'ram',
    label: 'RAM',
    unit: 'GB',
    included: 2,
    min: 1,
    max: 16,
    step: 1,
    defaultValue: 2,
    prices: { '1': '1.50' },
  });
  await createAddon(ctx, staffActor, vds, {
    valueType: 'enumeration',
    kind: 'control_panel',
    label: 'Control panel',
    enumerationId,
    values: [
      { valueId: panels.lite6, prices: { '1': '5.00' } },
      { valueId: panels.pro6, prices: { '1': '8.00' } },
      { valueId: panels.business6, offered: false, prices: { '1': '20.00' } },
    ],
  });
  const view: TariffPresentation = await createAddon(ctx, staffActor, vds, {
    valueType: 'boolean',
    kind: 'generic',
    label: 'Backups',
    prices: { '1': '3.00' },
  });
  const addon = (label: string) => view.addons.find((a) => a.label === label)!.id;
  return {
    t,
    ctx,
    admin,
    alpha,
    bravo,
    tariffs: { license, licensePro, vds, legacy, archived, ended, trial },
    addons: { ram: addon('RAM'), panel: addon('Control panel'), backups: addon('Backups') },
    panels,
  };
}

export function call(shop: Shop, method: Method, url: string, auth: Auth, body?: unknown) {
  return request(shop.t.app, method, url, { auth, ...(body !== undefined ? { body } : {}) });
}

/** Asserts the status and returns the parsed body. */
export function ok(res: LightMyRequestResponse, status = 200) {
  expect(res.statusCode, res.body).toBe(status);
  return res.json();
}

/** Staff record a payment over HTTP (this also pays awaiting orders, oldest first). */
export async function payIn(shop: Shop, accountId: number, amount: string, reference?: string) {
  return ok(
    await call(shop, 'POST', `/api/v1/accounts/${accountId}/payments`, shop.admin, {
      amount,
      method: 'bank',
      reference: reference ?? `pay-${accountId}-${amount}-${Math.random().toString(36).slice(2)}`,
    }),
    201,
  );
}

export async function balanceOf(shop: Shop, accountId: number): Promise<string> {
  return ok(await call(shop, 'GET', `/api/v1/accounts/${accountId}/balance`, shop.admin)).balance as string;
}

export const licenseItem = (shop: Shop, extra: Record<string, unknown> = {}) => ({
  tariffId: shop.tariffs.license,
  period: 1,
  params: { ...LICENSE_PARAMS, ip: freshIp() },
  ...extra,
});

/** Orders one item for `client`, paid now; returns the order and its service id. */
export async function orderPaid(shop: Shop, client: Client, item: Record<string, unknown>) {
  const order = ok(
    await call(shop, 'POST', '/api/v1/orders', client.auth, { items: [item], payNow: true }),
    201,
  );
  expect(order.status).toBe('paid');
  return { order, serviceId: order.items[0].serviceId as number };
}

/** Staff run the daily billing over HTTP (it also completes queued operations). */
export async function runBillingHttp(shop: Shop, body: { date?: string; dryRun?: boolean } = {}) {
  return ok(await call(shop, 'POST', '/api/v1/billing/run', shop.admin, body));
}

export async function getService(shop: Shop, id: number, auth: Auth = shop.admin) {
  return ok(await call(shop, 'GET', `/api/v1/services/${id}`, auth));
}

const TABLES = [
  'orders',
  'order_items',
  'services',
  'service_charges',
  'service_history',
  'operations',
  'billing_runs',
  'billing_steps',
  'notifications',
  'ledger_entries',
  'payments',
  'product_types',
  'tariffs',
  'documents',
] as const;

/**
 * Everything a billing request could change: row counts of every table it writes, every
 * service and order row, and the money (balances and the whole ledger). Equal snapshots
 * before and after a refused request prove it changed nothing.
 */
export async function snapshot(ctx: TestContext): Promise<string> {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const row = await ctx.db.kysely
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
      .executeTakeFirstOrThrow();
    counts[table] = Number(row.n);
  }
  const services = await ctx.db.kysely.selectFrom('services').selectAll().orderBy('id').execute();
  const orders = await ctx.db.kysely.selectFrom('orders').selectAll().orderBy('id').execute();
  const operations = await ctx.db.kysely.selectFrom('operations').selectAll().orderBy('id').execute();
  const types = await ctx.db.kysely.selectFrom('product_types').selectAll().orderBy('id').execute();
  return JSON.stringify(
    { counts, services, orders, operations, types, money: await moneySnapshot(ctx) },
    (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

export async function countOf(ctx: TestContext, table: (typeof TABLES)[number]): Promise<number> {
  const row = await ctx.db.kysely
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Runs every due operation of each context `times` over, also those waiting for a retry (the
 * test clock does not move on its own): a worker's passes, in order, for every Billfold given.
 */
export async function drainOperations(ctxs: TestContext | readonly TestContext[], times = 1): Promise<void> {
  for (let i = 0; i < times; i++) {
    for (const ctx of Array.isArray(ctxs) ? ctxs : [ctxs as TestContext]) {
      await ctx.db.kysely
        .updateTable('operations')
        .set({ next_attempt_at: '2000-01-01T00:00:00.000Z' })
        .where('status', '=', 'retry_wait')
        .execute();
      await runQueuedOperations(ctx);
    }
  }
}

/** The id of the "Server Control Panel" enumeration the shop seeded. */
export async function panelEnumerationId(shop: Shop): Promise<number> {
  const row = await shop.ctx.db.kysely
    .selectFrom('enumeration_values')
    .select('enumeration_id')
    .where('id', '=', shop.panels.pro6)
    .executeTakeFirstOrThrow();
  return Number(row.enumeration_id);
}

/**
 * Makes a module the license server that sells the panels the shop's VDS tariff offers
 * (ISPmanager 6 Lite and Pro): the shop's `license` and `licensePro` tariffs are linked to it
 * with the upstream ids an import would record (55227, 55228). Without `moduleId` a
 * `billmanager` module is created (nothing is asked of it). Returns its id, for a server
 * module's `licenseServerId`: a VDS tariff offering a panel cannot be linked to a server module
 * without one (issue 13, `panel_config_invalid`).
 */
export async function panelLicenseServer(shop: Shop, moduleId?: number): Promise<number> {
  const id =
    moduleId ??
    (
      ok(
        await call(shop, 'POST', '/api/v1/modules', shop.admin, {
          name: 'ISPsystem licenses',
          type: 'billmanager',
          productTypes: ['soft'],
          params: { url: 'http://127.0.0.1:9/billmgr', username: 'reseller', password: 'secret' },
        }),
        201,
      ) as { id: number }
    ).id;
  for (const [tariffId, upstream] of [
    [shop.tariffs.license, '55227'],
    [shop.tariffs.licensePro, '55228'],
  ] as const) {
    await shop.ctx.db.kysely
      .insertInto('tariff_modules')
      .values({
        tariff_id: tariffId,
        module_id: id,
        sort_order: 0,
        settings: '{}',
        external_id: upstream,
        upstream_prices: null,
      })
      .execute();
  }
  return id;
}

/** A service's (first) operation of a kind, as stored. */
export function operationOf(shop: Shop, serviceId: number, kind: OperationKind = 'open') {
  return shop.ctx.db.kysely
    .selectFrom('operations')
    .selectAll()
    .where('service_id', '=', serviceId)
    .where('kind', '=', kind)
    .orderBy('id')
    .executeTakeFirstOrThrow();
}
