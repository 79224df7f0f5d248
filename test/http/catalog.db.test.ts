import type { LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type {
  CatalogView,
  EnumerationValueView,
  EnumerationView,
  ProductTypeView,
  TariffHistoryView,
  TariffView,
} from '../../src/modules/catalog/schemas.js';
import { deleteService } from '../../src/modules/services/deletion.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { client as billingClient, staff as billingStaff, orderLicense } from '../helpers/billing.js';
import {
  type Auth,
  createAdmin,
  createClient,
  createHttpTest,
  createToken,
  type ErrorPayload,
  expectError,
  type HttpTest,
  login,
  type Method,
  request,
  type Session,
} from '../helpers/http.js';

/**
 * The catalog API over HTTP (issue 3): every route with its success shape, who may call it,
 * the public catalog by the injected clock, the tariff change history, and every bad input of
 * the issue refused with its code while the catalog tables stay exactly as they were.
 */

type Tariff = z.infer<typeof TariffView>;
type Enumeration = z.infer<typeof EnumerationView>;
type EnumerationValue = z.infer<typeof EnumerationValueView>;
type ProductType = z.infer<typeof ProductTypeView>;
type Catalog = z.infer<typeof CatalogView>;
type HistoryItem = z.infer<typeof TariffHistoryView>;

const NOW = '2021-12-16T10:00:00.000Z';

let t: HttpTest;
let admin: Session;
let client: Session;

beforeEach(async () => {
  t = await createHttpTest();
  await createAdmin(t.ctx, 'boss@example.com');
  await createClient(t.ctx, 'ann@example.com', { name: 'Ann Ltd' });
  admin = await login(t.app, 'boss@example.com');
  client = await login(t.app, 'ann@example.com');
});
afterEach(async () => {
  await t.close();
});

// ------------------------------------------------------------------ helpers

const api = (method: Method, url: string, body?: unknown, auth: Auth | null = admin) =>
  request(t.app, method, url, { ...(auth ? { auth } : {}), ...(body === undefined ? {} : { body }) });

function ok<T>(res: LightMyRequestResponse, status = 200): T {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.json() as T;
}

const CATALOG_TABLES = [
  'product_types',
  'enumerations',
  'enumeration_values',
  'tariffs',
  'tariff_periods',
  'addons',
  'addon_values',
  'addon_prices',
  'tariff_history',
] as const;
type CatalogTable = (typeof CATALOG_TABLES)[number];

/** Row counts of every catalog table. */
async function catalogCounts(): Promise<Record<CatalogTable, number>> {
  const out = {} as Record<CatalogTable, number>;
  for (const table of CATALOG_TABLES) {
    const row = await t.ctx.db.kysely
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
      .executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

/** Every row of every catalog table, in a stable order: a refused update must not change a byte. */
async function catalogContents(): Promise<string> {
  const out: Record<string, string[]> = {};
  for (const table of CATALOG_TABLES) {
    const rows = await t.ctx.db.kysely.selectFrom(table).selectAll().execute();
    out[table] = rows
      .map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))
      .sort();
  }
  return JSON.stringify(out);
}

/** A request that must be refused with `status`/`code` and leave the catalog exactly as it was. */
async function refused(
  method: Method,
  url: string,
  body: unknown,
  status: number,
  code: string,
  auth: Auth | null = admin,
): Promise<ErrorPayload> {
  const counts = await catalogCounts();
  const contents = await catalogContents();
  const res = await api(method, url, body, auth);
  const err = expectError(res, status, code);
  expect(await catalogCounts(), `${method} ${url} → ${code} wrote rows`).toEqual(counts);
  expect(await catalogContents(), `${method} ${url} → ${code} changed rows`).toBe(contents);
  return err;
}

const CONTROL_PANELS = [
  { name: 'ISPmanager Lite', internalName: '3541' },
  { name: 'ISPmanager Business', internalName: '4601' },
  { name: 'ISPmanager 6 Lite', internalName: '55227' },
  { name: 'ISPmanager 6 Pro', internalName: '55228' },
  { name: 'ISPmanager 6 Host', internalName: '55229' },
  { name: 'ISPmanager 6 Business', internalName: '55230' },
];

/** The "Server Control Panel" enumeration over HTTP; `value('55228')` is that value's id. */
async function controlPanels() {
  const e = ok<Enumeration>(
    await api('POST', '/api/v1/enumerations', { name: 'Server Control Panel', values: CONTROL_PANELS }),
    201,
  );
  const value = (internalName: string) => {
    const v = e.values.find((x) => x.internalName === internalName);
    if (!v) throw new Error(`no value ${internalName}`);
    return v.id;
  };
  return { id: e.id, enumeration: e, value };
}

const vpsBody = (extra: Record<string, unknown> = {}) => ({
  name: 'VPS S',
  productType: 'vds',
  periods: [1, 3, 12],
  prices: { '1': '10.00', '12': '100.00' },
  setupFee: '5.00',
  ...extra,
});

const createTariff = async (body: Record<string, unknown>) =>
  ok<Tariff>(await api('POST', '/api/v1/tariffs', body), 201);

const ramAddon = (extra: Record<string, unknown> = {}) => ({
  kind: 'ram',
  label: 'RAM',
  valueType: 'integer',
  unit: 'GB',
  included: 2,
  min: 1,
  max: 16,
  step: 1,
  defaultValue: 2,
  sortOrder: 10,
  prices: { '1': '1.50' },
  ...extra,
});
const backupsAddon = (extra: Record<string, unknown> = {}) => ({
  kind: 'generic',
  label: 'Backups',
  valueType: 'boolean',
  defaultValue: false,
  sortOrder: 20,
  prices: { '1': '2.00' },
  ...extra,
});

const addAddon = async (tariffId: number, body: Record<string, unknown>) =>
  ok<Tariff>(await api('POST', `/api/v1/tariffs/${tariffId}/addons`, body), 201);

const publicCatalog = async (query = '', auth: Auth | null = null) =>
  ok<Catalog>(await api('GET', `/api/v1/catalog${query}`, undefined, auth));

// ------------------------------------------------------------------ routes and access

interface RouteCase {
  /** `METHOD /path/{param}` as in the OpenAPI document. */
  readonly name: string;
  readonly method: Method;
  readonly url: string;
  readonly body?: unknown;
}

/** A world with one of everything, and every admin route of the catalog with a valid request. */
async function adminRoutes(): Promise<RouteCase[]> {
  const cp = await controlPanels();
  const tariff = await createTariff(vpsBody());
  const withAddon = await addAddon(tariff.id, ramAddon());
  const addonId = withAddon.addons[0]!.id;
  const e = cp.id;
  const v = cp.value('4601');
  return [
    { name: 'GET /api/v1/product-types', method: 'GET', url: '/api/v1/product-types' },
    { name: 'GET /api/v1/product-types/{code}', method: 'GET', url: '/api/v1/product-types/vds' },
    {
      name: 'POST /api/v1/product-types',
      method: 'POST',
      url: '/api/v1/product-types',
      body: { code: 'cloud', name: 'Cloud' },
    },
    {
      name: 'PATCH /api/v1/product-types/{code}',
      method: 'PATCH',
      url: '/api/v1/product-types/vds',
      body: { deletionDelayDays: 1 },
    },
    { name: 'GET /api/v1/enumerations', method: 'GET', url: '/api/v1/enumerations' },
    {
      name: 'POST /api/v1/enumerations',
      method: 'POST',
      url: '/api/v1/enumerations',
      body: { name: 'OS' },
    },
    { name: 'GET /api/v1/enumerations/{id}', method: 'GET', url: `/api/v1/enumerations/${e}` },
    {
      name: 'PATCH /api/v1/enumerations/{id}',
      method: 'PATCH',
      url: `/api/v1/enumerations/${e}`,
      body: { name: 'Taken over' },
    },
    { name: 'DELETE /api/v1/enumerations/{id}', method: 'DELETE', url: `/api/v1/enumerations/${e}` },
    {
      name: 'POST /api/v1/enumerations/{id}/values',
      method: 'POST',
      url: `/api/v1/enumerations/${e}/values`,
      body: { name: 'Plesk', internalName: 'plesk' },
    },
    {
      name: 'PATCH /api/v1/enumerations/{id}/values/{valueId}',
      method: 'PATCH',
      url: `/api/v1/enumerations/${e}/values/${v}`,
      body: { status: 'disabled' },
    },
    {
      name: 'DELETE /api/v1/enumerations/{id}/values/{valueId}',
      method: 'DELETE',
      url: `/api/v1/enumerations/${e}/values/${v}`,
    },
    { name: 'GET /api/v1/tariffs', method: 'GET', url: '/api/v1/tariffs' },
    { name: 'POST /api/v1/tariffs', method: 'POST', url: '/api/v1/tariffs', body: vpsBody() },
    { name: 'GET /api/v1/tariffs/{id}', method: 'GET', url: `/api/v1/tariffs/${tariff.id}` },
    {
      name: 'PATCH /api/v1/tariffs/{id}',
      method: 'PATCH',
      url: `/api/v1/tariffs/${tariff.id}`,
      body: { prices: { '1': '0.01' } },
    },
    {
      name: 'GET /api/v1/tariffs/{id}/history',
      method: 'GET',
      url: `/api/v1/tariffs/${tariff.id}/history`,
    },
    {
      name: 'GET /api/v1/tariffs/{id}/problems',
      method: 'GET',
      url: `/api/v1/tariffs/${tariff.id}/problems`,
    },
    {
      name: 'POST /api/v1/tariffs/{id}/addons',
      method: 'POST',
      url: `/api/v1/tariffs/${tariff.id}/addons`,
      body: backupsAddon(),
    },
    {
      name: 'PUT /api/v1/tariffs/{id}/addons/{addonId}',
      method: 'PUT',
      url: `/api/v1/tariffs/${tariff.id}/addons/${addonId}`,
      body: ramAddon({ max: 1024 }),
    },
    {
      name: 'DELETE /api/v1/tariffs/{id}/addons/{addonId}',
      method: 'DELETE',
      url: `/api/v1/tariffs/${tariff.id}/addons/${addonId}`,
    },
  ];
}

describe('routes and access', () => {
  it('the route list below is every catalog route of the OpenAPI document', async () => {
    const doc = ok<{ paths: Record<string, Record<string, { tags?: string[] }>> }>(
      await t.app.inject({ url: '/api/openapi.json' }),
    );
    const documented: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (op.tags?.includes('catalog')) documented.push(`${method.toUpperCase()} ${path}`);
      }
    }
    const tested = [...(await adminRoutes()).map((r) => r.name), 'GET /api/v1/catalog'];
    expect(documented.sort()).toEqual(tested.sort());
  });

  it('every admin route → 403 forbidden for a client (session and API token), nothing written', async () => {
    const routes = await adminRoutes();
    const clientToken = { bearer: await createToken(t.app, client) };
    for (const route of routes) {
      for (const auth of [client, clientToken] as Auth[]) {
        const err = await refused(route.method, route.url, route.body, 403, 'forbidden', auth);
        expect(err.code, route.name).toBe('forbidden');
      }
    }
  });

  it('every admin route → 401 unauthenticated without a session or token, nothing written', async () => {
    for (const route of await adminRoutes()) {
      const err = await refused(route.method, route.url, route.body, 401, 'unauthenticated', null);
      expect(err.code, route.name).toBe('unauthenticated');
    }
  });

  it('the public catalog needs no sign-in and answers the same to anyone', async () => {
    await createTariff(vpsBody());
    const anonymous = await publicCatalog();
    expect(anonymous.tariffs).toHaveLength(1);
    expect(await publicCatalog('', client)).toEqual(anonymous);
    expect(await publicCatalog('', admin)).toEqual(anonymous);
    expect(await publicCatalog('', { bearer: await createToken(t.app, client) })).toEqual(anonymous);
  });
});

// ------------------------------------------------------------------ product types

describe('product types', () => {
  it('lists the five seeded types, shows one, creates and changes one', async () => {
    const list = ok<{ items: ProductType[] }>(await api('GET', '/api/v1/product-types'));
    expect(list.items.map((p) => [p.code, p.name])).toEqual([
      ['vds', 'VPS'],
      ['dedic', 'Dedicated server'],
      ['soft', 'ISPsystem licenses'],
      ['softexternal', 'Third-party licenses'],
      ['platform', 'VMmanager/DCImanager licenses'],
    ]);
    const soft = ok<ProductType>(await api('GET', '/api/v1/product-types/soft'));
    expect(soft).toEqual({
      id: list.items[2]!.id,
      code: 'soft',
      name: 'ISPsystem licenses',
      deletionDelayDays: 30,
      clientCanDelete: true,
      refundUnusedDays: false,
      serviceParams: ['ip', 'licname'],
    });
    expect(list.items[0]).toMatchObject({ code: 'vds', serviceParams: ['hostname', 'os_template'] });

    const changed = ok<ProductType>(
      await api('PATCH', '/api/v1/product-types/soft', {
        deletionDelayDays: 7,
        clientCanDelete: false,
        refundUnusedDays: true,
      }),
    );
    expect(changed).toEqual({
      ...soft,
      deletionDelayDays: 7,
      clientCanDelete: false,
      refundUnusedDays: true,
    });
    expect(ok<ProductType>(await api('GET', '/api/v1/product-types/soft'))).toEqual(changed);

    const cloud = ok<ProductType>(
      await api('POST', '/api/v1/product-types', {
        code: 'cloud',
        name: 'Cloud',
        serviceParams: ['hostname'],
      }),
      201,
    );
    expect(cloud).toEqual({
      id: expect.any(Number),
      code: 'cloud',
      name: 'Cloud',
      deletionDelayDays: 30,
      clientCanDelete: true,
      refundUnusedDays: false,
      serviceParams: ['hostname'],
    });
    expect(ok<{ items: ProductType[] }>(await api('GET', '/api/v1/product-types')).items).toHaveLength(6);
  });

  it('bad product type input → 400/404/409 with a code, nothing written', async () => {
    await refused(
      'POST',
      '/api/v1/product-types',
      { code: 'vds', name: 'Again' },
      409,
      'product_type_exists',
    );
    await refused('POST', '/api/v1/product-types', { code: 'VDS', name: 'Upper' }, 400, 'validation_failed');
    await refused(
      'POST',
      '/api/v1/product-types',
      { code: 'cloud', name: 'Cloud', id: 99 },
      400,
      'unknown_field',
    );
    await refused('PATCH', '/api/v1/product-types/vds', { deletionDelayDays: -1 }, 400, 'validation_failed');
    await refused('PATCH', '/api/v1/product-types/vds', { code: 'vps' }, 400, 'unknown_field');
    await refused('PATCH', '/api/v1/product-types/nope', { name: 'x' }, 404, 'product_type_not_found');
    expectError(await api('GET', '/api/v1/product-types/nope'), 404, 'product_type_not_found');
  });
});

// ------------------------------------------------------------------ enumerations

describe('enumerations', () => {
  it('create with values, list, show, rename; add, change and delete a value; delete the enumeration', async () => {
    const cp = await controlPanels();
    expect(cp.enumeration).toEqual({
      id: expect.any(Number),
      name: 'Server Control Panel',
      description: '',
      values: CONTROL_PANELS.map((v, i) => ({
        id: expect.any(Number),
        enumerationId: cp.id,
        name: v.name,
        internalName: v.internalName,
        sortOrder: i * 10,
        status: 'active',
      })),
      createdAt: NOW,
      updatedAt: NOW,
    });
    expect(ok<Enumeration>(await api('GET', `/api/v1/enumerations/${cp.id}`))).toEqual(cp.enumeration);

    const os = ok<Enumeration>(
      await api('POST', '/api/v1/enumerations', { name: 'OS', description: 'Templates' }),
      201,
    );
    expect(os).toMatchObject({ name: 'OS', description: 'Templates', values: [] });
    const list = ok<{ items: Enumeration[] }>(await api('GET', '/api/v1/enumerations'));
    expect(list.items).toEqual([cp.enumeration, os]);

    t.ctx.clock.advanceDays(1);
    const renamed = ok<Enumeration>(
      await api('PATCH', `/api/v1/enumerations/${os.id}`, { name: 'Operating systems' }),
    );
    expect(renamed).toEqual({ ...os, name: 'Operating systems', updatedAt: '2021-12-17T10:00:00.000Z' });

    const debian = ok<EnumerationValue>(
      await api('POST', `/api/v1/enumerations/${os.id}/values`, { name: 'Debian', internalName: ' debian ' }),
      201,
    );
    expect(debian).toEqual({
      id: expect.any(Number),
      enumerationId: os.id,
      name: 'Debian',
      internalName: 'debian',
      sortOrder: 0,
      status: 'active',
    });
    // The same internal name is fine in another enumeration.
    const again = ok<EnumerationValue>(
      await api('POST', `/api/v1/enumerations/${cp.id}/values`, { name: 'Debian?', internalName: 'debian' }),
      201,
    );
    expect(again).toMatchObject({ enumerationId: cp.id, internalName: 'debian', sortOrder: 60 });

    const changed = ok<EnumerationValue>(
      await api('PATCH', `/api/v1/enumerations/${os.id}/values/${debian.id}`, {
        name: 'Debian 12',
        internalName: 'debian12',
        sortOrder: 5,
        status: 'disabled',
      }),
    );
    expect(changed).toEqual({
      ...debian,
      name: 'Debian 12',
      internalName: 'debian12',
      sortOrder: 5,
      status: 'disabled',
    });

    // Unused: the value and then the enumeration can go.
    const del = await api('DELETE', `/api/v1/enumerations/${os.id}/values/${debian.id}`);
    expect(del.statusCode, del.body).toBe(204);
    expect(del.body).toBe('');
    expect(ok<Enumeration>(await api('GET', `/api/v1/enumerations/${os.id}`)).values).toEqual([]);
    expectError(
      await api('DELETE', `/api/v1/enumerations/${os.id}/values/${debian.id}`),
      404,
      'enumeration_value_not_found',
    );
    const gone = await api('DELETE', `/api/v1/enumerations/${os.id}`);
    expect(gone.statusCode, gone.body).toBe(204);
    expectError(await api('GET', `/api/v1/enumerations/${os.id}`), 404, 'enumeration_not_found');
    expect(
      ok<{ items: Enumeration[] }>(await api('GET', '/api/v1/enumerations')).items.map((e) => e.id),
    ).toEqual([cp.id]);
  });

  it('a duplicate internal name in one enumeration → 409 internal_name_taken, nothing written', async () => {
    const cp = await controlPanels();
    const err = await refused(
      'POST',
      '/api/v1/enumerations',
      {
        name: 'OS',
        values: [
          { name: 'Debian', internalName: 'debian' },
          { name: 'Debian 12', internalName: 'debian' },
        ],
      },
      409,
      'internal_name_taken',
    );
    expect(err.details).toEqual({ internalNames: ['debian'] });
    // Spaces do not make a new name.
    await refused(
      'POST',
      '/api/v1/enumerations',
      {
        name: 'OS',
        values: [
          { name: 'A', internalName: 'x' },
          { name: 'B', internalName: ' x ' },
        ],
      },
      409,
      'internal_name_taken',
    );
    for (const internalName of ['55227', ' 55227 ']) {
      const e = await refused(
        'POST',
        `/api/v1/enumerations/${cp.id}/values`,
        { name: 'Another', internalName },
        409,
        'internal_name_taken',
      );
      expect(e.details).toEqual({ internalName: '55227' });
    }
    await refused(
      'PATCH',
      `/api/v1/enumerations/${cp.id}/values/${cp.value('3541')}`,
      { internalName: '4601' },
      409,
      'internal_name_taken',
    );
  });

  it('other bad enumeration input → 400/404/409 with a code, nothing written', async () => {
    const cp = await controlPanels();
    await refused(
      'POST',
      '/api/v1/enumerations',
      { name: 'Server Control Panel' },
      409,
      'enumeration_exists',
    );
    const os = ok<Enumeration>(await api('POST', '/api/v1/enumerations', { name: 'OS' }), 201);
    await refused(
      'PATCH',
      `/api/v1/enumerations/${os.id}`,
      { name: 'Server Control Panel' },
      409,
      'enumeration_exists',
    );
    await refused('POST', '/api/v1/enumerations', { name: 'X', kind: 'list' }, 400, 'unknown_field');
    await refused(
      'POST',
      '/api/v1/enumerations',
      { name: 'X', values: [{ name: 'A', internalName: 'a', price: '1.00' }] },
      400,
      'unknown_field',
    );
    await refused('POST', '/api/v1/enumerations', { name: '  ' }, 400, 'validation_failed');
    await refused(
      'POST',
      `/api/v1/enumerations/${cp.id}/values`,
      { name: 'A', internalName: '' },
      400,
      'validation_failed',
    );
    await refused(
      'PATCH',
      `/api/v1/enumerations/${cp.id}/values/${cp.value('3541')}`,
      { status: 'deleted' },
      400,
      'validation_failed',
    );
    await refused(
      'PATCH',
      `/api/v1/enumerations/${cp.id}/values/${cp.value('3541')}`,
      { enumerationId: os.id },
      400,
      'unknown_field',
    );
    await refused(
      'POST',
      '/api/v1/enumerations/999999/values',
      { name: 'A', internalName: 'a' },
      404,
      'enumeration_not_found',
    );
    // A value is addressed through its own enumeration only.
    await refused(
      'PATCH',
      `/api/v1/enumerations/${os.id}/values/${cp.value('3541')}`,
      { name: 'Moved' },
      404,
      'enumeration_value_not_found',
    );
    await refused(
      'DELETE',
      `/api/v1/enumerations/${os.id}/values/${cp.value('3541')}`,
      undefined,
      404,
      'enumeration_value_not_found',
    );
    await refused('DELETE', '/api/v1/enumerations/999999', undefined, 404, 'enumeration_not_found');
  });

  it('a value in use → 409 enumeration_value_in_use (nothing written); disabling it works and takes it out of /catalog', async () => {
    const cp = await controlPanels();
    const tariff = await createTariff(vpsBody());
    await addAddon(tariff.id, {
      kind: 'control_panel',
      label: 'Control panel',
      valueType: 'enumeration',
      enumerationId: cp.id,
      values: [
        { valueId: cp.value('55227'), prices: { '1': '5.00' } },
        { valueId: cp.value('55228'), prices: { '1': '8.00' } },
        { valueId: cp.value('55230'), offered: false, prices: { '1': '20.00' } },
      ],
    });
    const offered = async () =>
      (await publicCatalog()).tariffs[0]!.addons[0]!.values.map((v) => v.internalName);
    /** The values a client sees greyed, with why they cannot be chosen. */
    const unavailable = async () =>
      (await publicCatalog()).tariffs[0]!.addons[0]!.unavailableValues.map((v) => [
        v.internalName,
        v.available,
        v.reason,
      ]);
    expect(await offered()).toEqual(['55227', '55228']);
    expect(await unavailable()).toEqual([['55230', false, 'not_offered_on_tariff']]);

    const pro = cp.value('55228');
    const err = await refused(
      'DELETE',
      `/api/v1/enumerations/${cp.id}/values/${pro}`,
      undefined,
      409,
      'enumeration_value_in_use',
    );
    expect(err.details).toEqual({ valueId: pro, tariffIds: [tariff.id], serviceIds: [] });
    const inUse = await refused(
      'DELETE',
      `/api/v1/enumerations/${cp.id}`,
      undefined,
      409,
      'enumeration_in_use',
    );
    expect(inUse.details).toEqual({ tariffIds: [tariff.id] });

    const disabled = ok<EnumerationValue>(
      await api('PATCH', `/api/v1/enumerations/${cp.id}/values/${pro}`, { status: 'disabled' }),
    );
    expect(disabled).toMatchObject({ id: pro, internalName: '55228', status: 'disabled' });
    expect(await offered()).toEqual(['55227']);
    expect(await unavailable()).toEqual([
      ['55228', false, 'value_disabled'],
      ['55230', false, 'not_offered_on_tariff'],
    ]);
    // Staff still see it on the tariff, offered but inactive.
    const view = ok<Tariff>(await api('GET', `/api/v1/tariffs/${tariff.id}`));
    expect(view.addons[0]!.values.map((v) => [v.internalName, v.offered, v.active])).toEqual([
      ['55227', true, true],
      ['55228', true, false],
      ['55230', false, true],
    ]);
    // Enabled again, it is back.
    ok(await api('PATCH', `/api/v1/enumerations/${cp.id}/values/${pro}`, { status: 'active' }));
    expect(await offered()).toEqual(['55227', '55228']);
    expect(await unavailable()).toEqual([['55230', false, 'not_offered_on_tariff']]);
    // A value no tariff uses can be deleted.
    const del = await api('DELETE', `/api/v1/enumerations/${cp.id}/values/${cp.value('3541')}`);
    expect(del.statusCode, del.body).toBe(204);
  });
  it('a value chosen by a service that is not deleted → 409 enumeration_value_in_use, even when no tariff offers it any more', async () => {
    const cp = await controlPanels();
    const license = await createTariff({
      name: 'License with a panel',
      productType: 'soft',
      periods: [1],
      prices: { '1': '10.00' },
    });
    const cpBody = (valueIds: number[]) => ({
      kind: 'control_panel',
      label: 'Control panel',
      valueType: 'enumeration',
      enumerationId: cp.id,
      values: valueIds.map((valueId) => ({ valueId, prices: { '1': '5.00' } })),
    });
    const addonId = (await addAddon(license.id, cpBody([cp.value('55227'), cp.value('55228')]))).addons[0]!
      .id;
    const buyer = await billingClient(t.ctx, 'buyer@example.com', '100.00');
    const serviceId = await orderLicense(t.ctx, buyer.actor, license.id, {
      addonValues: { [addonId]: cp.value('55228') },
    });
    // The tariff stops offering 55228; the service keeps it.
    ok(await api('PUT', `/api/v1/tariffs/${license.id}/addons/${addonId}`, cpBody([cp.value('55227')])));
    const url = `/api/v1/enumerations/${cp.id}/values/${cp.value('55228')}`;
    const err = await refused('DELETE', url, undefined, 409, 'enumeration_value_in_use');
    expect(err.details).toEqual({ valueId: cp.value('55228'), tariffIds: [], serviceIds: [serviceId] });
    // Disabling is allowed.
    expect(ok<EnumerationValue>(await api('PATCH', url, { status: 'disabled' })).status).toBe('disabled');
    // Once the service is deleted the value can go.
    await deleteService(t.ctx, billingStaff, serviceId);
    await runQueuedOperations(t.ctx);
    const del = await api('DELETE', url);
    expect(del.statusCode, del.body).toBe(204);
  });
});

// ------------------------------------------------------------------ tariffs

describe('tariffs', () => {
  it('create with a chosen id 55227, show, list with filters; the id is unique; generated ids continue after it', async () => {
    const lite = await createTariff({
      id: 55227,
      name: 'ISPmanager 6 Lite',
      description: 'Control panel license',
      productType: 'soft',
      status: 'active',
      periods: [1, 12, -100],
      trialDays: 14,
      prices: { '1': '7.50', '12': '75.00' },
      setupFee: null,
      expiresOn: '2022-06-30',
    });
    expect(lite).toEqual({
      id: 55227,
      name: 'ISPmanager 6 Lite',
      description: 'Control panel license',
      productType: 'soft',
      status: 'active',
      currency: 'EUR',
      periods: [
        { period: -100, price: '0.00', explicit: false },
        { period: 1, price: '7.50', explicit: true },
        { period: 12, price: '75.00', explicit: true },
      ],
      trialDays: 14,
      setupFee: null,
      expiresOn: '2022-06-30',
      addons: [],
      createdAt: NOW,
      updatedAt: NOW,
    });
    expect(ok<Tariff>(await api('GET', '/api/v1/tariffs/55227'))).toEqual(lite);

    const err = await refused(
      'POST',
      '/api/v1/tariffs',
      { id: 55227, name: 'Again', productType: 'vds', periods: [1], prices: { '1': '1.00' } },
      409,
      'tariff_id_taken',
    );
    expect(err.details).toEqual({ id: 55227 });

    const vps = await createTariff(vpsBody());
    expect(vps.id).toBeGreaterThan(55227);
    expect(vps).toMatchObject({
      productType: 'vds',
      status: 'active',
      periods: [
        { period: 1, price: '10.00', explicit: true },
        { period: 3, price: '30.00', explicit: false },
        { period: 12, price: '100.00', explicit: true },
      ],
      trialDays: null,
      setupFee: '5.00',
      expiresOn: null,
    });
    const hidden = await createTariff(vpsBody({ name: 'VPS hidden', status: 'hidden' }));

    const ids = async (query: string) =>
      ok<{ items: Tariff[] }>(await api('GET', `/api/v1/tariffs${query}`)).items.map((x) => x.id);
    expect(ok<{ items: Tariff[] }>(await api('GET', '/api/v1/tariffs')).items).toEqual([lite, vps, hidden]);
    expect(await ids('?productType=vds')).toEqual([vps.id, hidden.id]);
    expect(await ids('?status=hidden')).toEqual([hidden.id]);
    expect(await ids('?productType=soft&status=active')).toEqual([55227]);
    expect(await ids('?productType=dedic')).toEqual([]);
    expectError(await api('GET', '/api/v1/tariffs?status=deleted'), 400, 'validation_failed');
    expectError(await api('GET', '/api/v1/tariffs/424242'), 404, 'tariff_not_found');
  });

  it('change a tariff: name, status, periods, prices, setup fee, expiration date', async () => {
    const vps = await createTariff(vpsBody());
    t.ctx.clock.advanceDays(2);
    const changed = ok<Tariff>(
      await api('PATCH', `/api/v1/tariffs/${vps.id}`, {
        name: 'VPS M',
        description: 'More',
        status: 'hidden',
        periods: [1, 6, 12],
        prices: { '1': '12.00', '6': '60.00' },
        setupFee: '0.00',
        expiresOn: '2022-12-31',
      }),
    );
    expect(changed).toEqual({
      ...vps,
      name: 'VPS M',
      description: 'More',
      status: 'hidden',
      periods: [
        { period: 1, price: '12.00', explicit: true },
        { period: 6, price: '60.00', explicit: true },
        // Restating prices replaces them: 12 months falls back to monthly × 12.
        { period: 12, price: '144.00', explicit: false },
      ],
      setupFee: '0.00',
      expiresOn: '2022-12-31',
      updatedAt: '2021-12-18T10:00:00.000Z',
    });
    expect(ok<Tariff>(await api('GET', `/api/v1/tariffs/${vps.id}`))).toEqual(changed);
    const cleared = ok<Tariff>(
      await api('PATCH', `/api/v1/tariffs/${vps.id}`, {
        setupFee: null,
        expiresOn: null,
        status: 'archived',
      }),
    );
    expect(cleared).toMatchObject({ setupFee: null, expiresOn: null, status: 'archived' });
    expect(cleared.periods).toEqual(changed.periods);
  });

  it('the history shows every change with before/after, the admin user and the time', async () => {
    const vps = await createTariff(vpsBody());
    t.ctx.clock.advanceDays(1);
    const updated = ok<Tariff>(await api('PATCH', `/api/v1/tariffs/${vps.id}`, { prices: { '1': '12.00' } }));
    t.ctx.clock.advanceDays(1);
    const withAddon = await addAddon(vps.id, backupsAddon());
    const addonId = withAddon.addons[0]!.id;
    const replaced = ok<Tariff>(
      await api(
        'PUT',
        `/api/v1/tariffs/${vps.id}/addons/${addonId}`,
        backupsAddon({ prices: { '1': '3.00' } }),
      ),
    );
    const removed = ok<Tariff>(await api('DELETE', `/api/v1/tariffs/${vps.id}/addons/${addonId}`));

    const history = ok<{ items: HistoryItem[] }>(await api('GET', `/api/v1/tariffs/${vps.id}/history`));
    const actor = { userId: admin.userId, label: `user:${admin.userId}` };
    expect(history.items.map((h) => [h.change, h.actor, h.createdAt])).toEqual([
      ['addon_deleted', actor, '2021-12-18T10:00:00.000Z'],
      ['addon_updated', actor, '2021-12-18T10:00:00.000Z'],
      ['addon_created', actor, '2021-12-18T10:00:00.000Z'],
      ['updated', actor, '2021-12-17T10:00:00.000Z'],
      ['created', actor, NOW],
    ]);
    const [deleted, addonUpdated, addonCreated, priceChange, created] = history.items;
    // Newest first, each with its own id.
    expect(history.items.map((h) => h.id)).toEqual([...history.items.map((h) => h.id)].sort((a, b) => b - a));

    expect(created!.before).toBeNull();
    expect(created!.after).toEqual(vps);

    // The price change: before and after as the tariff was shown.
    expect(priceChange!.before).toEqual(vps);
    expect(priceChange!.after).toEqual(updated);
    const monthly = (x: unknown) => (x as Tariff).periods.find((p) => p.period === 1)!.price;
    expect(monthly(priceChange!.before)).toBe('10.00');
    expect(monthly(priceChange!.after)).toBe('12.00');

    expect(addonCreated!.before).toEqual(updated);
    expect(addonCreated!.after).toEqual(withAddon);
    expect(addonUpdated!.after).toEqual(replaced);
    expect((addonUpdated!.before as Tariff).addons[0]!.prices[0]!.price).toBe('2.00');
    expect((addonUpdated!.after as Tariff).addons[0]!.prices[0]!.price).toBe('3.00');
    expect(deleted!.after).toEqual(removed);
    expect(removed.addons).toEqual([]);

    expectError(await api('GET', '/api/v1/tariffs/424242/history'), 404, 'tariff_not_found');
  });

  it('problems: a control-panel value without a price for an offered period is listed for staff', async () => {
    const cp = await controlPanels();
    const vps = ok<Tariff>(await api('POST', '/api/v1/tariffs', vpsBody()), 201);
    const lite = cp.value('55227');
    const view = ok<Tariff>(
      await api('POST', `/api/v1/tariffs/${vps.id}/addons`, {
        kind: 'control_panel',
        label: 'Control panel',
        valueType: 'enumeration',
        enumerationId: cp.id,
        values: [{ valueId: lite, prices: { '1': '5.00' } }],
      }),
      201,
    );
    expect(ok(await api('GET', `/api/v1/tariffs/${vps.id}/problems`))).toEqual({ items: [] });
    // A price lost before these checks existed (older data).
    await t.ctx.db.kysely.deleteFrom('addon_prices').where('enumeration_value_id', '=', lite).execute();
    const { items } = ok<{ items: unknown[] }>(await api('GET', `/api/v1/tariffs/${vps.id}/problems`));
    expect(items).toEqual(
      vpsBody().periods.map((period) => ({
        code: 'panel_price_missing',
        tariffId: vps.id,
        addonId: view.addons[0]!.id,
        valueId: lite,
        period,
        message: expect.stringContaining(`no price for period ${period}`),
      })),
    );
    expectError(await api('GET', '/api/v1/tariffs/424242/problems'), 404, 'tariff_not_found');
  });

  it('addons: boolean, integer and enumeration; replace one; remove one', async () => {
    const cp = await controlPanels();
    const vps = await createTariff(vpsBody());
    let view = await addAddon(vps.id, {
      kind: 'control_panel',
      label: 'Control panel',
      valueType: 'enumeration',
      enumerationId: cp.id,
      required: true,
      defaultValue: cp.value('55227'),
      values: [
        { valueId: cp.value('55227'), prices: { '1': '5.00' } },
        { valueId: cp.value('55228'), prices: { '1': '8.00', '12': '80.00' } },
        { valueId: cp.value('55230'), offered: false, prices: { '1': '20.00' } },
      ],
    });
    const cpAddon = view.addons[0]!;
    expect(cpAddon).toEqual({
      id: expect.any(Number),
      tariffId: vps.id,
      kind: 'control_panel',
      label: 'Control panel',
      valueType: 'enumeration',
      required: true,
      defaultValue: cp.value('55227'),
      sortOrder: 0,
      unit: null,
      included: null,
      min: null,
      max: null,
      step: null,
      enumerationId: cp.id,
      prices: [],
      values: [
        {
          valueId: cp.value('55227'),
          name: 'ISPmanager 6 Lite',
          internalName: '55227',
          offered: true,
          active: true,
          prices: [
            { period: 1, price: '5.00', explicit: true },
            { period: 3, price: '15.00', explicit: false },
            { period: 12, price: '60.00', explicit: false },
          ],
        },
        {
          valueId: cp.value('55228'),
          name: 'ISPmanager 6 Pro',
          internalName: '55228',
          offered: true,
          active: true,
          prices: [
            { period: 1, price: '8.00', explicit: true },
            { period: 3, price: '24.00', explicit: false },
            { period: 12, price: '80.00', explicit: true },
          ],
        },
        {
          valueId: cp.value('55230'),
          name: 'ISPmanager 6 Business',
          internalName: '55230',
          offered: false,
          active: true,
          prices: [
            { period: 1, price: '20.00', explicit: true },
            { period: 3, price: '60.00', explicit: false },
            { period: 12, price: '240.00', explicit: false },
          ],
        },
      ],
    });

    view = await addAddon(vps.id, ramAddon());
    const ram = view.addons.find((a) => a.kind === 'ram')!;
    expect(ram).toEqual({
      id: expect.any(Number),
      tariffId: vps.id,
      kind: 'ram',
      label: 'RAM',
      valueType: 'integer',
      required: false,
      defaultValue: 2,
      sortOrder: 10,
      unit: 'GB',
      included: 2,
      min: 1,
      max: 16,
      step: 1,
      enumerationId: null,
      prices: [
        { period: 1, price: '1.50', explicit: true },
        { period: 3, price: '4.50', explicit: false },
        { period: 12, price: '18.00', explicit: false },
      ],
      values: [],
    });
    view = await addAddon(vps.id, backupsAddon());
    const backups = view.addons.find((a) => a.kind === 'generic')!;
    expect(backups).toMatchObject({
      valueType: 'boolean',
      defaultValue: false,
      unit: null,
      min: null,
      prices: [
        { period: 1, price: '2.00', explicit: true },
        { period: 3, price: '6.00', explicit: false },
        { period: 12, price: '24.00', explicit: false },
      ],
    });
    expect(view.addons.map((a) => a.id)).toEqual([cpAddon.id, ram.id, backups.id]);

    const replaced = ok<Tariff>(
      await api('PUT', `/api/v1/tariffs/${vps.id}/addons/${ram.id}`, {
        kind: 'ram',
        label: 'Memory',
        valueType: 'integer',
        unit: 'GB',
        min: 2,
        max: 8,
        step: 2,
        sortOrder: 10,
        prices: { '12': '10.00' },
      }),
    );
    expect(replaced.addons.find((a) => a.id === ram.id)).toEqual({
      ...ram,
      label: 'Memory',
      defaultValue: null,
      included: 0,
      min: 2,
      max: 8,
      step: 2,
      // No monthly price: 1 and 3 months have none (null), 12 is explicit.
      prices: [
        { period: 1, price: null, explicit: false },
        { period: 3, price: null, explicit: false },
        { period: 12, price: '10.00', explicit: true },
      ],
    });

    const afterDelete = ok<Tariff>(await api('DELETE', `/api/v1/tariffs/${vps.id}/addons/${backups.id}`));
    expect(afterDelete.addons.map((a) => a.id)).toEqual([cpAddon.id, ram.id]);
    expect(ok<Tariff>(await api('GET', `/api/v1/tariffs/${vps.id}`))).toEqual(afterDelete);
    await refused(
      'DELETE',
      `/api/v1/tariffs/${vps.id}/addons/${backups.id}`,
      undefined,
      404,
      'addon_not_found',
    );
  });
});

// ------------------------------------------------------------------ bad input

describe('bad tariff input → 400/409 with a code, nothing written', () => {
  const cases: [string, Record<string, unknown>, number, string][] = [
    ['a negative price', vpsBody({ prices: { '1': '-1.00' } }), 400, 'invalid_amount'],
    ['a negative setup fee', vpsBody({ setupFee: '-5.00' }), 400, 'invalid_amount'],
    [
      'a negative trial price',
      vpsBody({ periods: [1, -100], trialDays: 7, prices: { '-100': '-1.00' } }),
      400,
      'invalid_amount',
    ],
    ['a price too large', vpsBody({ prices: { '1': '100000000000.01' } }), 400, 'amount_too_large'],
    ['a price with too many decimals', vpsBody({ prices: { '1': '1.001' } }), 400, 'amount_too_precise'],
    ['a price that is not a number', vpsBody({ prices: { '1': 'ten' } }), 400, 'validation_failed'],
    [
      'a price for a period not offered',
      vpsBody({ periods: [1], prices: { '1': '10.00', '12': '100.00' } }),
      400,
      'price_for_period_not_offered',
    ],
    [
      'a price for a period that does not exist',
      vpsBody({ prices: { '2': '1.00' } }),
      400,
      'validation_failed',
    ],
    ['a price keyed by a word', vpsBody({ prices: { monthly: '1.00' } }), 400, 'validation_failed'],
    ['an expiration date that is not a date', vpsBody({ expiresOn: 'next year' }), 400, 'invalid_date'],
    ['an impossible expiration date', vpsBody({ expiresOn: '2021-02-30' }), 400, 'invalid_date'],
    [
      'an expiration instant instead of a date',
      vpsBody({ expiresOn: '2021-12-31T00:00:00Z' }),
      400,
      'invalid_date',
    ],
    ['an expiration date in another format', vpsBody({ expiresOn: '31.12.2021' }), 400, 'invalid_date'],
    ['an empty expiration date', vpsBody({ expiresOn: '' }), 400, 'invalid_date'],
    ['an expiration date that is a number', vpsBody({ expiresOn: 20211231 }), 400, 'validation_failed'],
    [
      'a period not in the allowed set',
      vpsBody({ periods: [1, 2], prices: { '1': '1.00' } }),
      400,
      'validation_failed',
    ],
    ['a trial period other than -100', vpsBody({ periods: [-1], prices: {} }), 400, 'validation_failed'],
    ['no period', vpsBody({ periods: [], prices: {} }), 400, 'validation_failed'],
    ['a period listed twice', vpsBody({ periods: [1, 1] }), 400, 'duplicate_period'],
    ['a trial without its length', vpsBody({ periods: [1, -100] }), 400, 'trial_days_required'],
    [
      'periods without a price and no monthly price',
      vpsBody({ prices: { '12': '100.00' } }),
      400,
      'price_missing',
    ],
    ['no price at all', vpsBody({ periods: [3], prices: {} }), 400, 'price_missing'],
    ['an unknown product type', vpsBody({ productType: 'cloud' }), 400, 'product_type_not_found'],
    ['an unknown status', vpsBody({ status: 'deleted' }), 400, 'validation_failed'],
    ['an unknown field', vpsBody({ currency: 'USD' }), 400, 'unknown_field'],
    ['a price list given as an array', vpsBody({ prices: ['10.00'] }), 400, 'validation_failed'],
    ['a zero id', vpsBody({ id: 0 }), 400, 'validation_failed'],
    ['an id given as text', vpsBody({ id: '55227' }), 400, 'validation_failed'],
    ['a duplicate tariff id', vpsBody({ id: 55227 }), 409, 'tariff_id_taken'],
  ];

  it.each(
    cases.map(([what, body, status, code]) => [`${what} → ${status} ${code}`, body, status, code] as const),
  )('POST /tariffs with %s', async (_what, body, status, code) => {
    await createTariff(vpsBody({ id: 55227, name: 'ISPmanager 6 Lite', productType: 'soft' }));
    const err = await refused('POST', '/api/v1/tariffs', body, status, code);
    if (code === 'price_for_period_not_offered') expect(err.details).toMatchObject({ field: 'prices' });
    if (code === 'invalid_date') expect(err.details).toMatchObject({ field: 'expiresOn' });
    if (code === 'unknown_field')
      expect(err.details.issues).toEqual([expect.objectContaining({ path: 'currency' })]);
  });

  it('the refusals name what is wrong', async () => {
    const notOffered = await refused(
      'POST',
      '/api/v1/tariffs',
      vpsBody({ periods: [1], prices: { '12': '100.00' } }),
      400,
      'price_for_period_not_offered',
    );
    expect(notOffered.details).toEqual({ field: 'prices', period: 12, offered: [1] });
    const period = await refused(
      'POST',
      '/api/v1/tariffs',
      vpsBody({ periods: [1, 2] }),
      400,
      'validation_failed',
    );
    expect(period.details.issues).toEqual([expect.objectContaining({ path: 'periods.1' })]);
    const date = await refused(
      'POST',
      '/api/v1/tariffs',
      vpsBody({ expiresOn: 'soon' }),
      400,
      'invalid_date',
    );
    expect(date.details).toEqual({ field: 'expiresOn', value: 'soon' });
    const negative = await refused(
      'POST',
      '/api/v1/tariffs',
      vpsBody({ prices: { '1': '-1.00' } }),
      400,
      'invalid_amount',
    );
    expect(negative.details).toMatchObject({ field: 'prices.1', value: '-1.00' });
    // Such a tariff used to be accepted, and its unpriced periods were then silently left out
    // of the catalog: 1 and 3 months have neither a price nor a monthly price to fall back on.
    const unpriced = await refused(
      'POST',
      '/api/v1/tariffs',
      vpsBody({ prices: { '12': '100.00' } }),
      400,
      'price_missing',
    );
    expect(unpriced.details).toEqual({ field: 'prices', period: 1, periods: [1, 3] });
    expect(unpriced.message).toMatch(/1, 3/);
    // A trial needs no price (it is free), and a monthly price covers every other period.
    const fine = await createTariff(
      vpsBody({ periods: [-100, 1, 6], trialDays: 7, prices: { '1': '4.00' } }),
    );
    expect(fine.periods.map((p) => p.price)).toEqual(['0.00', '4.00', '24.00']);
    const updated = await refused(
      'PATCH',
      `/api/v1/tariffs/${fine.id}`,
      { prices: { '6': '20.00' } },
      400,
      'price_missing',
    );
    expect(updated.details).toEqual({ field: 'prices', period: 1, periods: [1] });
  });

  const patches: [string, Record<string, unknown>, number, string][] = [
    ['a negative price', { prices: { '1': '-0.01' } }, 400, 'invalid_amount'],
    ['a negative setup fee', { setupFee: '-1.00' }, 400, 'invalid_amount'],
    ['a price for a period not offered', { prices: { '6': '50.00' } }, 400, 'price_for_period_not_offered'],
    [
      'a price for a period being removed',
      { periods: [1], prices: { '12': '90.00' } },
      400,
      'price_for_period_not_offered',
    ],
    ['an expiration date that is not a date', { expiresOn: 'never' }, 400, 'invalid_date'],
    ['an empty expiration date', { expiresOn: '' }, 400, 'invalid_date'],
    ['a period not in the allowed set', { periods: [1, 5] }, 400, 'validation_failed'],
    ['a period listed twice', { periods: [12, 12] }, 400, 'duplicate_period'],
    ['a trial without its length', { periods: [-100, 1] }, 400, 'trial_days_required'],
    ['prices restated without the monthly one', { prices: { '12': '90.00' } }, 400, 'price_missing'],
    ['a new id', { id: 55228 }, 400, 'unknown_field'],
    ['another product type', { productType: 'soft' }, 400, 'unknown_field'],
    ['an unknown field', { price: '1.00' }, 400, 'unknown_field'],
    ['an empty name', { name: '' }, 400, 'validation_failed'],
  ];

  it.each(
    patches.map(([what, body, status, code]) => [`${what} → ${status} ${code}`, body, status, code] as const),
  )('PATCH /tariffs/{id} with %s', async (_what, body, status, code) => {
    const vps = await createTariff(vpsBody());
    await addAddon(vps.id, backupsAddon({ prices: { '1': '2.00', '12': '20.00' } }));
    await refused('PATCH', `/api/v1/tariffs/${vps.id}`, body, status, code);
  });

  it('PATCH of a tariff that does not exist → 404 tariff_not_found, nothing written', async () => {
    await refused('PATCH', '/api/v1/tariffs/424242', { name: 'x' }, 404, 'tariff_not_found');
  });
});

describe('bad addon input → 400/404 with a code, nothing written', () => {
  let tariffId: number;
  let cp: Awaited<ReturnType<typeof controlPanels>>;
  let otherValue: number;
  beforeEach(async () => {
    cp = await controlPanels();
    const os = ok<Enumeration>(
      await api('POST', '/api/v1/enumerations', {
        name: 'OS',
        values: [{ name: 'Debian', internalName: 'debian' }],
      }),
      201,
    );
    otherValue = os.values[0]!.id;
    tariffId = (await createTariff(vpsBody())).id;
  });

  const enumAddon = (extra: Record<string, unknown> = {}) => ({
    kind: 'control_panel',
    label: 'Control panel',
    valueType: 'enumeration',
    enumerationId: cp.id,
    values: [{ valueId: cp.value('55227'), prices: { '1': '5.00' } }],
    ...extra,
  });

  const cases: [string, () => Record<string, unknown>, string][] = [
    ['min > max', () => ramAddon({ min: 8, max: 4, defaultValue: null }), 'addon_min_greater_than_max'],
    ['step 0', () => ramAddon({ step: 0 }), 'addon_step_invalid'],
    ['a negative step', () => ramAddon({ step: -1 }), 'addon_step_invalid'],
    ['a default off the range', () => ramAddon({ defaultValue: 32 }), 'addon_default_invalid'],
    ['a default off the step', () => ramAddon({ min: 2, step: 2, defaultValue: 3 }), 'addon_default_invalid'],
    ['a negative min', () => ramAddon({ min: -1 }), 'validation_failed'],
    ['a negative integer price', () => ramAddon({ prices: { '1': '-1.50' } }), 'invalid_amount'],
    ['a negative boolean price', () => backupsAddon({ prices: { '1': '-2.00' } }), 'invalid_amount'],
    [
      'a price for a period not offered',
      () => ramAddon({ prices: { '1': '1.50', '6': '9.00' } }),
      'price_for_period_not_offered',
    ],
    [
      'a price for a trial not offered',
      () => backupsAddon({ prices: { '-100': '0.00' } }),
      'price_for_period_not_offered',
    ],
    [
      'a linked enumeration that does not exist',
      () => enumAddon({ enumerationId: 999_999, values: [] }),
      'enumeration_not_found',
    ],
    [
      'a value of another enumeration',
      () => enumAddon({ values: [{ valueId: otherValue }] }),
      'enumeration_value_not_in_enumeration',
    ],
    [
      'a value listed twice',
      () => enumAddon({ values: [{ valueId: cp.value('3541') }, { valueId: cp.value('3541') }] }),
      'duplicate_value',
    ],
    [
      'a negative price of an enumeration value',
      () => enumAddon({ values: [{ valueId: cp.value('3541'), prices: { '1': '-5.00' } }] }),
      'invalid_amount',
    ],
    [
      'an enumeration value price for a period not offered',
      () => enumAddon({ values: [{ valueId: cp.value('3541'), prices: { '24': '5.00' } }] }),
      'price_for_period_not_offered',
    ],
    [
      'a default that is not offered',
      () =>
        enumAddon({
          defaultValue: cp.value('4601'),
          values: [{ valueId: cp.value('4601'), offered: false, prices: { '1': '1.00' } }],
        }),
      'addon_default_invalid',
    ],
    ['an unknown field', () => ramAddon({ price: '1.00' }), 'unknown_field'],
    ['an integer field on a boolean addon', () => backupsAddon({ min: 1 }), 'unknown_field'],
    ['an unknown value type', () => ramAddon({ valueType: 'text' }), 'validation_failed'],
    ['an unknown kind', () => ramAddon({ kind: 'gpu' }), 'validation_failed'],
    ['a missing max', () => ({ ...ramAddon(), max: undefined }), 'validation_failed'],
  ];

  it.each(cases.map(([what, body, code]) => [`${what} → 400 ${code}`, body, code] as const))(
    'POST /tariffs/{id}/addons with %s',
    async (_what, body, code) => {
      await refused('POST', `/api/v1/tariffs/${tariffId}/addons`, body(), 400, code);
    },
  );

  it('PUT with a bad configuration or another value type → 400, the addon stays as it was', async () => {
    const view = await addAddon(tariffId, ramAddon());
    const ram = view.addons[0]!.id;
    const url = `/api/v1/tariffs/${tariffId}/addons/${ram}`;
    await refused(
      'PUT',
      url,
      ramAddon({ min: 10, max: 2, defaultValue: null }),
      400,
      'addon_min_greater_than_max',
    );
    await refused('PUT', url, ramAddon({ step: 0 }), 400, 'addon_step_invalid');
    await refused('PUT', url, ramAddon({ prices: { '1': '-1.00' } }), 400, 'invalid_amount');
    await refused('PUT', url, ramAddon({ prices: { '36': '1.00' } }), 400, 'price_for_period_not_offered');
    await refused('PUT', url, backupsAddon(), 400, 'addon_value_type_immutable');
    await refused(
      'PUT',
      url,
      enumAddon({ enumerationId: 999_999, values: [] }),
      400,
      'addon_value_type_immutable',
    );
    await refused('PUT', url, ramAddon({ tariffId: 1 }), 400, 'unknown_field');
    expect(ok<Tariff>(await api('GET', `/api/v1/tariffs/${tariffId}`))).toEqual(view);
  });

  it('addons of a tariff or an addon that does not exist → 404, nothing written', async () => {
    await refused('POST', '/api/v1/tariffs/424242/addons', ramAddon(), 404, 'tariff_not_found');
    await refused('PUT', `/api/v1/tariffs/${tariffId}/addons/424242`, ramAddon(), 404, 'addon_not_found');
    await refused('DELETE', `/api/v1/tariffs/${tariffId}/addons/424242`, undefined, 404, 'addon_not_found');
    // An addon is addressed through its own tariff only.
    const other = await createTariff(vpsBody({ name: 'Other' }));
    const addonId = (await addAddon(other.id, ramAddon())).addons[0]!.id;
    await refused(
      'DELETE',
      `/api/v1/tariffs/${tariffId}/addons/${addonId}`,
      undefined,
      404,
      'addon_not_found',
    );
  });
});

// ------------------------------------------------------------------ the public catalog

describe('GET /api/v1/catalog', () => {
  it('an empty catalog', async () => {
    expect(await publicCatalog()).toEqual({
      currency: 'EUR',
      today: '2021-12-16',
      productTypes: [],
      tariffs: [],
    });
  });

  it('shows only active, unexpired tariffs with priced periods and offered, active values; follows the clock', async () => {
    const adminToken = { bearer: await createToken(t.app, admin) };
    const cp = await controlPanels();
    const license = await createTariff({
      id: 3541,
      name: 'ISPmanager Lite',
      productType: 'soft',
      periods: [1, -100],
      trialDays: 14,
      prices: { '1': '10.00' },
      expiresOn: '2021-12-31',
    });
    const vps = await createTariff(vpsBody());
    await addAddon(vps.id, {
      kind: 'control_panel',
      label: 'Control panel',
      valueType: 'enumeration',
      enumerationId: cp.id,
      defaultValue: cp.value('55227'),
      values: [
        { valueId: cp.value('55227'), prices: { '1': '5.00' } },
        { valueId: cp.value('55228'), prices: { '1': '8.00', '12': '80.00' } },
        { valueId: cp.value('55229'), offered: false, prices: { '1': '9.00' } },
        { valueId: cp.value('55230'), prices: { '1': '20.00' } },
      ],
    });
    await addAddon(vps.id, ramAddon());
    await addAddon(vps.id, backupsAddon());
    // Disabled in the enumeration: gone from every tariff's options.
    ok(
      await api('PATCH', `/api/v1/enumerations/${cp.id}/values/${cp.value('55230')}`, { status: 'disabled' }),
    );
    // Not orderable: hidden, archived, expiring today, expired.
    await createTariff(vpsBody({ name: 'Hidden', status: 'hidden' }));
    await createTariff(vpsBody({ name: 'Archived', status: 'archived' }));
    await createTariff(vpsBody({ name: 'Ends today', expiresOn: '2021-12-16' }));
    await createTariff(vpsBody({ name: 'Ended', expiresOn: '2021-01-01' }));
    await createTariff(vpsBody({ name: 'Dedicated', productType: 'dedic', status: 'hidden' }));

    const vpsEntry = {
      id: vps.id,
      name: 'VPS S',
      description: '',
      productType: 'vds',
      currency: 'EUR',
      periods: [
        { period: 1, price: '10.00' },
        { period: 3, price: '30.00' },
        { period: 12, price: '100.00' },
      ],
      setupFee: '5.00',
      expiresOn: null,
      addons: [
        {
          id: expect.any(Number),
          kind: 'control_panel',
          label: 'Control panel',
          valueType: 'enumeration',
          required: false,
          defaultValue: cp.value('55227'),
          unit: null,
          included: null,
          min: null,
          max: null,
          step: null,
          prices: [],
          values: [
            {
              id: cp.value('55227'),
              name: 'ISPmanager 6 Lite',
              internalName: '55227',
              prices: [
                { period: 1, price: '5.00' },
                { period: 3, price: '15.00' },
                { period: 12, price: '60.00' },
              ],
            },
            {
              id: cp.value('55228'),
              name: 'ISPmanager 6 Pro',
              internalName: '55228',
              prices: [
                { period: 1, price: '8.00' },
                { period: 3, price: '24.00' },
                { period: 12, price: '80.00' },
              ],
            },
          ],
          // Shown greyed, with why: not on this tariff; switched off in the enumeration.
          unavailableValues: [
            {
              id: cp.value('55229'),
              name: 'ISPmanager 6 Host',
              internalName: '55229',
              available: false,
              reason: 'not_offered_on_tariff',
            },
            {
              id: cp.value('55230'),
              name: 'ISPmanager 6 Business',
              internalName: '55230',
              available: false,
              reason: 'value_disabled',
            },
          ],
        },
        {
          id: expect.any(Number),
          kind: 'ram',
          label: 'RAM',
          valueType: 'integer',
          required: false,
          defaultValue: 2,
          unit: 'GB',
          included: 2,
          min: 1,
          max: 16,
          step: 1,
          prices: [
            { period: 1, price: '1.50' },
            { period: 3, price: '4.50' },
            { period: 12, price: '18.00' },
          ],
          values: [],
          unavailableValues: [],
        },
        {
          id: expect.any(Number),
          kind: 'generic',
          label: 'Backups',
          valueType: 'boolean',
          required: false,
          defaultValue: false,
          unit: null,
          included: null,
          min: null,
          max: null,
          step: null,
          prices: [
            { period: 1, price: '2.00' },
            { period: 3, price: '6.00' },
            { period: 12, price: '24.00' },
          ],
          values: [],
          unavailableValues: [],
        },
      ],
    };
    const licenseEntry = {
      id: 3541,
      name: 'ISPmanager Lite',
      description: '',
      productType: 'soft',
      currency: 'EUR',
      periods: [
        { period: -100, price: '0.00', trialDays: 14 },
        { period: 1, price: '10.00' },
      ],
      setupFee: null,
      expiresOn: '2021-12-31',
      addons: [],
    };
    // Each type names the service parameters an order of it carries (the order form asks for them).
    const vdsType = { code: 'vds', name: 'VPS', serviceParams: ['hostname', 'os_template'] };
    const softType = { code: 'soft', name: 'ISPsystem licenses', serviceParams: ['ip', 'licname'] };

    expect(await publicCatalog()).toEqual({
      currency: 'EUR',
      today: '2021-12-16',
      productTypes: [vdsType, softType],
      tariffs: [licenseEntry, vpsEntry].sort((a, b) => a.id - b.id),
    });
    expect(license.id).toBe(3541);
    expect(await publicCatalog('?productType=soft')).toMatchObject({
      productTypes: [softType],
      tariffs: [licenseEntry],
    });
    expect((await publicCatalog('?productType=dedic')).tariffs).toEqual([]);
    expectError(
      await api('GET', '/api/v1/catalog?productType=VDS!', undefined, null),
      400,
      'validation_failed',
    );
    expectError(await api('GET', '/api/v1/catalog?status=hidden', undefined, null), 400, 'unknown_field');

    // The last day before the expiration date: still orderable.
    t.ctx.clock.set('2021-12-30T23:59:59Z');
    const lastDay = await publicCatalog();
    expect(lastDay.today).toBe('2021-12-30');
    expect(lastDay.tariffs.map((x) => x.id).sort((a, b) => a - b)).toEqual(
      [3541, vps.id].sort((a, b) => a - b),
    );
    // On the expiration date: gone.
    t.ctx.clock.set('2021-12-31T00:00:00Z');
    expect(await publicCatalog()).toEqual({
      currency: 'EUR',
      today: '2021-12-31',
      productTypes: [vdsType],
      tariffs: [vpsEntry],
    });
    // Moving the expiration date (staff, by API token: the session from 2021-12-16 has run out).
    ok(await api('PATCH', '/api/v1/tariffs/3541', { expiresOn: '2022-01-01' }, adminToken));
    expect((await publicCatalog()).tariffs.map((x) => x.id)).toContain(3541);
    ok(await api('PATCH', '/api/v1/tariffs/3541', { expiresOn: null }, adminToken));
    t.ctx.clock.set('2030-01-01T00:00:00Z');
    expect((await publicCatalog()).tariffs.map((x) => x.id)).toContain(3541);

    // Hidden: renewable but not orderable; archived: neither. Both leave the catalog; active is back.
    ok(await api('PATCH', `/api/v1/tariffs/${vps.id}`, { status: 'hidden' }, adminToken));
    expect((await publicCatalog()).tariffs.map((x) => x.id)).toEqual([3541]);
    ok(await api('PATCH', `/api/v1/tariffs/${vps.id}`, { status: 'archived' }, adminToken));
    expect((await publicCatalog()).tariffs.map((x) => x.id)).toEqual([3541]);
    ok(await api('PATCH', `/api/v1/tariffs/${vps.id}`, { status: 'active' }, adminToken));
    expect((await publicCatalog()).tariffs.map((x) => x.id).sort((a, b) => a - b)).toEqual(
      [3541, vps.id].sort((a, b) => a - b),
    );
    const cpOptions = async () => (await publicCatalog()).tariffs.find((x) => x.id === vps.id)!.addons[0]!;
    // The default value disabled in its enumeration: neither listed nor advertised as the default.
    const lite = `/api/v1/enumerations/${cp.id}/values/${cp.value('55227')}`;
    ok(await api('PATCH', lite, { status: 'disabled' }, adminToken));
    expect(await cpOptions()).toMatchObject({
      defaultValue: null,
      values: [expect.objectContaining({ internalName: '55228' })],
    });
    ok(await api('PATCH', lite, { status: 'active' }, adminToken));
    expect((await cpOptions()).defaultValue).toBe(cp.value('55227'));
    // A value switched off for one tariff leaves its options.
    const cpAddon = ok<Tariff>(await api('GET', `/api/v1/tariffs/${vps.id}`, undefined, adminToken))
      .addons[0]!;
    ok(
      await api(
        'PUT',
        `/api/v1/tariffs/${vps.id}/addons/${cpAddon.id}`,
        {
          kind: 'control_panel',
          label: 'Control panel',
          valueType: 'enumeration',
          enumerationId: cp.id,
          values: [
            { valueId: cp.value('55227'), offered: false, prices: { '1': '5.00' } },
            { valueId: cp.value('55228'), prices: { '1': '8.00' } },
          ],
        },
        adminToken,
      ),
    );
    const entry = (await publicCatalog()).tariffs.find((x) => x.id === vps.id)!;
    expect(entry.addons[0]!.values.map((v) => v.internalName)).toEqual(['55228']);
  });
});
