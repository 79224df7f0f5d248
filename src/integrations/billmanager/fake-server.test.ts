import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ACCOUNT, type FakeBillmanager, startFakeBillmanager } from './fake-server.js';

/**
 * The fake selling BILLmanager on the wire, as any client would meet it (plain fetch): the
 * paths, GET and POST, authinfo, sessions, the two formats, other accounts' licenses and the
 * call log. The client's tests (client.test.ts) cover its functions and faults.
 */

const AUTHINFO = `${DEFAULT_ACCOUNT.username}:${DEFAULT_ACCOUNT.password}`;
const OTHER = { username: 'other@example.com', password: 'other-pass', balance: '50.00' };

let fake: FakeBillmanager;
beforeEach(async () => {
  fake = await startFakeBillmanager({ accounts: [DEFAULT_ACCOUNT, OTHER] });
});
afterEach(() => fake.close());

async function post(params: Record<string, string>, url = fake.url) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

const order = (authinfo: string, ip: string) =>
  post({
    authinfo,
    func: 'soft.order.param',
    pricelist: '55227',
    period: '1',
    ip,
    licname: 'vps',
    remoteid: 'r1',
    skipbasket: 'on',
    sok: 'ok',
    clicked_button: 'finish',
  });

describe('fake selling BILLmanager', () => {
  it('answers an order with the id, by authinfo, in xml', async () => {
    const res = await order(AUTHINFO, '203.0.113.10');
    expect(res).toEqual({
      status: 200,
      type: 'text/xml; charset=utf-8',
      body: '<?xml version="1.0" encoding="UTF-8"?>\n<doc><id>1234567</id></doc>',
    });
    expect(fake.state.licenses.get('1234567')).toMatchObject({
      ip: '203.0.113.10',
      status: 2,
      remoteid: 'r1',
    });
  });

  it('json: one child an object, several an array, attributes as $x, empty elements as {}', async () => {
    await order(AUTHINFO, '203.0.113.10');
    const one = JSON.parse((await post({ authinfo: AUTHINFO, func: 'soft', out: 'json' })).body);
    expect(one.doc.elem.id).toEqual({ $: '1234567' });
    expect(one.doc.elem.real_ipchange).toEqual({});
    await order(AUTHINFO, '203.0.113.11');
    const two = JSON.parse((await post({ authinfo: AUTHINFO, func: 'soft', out: 'json' })).body);
    expect(two.doc.elem.map((e: { id: { $: string } }) => e.id.$)).toEqual(['1234567', '1234568']);
    const auth = JSON.parse(
      (await post({ func: 'auth', username: OTHER.username, password: OTHER.password, out: 'json' })).body,
    );
    expect(auth.doc.auth.$id).toMatch(/^[0-9a-f]{32}$/);
    expect(auth.doc.auth.$).toBe(auth.doc.auth.$id);
  });

  it('GET and /manager/billmgr work too; other paths are an HTML 404', async () => {
    const get = await fetch(
      `${fake.url.replace('/billmgr', '/manager/billmgr/')}?func=whoami&authinfo=${encodeURIComponent(AUTHINFO)}`,
    );
    expect(await get.text()).toContain(
      '<user name="reseller@example.com" level="16" balance="100.00" currency="EUR"/>',
    );
    const other = await post({ func: 'whoami', authinfo: AUTHINFO }, fake.url.replace('/billmgr', '/admin'));
    expect([other.status, other.type, other.body.startsWith('<!DOCTYPE html>')]).toEqual([
      404,
      'text/html',
      true,
    ]);
  });

  it('auth errors: no credentials, a wrong password, a dead session; pricelist.export needs none', async () => {
    expect((await post({ func: 'soft' })).body).toContain('<error type="auth"');
    expect((await post({ func: 'soft', authinfo: `${DEFAULT_ACCOUNT.username}:nope` })).body).toContain(
      '<error type="auth"',
    );
    expect((await post({ func: 'soft', auth: 'deadbeef' })).body).toContain('<error type="auth"');
    expect((await post({ func: 'pricelist.export', pricelist: '55227' })).body).toContain(
      '<price currency="EUR"><period type="month" length="1" cost="7.5000"/><period type="month" length="12" cost="75.0000"/></price>',
    );
  });

  it("another account's license is access denied; a group action takes every id or none", async () => {
    await order(AUTHINFO, '203.0.113.10');
    const otherInfo = `${OTHER.username}:${OTHER.password}`;
    const res = await post({ authinfo: otherInfo, func: 'soft.suspend', elid: '1234567' });
    expect(res.body).toContain('<error type="access" object="elid"');
    await order(otherInfo, '203.0.113.11');
    const mixed = await post({ authinfo: otherInfo, func: 'soft.suspend', elid: '1234568, 1234567' });
    expect(mixed.body).toContain('<error type="access"');
    expect(fake.state.licenses.get('1234568')?.status).toBe(2);
    expect(fake.state.balanceOf(OTHER.username)).toBe('42.50');
  });

  it('logs every call without secrets', async () => {
    await post({ func: 'auth', username: OTHER.username, password: OTHER.password });
    await order(AUTHINFO, '203.0.113.10');
    expect(fake.state.calls.map((c) => c.func)).toEqual(['auth', 'soft.order.param']);
    expect(fake.state.calls[0]!.params).toEqual({ func: 'auth', username: OTHER.username });
    expect(JSON.stringify(fake.state.calls)).not.toMatch(/other-pass|Res3ller|authinfo/);
  });

  it('a latency fault delays; a one-shot fault is gone after one use', async () => {
    fake.faults.add({ kind: 'latency', ms: 200, func: 'whoami', times: 1 });
    const started = Date.now();
    await post({ func: 'whoami', authinfo: AUTHINFO });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(fake.faults.active).toEqual([]);
    fake.faults.add({ kind: 'http', status: 500 });
    expect((await post({ func: 'whoami', authinfo: AUTHINFO })).status).toBe(500);
    expect((await post({ func: 'soft', authinfo: AUTHINFO })).status).toBe(500);
    fake.faults.clear();
    expect((await post({ func: 'soft', authinfo: AUTHINFO })).status).toBe(200);
  });

  it('service.changepricelist moves a license to another tariff now, charging the remaining days at the difference', async () => {
    await order(AUTHINFO, '203.0.113.10');
    const before = fake.state.balanceOf(DEFAULT_ACCOUNT.username);
    fake.clock.set('2021-12-26');
    const res = await post({
      authinfo: AUTHINFO,
      func: 'service.changepricelist',
      elid: '1234567',
      pricelist: '55228',
      period: '1',
      sok: 'ok',
    });
    expect(res.body).toContain('<pricelist>55228</pricelist>');
    expect(fake.state.licenses.get('1234567')!.pricelist).toBe('55228');
    // 21 of 31 days left (to 2022-01-16) at 15.00 − 7.50: 5.08.
    expect(Number(before) - Number(fake.state.balanceOf(DEFAULT_ACCOUNT.username))).toBeCloseTo(5.08, 2);
    // Another kind of tariff, or another account's license, is refused.
    expect(
      (
        await post({
          authinfo: AUTHINFO,
          func: 'service.changepricelist',
          elid: '1234567',
          pricelist: '9203',
          sok: 'ok',
        })
      ).body,
    ).toContain('type="value"');
  });
});
