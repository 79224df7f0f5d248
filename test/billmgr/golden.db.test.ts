import { describe, expect, it } from 'vitest';
import {
  errorXml,
  expectJson,
  expectXml,
  jsonFields,
  mgr,
  orderLicense,
  type Params,
  type Seller,
  withSeller,
  xmlFields,
} from './setup.js';

/**
 * Golden request/response pairs of the /billmgr API (PROTOCOL.md §1–5): every function in xml
 * and json (bjson for soft.order.param and soft.edit), and a representative subset on each of
 * the four paths, by GET and by POST. Only license keys and session ids vary between runs;
 * they are masked (`<KEY>`, `<SID>`) before comparing.
 */

const ORDER: Params = {
  func: 'soft.order.param',
  clicked_button: 'finish',
  pricelist: '55227',
  period: '1',
  ip: '203.0.113.10',
  licname: 'vps-1042',
  autoprolong: 'null',
  skipbasket: 'on',
  sok: 'ok',
  remoteid: 'l1042',
};

/** The soft.edit view of the license ORDER makes, on 2021-12-16 (fields in the order the API writes them). */
const viewOf = (id: number, extra: Record<string, string> = {}): Record<string, string> => ({
  id: String(id),
  licname: 'vps-1042',
  ip: '203.0.113.10',
  name: 'vps-1042',
  pricelist: '55227',
  pricelist_name: 'ISPmanager 6 Lite',
  period: '1',
  createdate: '2021-12-16',
  expiredate: '2022-01-16',
  autoprolong: '',
  status: '2',
  remoteid: 'l1042',
  real_ipchange: '',
  real_keychange: '',
  cost: '7.50',
  ...extra,
});

/** The same license as a `soft` list element (no lickey, no webdomains). */
const elemOf = (id: number, extra: Record<string, string> = {}) => viewOf(id, extra);

const editView = (id: number, extra: Record<string, string> = {}) => ({
  ...viewOf(id, extra),
  lickey: '<KEY>',
  webdomains: '',
});

const PRICELIST_XML =
  '<doc>' +
  '<pricelist><id>3541</id><name>ISPmanager Lite</name><itemtype>soft</itemtype><expiredate>2021-12-31</expiredate>' +
  '<price currency="EUR"><period type="month" length="1" cost="10.0000"/><period type="month" length="12" cost="120.0000"/></price></pricelist>' +
  '<pricelist><id>9203</id><name>CloudLinux</name><itemtype>softexternal</itemtype>' +
  '<price currency="EUR"><period type="month" length="1" cost="12.0000"/></price></pricelist>' +
  '<pricelist><id>55163</id><name>VMmanager 6</name><itemtype>platform</itemtype>' +
  '<price currency="EUR"><period type="month" length="1" cost="20.0000"/></price></pricelist>' +
  '<pricelist><id>55227</id><name>ISPmanager 6 Lite</name><itemtype>soft</itemtype>' +
  '<price currency="EUR"><period type="month" length="1" cost="7.5000"/><period type="month" length="12" cost="75.0000"/></price></pricelist>' +
  '<pricelist><id>55228</id><name>ISPmanager 6 Pro</name><itemtype>soft</itemtype>' +
  '<price currency="EUR"><period type="month" length="1" cost="15.0000"/><period type="month" length="12" cost="180.0000"/></price></pricelist>' +
  '<pricelist><id>55239</id><name>ISPmanager 6 Lite trial</name><itemtype>soft</itemtype>' +
  '<price currency="EUR"><period type="day" length="14" cost="0.0000" trial="on"/></price></pricelist>' +
  '</doc>';

const OK_XML = '<doc><ok/></doc>';
const OK_JSON = { doc: { ok: {} } };

describe('golden: auth and session.newkey', () => {
  it('func=auth answers <auth id level>SID</auth> in xml and json; levels 16 (client) and 29 (staff)', () =>
    withSeller(async (s) => {
      const [user, password] = [
        s.alpha.authinfo.split(':')[0]!,
        s.alpha.authinfo.slice(s.alpha.authinfo.indexOf(':') + 1),
      ];
      const xml = await mgr(s, { func: 'auth', username: user, password });
      expectXml(xml, '<doc><auth id="<SID>" level="16"><SID></auth></doc>');
      const sid = /id="([0-9a-f]{32})"/.exec(xml.body)![1]!;
      expect(xml.body).toContain(`>${sid}</auth>`);
      const json = await mgr(s, { func: 'auth', username: user, password, out: 'json' }, { method: 'GET' });
      expectJson(json, { doc: { auth: { $id: '<SID>', $level: '16', $: '<SID>' } } });
      const body = JSON.parse(json.body) as { doc: { auth: { $id: string; $: string } } };
      expect(body.doc.auth.$id).toBe(body.doc.auth.$);
      expect(body.doc.auth.$id).not.toBe(sid);
      const admin = await mgr(s, {
        func: 'auth',
        username: 'boss@example.com',
        password: s.admin.authinfo.slice(s.admin.authinfo.indexOf(':') + 1),
      });
      expectXml(admin, '<doc><auth id="<SID>" level="29"><SID></auth></doc>');
    }));

  it('session.newkey by staff answers ok in xml and json', () =>
    withSeller(async (s) => {
      const base = { authinfo: s.admin.authinfo, func: 'session.newkey', username: 'alpha@example.com' };
      expectXml(await mgr(s, { ...base, key: 'k'.repeat(16) }), OK_XML);
      expectJson(await mgr(s, { ...base, key: 'j'.repeat(20), out: 'json' }), OK_JSON);
    }));
});

describe('golden: pricelist.export', () => {
  it('lists the public tariffs without auth (xml) and one tariff (json)', () =>
    withSeller(async (s) => {
      expectXml(await mgr(s, { func: 'pricelist.export' }), PRICELIST_XML);
      expectJson(await mgr(s, { func: 'pricelist.export', pricelist: '55227', out: 'json' }), {
        doc: {
          pricelist: {
            id: { $: '55227' },
            name: { $: 'ISPmanager 6 Lite' },
            itemtype: { $: 'soft' },
            price: {
              $currency: 'EUR',
              period: [
                { $type: 'month', $length: '1', $cost: '7.5000' },
                { $type: 'month', $length: '12', $cost: '75.0000' },
              ],
            },
          },
        },
      });
    }));
});

describe('golden: soft.order.param', () => {
  it('without sok returns the form: xml, json, bjson', () =>
    withSeller(async (s) => {
      const p = { authinfo: s.alpha.authinfo, func: 'soft.order.param', pricelist: '55227' };
      expectXml(
        await mgr(s, p),
        '<doc><pricelist>55227</pricelist><pricelist_name>ISPmanager 6 Lite</pricelist_name><period>1</period><ip/><licname/>' +
          '<slist name="period"><val key="1">1 month</val><val key="12">12 months</val></slist></doc>',
      );
      expectJson(await mgr(s, { ...p, out: 'json' }), {
        doc: {
          pricelist: { $: '55227' },
          pricelist_name: { $: 'ISPmanager 6 Lite' },
          period: { $: '1' },
          ip: {},
          licname: {},
          slist: {
            $name: 'period',
            val: [
              { $key: '1', $: '1 month' },
              { $key: '12', $: '12 months' },
            ],
          },
        },
      });
      expectJson(await mgr(s, { ...p, out: 'bjson' }), {
        model: {
          pricelist: '55227',
          pricelist_name: 'ISPmanager 6 Lite',
          period: '1',
          ip: '',
          licname: '',
        },
        slist: {
          period: [
            { k: '1', v: '1 month' },
            { k: '12', v: '12 months' },
          ],
        },
      });
      // The trial tariff's form names its days.
      expectXml(
        await mgr(s, { ...p, pricelist: '55239', ip: '198.51.100.7' }),
        '<doc><pricelist>55239</pricelist><pricelist_name>ISPmanager 6 Lite trial</pricelist_name><period>-100</period><ip>198.51.100.7</ip><licname/>' +
          '<slist name="period"><val key="-100">Trial (14 days)</val></slist></doc>',
      );
    }));

  it('with sok orders and answers the new id: xml, json, bjson', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const xml = await mgr(s, { authinfo: a, out: 'xml', ...ORDER });
      const id = Number(/<id>(\d+)<\/id>/.exec(xml.body)?.[1]);
      expect(id).toBeGreaterThan(0);
      expectXml(xml, `<doc><id>${id}</id></doc>`);
      const json = await mgr(s, {
        authinfo: a,
        out: 'json',
        ...ORDER,
        remoteid: 'l1043',
        ip: '203.0.113.11',
      });
      const id2 = Number((JSON.parse(json.body) as { doc: { id: { $: string } } }).doc.id.$);
      expect(id2).not.toBe(id);
      expectJson(json, { doc: { id: { $: String(id2) } } });
      const bjson = await mgr(s, {
        authinfo: a,
        out: 'bjson',
        ...ORDER,
        remoteid: 'l1044',
        ip: '203.0.113.12',
      });
      const id3 = Number((JSON.parse(bjson.body) as { id: { v: string } }).id.v);
      expect(new Set([id, id2, id3]).size).toBe(3);
      expectJson(bjson, { model: { id: String(id3) }, id: { v: String(id3) } });
    }));
});

describe('golden: soft and soft.edit', () => {
  it('soft lists the caller’s licenses: xml and json, one and two elems, and none', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      expectXml(await mgr(s, { authinfo: a, func: 'soft' }), '<doc/>');
      expectJson(await mgr(s, { authinfo: a, func: 'soft', out: 'json' }), { doc: {} });
      const id = await orderLicense(s, a, ORDER);
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft' }),
        `<doc><elem>${xmlFields(elemOf(id))}</elem></doc>`,
      );
      expectJson(await mgr(s, { authinfo: a, func: 'soft', out: 'json' }), {
        doc: { elem: jsonFields(elemOf(id)) },
      });
      const id2 = await orderLicense(s, a, {
        ...ORDER,
        ip: '203.0.113.11',
        licname: 'vps-2',
        remoteid: 'l2',
      });
      const second = elemOf(id2, { licname: 'vps-2', ip: '203.0.113.11', name: 'vps-2', remoteid: 'l2' });
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft' }),
        `<doc><elem>${xmlFields(elemOf(id))}</elem><elem>${xmlFields(second)}</elem></doc>`,
      );
      expectJson(await mgr(s, { authinfo: a, func: 'soft', out: 'json' }), {
        doc: { elem: [jsonFields(elemOf(id)), jsonFields(second)] },
      });
      // Filters: remoteid, ip, elid, pricelist.
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft', remoteid: 'l2' }),
        `<doc><elem>${xmlFields(second)}</elem></doc>`,
      );
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft', ip: '203.0.113.10' }),
        `<doc><elem>${xmlFields(elemOf(id))}</elem></doc>`,
      );
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft', elid: String(id2) }),
        `<doc><elem>${xmlFields(second)}</elem></doc>`,
      );
      expectXml(await mgr(s, { authinfo: a, func: 'soft', pricelist: '55228' }), '<doc/>');
      // Bravo sees none of them.
      expectXml(await mgr(s, { authinfo: s.bravo.authinfo, func: 'soft' }), '<doc/>');
    }));

  it('soft.edit view: xml, json, bjson; the key starts with the id', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, ORDER);
      const xml = await mgr(s, { authinfo: a, func: 'soft.edit', elid: String(id) });
      expectXml(xml, `<doc>${xmlFields(editView(id))}</doc>`);
      expect(xml.body).toMatch(new RegExp(`<lickey>${id}-[0-9A-Z]{5}(-[0-9A-Z]{5}){4}</lickey>`));
      expectJson(await mgr(s, { authinfo: a, func: 'soft.edit', elid: String(id), out: 'json' }), {
        doc: jsonFields(editView(id)),
      });
      expectJson(await mgr(s, { authinfo: a, func: 'soft.edit', elid: String(id), out: 'bjson' }), {
        model: editView(id),
        id: { v: String(id) },
      });
    }));

  it('autoprolong: an empty element when off (ordered with null, off or none), the period when on', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const [username, password] = [a.slice(0, a.indexOf(':')), a.slice(a.indexOf(':') + 1)];
      const sid = /<auth id="([0-9a-f]+)"/.exec(
        (await mgr(s, { func: 'auth', username, password })).body,
      )?.[1];
      expect(sid).toBeDefined();
      const orders: [Params, string][] = [
        [{ autoprolong: 'null' }, ''],
        [{ autoprolong: 'off' }, ''],
        [{}, ''],
        [{ autoprolong: '1' }, '1'],
        [{ autoprolong: '12' }, '12'],
      ];
      for (const [i, [extra, shown]] of orders.entries()) {
        const ip = `203.0.113.${30 + i}`;
        const id = await orderLicense(s, a, { ...ORDER, ip, remoteid: `ap-${i}`, ...extra });
        const field = shown === '' ? '<autoprolong/>' : `<autoprolong>${shown}</autoprolong>`;
        // The view by authinfo and by session, and the license in the list.
        for (const who of [{ authinfo: a }, { auth: sid! }] as Params[]) {
          const xml = await mgr(s, { ...who, func: 'soft.edit', elid: String(id) });
          expect(xml.body, JSON.stringify(extra)).toContain(`</expiredate>${field}<status>`);
          const json = JSON.parse(
            (await mgr(s, { ...who, func: 'soft.edit', elid: String(id), out: 'json' })).body,
          ) as { doc: Record<string, unknown> };
          expect(json.doc.autoprolong).toEqual(shown === '' ? {} : { $: shown });
          const bjson = JSON.parse(
            (await mgr(s, { ...who, func: 'soft.edit', elid: String(id), out: 'bjson' })).body,
          ) as { model: Record<string, unknown> };
          expect(bjson.model.autoprolong).toBe(shown);
        }
        const listed = await mgr(s, { authinfo: a, func: 'soft', elid: String(id) });
        expect(listed.body).toContain(`</expiredate>${field}<status>`);
        expect(listed.body).not.toContain('>null<');
      }
    }));

  it('soft.edit with sok changes ip/licname/remoteid (ok) in xml, json, bjson', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, ORDER);
      const elid = String(id);
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft.edit', elid, ip: '203.0.113.20', sok: 'ok' }),
        OK_XML,
      );
      expectJson(
        await mgr(s, { authinfo: a, func: 'soft.edit', elid, licname: 'renamed', sok: 'ok', out: 'json' }),
        OK_JSON,
      );
      expectJson(
        await mgr(s, { authinfo: a, func: 'soft.edit', elid, remoteid: 'other-id', sok: 'ok', out: 'bjson' }),
        { ok: true },
      );
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft.edit', elid }),
        `<doc>${xmlFields(
          editView(id, {
            licname: 'renamed',
            ip: '203.0.113.20',
            name: 'renamed',
            remoteid: 'other-id',
            real_ipchange: '2021-12-16',
          }),
        )}</doc>`,
      );
    }));

  it('soft.edit clicked_button=newkey answers the object with the new key: xml, json, bjson', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, ORDER);
      const p = { authinfo: a, func: 'soft.edit', elid: String(id), clicked_button: 'newkey', sok: 'ok' };
      const changed = editView(id, { real_keychange: '2021-12-16' });
      expectXml(await mgr(s, p), `<doc>${xmlFields(changed)}</doc>`);
      expectJson(await mgr(s, { ...p, out: 'json' }), { doc: jsonFields(changed) });
      expectJson(await mgr(s, { ...p, out: 'bjson' }), { model: changed, id: { v: String(id) } });
    }));
});

describe('golden: suspend, resume, delete, checkip', () => {
  it('soft.suspend / soft.resume / soft.delete answer ok in xml and json and set the status', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, ORDER);
      const elid = String(id);
      const status = async () =>
        (
          JSON.parse((await mgr(s, { authinfo: a, func: 'soft.edit', elid, out: 'json' })).body) as {
            doc: { status: { $: string } };
          }
        ).doc.status.$;
      expectXml(await mgr(s, { authinfo: a, func: 'soft.suspend', elid }), OK_XML);
      expect(await status()).toBe('3');
      expectJson(await mgr(s, { authinfo: a, func: 'soft.suspend', elid, out: 'json' }), OK_JSON);
      expectXml(await mgr(s, { authinfo: a, func: 'soft.resume', elid }), OK_XML);
      expect(await status()).toBe('2');
      expectJson(await mgr(s, { authinfo: a, func: 'soft.resume', elid, out: 'json' }), OK_JSON);
      expectXml(await mgr(s, { authinfo: a, func: 'soft.delete', elid, sok: 'ok' }), OK_XML);
      expect(await status()).toBe('4');
      expectJson(await mgr(s, { authinfo: a, func: 'soft.delete', elid, sok: 'ok', out: 'json' }), OK_JSON);
      // A deleted license shows no key.
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft.edit', elid }),
        `<doc>${xmlFields({ ...editView(id, { status: '4' }), lickey: '' })}</doc>`,
      );
    }));

  it('soft.checkip: ok for a free address, exists for a taken one (xml and json)', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const p = { authinfo: a, func: 'soft.checkip', pricelist: '55227', period: '1' };
      expectXml(await mgr(s, { ...p, ip: '203.0.113.10' }), OK_XML);
      expectJson(await mgr(s, { ...p, ip: '203.0.113.10', out: 'json' }), OK_JSON);
      await orderLicense(s, a, ORDER);
      expectXml(
        await mgr(s, { ...p, ip: '203.0.113.10' }),
        errorXml('exists', 'This IP address already has a license of this kind.', 'ip', '203.0.113.10'),
      );
      expectJson(await mgr(s, { ...p, ip: '203.0.113.10', out: 'json' }), {
        doc: {
          error: {
            $type: 'exists',
            $object: 'ip',
            $lang: 'en',
            param: [
              { $name: 'object', $type: 'msg', $: 'ip' },
              { $name: 'value', $: '203.0.113.10' },
            ],
            msg: { $: 'This IP address already has a license of this kind.' },
          },
        },
      });
    }));
});

describe('golden: service.prolong and service.changepricelist', () => {
  it('service.prolong view and act: xml and json; newexpiredate also at /doc/doc/newexpiredate', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, ORDER);
      const elid = String(id);
      const slist = '<slist name="period"><val key="1">1 month</val><val key="12">12 months</val></slist>';
      expectXml(
        await mgr(s, { authinfo: a, func: 'service.prolong', elid }),
        `<doc><id>${id}</id><expiredate>2022-01-16</expiredate><newexpiredate>2022-02-16</newexpiredate><period>1</period>${slist}<doc><newexpiredate>2022-02-16</newexpiredate></doc></doc>`,
      );
      expectXml(
        await mgr(s, { authinfo: a, func: 'service.prolong', elid, period: '12' }),
        `<doc><id>${id}</id><expiredate>2022-01-16</expiredate><newexpiredate>2023-01-16</newexpiredate><period>12</period>${slist}<doc><newexpiredate>2023-01-16</newexpiredate></doc></doc>`,
      );
      expectJson(await mgr(s, { authinfo: a, func: 'service.prolong', elid, out: 'json' }), {
        doc: {
          id: { $: elid },
          expiredate: { $: '2022-01-16' },
          newexpiredate: { $: '2022-02-16' },
          period: { $: '1' },
          slist: {
            $name: 'period',
            val: [
              { $key: '1', $: '1 month' },
              { $key: '12', $: '12 months' },
            ],
          },
          doc: { newexpiredate: { $: '2022-02-16' } },
        },
      });
      expectXml(
        await mgr(s, { authinfo: a, func: 'service.prolong', elid, period: '1', sok: 'ok' }),
        `<doc><id>${id}</id><expiredate>2022-02-16</expiredate><newexpiredate>2022-02-16</newexpiredate><doc><newexpiredate>2022-02-16</newexpiredate></doc></doc>`,
      );
      expectJson(
        await mgr(s, { authinfo: a, func: 'service.prolong', elid, period: '1', sok: 'ok', out: 'json' }),
        {
          doc: {
            id: { $: elid },
            expiredate: { $: '2022-03-16' },
            newexpiredate: { $: '2022-03-16' },
            doc: { newexpiredate: { $: '2022-03-16' } },
          },
        },
      );
    }));

  it('service.changepricelist view and act: xml and json', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const id = await orderLicense(s, a, ORDER);
      const elid = String(id);
      const p = { authinfo: a, func: 'service.changepricelist', elid, pricelist: '55228' };
      expectXml(await mgr(s, p), `<doc><id>${id}</id><pricelist>55228</pricelist><period>1</period></doc>`);
      expectJson(await mgr(s, { ...p, out: 'json' }), {
        doc: { id: { $: elid }, pricelist: { $: '55228' }, period: { $: '1' } },
      });
      expectXml(await mgr(s, { ...p, sok: 'ok' }), OK_XML);
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft.edit', elid }),
        `<doc>${xmlFields(editView(id, { pricelist: '55228', pricelist_name: 'ISPmanager 6 Pro', cost: '15.00' }))}</doc>`,
      );
      expectJson(await mgr(s, { ...p, pricelist: '55227', sok: 'ok', out: 'json' }), OK_JSON);
    }));
});

describe('golden: softexternal.* and platform.*', () => {
  it('softexternal mirrors soft: order, list, edit (xml and json)', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      const order = {
        authinfo: a,
        func: 'softexternal.order.param',
        pricelist: '9203',
        period: '1',
        ip: '198.51.100.5',
        licname: 'cl-1',
        sok: 'ok',
        skipbasket: 'on',
      };
      const xml = await mgr(s, order);
      const id = Number(/<id>(\d+)<\/id>/.exec(xml.body)?.[1]);
      expectXml(xml, `<doc><id>${id}</id></doc>`);
      const rec = viewOf(id, {
        licname: 'cl-1',
        ip: '198.51.100.5',
        name: 'cl-1',
        pricelist: '9203',
        pricelist_name: 'CloudLinux',
        remoteid: '',
        cost: '12.00',
      });
      expectXml(
        await mgr(s, { authinfo: a, func: 'softexternal' }),
        `<doc><elem>${xmlFields(rec)}</elem></doc>`,
      );
      expectJson(await mgr(s, { authinfo: a, func: 'softexternal', out: 'json' }), {
        doc: { elem: jsonFields(rec) },
      });
      expectXml(
        await mgr(s, { authinfo: a, func: 'softexternal.edit', elid: String(id) }),
        `<doc>${xmlFields({ ...rec, lickey: '<KEY>', webdomains: '' })}</doc>`,
      );
      expectJson(await mgr(s, { authinfo: a, func: 'softexternal.edit', elid: String(id), out: 'json' }), {
        doc: jsonFields({ ...rec, lickey: '<KEY>', webdomains: '' }),
      });
      // softexternal and soft are separate families: the soft functions do not see it.
      expectXml(await mgr(s, { authinfo: a, func: 'soft' }), '<doc/>');
      expectXml(
        await mgr(s, { authinfo: a, func: 'soft.edit', elid: String(id) }),
        errorXml('access', 'Access denied or no such object.', 'elid'),
      );
    }));

  it('platform uses comment instead of ip/licname: order form, order, list, edit (xml and json)', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      expectXml(
        await mgr(s, { authinfo: a, func: 'platform.order.param', pricelist: '55163' }),
        '<doc><pricelist>55163</pricelist><pricelist_name>VMmanager 6</pricelist_name><period>1</period><comment/>' +
          '<slist name="period"><val key="1">1 month</val></slist></doc>',
      );
      const json = await mgr(s, {
        authinfo: a,
        out: 'json',
        func: 'platform.order.param',
        pricelist: '55163',
        period: '1',
        comment: 'node-1',
        sok: 'ok',
        skipbasket: 'on',
        remoteid: 'vm-1',
      });
      const id = Number((JSON.parse(json.body) as { doc: { id: { $: string } } }).doc.id.$);
      expectJson(json, { doc: { id: { $: String(id) } } });
      const rec = {
        id: String(id),
        comment: 'node-1',
        name: 'node-1',
        pricelist: '55163',
        pricelist_name: 'VMmanager 6',
        period: '1',
        createdate: '2021-12-16',
        expiredate: '2022-01-16',
        autoprolong: '',
        status: '2',
        remoteid: 'vm-1',
        real_ipchange: '',
        real_keychange: '',
        cost: '20.00',
      };
      expectXml(await mgr(s, { authinfo: a, func: 'platform' }), `<doc><elem>${xmlFields(rec)}</elem></doc>`);
      expectJson(await mgr(s, { authinfo: a, func: 'platform', out: 'json' }), {
        doc: { elem: jsonFields(rec) },
      });
      expectXml(
        await mgr(s, {
          authinfo: a,
          func: 'platform.edit',
          elid: String(id),
          comment: 'node-renamed',
          sok: 'ok',
        }),
        OK_XML,
      );
      expectJson(await mgr(s, { authinfo: a, func: 'platform.edit', elid: String(id), out: 'json' }), {
        doc: jsonFields({
          ...rec,
          comment: 'node-renamed',
          name: 'node-renamed',
          lickey: '<KEY>',
          webdomains: '',
        }),
      });
      // No checkip for platform licenses.
      expectXml(
        await mgr(s, { authinfo: a, func: 'platform.checkip', pricelist: '55163', ip: '1.2.3.4' }),
        errorXml('unknown_func', 'Unknown function "platform.checkip".', 'platform.checkip'),
      );
    }));
});

describe('golden: errors in xml, json and bjson', () => {
  it('an unknown func, a missing parameter and no credentials', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      expectXml(
        await mgr(s, { authinfo: a, func: 'nope' }),
        errorXml('unknown_func', 'Unknown function "nope".', 'nope'),
      );
      expectJson(await mgr(s, { authinfo: a, func: 'nope', out: 'json' }), {
        doc: {
          error: {
            $type: 'unknown_func',
            $object: 'nope',
            $lang: 'en',
            param: { $name: 'object', $type: 'msg', $: 'nope' },
            msg: { $: 'Unknown function "nope".' },
          },
        },
      });
      expectJson(await mgr(s, { authinfo: a, func: 'soft.edit', out: 'bjson' }), {
        error: { type: 'missed', object: 'elid', msg: 'The parameter "elid" is required.' },
      });
      expectJson(await mgr(s, { func: 'soft', out: 'json' }), {
        doc: {
          error: {
            $type: 'auth',
            $object: '',
            $lang: 'en',
            msg: { $: 'Sign in: authinfo=user:password or auth=<session id>.' },
          },
        },
      });
      // No func at all: an empty doc for a signed-in caller.
      expectXml(await mgr(s, { authinfo: a }), '<doc/>');
    }));
});

describe('golden: the four paths, GET and POST', () => {
  const PATHS = ['/billmgr', '/billmgr/', '/manager/billmgr', '/manager/billmgr/'] as const;
  const METHODS = ['GET', 'POST'] as const;

  it('pricelist.export, order, soft, soft.edit, service.prolong view and an auth error on every path and method', () =>
    withSeller(async (s) => {
      const a = s.alpha.authinfo;
      let n = 0;
      const ids: number[] = [];
      for (const path of PATHS) {
        for (const method of METHODS) {
          n++;
          const call = (p: Params) => mgr(s, p, { method, path });
          expectXml(await call({ func: 'pricelist.export' }), PRICELIST_XML);
          const ip = `203.0.113.${100 + n}`;
          const order = await call({ authinfo: a, ...ORDER, ip, licname: `vps-${n}`, remoteid: `r-${n}` });
          const id = Number(/<id>(\d+)<\/id>/.exec(order.body)?.[1]);
          expectXml(order, `<doc><id>${id}</id></doc>`);
          ids.push(id);
          const rec = viewOf(id, { ip, licname: `vps-${n}`, name: `vps-${n}`, remoteid: `r-${n}` });
          expectXml(
            await call({ authinfo: a, func: 'soft', remoteid: `r-${n}` }),
            `<doc><elem>${xmlFields(rec)}</elem></doc>`,
          );
          expectJson(await call({ authinfo: a, func: 'soft.edit', elid: String(id), out: 'json' }), {
            doc: jsonFields({ ...rec, lickey: '<KEY>', webdomains: '' }),
          });
          expectJson(await call({ authinfo: a, func: 'soft.edit', elid: String(id), out: 'bjson' }), {
            model: { ...rec, lickey: '<KEY>', webdomains: '' },
            id: { v: String(id) },
          });
          expectXml(
            await call({ authinfo: a, func: 'service.prolong', elid: String(id) }),
            `<doc><id>${id}</id><expiredate>2022-01-16</expiredate><newexpiredate>2022-02-16</newexpiredate><period>1</period>` +
              '<slist name="period"><val key="1">1 month</val><val key="12">12 months</val></slist>' +
              '<doc><newexpiredate>2022-02-16</newexpiredate></doc></doc>',
          );
          expectXml(
            await call({ authinfo: `nobody${n}@example.com:x:y`, func: 'soft' }),
            errorXml('auth', 'The email or password is wrong.'),
          );
        }
      }
      expect(new Set(ids).size).toBe(8);
      // 8 orders of 7.50 charged from 100.00.
      const account = await s.t.ctx.db.kysely
        .selectFrom('accounts')
        .select('balance_minor')
        .where('id', '=', s.alpha.accountId)
        .executeTakeFirstOrThrow();
      expect(String(account.balance_minor)).toBe('4000');
    }));

  it('GET query and POST form carry the same parameters; the form wins on a clash', () =>
    withSeller(async (s: Seller) => {
      const res = await s.t.app.inject({
        method: 'POST',
        url: `/billmgr?func=soft&out=json&authinfo=${encodeURIComponent(s.alpha.authinfo)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'out=xml',
      });
      expectXml(res, '<doc/>');
    }));
});
