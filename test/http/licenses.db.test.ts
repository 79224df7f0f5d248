import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEY_PATTERN } from '../../src/modules/licenses/keys.js';
import { createModule, setTariffModules } from '../../src/modules/provisioning/commands.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import {
  call,
  LICENSE_PARAMS,
  licenseItem,
  ok,
  openShop,
  orderPaid,
  payIn,
  type Shop,
  snapshot,
  staffActor,
} from '../helpers/shop.js';

/** The web API's view of a license Billfold issued: its key, a new key, a new IP. */

let shop: Shop;
let serviceId: number;
beforeEach(async () => {
  shop = await openShop();
  const issuer = await createModule(shop.ctx, staffActor, {
    name: 'Billfold licenses',
    type: 'license-issuer',
    productTypes: ['soft'],
    params: {},
  });
  await setTariffModules(shop.ctx, staffActor, shop.tariffs.license, {
    modules: [{ moduleId: Number(issuer.id) }],
  });
  await payIn(shop, shop.alpha.accountId, '100.00');
  serviceId = (await orderPaid(shop, shop.alpha, licenseItem(shop, { params: { ...LICENSE_PARAMS } })))
    .serviceId;
  await runQueuedOperations(shop.ctx);
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const url = (suffix = '') => `/api/v1/services/${serviceId}/license${suffix}`;

describe('a license issued by Billfold', () => {
  it('shows its key to its owner; a new key replaces it; the IP moves once a calendar month', async () => {
    const first = ok(await call(shop, 'GET', url(), shop.alpha.auth));
    expect(first).toMatchObject({
      ip: '203.0.113.10',
      ipChangedOn: null,
      keyChangedOn: null,
      ipChangeAllowed: true,
    });
    expect(first.key).toMatch(KEY_PATTERN);
    expect(first.key.startsWith(`${serviceId}-`)).toBe(true);

    const renewed = ok(await call(shop, 'POST', url('/key'), shop.alpha.auth));
    expect(renewed.key).not.toBe(first.key);
    expect(renewed.keyChangedOn).toBe('2021-12-16');
    // Not limited.
    expect(ok(await call(shop, 'POST', url('/key'), shop.alpha.auth)).key).not.toBe(renewed.key);

    const moved = ok(await call(shop, 'POST', url('/ip'), shop.alpha.auth, { ip: '203.0.113.77' }));
    expect(moved).toMatchObject({ ip: '203.0.113.77', ipChangedOn: '2021-12-16', ipChangeAllowed: false });
    const before = await snapshot(shop.ctx);
    expectError(
      await call(shop, 'POST', url('/ip'), shop.alpha.auth, { ip: '203.0.113.78' }),
      409,
      'ip_change_limit',
    );
    expectError(
      await call(shop, 'POST', url('/ip'), shop.alpha.auth, { ip: '300.1.1.1' }),
      400,
      'invalid_ip',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
    // The same address again is no change; a new month allows one more.
    ok(await call(shop, 'POST', url('/ip'), shop.alpha.auth, { ip: '203.0.113.77' }));
    shop.ctx.clock.set('2022-01-01T00:00:00Z');
    expect(
      ok(await call(shop, 'POST', url('/ip'), shop.alpha.auth, { ip: '203.0.113.78' })).ipChangedOn,
    ).toBe('2022-01-01');
    expect((await call(shop, 'GET', `/api/v1/services/${serviceId}`, shop.alpha.auth)).json().params.ip).toBe(
      '203.0.113.78',
    );
  });

  it("is another account's business: 404, nothing revealed or changed", async () => {
    const before = await snapshot(shop.ctx);
    for (const [method, suffix] of [
      ['GET', ''],
      ['POST', '/key'],
      ['POST', '/ip'],
    ] as const) {
      const res = await call(
        shop,
        method,
        url(suffix),
        shop.bravo.auth,
        suffix === '/ip' ? { ip: '192.0.2.1' } : undefined,
      );
      expectError(res, 404, 'service_not_found');
      expect(res.body).not.toContain(`${serviceId}-`);
    }
    expect(await snapshot(shop.ctx)).toBe(before);
  });

  it('a license whose key is not issued says so', async () => {
    // A license tariff no license-issuer module serves: the service opens, no key comes.
    await payIn(shop, shop.alpha.accountId, '100.00');
    const pending = (
      await orderPaid(shop, shop.alpha, {
        tariffId: shop.tariffs.licensePro,
        period: 1,
        params: { ip: '203.0.113.20', licname: 'lic-pro' },
      })
    ).serviceId;
    await runQueuedOperations(shop.ctx);
    expectError(
      await call(shop, 'GET', `/api/v1/services/${pending}/license`, shop.alpha.auth),
      409,
      'license_not_issued',
    );
    expectError(
      await call(shop, 'POST', `/api/v1/services/${pending}/license/key`, shop.alpha.auth),
      409,
      'license_not_issued',
    );
    // Found by the fuzz suite (issue 11): the new IP used to be written — the address bound,
    // the history told — before the answer said the license was not issued.
    const before = await snapshot(shop.ctx);
    const ips = () => shop.ctx.db.kysely.selectFrom('license_ips').selectAll().execute();
    const boundBefore = await ips();
    expectError(
      await call(shop, 'POST', `/api/v1/services/${pending}/license/ip`, shop.alpha.auth, {
        ip: '203.0.113.1',
      }),
      409,
      'license_not_issued',
    );
    expect(await snapshot(shop.ctx)).toBe(before);
    expect(await ips()).toEqual(boundBefore);
  });

  it('a service that is not a license (a VPS) → 409 not_a_license on every license route, nothing changed', async () => {
    await payIn(shop, shop.alpha.accountId, '100.00');
    const vds = (
      await orderPaid(shop, shop.alpha, {
        tariffId: shop.tariffs.vds,
        period: 1,
        params: { hostname: 'web1.example.com', os_template: 'debian-11' },
      })
    ).serviceId;
    await runQueuedOperations(shop.ctx);
    const before = await snapshot(shop.ctx);
    for (const auth of [shop.alpha.auth, shop.admin]) {
      for (const [method, suffix] of [
        ['GET', ''],
        ['POST', '/key'],
        ['POST', '/ip'],
      ] as const) {
        const err = expectError(
          await call(
            shop,
            method,
            `/api/v1/services/${vds}/license${suffix}`,
            auth,
            suffix === '/ip' ? { ip: '192.0.2.1' } : undefined,
          ),
          409,
          'not_a_license',
        );
        expect(err.details).toEqual({ serviceId: vds, productType: 'vds' });
      }
    }
    expect(await snapshot(shop.ctx)).toBe(before);
    // Someone else's VPS is still just missing.
    expectError(
      await call(shop, 'POST', `/api/v1/services/${vds}/license/key`, shop.bravo.auth),
      404,
      'service_not_found',
    );
  });
});
