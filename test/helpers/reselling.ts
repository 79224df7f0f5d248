import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { RemoteCatalog, remoteCatalogModuleType } from '../fixtures/remote-catalog-module.js';
import { freshIp } from './ips.js';
import { call, ok, openShop, orderPaid, payIn, type Shop } from './shop.js';

/**
 * A shop that resells through the in-memory upstream of `remote-catalog-module.ts`: module
 * "Upstream" (type `remote-catalog-test`, serving `soft`), and an upstream price list of two
 * license tariffs — `55227` ISPmanager 6 Lite at 7.5000 EUR a month / 81.0000 EUR a year, and
 * `55228` ISPmanager 6 Pro at 12.3456 USD a month (another currency).
 */
export interface ResellingShop extends Shop {
  readonly remote: RemoteCatalog;
  readonly moduleId: number;
}

export async function openResellingShop(): Promise<ResellingShop> {
  const remote = new RemoteCatalog()
    .addTariff({
      externalId: '55227',
      name: 'ISPmanager 6 Lite',
      productType: 'soft',
      currency: 'EUR',
      prices: [
        { period: 1, amount: '7.5000' },
        { period: 12, amount: '81.0000' },
      ],
    })
    .addTariff({
      externalId: '55228',
      name: 'ISPmanager 6 Pro',
      productType: 'soft',
      currency: 'USD',
      prices: [{ period: 1, amount: '12.3456' }],
    });
  const shop = await openShop({ moduleTypes: [remoteCatalogModuleType(remote)] });
  const mod = ok(
    await call(shop, 'POST', '/api/v1/modules', shop.admin, {
      name: 'Upstream',
      type: 'remote-catalog-test',
      productTypes: ['soft'],
      params: { account: 'reseller-1' },
    }),
    201,
  );
  return { ...shop, remote, moduleId: mod.id as number };
}

export async function importTariffsHttp(shop: ResellingShop) {
  return ok(await call(shop, 'POST', `/api/v1/modules/${shop.moduleId}/import-tariffs`, shop.admin));
}

/** Imports, puts the Lite tariff on sale at 10.00 a month, and returns its id. */
export async function sellLite(shop: ResellingShop): Promise<number> {
  const r = await importTariffsHttp(shop);
  const lite = r.created.find((c: { externalId: string }) => c.externalId === '55227').tariffId as number;
  ok(
    await call(shop, 'PATCH', `/api/v1/tariffs/${lite}`, shop.admin, {
      status: 'active',
      prices: { '1': '10.00', '12': '100.00' },
    }),
  );
  return lite;
}

/** Alpha orders a Lite license (paid), and the open operation runs against the upstream. */
export async function orderLicense(shop: ResellingShop, tariffId: number, period = 1) {
  await payIn(shop, shop.alpha.accountId, '200.00');
  const { serviceId } = await orderPaid(shop, shop.alpha, {
    tariffId,
    period,
    params: { ip: freshIp(), licname: 'lic' },
  });
  await runQueuedOperations(shop.ctx);
  return serviceId;
}
