import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { recordPayment } from '../../src/modules/accounts/commands.js';
import { createAddon, createTariff } from '../../src/modules/catalog/commands.js';
import { createModule, setTariffModules } from '../../src/modules/provisioning/commands.js';
import type { Logger } from '../../src/platform/logger.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import {
  createAdmin,
  createClient,
  createHttpTest,
  type HttpTest,
  type WireResponse,
} from '../helpers/http.js';
import { snapshot, staffActor } from '../helpers/shop.js';

/**
 * A seller for the BILLmanager API tests: ISPmanager 6 Lite (55227, 1 and 12 months,
 * 7.50/month, 75.00/year), Pro (55228, 15.00/month), a trial (55239, 14 days), a legacy
 * tariff ending 2021-12-31 (3541), all served by a license-issuer module; a reseller client
 * Alpha with 100.00 and a client Bravo with 100.00; an admin.
 */
export interface Seller {
  readonly t: HttpTest;
  readonly alpha: { accountId: number; authinfo: string };
  readonly bravo: { accountId: number; authinfo: string };
  readonly admin: { authinfo: string };
}

export const PASSWORD = 'pa:ss:word-with-colons';

export async function openSeller(
  opts: { now?: string; logger?: Logger; file?: boolean } = {},
): Promise<Seller> {
  const t = await createHttpTest({
    now: opts.now ?? '2021-12-16T10:00:00Z',
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.file ? { file: true } : {}),
  });
  const ctx = t.ctx;
  const issuer = await createModule(ctx, staffActor, {
    name: 'Billfold licenses',
    type: 'license-issuer',
    productTypes: ['soft', 'softexternal', 'platform'],
    params: {},
  });
  const tariff = async (input: Parameters<typeof createTariff>[2]) => {
    const created = await createTariff(ctx, staffActor, input);
    await setTariffModules(ctx, staffActor, created.id, { modules: [{ moduleId: Number(issuer.id) }] });
    return created.id;
  };
  await tariff({
    id: 55227,
    name: 'ISPmanager 6 Lite',
    productType: 'soft',
    periods: [1, 12],
    prices: { '1': '7.50', '12': '75.00' },
  });
  await tariff({
    id: 55228,
    name: 'ISPmanager 6 Pro',
    productType: 'soft',
    periods: [1, 12],
    prices: { '1': '15.00' },
  });
  await tariff({
    id: 55239,
    name: 'ISPmanager 6 Lite trial',
    productType: 'soft',
    periods: [-100],
    trialDays: 14,
    prices: { '-100': '0.00' },
  });
  await tariff({
    id: 3541,
    name: 'ISPmanager Lite',
    productType: 'soft',
    periods: [1, 12],
    prices: { '1': '10.00' },
    expiresOn: '2021-12-31',
  });
  await tariff({
    id: 55163,
    name: 'VMmanager 6',
    productType: 'platform',
    periods: [1],
    prices: { '1': '20.00' },
  });
  await tariff({
    id: 9203,
    name: 'CloudLinux',
    productType: 'softexternal',
    periods: [1],
    prices: { '1': '12.00' },
  });
  await createAdmin(ctx, 'boss@example.com', PASSWORD);
  const client = async (email: string) => {
    const { account } = await createClient(ctx, email, { password: PASSWORD });
    await recordPayment(ctx, staffActor, Number(account.id), {
      amount: '100.00',
      method: 'bank',
      reference: `seed-${email}`,
    });
    return { accountId: Number(account.id), authinfo: `${email}:${PASSWORD}` };
  };
  return {
    t,
    alpha: await client('alpha@example.com'),
    bravo: await client('bravo@example.com'),
    admin: { authinfo: `boss@example.com:${PASSWORD}` },
  };
}

export type Params = Record<string, string>;

/** One API call: GET with a query string, or POST with a form body, at one of the paths. */
export function mgr(
  s: Seller,
  params: Params,
  opts: { method?: 'GET' | 'POST'; path?: string } = {},
): Promise<LightMyRequestResponse> {
  const body = new URLSearchParams(params).toString();
  const path = opts.path ?? '/billmgr';
  return opts.method === 'GET'
    ? s.t.app.inject({ method: 'GET', url: `${path}?${body}` })
    : s.t.app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: body,
      });
}

// ---------------------------------------------------------------- helpers for the API tests

export const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
/** A license key (`<id>-XXXXX-…`) and a session id: the only random parts of an answer. */
export const KEY_RE = /\b\d+-[0-9A-Z]{5}(?:-[0-9A-Z]{5}){4}\b/g;
export const SID_RE = /\b[0-9a-f]{32}\b/g;

/** The body with keys and session ids replaced by `<KEY>` and `<SID>`. */
export const masked = (body: string): string => body.replace(KEY_RE, '<KEY>').replace(SID_RE, '<SID>');

/** Asserts an XML answer: HTTP 200, text/xml, and exactly `<?xml …?>\n` + `doc` (after masking). */
export function expectXml(res: WireResponse, doc: string): void {
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('text/xml; charset=utf-8');
  expect(masked(res.body)).toBe(`${XML_HEAD}${doc}`);
}

/** Asserts a JSON answer (json or bjson): HTTP 200, application/json, parsed body (masked) equal to `value`. */
export function expectJson(res: WireResponse, value: unknown): void {
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(JSON.parse(masked(res.body))).toEqual(value);
}

/** The XML of an error as the API writes it. */
export function errorXml(type: string, msg: string, object?: string, value?: string): string {
  const params =
    (object ? `<param name="object" type="msg">${object}</param>` : '') +
    (value !== undefined ? `<param name="value">${value}</param>` : '');
  return `<doc><error type="${type}" object="${object ?? ''}" lang="en">${params}<msg>${msg}</msg></error></doc>`;
}

/** Everything a license request could change: orders, services, operations, money, and the issued keys. */
export async function licenseState(ctx: HttpTest['ctx']): Promise<string> {
  const licenses = await ctx.db.kysely
    .selectFrom('issued_licenses')
    .selectAll()
    .orderBy('service_id')
    .execute();
  return JSON.stringify({ core: await snapshot(ctx), licenses }, (_k, v) =>
    typeof v === 'bigint' ? v.toString() : v,
  );
}

/** Orders a license with skipbasket (charged now) and returns its id. */
export async function orderLicense(
  s: Seller,
  authinfo: string,
  params: Params = {},
  family: 'soft' | 'softexternal' | 'platform' = 'soft',
): Promise<number> {
  const res = await mgr(s, {
    authinfo,
    out: 'json',
    func: `${family}.order.param`,
    pricelist: '55227',
    period: '1',
    ...(family === 'platform' ? {} : { ip: '203.0.113.10', licname: 'vps-1042' }),
    skipbasket: 'on',
    sok: 'ok',
    clicked_button: 'finish',
    ...params,
  });
  const body = JSON.parse(res.body) as { doc: { id?: { $: string } } };
  if (!body.doc.id) throw new Error(`order refused: ${res.body}`);
  return Number(body.doc.id.$);
}

/** The license's current key (issued_licenses). */
export async function keyOf(s: Seller, id: number): Promise<string | undefined> {
  const row = await s.t.ctx.db.kysely
    .selectFrom('issued_licenses')
    .select('license_key')
    .where('service_id', '=', id)
    .executeTakeFirst();
  return row?.license_key;
}

/** The account's ledger entries (kind, signed amount in minor units as a string, description). */
export async function ledgerOf(s: Seller, accountId: number) {
  const rows = await s.t.ctx.db.kysely
    .selectFrom('ledger_entries')
    .select(['kind', 'amount_minor', 'description'])
    .where('account_id', '=', accountId)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ kind: r.kind, amount: String(r.amount_minor), description: r.description }));
}

/** VMmanager 6 nodes addon (`addon_55165`): integer, 1 included, 1–10, 5.00 per extra node a month. */
export async function addNodesAddon(s: Seller): Promise<void> {
  await createAddon(s.t.ctx, staffActor, 55163, {
    id: 55165,
    valueType: 'integer',
    kind: 'generic',
    label: 'Nodes',
    unit: 'node',
    included: 1,
    min: 1,
    max: 10,
    step: 1,
    defaultValue: 1,
    prices: { '1': '5.00' },
  });
}

/** Opens a seller, runs the test, checks the ledger invariant and always closes the seller. */
export async function withSeller(
  fn: (s: Seller) => Promise<void>,
  opts: Parameters<typeof openSeller>[0] = {},
): Promise<void> {
  const s = await openSeller(opts);
  try {
    await fn(s);
    await expectLedgerBalanced(s.t.ctx);
  } finally {
    await s.t.close();
  }
}

/** The json image of a flat object (`{"a":"1","b":""}` → `{"a":{"$":"1"},"b":{}}`), for expected values. */
export const jsonFields = (record: Record<string, string>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k, v === '' ? {} : { $: v }]));

/** The xml of a flat object's fields (`<a>1</a><b/>`), for expected values. */
export const xmlFields = (record: Record<string, string>): string =>
  Object.entries(record)
    .map(([k, v]) => (v === '' ? `<${k}/>` : `<${k}>${v}</${k}>`))
    .join('');
