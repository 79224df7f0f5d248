import type { LightMyRequestResponse } from 'fastify';
import { recordPayment } from '../../src/modules/accounts/commands.js';
import { createTariff } from '../../src/modules/catalog/commands.js';
import { createModule, setTariffModules } from '../../src/modules/provisioning/commands.js';
import { createAdmin, createClient, createHttpTest, type HttpTest } from '../helpers/http.js';
import { staffActor } from '../helpers/shop.js';

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

export async function openSeller(opts: { now?: string } = {}): Promise<Seller> {
  const t = await createHttpTest({ now: opts.now ?? '2021-12-16T10:00:00Z' });
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
