import type { Insertable } from 'kysely';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it, vi } from 'vitest';
import { buildHttpApp } from '../../src/app/http.js';
import { runBilling } from '../../src/modules/billing/run.js';
import { createTariff } from '../../src/modules/catalog/commands.js';
import { KEY_PATTERN } from '../../src/modules/licenses/keys.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import type { ServicesTable } from '../../src/platform/db/schema.js';
import { wireRequest } from '../helpers/http.js';
import { staffActor } from '../helpers/shop.js';
import {
  addNodesAddon,
  errorXml,
  expectJson,
  expectXml,
  keyOf,
  ledgerOf,
  licenseState,
  mgr,
  orderLicense,
  type Params,
  type Seller,
  withSeller,
} from './setup.js';

/**
 * The license rules of the selling side (PROTOCOL.md §4, BILLING.md): keys, the monthly IP
 * change limit, key regeneration, renewal, the price list, the other license families, the
 * legacy tariff's cut renewal, and idempotent ordering by remoteid.
 */

type Doc = Record<string, { $?: string } | undefined>;

async function view(
  s: Seller,
  authinfo: string,
  id: number,
  family = 'soft',
): Promise<Record<string, string>> {
  const res = await mgr(s, { authinfo, func: `${family}.edit`, elid: String(id), out: 'json' });
  const doc = (JSON.parse(res.body) as { doc: Doc }).doc;
  if ('error' in doc) throw new Error(res.body);
  return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, v?.$ ?? '']));
}

const edit = (s: Seller, authinfo: string, id: number, p: Params) =>
  mgr(s, { authinfo, func: 'soft.edit', elid: String(id), sok: 'ok', ...p });

const setClock = (s: Seller, iso: string) => s.t.ctx.clock.set(iso);

async function balanceOf(s: Seller, accountId: number): Promise<string> {
  const row = await s.t.ctx.db.kysely
    .selectFrom('accounts')
    .select('balance_minor')
    .where('id', '=', accountId)
    .executeTakeFirstOrThrow();
  return String(row.balance_minor);
}

const LIMIT = (ip: string) =>
  errorXml('value', 'The IP address of a license can be changed once a calendar month.', 'ip', ip);
const OK = '<doc><ok/></doc>';

describe('license keys', () => {
  it('a paid order has its key at once; the key starts with "<id>-"; keys differ per license', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a);
      const first = await view(s, a, id);
      expect(first.lickey).toMatch(KEY_PATTERN);
      expect(first.lickey!.startsWith(`${id}-`)).toBe(true);
      expect(first.lickey!.split('-')[0]).toBe(String(id));
      expect(first.lickey).toBe(await keyOf(s, id));
      expect(first.status).toBe('2');
      const id2 = await orderLicense(s, a, { ip: '203.0.113.11' });
      const second = await view(s, a, id2);
      expect(second.lickey!.startsWith(`${id2}-`)).toBe(true);
      expect(second.lickey).not.toBe(first.lickey);
      // A trial and the other families get keys the same way.
      const trial = await orderLicense(s, a, { pricelist: '55239', period: '-100', ip: '198.51.100.3' });
      expect((await view(s, a, trial)).lickey!.startsWith(`${trial}-`)).toBe(true);
      const ext = await orderLicense(s, a, { pricelist: '9203', ip: '198.51.100.4' }, 'softexternal');
      expect((await view(s, a, ext, 'softexternal')).lickey!.startsWith(`${ext}-`)).toBe(true);
      const vm = await orderLicense(s, a, { pricelist: '55163', comment: 'vm' }, 'platform');
      expect((await view(s, a, vm, 'platform')).lickey!.startsWith(`${vm}-`)).toBe(true);
    }));

  it('an IPv6 address is taken on order and on change, in its canonical form; another spelling of it is taken', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, { ip: '2001:DB8:0:0::10', licname: 'v6' });
      expect((await view(s, a, id)).ip).toBe('2001:db8::10');
      const res = await mgr(s, {
        authinfo: a,
        func: 'soft.order.param',
        pricelist: '55227',
        period: '1',
        ip: '2001:db8:0::10',
        licname: 'dup',
        skipbasket: 'on',
        sok: 'ok',
        clicked_button: 'finish',
      });
      expectXml(
        res,
        errorXml('exists', 'This IP address already has a license of this kind.', 'ip', '2001:db8::10'),
      );
      expectXml(await edit(s, a, id, { ip: '2001:DB8::20' }), OK);
      expect((await view(s, a, id)).ip).toBe('2001:db8::20');
    }));

  it('key regeneration is not limited; real_keychange records the day; the id prefix stays', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a);
      const keys = new Set([(await view(s, a, id)).lickey]);
      expect((await view(s, a, id)).real_keychange).toBe('');
      for (let i = 0; i < 5; i++) {
        const res = await edit(s, a, id, { clicked_button: 'newkey' });
        const doc = (
          JSON.parse(
            (await mgr(s, { authinfo: a, func: 'soft.edit', elid: String(id), out: 'json' })).body,
          ) as {
            doc: Doc;
          }
        ).doc;
        expect(res.body).toContain(`<lickey>${doc.lickey?.$}</lickey>`);
        expect(doc.lickey?.$).toMatch(new RegExp(`^${id}-`));
        keys.add(doc.lickey?.$);
      }
      expect(keys.size).toBe(6);
      const v = await view(s, a, id);
      expect(v.real_keychange).toBe('2021-12-16');
      expect(v.real_ipchange).toBe('');
      expect(v.ip).toBe('203.0.113.10');
      setClock(s, '2022-01-03T08:00:00Z');
      await edit(s, a, id, { clicked_button: 'newkey' });
      expect((await view(s, a, id)).real_keychange).toBe('2022-01-03');
      // The list shows the same dates.
      const list = await mgr(s, { authinfo: a, func: 'soft' });
      expect(list.body).toContain('<real_ipchange/><real_keychange>2022-01-03</real_keychange>');
      // Nothing charged for keys: only the order's 7.50.
      expect(await balanceOf(s, s.alpha.accountId)).toBe('9250');
    }));
});

describe('IP changes: at most one per calendar month', () => {
  it('the order ip, the same ip and releasing to 0.0.0.0 do not count; the next month allows one again', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, { ip: '203.0.113.10' });
      // Setting the address it has: not a change.
      expectXml(await edit(s, a, id, { ip: '203.0.113.10' }), OK);
      // Releasing to the pool: not counted.
      expectXml(await edit(s, a, id, { ip: '0.0.0.0', licname: 'free.lic' }), OK);
      let v = await view(s, a, id);
      expect([v.ip, v.licname, v.real_ipchange]).toEqual(['0.0.0.0', 'free.lic', '']);
      // The first real change this month (the order's ip did not use it up).
      expectXml(await edit(s, a, id, { ip: '203.0.113.20', licname: 'vps-20' }), OK);
      v = await view(s, a, id);
      expect([v.ip, v.licname, v.real_ipchange]).toEqual(['203.0.113.20', 'vps-20', '2021-12-16']);
      // A second one is refused, even on the last day of the month.
      setClock(s, '2021-12-31T23:59:00Z');
      const before = await licenseState(s.t.ctx);
      expectXml(await edit(s, a, id, { ip: '203.0.113.21' }), LIMIT('203.0.113.21'));
      expect(await licenseState(s.t.ctx)).toBe(before);
      // Same ip again and releasing still work.
      expectXml(await edit(s, a, id, { ip: '203.0.113.20' }), OK);
      expectXml(await edit(s, a, id, { ip: '0.0.0.0' }), OK);
      // From the pool to a new address is a change: refused this month.
      expectXml(await edit(s, a, id, { ip: '203.0.113.22' }), LIMIT('203.0.113.22'));
      expect((await view(s, a, id)).ip).toBe('0.0.0.0');
      // A new month: one change allowed again, then refused.
      setClock(s, '2022-01-01T00:00:01Z');
      expectXml(await edit(s, a, id, { ip: '203.0.113.22' }), OK);
      v = await view(s, a, id);
      expect([v.ip, v.real_ipchange]).toEqual(['203.0.113.22', '2022-01-01']);
      expectXml(await edit(s, a, id, { ip: '203.0.113.23' }), LIMIT('203.0.113.23'));
      // The limit is per license: another license of the same account changes freely.
      const other = await orderLicense(s, a, { ip: '198.51.100.50' });
      expectXml(await edit(s, a, other, { ip: '198.51.100.51' }), OK);
      // Only the two orders were charged.
      expect(
        (await ledgerOf(s, s.alpha.accountId)).filter((e) => e.kind === 'charge').map((e) => e.amount),
      ).toEqual(['-750', '-750']);
    }));

  it('softexternal licenses follow the same IP rule', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, { pricelist: '9203', ip: '198.51.100.5' }, 'softexternal');
      const ext = (p: Params) =>
        mgr(s, { authinfo: a, func: 'softexternal.edit', elid: String(id), sok: 'ok', ...p });
      expectXml(await ext({ ip: '198.51.100.6' }), OK);
      expectXml(await ext({ ip: '198.51.100.7' }), LIMIT('198.51.100.7'));
      expect((await view(s, a, id, 'softexternal')).real_ipchange).toBe('2021-12-16');
    }));
});

describe('renewal (service.prolong)', () => {
  it('an active license is renewed from its expiry; newexpiredate at /doc and /doc/doc; charged once', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a);
      setClock(s, '2022-01-10T12:00:00Z'); // before the expiry 2022-01-16
      const act = await mgr(s, {
        authinfo: a,
        func: 'service.prolong',
        elid: String(id),
        period: '1',
        sok: 'ok',
        out: 'json',
      });
      const doc = (
        JSON.parse(act.body) as {
          doc: { newexpiredate: { $: string }; doc: { newexpiredate: { $: string } } };
        }
      ).doc;
      expect(doc.newexpiredate.$).toBe('2022-02-16');
      expect(doc.doc.newexpiredate.$).toBe('2022-02-16');
      expect((await view(s, a, id)).expiredate).toBe('2022-02-16');
      const act12 = await mgr(s, {
        authinfo: a,
        func: 'service.prolong',
        elid: String(id),
        period: '12',
        sok: 'ok',
      });
      expect(act12.body).toContain(
        '<newexpiredate>2023-02-16</newexpiredate><doc><newexpiredate>2023-02-16</newexpiredate></doc>',
      );
      const charges = (await ledgerOf(s, s.alpha.accountId)).filter((e) => e.kind === 'charge');
      expect(charges.map((e) => e.amount)).toEqual(['-750', '-750', '-7500']);
      expect(await balanceOf(s, s.alpha.accountId)).toBe(String(10000 - 750 - 750 - 7500));
    }));

  it('a license suspended for non-payment is renewed from today and resumed', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a);
      setClock(s, '2022-01-20T09:00:00Z');
      await runBilling(s.t.ctx, { date: Temporal.PlainDate.from('2022-01-20') });
      await runQueuedOperations(s.t.ctx);
      expect((await view(s, a, id)).status).toBe('3');
      expectXml(
        await mgr(s, { authinfo: a, func: 'service.prolong', elid: String(id) }),
        `<doc><id>${id}</id><expiredate>2022-01-16</expiredate><newexpiredate>2022-02-20</newexpiredate><period>1</period>` +
          '<slist name="period"><val key="1">1 month</val><val key="12">12 months</val></slist>' +
          '<doc><newexpiredate>2022-02-20</newexpiredate></doc></doc>',
      );
      expectXml(
        await mgr(s, { authinfo: a, func: 'service.prolong', elid: String(id), period: '1', sok: 'ok' }),
        `<doc><id>${id}</id><expiredate>2022-02-20</expiredate><newexpiredate>2022-02-20</newexpiredate><doc><newexpiredate>2022-02-20</newexpiredate></doc></doc>`,
      );
      const v = await view(s, a, id);
      expect([v.status, v.expiredate]).toEqual(['2', '2022-02-20']);
      expect(v.lickey!.startsWith(`${id}-`)).toBe(true);
    }));

  it('trials are not renewable (no charge, no date change)', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, { pricelist: '55239', period: '-100', ip: '198.51.100.9' });
      const before = await licenseState(s.t.ctx);
      expectXml(
        await mgr(s, { authinfo: a, func: 'service.prolong', elid: String(id), period: '1', sok: 'ok' }),
        errorXml('value', 'A trial license cannot be renewed.', 'period', '1'),
      );
      expect(await licenseState(s.t.ctx)).toBe(before);
      expect(await balanceOf(s, s.alpha.accountId)).toBe('10000');
    }));
});

describe('legacy tariff 3541 (ends 2021-12-31): cut and charged by days', () => {
  it('renewing on 2021-12-16 for 1 month is cut to 2021-12-31 and charged 10.00 × 15/31 = 4.84', () =>
    withSeller(
      async (s) => {
        const a = s.alpha.authinfo;
        const id = await orderLicense(s, a, { pricelist: '3541' }); // 2021-11-16 → 2021-12-16, 10.00
        expect((await view(s, a, id)).expiredate).toBe('2021-12-16');
        setClock(s, '2021-12-16T10:00:00Z');
        expectXml(
          await mgr(s, { authinfo: a, func: 'service.prolong', elid: String(id) }),
          `<doc><id>${id}</id><expiredate>2021-12-16</expiredate><newexpiredate>2021-12-31</newexpiredate><period>1</period>` +
            '<slist name="period"><val key="1">1 month</val><val key="12">12 months</val></slist>' +
            '<doc><newexpiredate>2021-12-31</newexpiredate></doc></doc>',
        );
        expectXml(
          await mgr(s, { authinfo: a, func: 'service.prolong', elid: String(id), period: '1', sok: 'ok' }),
          `<doc><id>${id}</id><expiredate>2021-12-31</expiredate><newexpiredate>2021-12-31</newexpiredate><doc><newexpiredate>2021-12-31</newexpiredate></doc></doc>`,
        );
        const charges = (await ledgerOf(s, s.alpha.accountId)).filter((e) => e.kind === 'charge');
        expect(charges.map((e) => e.amount)).toEqual(['-1000', '-484']);
        expect(await balanceOf(s, s.alpha.accountId)).toBe(String(10000 - 1000 - 484));
        // Nothing is left to renew: refused, nothing charged.
        const before = await licenseState(s.t.ctx);
        expectXml(
          await mgr(s, { authinfo: a, func: 'service.prolong', elid: String(id), period: '1', sok: 'ok' }),
          errorXml('value', 'The tariff has ended: it can no longer be ordered or renewed.', 'pricelist'),
        );
        expect(await licenseState(s.t.ctx)).toBe(before);
      },
      { now: '2021-11-16T10:00:00Z' },
    ));

  it('ordering it on 2021-12-16 for 1 month is cut the same way (4.84); after the end it cannot be ordered', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, { pricelist: '3541' });
      expect((await view(s, a, id)).expiredate).toBe('2021-12-31');
      expect((await ledgerOf(s, s.alpha.accountId)).at(-1)?.amount).toBe('-484');
      setClock(s, '2021-12-31T10:00:00Z');
      const before = await licenseState(s.t.ctx);
      const res = await mgr(s, {
        authinfo: a,
        func: 'soft.order.param',
        pricelist: '3541',
        period: '1',
        ip: '198.51.100.8',
        sok: 'ok',
        skipbasket: 'on',
      });
      expect(res.body).toContain('<error type="value" object="pricelist"');
      expect(await licenseState(s.t.ctx)).toBe(before);
    }));
});

describe('pricelist.export', () => {
  it('filters: itemtype, pricelist, addition; public without auth; value error for a bad id', () =>
    withSeller(async (s) => {
      await addNodesAddon(s);
      const ids = async (p: Params) =>
        [
          ...(await mgr(s, { func: 'pricelist.export', ...p })).body.matchAll(/<pricelist><id>(\d+)<\/id>/g),
        ].map((m) => m[1]);
      expect(await ids({})).toEqual(['3541', '9203', '55163', '55227', '55228', '55239']);
      expect(await ids({ itemtype: 'soft' })).toEqual(['3541', '55227', '55228', '55239']);
      expect(await ids({ itemtype: 'platform' })).toEqual(['55163']);
      expect(await ids({ itemtype: 'softexternal' })).toEqual(['9203']);
      expect(await ids({ itemtype: 'addition' })).toEqual(['55163']);
      expect(await ids({ pricelist: '55228' })).toEqual(['55228']);
      expect(await ids({ pricelist: '55228', itemtype: 'platform' })).toEqual([]);
      expect(await ids({ onlyavailable: 'on' })).toEqual([
        '3541',
        '9203',
        '55163',
        '55227',
        '55228',
        '55239',
      ]);
      // With credentials the public list is the same for a client.
      expect(await ids({ authinfo: s.alpha.authinfo })).toEqual([
        '3541',
        '9203',
        '55163',
        '55227',
        '55228',
        '55239',
      ]);
      expectXml(
        await mgr(s, { func: 'pricelist.export', pricelist: '55163' }),
        '<doc><pricelist><id>55163</id><name>VMmanager 6</name><itemtype>platform</itemtype>' +
          '<price currency="EUR"><period type="month" length="1" cost="20.0000"/></price>' +
          '<addon><id>55165</id><name>Nodes</name><itemtype>generic</itemtype><valuetype>integer</valuetype><measure>node</measure>' +
          '<addonlimit>10</addonlimit><addonmin>1</addonmin><included>1</included>' +
          '<price currency="EUR"><period type="month" length="1" cost="5.0000"/></price></addon></pricelist></doc>',
      );
      expectXml(
        await mgr(s, { func: 'pricelist.export', pricelist: 'x' }),
        errorXml('value', 'Invalid value of the field "pricelist".', 'pricelist', 'x'),
      );
      // Bad credentials are refused even on the public function.
      expectXml(
        await mgr(s, { func: 'pricelist.export', authinfo: 'alpha@example.com:wrong' }),
        errorXml('auth', 'The email or password is wrong.'),
      );
      expectJson(await mgr(s, { func: 'pricelist.export', pricelist: '424242', out: 'json' }), { doc: {} });
    }));

  it('onlyavailable: staff see archived and ended tariffs without it, only orderable ones with it; the public never', () =>
    withSeller(
      async (s) => {
        await createTariff(s.t.ctx, staffActor, {
          id: 1001,
          name: 'Old plan',
          productType: 'soft',
          periods: [1],
          prices: { '1': '5.00' },
          status: 'archived',
        });
        const ids = async (p: Params) =>
          [
            ...(await mgr(s, { func: 'pricelist.export', ...p })).body.matchAll(
              /<pricelist><id>(\d+)<\/id>/g,
            ),
          ].map((m) => m[1]);
        const orderable = ['9203', '55163', '55227', '55228', '55239'];
        expect(await ids({})).toEqual(orderable);
        expect(await ids({ authinfo: s.alpha.authinfo })).toEqual(orderable);
        expect(await ids({ authinfo: s.admin.authinfo, onlyavailable: 'on' })).toEqual(orderable);
        expect(await ids({ authinfo: s.admin.authinfo })).toEqual(['1001', '3541', ...orderable]);
        expect(await ids({ authinfo: s.admin.authinfo, itemtype: 'soft' })).toEqual([
          '1001',
          '3541',
          '55227',
          '55228',
          '55239',
        ]);
      },
      { now: '2022-01-05T10:00:00Z' },
    ));
});

describe('platform.* with addons', () => {
  it('orders VMmanager 6 with addon_55165 nodes, charged with the extra nodes; suspend/resume/delete work', () =>
    withSeller(async (s) => {
      await addNodesAddon(s);
      const a = s.alpha.authinfo;
      const id = await orderLicense(
        s,
        a,
        { pricelist: '55163', comment: 'cluster-1', addon_55165: '3' },
        'platform',
      );
      // 20.00 + 2 extra nodes × 5.00.
      expect((await ledgerOf(s, s.alpha.accountId)).at(-1)?.amount).toBe('-3000');
      const v = await view(s, a, id, 'platform');
      expect([v.comment, v.status]).toEqual(['cluster-1', '2']);
      expect(v).not.toHaveProperty('ip');
      for (const func of ['platform.suspend', 'platform.resume', 'platform.delete'])
        expectXml(await mgr(s, { authinfo: a, func, elid: String(id), sok: 'ok' }), OK);
      expect((await view(s, a, id, 'platform')).status).toBe('4');
      const before = await licenseState(s.t.ctx);
      expectXml(
        await mgr(s, {
          authinfo: a,
          func: 'platform.order.param',
          pricelist: '55163',
          period: '1',
          addon_55165: 'lots',
          sok: 'ok',
          skipbasket: 'on',
        }),
        errorXml('value', 'Invalid value of the field "addon_55165".', 'addon_55165', 'lots'),
      );
      expect(await licenseState(s.t.ctx)).toBe(before);
    }));
});

describe('idempotent ordering by remoteid', () => {
  const order = (remoteid: string, extra: Params = {}): Params => ({
    func: 'soft.order.param',
    clicked_button: 'finish',
    pricelist: '55227',
    period: '1',
    ip: '203.0.113.30',
    licname: 'vps-30',
    skipbasket: 'on',
    sok: 'ok',
    remoteid,
    ...extra,
  });

  it('the same account ordering again with the same remoteid gets the same id, one license, one charge', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const first = await mgr(s, { authinfo: a, ...order('svc-1') });
      const id = Number(/<id>(\d+)<\/id>/.exec(first.body)?.[1]);
      const state = await licenseState(s.t.ctx);
      for (const out of ['xml', 'json', 'bjson']) {
        const again = await mgr(s, { authinfo: a, out, ...order('svc-1') });
        expect(again.body).toContain(String(id));
      }
      expectXml(await mgr(s, { authinfo: a, ...order('svc-1') }), `<doc><id>${id}</id></doc>`);
      expect(await licenseState(s.t.ctx)).toBe(state);
      expect((await ledgerOf(s, s.alpha.accountId)).filter((e) => e.kind === 'charge')).toHaveLength(1);
      // Another remoteid is another license; another account with the same remoteid has its own.
      const other = await orderLicense(s, a, order('svc-2', { ip: '203.0.113.31' }));
      expect(other).not.toBe(id);
      const bravos = await orderLicense(s, s.bravo.authinfo, order('svc-1', { ip: '203.0.113.32' }));
      expect(bravos).not.toBe(id);
      expect((await ledgerOf(s, s.bravo.accountId)).filter((e) => e.kind === 'charge')).toHaveLength(1);
      expect(await balanceOf(s, s.alpha.accountId)).toBe('8500');
    }));

  it('a remote id lost between the order and its recording (a crash) is written by the retry', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, order('svc-lost'));
      await s.t.ctx.db.kysely.updateTable('services').set({ remote_id: null }).where('id', '=', id).execute();
      expectXml(await mgr(s, { authinfo: a, ...order('svc-lost') }), `<doc><id>${id}</id></doc>`);
      const row = await s.t.ctx.db.kysely
        .selectFrom('services')
        .select('remote_id')
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(row.remote_id).toBe('svc-lost');
      expect((await ledgerOf(s, s.alpha.accountId)).filter((e) => e.kind === 'charge')).toHaveLength(1);
    }));

  it('concurrent identical orders (Promise.all) give one license, one charge, the same id', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const results = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          mgr(s, { authinfo: a, ...order('svc-c') }, { method: i % 2 ? 'GET' : 'POST' }),
        ),
      );
      const ids = results.map((r) => /<id>(\d+)<\/id>/.exec(r.body)?.[1]);
      expect(
        ids.every((x) => x !== undefined),
        results.map((r) => r.body).join('\n'),
      ).toBe(true);
      expect(new Set(ids).size).toBe(1);
      const services = await s.t.ctx.db.kysely.selectFrom('services').select(['id', 'remote_id']).execute();
      expect(services.map((r) => [Number(r.id), r.remote_id])).toEqual([[Number(ids[0]), 'svc-c']]);
      expect(
        (await ledgerOf(s, s.alpha.accountId)).filter((e) => e.kind === 'charge').map((e) => e.amount),
      ).toEqual(['-750']);
      const issued = await s.t.ctx.db.kysely.selectFrom('issued_licenses').selectAll().execute();
      expect(issued).toHaveLength(1);
      expect(issued[0]!.license_key.startsWith(`${ids[0]}-`)).toBe(true);
    }));
});

describe('lists are never cut off (issue 11)', () => {
  const listed = (s: Seller, authinfo: string, p: Params = {}) =>
    mgr(s, { authinfo, func: 'soft', out: 'bjson', ...p }).then((res) =>
      ((JSON.parse(res.body) as { elem?: { id: string }[] }).elem ?? []).map((e) => Number(e.id)),
    );

  it('more than 10 000 licenses: every one is listed, in id order (the list used to stop at 10 000)', () =>
    withSeller(async (s) => {
      const first = await orderLicense(s, s.alpha.authinfo);
      // Copies of the ordered license's row, whatever columns services has.
      const { id: _id, ...row } = await s.t.ctx.db.kysely
        .selectFrom('services')
        .selectAll()
        .where('id', '=', first)
        .executeTakeFirstOrThrow();
      const copies = 10_004;
      for (let i = 0; i < copies; i += 500) {
        const batch = Array.from({ length: Math.min(500, copies - i) }, (_, j) => ({
          ...row,
          remote_id: `bulk-${i + j}`,
        }));
        // A row read back is insertable as is; only the read types (bigint | number) differ.
        await s.t.ctx.db.kysely
          .insertInto('services')
          .values(batch as unknown as Insertable<ServicesTable>[])
          .execute();
      }
      const ids = await listed(s, s.alpha.authinfo);
      expect(ids.length).toBe(copies + 1);
      expect(ids[0]).toBe(first);
      expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
      const xml = await mgr(s, { authinfo: s.alpha.authinfo, func: 'soft' });
      expect(xml.body.match(/<elem>/g)?.length).toBe(copies + 1);
      expect(xml.body.endsWith('</elem></doc>')).toBe(true);
    }));

  it('read in chunks smaller than the list: the same answer in every format; filters across chunks; a failure mid-list aborts', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const mine: number[] = [];
      for (let i = 1; i <= 5; i++)
        mine.push(await orderLicense(s, a, { ip: `203.0.113.${i}`, remoteid: `r${i}`, licname: `vps-${i}` }));
      const theirs = [
        await orderLicense(s, s.bravo.authinfo, { ip: '198.51.100.1' }),
        await orderLicense(s, s.bravo.authinfo, { ip: '198.51.100.2' }),
      ];
      const chunked = await buildHttpApp(s.t.ctx, { billmgr: { listChunkRows: 2 } });
      await chunked.ready();
      try {
        for (const out of ['xml', 'json', 'sjson', 'bjson']) {
          for (const authinfo of [a, s.admin.authinfo]) {
            const url = `/billmgr?${new URLSearchParams({ authinfo, func: 'soft', out })}`;
            const whole = await s.t.app.inject({ method: 'GET', url });
            const inChunks = await chunked.inject({ method: 'GET', url });
            expect(inChunks.statusCode).toBe(200);
            expect(inChunks.headers['content-type']).toBe(whole.headers['content-type']);
            expect(inChunks.body, `${out}`).toBe(whole.body);
          }
        }
        const ids = async (p: Params, authinfo = a) => {
          const url = `/billmgr?${new URLSearchParams({ authinfo, func: 'soft', out: 'bjson', ...p })}`;
          const body = JSON.parse((await chunked.inject({ method: 'GET', url })).body) as {
            elem?: { id: string }[];
          };
          return (body.elem ?? []).map((e) => Number(e.id));
        };
        expect(await ids({})).toEqual(mine);
        expect(await ids({}, s.admin.authinfo)).toEqual([...mine, ...theirs]);
        expect(await ids({ ip: '203.0.113.5' })).toEqual([mine[4]]);
        expect(await ids({ remoteid: 'r3' })).toEqual([mine[2]]);
        expect(await ids({ elid: `${mine[0]}, ${mine[4]}` })).toEqual([mine[0], mine[4]]);
        expect(await ids({ remoteid: 'none' })).toEqual([]);
        expect(await listed(s, a)).toEqual(mine);

        // A read failing after the answer has started aborts the connection: the client sees a
        // broken answer, never a well-formed list with licenses missing.
        const kysely = s.t.ctx.db.kysely;
        const selectFrom = kysely.selectFrom.bind(kysely);
        let reads = 0;
        const spy = vi.spyOn(kysely, 'selectFrom').mockImplementation(((table: never) => {
          if (String(table) === 'issued_licenses' && ++reads === 2) throw new Error('database gone');
          return selectFrom(table);
        }) as typeof kysely.selectFrom);
        try {
          const path = `/billmgr?${new URLSearchParams({ authinfo: a, func: 'soft' })}`;
          await expect(wireRequest(chunked, { method: 'GET', path })).rejects.toThrow('aborted');
          expect(reads).toBe(2);
        } finally {
          spy.mockRestore();
        }
      } finally {
        await chunked.close();
      }
    }));
});
