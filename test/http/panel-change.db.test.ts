import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { changeTariff } from '../../src/modules/services/tariff-change.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import {
  balanceOf,
  call,
  getService,
  ok,
  openShop,
  orderPaid,
  payIn,
  runBillingHttp,
  type Shop,
  snapshot,
  staffActor,
  VDS_PARAMS,
} from '../helpers/shop.js';

/**
 * Issue 13 item 6: changing the control panel of a live server (ISPmanager 6 Lite → Pro) is a
 * change to the same tariff with other addon values, priced like a tariff change — the
 * remaining paid days day-prorated on the full period, the difference charged or credited at
 * once — and it reaches the module as the same `set_param` operation.
 *
 * The shop's VDS Start: 20.00/month; Control panel ISPmanager 6 Lite 5.00, 6 Pro 8.00.
 */
let shop: Shop;
beforeEach(async () => {
  shop = await openShop();
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const panel = (valueId: number) => ({ [String(shop.addons.panel)]: valueId });

/** A VDS with ISPmanager 6 Lite, ordered and opened 2021-12-16, paid until 2022-01-16 (31 days). */
async function liteServer(): Promise<number> {
  await payIn(shop, shop.alpha.accountId, '30.00'); // 20.00 + setup 5.00 + Lite 5.00
  const { serviceId } = await orderPaid(shop, shop.alpha, {
    tariffId: shop.tariffs.vds,
    period: 1,
    params: { ...VDS_PARAMS },
    addonValues: panel(shop.panels.lite6),
  });
  await runBillingHttp(shop);
  expect(await getService(shop, serviceId)).toMatchObject({ status: 'active', expiresOn: '2022-01-16' });
  expect(await balanceOf(shop, shop.alpha.accountId)).toBe('0.00');
  return serviceId;
}

const svc = (id: number, path: string, body: unknown, auth = shop.admin) =>
  call(shop, 'POST', `/api/v1/services/${id}${path}`, auth, body);

describe('changing the panel of a live server', () => {
  it('Lite → Pro mid-period charges the day-prorated difference; Pro → Lite credits it back', async () => {
    const id = await liteServer();
    await payIn(shop, shop.alpha.accountId, '10.00');
    shop.ctx.clock.set('2021-12-26T10:00:00Z');
    // 21 of 31 days left: old 25.00 × 21/31 = 16.94, new 28.00 × 21/31 = 18.97.
    const body = { tariffId: shop.tariffs.vds, addonValues: panel(shop.panels.pro6) };
    const quote = ok(await svc(id, '/tariff-change-quote', body, shop.alpha.auth));
    expect(quote).toEqual({
      serviceId: id,
      fromTariffId: shop.tariffs.vds,
      toTariffId: shop.tariffs.vds,
      remainingDays: 21,
      fullDays: 31,
      oldAmount: '16.94',
      newAmount: '18.97',
      difference: '2.03',
      addonValues: { [String(shop.addons.ram)]: 2, [String(shop.addons.panel)]: shop.panels.pro6 },
    });
    const up = ok(await svc(id, '/change-tariff', body));
    expect(up.change).toEqual(quote);
    expect(up.service).toMatchObject({
      tariffId: shop.tariffs.vds,
      expiresOn: '2022-01-16',
      addonValues: quote.addonValues,
    });
    expect(await balanceOf(shop, shop.alpha.accountId)).toBe('7.97');

    const down = ok(
      await svc(id, '/change-tariff', { tariffId: shop.tariffs.vds, addonValues: panel(shop.panels.lite6) }),
    );
    expect(down.change).toMatchObject({ oldAmount: '18.97', newAmount: '16.94', difference: '-2.03' });
    expect(await balanceOf(shop, shop.alpha.accountId)).toBe('10.00');

    const ledger = ok(await call(shop, 'GET', `/api/v1/accounts/${shop.alpha.accountId}/ledger`, shop.admin))
      .items as { kind: string; amount: string }[];
    expect(ledger.slice(0, 2).map((e) => [e.kind, e.amount])).toEqual([
      ['refund', '2.03'],
      ['charge', '-2.03'],
    ]);
    const history = ok(await call(shop, 'GET', `/api/v1/services/${id}/history`, shop.admin)).items as {
      event: string;
      details: Record<string, unknown>;
    }[];
    const changes = history.filter((e) => e.event === 'addons_changed');
    expect(changes.map((e) => e.details.difference).sort()).toEqual(['-2.03', '2.03']);
    expect(changes.find((e) => e.details.difference === '2.03')!.details).toMatchObject({
      from: shop.tariffs.vds,
      to: shop.tariffs.vds,
      addonValues: {
        from: panel(shop.panels.lite6),
        to: { [String(shop.addons.panel)]: shop.panels.pro6 },
      },
    });
    // The module hears of each change as it hears of a tariff change.
    const ops = await shop.ctx.db.kysely
      .selectFrom('operations')
      .select(['kind', 'payload'])
      .where('service_id', '=', id)
      .where('kind', '=', 'set_param')
      .execute();
    expect(ops.map((o) => JSON.parse(o.payload))).toEqual([
      { tariffId: shop.tariffs.vds },
      { tariffId: shop.tariffs.vds },
    ]);
  });

  it('the same tariff with the same values, or a value the tariff does not offer, is refused and changes nothing', async () => {
    const id = await liteServer();
    const before = await snapshot(shop.ctx);
    for (const addonValues of [undefined, {}, panel(shop.panels.lite6)]) {
      const body = { tariffId: shop.tariffs.vds, ...(addonValues ? { addonValues } : {}) };
      expectError(await svc(id, '/tariff-change-quote', body), 400, 'same_tariff');
      expectError(await svc(id, '/change-tariff', body), 400, 'same_tariff');
    }
    const notOffered = { tariffId: shop.tariffs.vds, addonValues: panel(shop.panels.business6) };
    expectError(await svc(id, '/change-tariff', notOffered), 400, 'enumeration_value_not_offered');
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('two concurrent panel changes: one is made and charged once, the other finds nothing to change', async () => {
    const id = await liteServer();
    await payIn(shop, shop.alpha.accountId, '10.00');
    shop.ctx.clock.set('2021-12-26T10:00:00Z');
    const to = { addonValues: panel(shop.panels.pro6) };
    const results = await Promise.allSettled([
      changeTariff(shop.ctx, staffActor, id, shop.tariffs.vds, to),
      changeTariff(shop.ctx, staffActor, id, shop.tariffs.vds, to),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({
      code: 'same_tariff',
    });
    expect(await balanceOf(shop, shop.alpha.accountId)).toBe('7.97');
    const charges = await shop.ctx.db.kysely
      .selectFrom('service_charges')
      .select('amount_minor')
      .where('service_id', '=', id)
      .where('kind', '=', 'tariff_change')
      .execute();
    expect(charges.map((c) => BigInt(c.amount_minor))).toEqual([203n]);
  });
});
