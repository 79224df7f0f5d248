import { describe, expect, it } from 'vitest';
import { mgr, orderLicense, type Params, type Seller, withSeller } from './setup.js';

/**
 * The lifecycle as a third-party BILLmanager client meets it (issues 10 and 11): one license
 * per address under concurrent orders, `service.prolong` reactivating a license its owner
 * suspended, and `service.changepricelist` accepting the billing cycle clients send with it.
 */
const json = async (s: Seller, p: Params) =>
  JSON.parse((await mgr(s, { out: 'json', ...p })).body) as {
    doc: Record<string, { $?: string; $object?: string; $type?: string } | undefined> & {
      error?: { $type: string; $object?: string };
    };
  };

const statusOf = async (s: Seller, authinfo: string, id: number) =>
  (await json(s, { authinfo, func: 'soft.edit', elid: String(id) })).doc.status?.$;

describe('/billmgr and the service lifecycle', () => {
  it('30 concurrent soft.order.param on one IP (different remoteids) make one license; the others are refused', () =>
    withSeller(async (s) => {
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          json(s, {
            authinfo: s.alpha.authinfo,
            func: 'soft.order.param',
            pricelist: '55227',
            period: '1',
            ip: '198.51.100.77',
            licname: `race-${i}`,
            remoteid: `r-${i}`,
            skipbasket: 'on',
            sok: 'ok',
          }),
        ),
      );
      const made = results.filter((r) => r.doc.id?.$);
      expect(made).toHaveLength(1);
      for (const r of results.filter((x) => !x.doc.id?.$)) expect(r.doc.error?.$type).toBe('exists');
      const live = await s.t.ctx.db.kysely
        .selectFrom('services')
        .select('id')
        .where('status', '<>', 'deleted')
        .execute();
      expect(live).toHaveLength(1);
    }));

  it('service.prolong reactivates a license its owner suspended with soft.suspend', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a);
      await json(s, { authinfo: a, func: 'soft.suspend', elid: String(id) });
      expect(await statusOf(s, a, id)).toBe('3');
      const renewed = await json(s, {
        authinfo: a,
        func: 'service.prolong',
        elid: String(id),
        period: '1',
        sok: 'ok',
      });
      expect(renewed.doc.newexpiredate?.$).toBe('2022-02-16');
      expect(await statusOf(s, a, id)).toBe('2');
    }));

  it('service.changepricelist with a period changes the tariff now and renews with the period from then on', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, { autoprolong: '1' });
      const changed = await json(s, {
        authinfo: a,
        func: 'service.changepricelist',
        elid: String(id),
        pricelist: '55228',
        period: '12',
        sok: 'ok',
      });
      expect(changed.doc.error).toBeUndefined();
      const row = await s.t.ctx.db.kysely
        .selectFrom('services')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(Number(row.tariff_id)).toBe(55228);
      expect(Number(row.autoprolong)).toBe(12);
      expect(row.expires_on).toBe('2022-01-16');
      // A period the new tariff does not offer is refused, naming the field; nothing changes.
      const refused = await json(s, {
        authinfo: a,
        func: 'service.changepricelist',
        elid: String(id),
        pricelist: '55227',
        period: '24',
        sok: 'ok',
      });
      expect(refused.doc.error).toMatchObject({ $type: 'value', $object: 'period' });
      const after = await s.t.ctx.db.kysely
        .selectFrom('services')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(Number(after.tariff_id)).toBe(55228);
    }));

  it('an autoprolong period the tariff does not offer is refused naming autoprolong, not period', () =>
    withSeller(async (s) => {
      const refused = await json(s, {
        authinfo: s.alpha.authinfo,
        func: 'soft.order.param',
        pricelist: '55227',
        period: '1',
        autoprolong: '24',
        ip: '198.51.100.78',
        licname: 'ap',
        skipbasket: 'on',
        sok: 'ok',
      });
      expect(refused.doc.error).toMatchObject({ $type: 'value', $object: 'autoprolong' });
    }));
});
