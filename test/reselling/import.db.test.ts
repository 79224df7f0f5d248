import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/modules/services/engine.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import { importTariffsHttp, openResellingShop, type ResellingShop } from '../helpers/reselling.js';
import { call, ok } from '../helpers/shop.js';

/**
 * Importing an upstream's tariffs (POST /api/v1/modules/{id}/import-tariffs): new tariffs
 * hidden with prices copied only in the provider's currency (EUR here), re-imports that
 * update the upstream cost and never our price, tariffs gone upstream, and the upstream's
 * failures and bad answers refused with nothing written.
 */

let shop: ResellingShop;
beforeEach(async () => {
  shop = await openResellingShop();
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const tariff = async (id: number) => ok(await call(shop, 'GET', `/api/v1/tariffs/${id}`, shop.admin));
const links = async (id: number) =>
  ok(await call(shop, 'GET', `/api/v1/tariffs/${id}/modules`, shop.admin)).items;
const priceOf = (t: { periods: { period: number; price: string | null }[] }, period: number) =>
  t.periods.find((p) => p.period === period)?.price;

async function catalogRows() {
  const db = shop.ctx.db.kysely;
  return JSON.stringify(
    {
      tariffs: await db.selectFrom('tariffs').selectAll().orderBy('id').execute(),
      periods: await db
        .selectFrom('tariff_periods')
        .selectAll()
        .orderBy('tariff_id')
        .orderBy('period')
        .execute(),
      links: await db.selectFrom('tariff_modules').selectAll().orderBy('tariff_id').execute(),
      history: await db.selectFrom('tariff_history').select('id').execute(),
    },
    (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

describe('a first import', () => {
  it('creates hidden tariffs linked to the upstream; prices copied only in our currency, rounded half up', async () => {
    shop.remote.tariffs.get('55227')!.prices[1]!.amount = '80.9950';
    shop.remote.tariffs.get('55227')!.expiresOn = '2022-06-30';
    const r = await importTariffsHttp(shop);
    expect(r.unchanged).toBe(0);
    expect(r.updated).toEqual([]);
    expect(r.gone).toEqual([]);
    expect(
      r.created.map((c: { externalId: string; pricesCopied: boolean }) => [c.externalId, c.pricesCopied]),
    ).toEqual([
      ['55227', true],
      ['55228', false],
    ]);
    const lite = await tariff(r.created[0].tariffId);
    expect(lite).toMatchObject({
      name: 'ISPmanager 6 Lite',
      status: 'hidden',
      productType: 'soft',
      expiresOn: '2022-06-30',
    });
    expect(priceOf(lite, 1)).toBe('7.50');
    // 80.9950 → 81.00: half up at the cent.
    expect(priceOf(lite, 12)).toBe('81.00');
    const [link] = await links(r.created[0].tariffId);
    expect(link).toMatchObject({
      moduleId: shop.moduleId,
      externalId: '55227',
      settings: { plan: '55227' },
      upstreamPrices: {
        currency: 'EUR',
        prices: [
          { period: 1, amount: '7.5000' },
          { period: 12, amount: '80.9950' },
        ],
        importedAt: '2021-12-16T10:00:00.000Z',
      },
    });
    // USD upstream, EUR shop: the periods exist, without a price until staff set one.
    const pro = await tariff(r.created[1].tariffId);
    expect(pro.status).toBe('hidden');
    expect(pro.periods).toEqual([{ period: 1, price: null, explicit: false }]);
    expect((await links(r.created[1].tariffId))[0].upstreamPrices.currency).toBe('USD');
    const history = await shop.ctx.db.kysely
      .selectFrom('tariff_history')
      .select(['change', 'actor_label'])
      .where('tariff_id', '=', r.created[0].tariffId)
      .execute();
    expect(history).toEqual([{ change: 'imported', actor_label: expect.stringMatching(/^user:/) }]);
  });
});

describe('a re-import', () => {
  it('updates the upstream cost, never our price, and says which tariff changed', async () => {
    const first = await importTariffsHttp(shop);
    const liteId = first.created[0].tariffId as number;
    ok(
      await call(shop, 'PATCH', `/api/v1/tariffs/${liteId}`, shop.admin, {
        prices: { '1': '10.00', '12': '99.00' },
      }),
    );
    shop.remote.tariffs.get('55227')!.prices[0]!.amount = '8.1234';
    shop.ctx.clock.set(new Date('2021-12-20T09:00:00Z'));
    const again = await importTariffsHttp(shop);
    expect(again.created).toEqual([]);
    expect(again.unchanged).toBe(1);
    expect(again.gone).toEqual([]);
    expect(again.updated).toEqual([
      {
        tariffId: liteId,
        externalId: '55227',
        name: 'ISPmanager 6 Lite',
        costChanged: true,
        settingsChanged: false,
        before: {
          currency: 'EUR',
          prices: [
            { period: 1, amount: '7.5000' },
            { period: 12, amount: '81.0000' },
          ],
          importedAt: '2021-12-16T10:00:00.000Z',
        },
        after: {
          currency: 'EUR',
          prices: [
            { period: 1, amount: '8.1234' },
            { period: 12, amount: '81.0000' },
          ],
          importedAt: '2021-12-20T09:00:00.000Z',
        },
      },
    ]);
    const lite = await tariff(liteId);
    expect([priceOf(lite, 1), priceOf(lite, 12)]).toEqual(['10.00', '99.00']);
    expect((await links(liteId))[0].upstreamPrices.prices[0].amount).toBe('8.1234');
    // Nothing new upstream: a third import changes nothing at all.
    const before = await catalogRows();
    const third = await importTariffsHttp(shop);
    expect(third).toMatchObject({ created: [], updated: [], unchanged: 2, gone: [] });
    expect(await catalogRows()).toBe(before);
  });

  it('reports a tariff gone upstream and keeps it', async () => {
    const first = await importTariffsHttp(shop);
    shop.remote.tariffs.delete('55228');
    const again = await importTariffsHttp(shop);
    expect(again.gone).toEqual([
      { tariffId: first.created[1].tariffId, externalId: '55228', name: 'ISPmanager 6 Pro' },
    ]);
    expect(again.unchanged).toBe(1);
    expect((await tariff(first.created[1].tariffId)).name).toBe('ISPmanager 6 Pro');
    expect((await links(first.created[1].tariffId))[0].externalId).toBe('55228');
  });
});

describe('what is refused, with nothing written', () => {
  it('an upstream failure keeps its upstream_* code: permanent 409, retryable 503', async () => {
    const before = await catalogRows();
    shop.remote.failNext = new OperationError('upstream_auth', 'The upstream refused the password.', false);
    const auth = expectError(
      await call(shop, 'POST', `/api/v1/modules/${shop.moduleId}/import-tariffs`, shop.admin),
      409,
      'upstream_auth',
    );
    expect(auth.message).toContain('The upstream refused the password.');
    shop.remote.failNext = new OperationError('upstream_timeout', 'No answer in 30 s.', true);
    expectError(
      await call(shop, 'POST', `/api/v1/modules/${shop.moduleId}/import-tariffs`, shop.admin),
      503,
      'upstream_timeout',
    );
    // Any error with a code that is not upstream_*: upstream_error, the plug-in's code in the details.
    shop.remote.failNext = Object.assign(new Error('access denied'), { code: 'access' });
    const other = expectError(
      await call(shop, 'POST', `/api/v1/modules/${shop.moduleId}/import-tariffs`, shop.admin),
      409,
      'upstream_error',
    );
    expect(other.details).toMatchObject({ upstreamCode: 'access', module: 'Upstream' });
    expect(await catalogRows()).toBe(before);
  });

  it('a bad answer (a price with 5 decimals, an unknown product type) writes no tariff at all', async () => {
    const before = await catalogRows();
    shop.remote.tariffs.get('55228')!.prices[0]!.amount = '12.34567';
    const e = expectError(
      await call(shop, 'POST', `/api/v1/modules/${shop.moduleId}/import-tariffs`, shop.admin),
      400,
      'import_invalid_tariff',
    );
    expect(e.details).toMatchObject({ externalId: '55228', period: 1 });
    shop.remote.tariffs.get('55228')!.prices[0]!.amount = '12.3456';
    shop.remote.tariffs.get('55228')!.productType = 'vds';
    const served = expectError(
      await call(shop, 'POST', `/api/v1/modules/${shop.moduleId}/import-tariffs`, shop.admin),
      400,
      'import_invalid_tariff',
    );
    expect(served.details).toMatchObject({ externalId: '55228', productType: 'vds' });
    expect(await catalogRows()).toBe(before);
  });

  it('a module whose plug-in cannot import, and no module at all', async () => {
    const manual = ok(
      await call(shop, 'POST', '/api/v1/modules', shop.admin, {
        name: 'By hand',
        type: 'manual',
        productTypes: ['soft'],
      }),
      201,
    );
    expectError(
      await call(shop, 'POST', `/api/v1/modules/${manual.id}/import-tariffs`, shop.admin),
      409,
      'import_unsupported',
    );
    expectError(
      await call(shop, 'POST', '/api/v1/modules/999999/import-tariffs', shop.admin),
      404,
      'module_not_found',
    );
    expectError(
      await call(shop, 'POST', `/api/v1/modules/${shop.moduleId}/import-tariffs`, shop.alpha.auth),
      403,
      'forbidden',
    );
  });
});
