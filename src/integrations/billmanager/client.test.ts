import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BillmgrClientOptions, BillmgrError, createBillmgrClient } from './client.js';
import { DEFAULT_ACCOUNT, type FakeBillmanager, startFakeBillmanager } from './fake-server.js';

/**
 * The BILLmanager client against the stateful fake selling BILLmanager, once with `out=xml`
 * and once with `out=json`: every function, the upstream's rules as the client sees them,
 * sessions, key polling, and every fault knob → the BillmgrError it must become.
 */

const USER = DEFAULT_ACCOUNT.username;
const PASSWORD = DEFAULT_ACCOUNT.password;

let fake: FakeBillmanager;
beforeEach(async () => {
  fake = await startFakeBillmanager();
});
afterEach(() => fake.close());

/** Every text of an error a log or a person could see. */
const visible = (e: BillmgrError) =>
  [
    e.message,
    e.upstreamMessage,
    e.value,
    e.object,
    e.stack,
    String(e),
    JSON.stringify(e),
    String(e.cause),
  ].join('\n');

/** The BillmgrError `p` rejects with; it must never show the password in any form. */
async function refusal(p: Promise<unknown>): Promise<BillmgrError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BillmgrError);
    const e = err as BillmgrError;
    for (const form of [PASSWORD, encodeURIComponent(PASSWORD), 'secret-pass'])
      expect(visible(e)).not.toContain(form);
    return e;
  }
  return expect.fail('expected a BillmgrError');
}

const flags = (e: BillmgrError) => ({ code: e.code, retryable: e.retryable, ambiguous: e.ambiguous });

const ORDER = { pricelist: '55227', period: 1, ip: '203.0.113.10', name: 'vps-1042', remoteId: 'l1042' };

describe.each(['xml', 'json'] as const)('BILLmanager client, out=%s', (out) => {
  const client = (o: Partial<BillmgrClientOptions> = {}) =>
    createBillmgrClient({
      url: fake.url,
      username: USER,
      password: PASSWORD,
      out,
      pollIntervalMs: 1,
      sleep: async () => {},
      ...o,
    });

  describe('sessions', () => {
    it('checkConnection signs in; many calls after it share that one session', async () => {
      const c = client();
      expect(await c.checkConnection()).toEqual({ user: USER });
      await c.listLicenses('soft');
      await c.balance();
      await c.exportPricelist();
      await c.listLicenses('platform');
      expect(fake.state.callsOf('auth')).toHaveLength(1);
      expect(fake.state.calls.map((x) => x.func)).toEqual([
        'auth',
        'soft',
        'whoami',
        'pricelist.export',
        'platform',
      ]);
      // Every call said which format it wants and carried no password.
      for (const call of fake.state.calls) {
        expect(call.params.out).toBe(out);
        expect(JSON.stringify(call.params)).not.toContain('secret-pass');
      }
    });

    it('concurrent first calls share one login in flight', async () => {
      const c = client();
      await Promise.all(Array.from({ length: 10 }, () => c.listLicenses('soft')));
      expect(fake.state.callsOf('auth')).toHaveLength(1);
      expect(fake.state.callsOf('soft')).toHaveLength(10);
    });

    it('when the upstream forgets the session, the client signs in again once and repeats the call', async () => {
      const c = client();
      const { id } = await c.orderLicense('soft', ORDER);
      fake.state.expireSessions();
      expect((await c.getLicense('soft', id)).id).toBe(id);
      expect(fake.state.callsOf('auth')).toHaveLength(2);
      expect(fake.state.callsOf('soft.edit')).toHaveLength(2);
      // Concurrent calls refused together sign in once more, not once each.
      fake.state.expireSessions();
      await Promise.all(Array.from({ length: 5 }, () => c.listLicenses('soft')));
      expect(fake.state.callsOf('auth')).toHaveLength(3);
    });

    it('an auth refusal after signing in again is the error (no loop)', async () => {
      const c = client();
      await c.checkConnection();
      fake.faults.add({ kind: 'auth-error', func: 'soft' });
      expect(flags(await refusal(c.listLicenses('soft')))).toEqual({
        code: 'upstream_auth',
        retryable: false,
        ambiguous: false,
      });
      expect(fake.state.callsOf('auth')).toHaveLength(2);
      expect(fake.state.callsOf('soft')).toHaveLength(2);
    });

    it('a one-off auth refusal of a call is healed by one new sign-in', async () => {
      const c = client();
      await c.checkConnection();
      fake.faults.add({ kind: 'auth-error', func: 'soft', times: 1 });
      expect(await c.listLicenses('soft')).toEqual([]);
      expect(fake.state.callsOf('auth')).toHaveLength(2);
    });

    it('wrong credentials: upstream_auth, permanent, and the password is in no message', async () => {
      const c = client({ password: 'wrong-Pa55' });
      const e = await refusal(c.checkConnection());
      expect(flags(e)).toEqual({ code: 'upstream_auth', retryable: false, ambiguous: false });
      expect(e.type).toBe('auth');
      expect(e.upstreamMessage).toBe('Invalid username or password.');
      expect(visible(e)).not.toContain('wrong-Pa55');
      expect(flags(await refusal(c.listLicenses('soft')))).toMatchObject({ code: 'upstream_auth' });
      expect(fake.state.callsOf('soft')).toHaveLength(0);
    });

    it('an upstream echoing the password back has it scrubbed', async () => {
      const c = client();
      const e = await refusal(c.orderLicense('soft', { ...ORDER, ip: PASSWORD }));
      expect(e.code).toBe('upstream_value');
      expect(e.object).toBe('ip');
      expect(e.value).toBe('***');
    });

    it('a URL with credentials or another scheme is refused at once', () => {
      for (const url of ['https://u:p@api.example.com/billmgr', 'ftp://api.example.com/billmgr', 'nonsense'])
        expect(() => client({ url })).toThrow(BillmgrError);
    });
  });

  describe('functions', () => {
    it('balance: from whoami, or from subaccount, or null when the upstream does not tell', async () => {
      const c = client();
      expect(await c.balance()).toEqual({ amount: '100.00', currency: 'EUR' });
      await c.orderLicense('soft', ORDER);
      expect(await c.balance()).toEqual({ amount: '92.50', currency: 'EUR' });
      fake.state.balanceVia = 'subaccount';
      expect(await c.balance()).toEqual({ amount: '92.50', currency: 'EUR' });
      fake.state.balanceVia = 'none';
      expect(await c.balance()).toBeNull();
    });

    it('exportPricelist: every tariff with prices per period and addons; filtered by type or id', async () => {
      const c = client();
      const all = await c.exportPricelist();
      expect(all.map((t) => t.id)).toEqual([
        '55227',
        '55228',
        '55229',
        '55230',
        '3541',
        '4601',
        '55163',
        '55161',
        '9203',
      ]);
      expect(all[0]).toEqual({
        id: '55227',
        name: 'ISPmanager 6 Lite',
        itemType: 'soft',
        currency: 'EUR',
        prices: [
          { period: 1, cost: '7.5000' },
          { period: 12, cost: '75.0000' },
        ],
        trialDays: null,
        addons: [],
      });
      const platform = await c.exportPricelist({ itemType: 'platform' });
      expect(platform.map((t) => [t.id, t.addons])).toEqual([
        [
          '55163',
          [
            { id: '55164', name: 'Virtual machines' },
            { id: '55165', name: 'Nodes' },
          ],
        ],
        ['55161', []],
      ]);
      // One tariff: a single object in json, still a list of one.
      expect((await c.exportPricelist({ pricelist: '9203' })).map((t) => [t.id, t.prices])).toEqual([
        ['9203', [{ period: 1, cost: '12.0000' }]],
      ]);
    });

    it('orderLicense charges and creates a license; getLicense, listLicenses and findByRemoteId read it', async () => {
      const c = client();
      const { id } = await c.orderLicense('soft', ORDER);
      expect(fake.state.balanceOf(USER)).toBe('92.50');
      const order = fake.state.callsOf('soft.order.param')[0]!.params;
      expect(order).toMatchObject({
        pricelist: '55227',
        period: '1',
        ip: '203.0.113.10',
        licname: 'vps-1042',
        remoteid: 'l1042',
        autoprolong: 'null',
        skipbasket: 'on',
        sok: 'ok',
        clicked_button: 'finish',
      });
      const license = await c.getLicense('soft', id);
      expect(license).toEqual({
        id,
        family: 'soft',
        name: 'vps-1042',
        ip: '203.0.113.10',
        status: 2,
        expiresOn: '2022-01-16',
        createdOn: '2021-12-16',
        pricelist: '55227',
        period: 1,
        autoprolong: 'null',
        remoteId: 'l1042',
        key: fake.state.licenses.get(id)!.lickey,
        ipChangedOn: null,
        keyChangedOn: null,
        cost: '7.50',
      });
      expect(license.key!.startsWith(`${id}-`)).toBe(true);
      const second = await c.orderLicense('soft', { ...ORDER, ip: '2001:db8::10', remoteId: 'l1043' });
      const listed = await c.listLicenses('soft');
      expect(listed.map((l) => [l.id, l.ip, l.key])).toEqual([
        [id, '203.0.113.10', null],
        [second.id, '2001:db8::10', null],
      ]);
      expect({ ...listed[0], key: license.key }).toEqual(license);
      expect((await c.findByRemoteId('soft', 'l1043')).map((l) => l.id)).toEqual([second.id]);
      expect(await c.findByRemoteId('soft', 'nobody')).toEqual([]);
    });

    it.each([
      ['a bad IP', { ip: '300.1.1.1' }, 'upstream_value', 'ip'],
      ['no IP', { ip: undefined }, 'upstream_missed', 'ip'],
      ['an unknown tariff', { pricelist: '999' }, 'upstream_value', 'pricelist'],
      ['a tariff of another family', { pricelist: '55163' }, 'upstream_value', 'pricelist'],
      ['a period not offered', { period: 3 }, 'upstream_value', 'period'],
    ])('an order with %s is refused and charges nothing', async (_what, change, code, object) => {
      const c = client();
      const e = await refusal(c.orderLicense('soft', { ...ORDER, ...change } as typeof ORDER));
      expect(flags(e)).toEqual({ code, retryable: false, ambiguous: false });
      expect(e.object).toBe(object);
      expect(fake.state.licenses.size).toBe(0);
      expect(fake.state.balanceOf(USER)).toBe('100.00');
    });

    it('an order the balance cannot pay is upstream_not_enough_money; a tariff past its end is a value error', async () => {
      const c = client();
      fake.state.setBalance(USER, '7.49');
      const e = await refusal(c.orderLicense('soft', ORDER));
      expect(flags(e)).toEqual({ code: 'upstream_not_enough_money', retryable: false, ambiguous: false });
      fake.state.setBalance(USER, '100.00');
      fake.clock.set('2021-12-31');
      const ended = await refusal(c.orderLicense('soft', { ...ORDER, pricelist: '3541' }));
      expect([ended.code, ended.object]).toEqual(['upstream_value', 'pricelist']);
      expect(fake.state.licenses.size).toBe(0);
    });

    it('waitForKey polls until the key appears (the N-th poll), sleeping between polls', async () => {
      const slept: number[] = [];
      const c = client({ pollIntervalMs: 250, sleep: async (ms) => void slept.push(ms) });
      fake.faults.add({ kind: 'key-after-polls', polls: 3, times: 1 });
      const { id } = await c.orderLicense('soft', ORDER);
      const license = await c.waitForKey('soft', id);
      expect(license.key!.startsWith(`${id}-`)).toBe(true);
      expect(license.status).toBe(2);
      expect(fake.state.callsOf('soft.edit')).toHaveLength(3);
      expect(slept).toEqual([250, 250]);
    });

    it('waitForKey gives up after pollAttempts: upstream_key_timeout, retryable', async () => {
      const slept: number[] = [];
      const c = client({ pollAttempts: 4, sleep: async (ms) => void slept.push(ms) });
      fake.faults.add({ kind: 'key-after-polls', polls: 10 });
      const { id } = await c.orderLicense('soft', ORDER);
      const e = await refusal(c.waitForKey('soft', id));
      expect(flags(e)).toEqual({ code: 'upstream_key_timeout', retryable: true, ambiguous: false });
      expect(fake.state.callsOf('soft.edit')).toHaveLength(4);
      expect(slept).toHaveLength(3);
      expect((await c.getLicense('soft', id)).status).toBe(5);
    });

    it('editLicense: the IP once a calendar month, the name and remoteid any time', async () => {
      const c = client();
      const { id } = await c.orderLicense('soft', ORDER);
      await c.editLicense('soft', id, { ip: '203.0.113.20' });
      // The IP it already has is no change.
      await c.editLicense('soft', id, { ip: '203.0.113.20', name: 'renamed', remoteId: 'l9' });
      const e = await refusal(c.editLicense('soft', id, { ip: '203.0.113.21' }));
      expect(flags(e)).toEqual({ code: 'upstream_value', retryable: false, ambiguous: false });
      expect([e.object, e.value, e.upstreamMessage]).toEqual([
        'ip',
        '203.0.113.21',
        'The IP address of a license can be changed once a calendar month.',
      ]);
      fake.clock.set('2022-01-01');
      await c.editLicense('soft', id, { ip: '203.0.113.21' });
      expect(await c.getLicense('soft', id)).toMatchObject({
        ip: '203.0.113.21',
        name: 'renamed',
        remoteId: 'l9',
        ipChangedOn: '2022-01-01',
      });
    });

    it('newKey: a new key, dated', async () => {
      const c = client();
      const { id } = await c.orderLicense('soft', ORDER);
      const before = (await c.getLicense('soft', id)).key;
      fake.clock.set('2021-12-20');
      const after = await c.newKey('soft', id);
      expect(after.key).not.toBe(before);
      expect(after.key!.startsWith(`${id}-`)).toBe(true);
      expect(after.keyChangedOn).toBe('2021-12-20');
      expect((await c.getLicense('soft', id)).key).toBe(after.key);
    });

    it('suspend, resume, remove', async () => {
      const c = client();
      const { id } = await c.orderLicense('soft', ORDER);
      await c.suspend('soft', id);
      expect((await c.getLicense('soft', id)).status).toBe(3);
      await c.resume('soft', id);
      expect((await c.getLicense('soft', id)).status).toBe(2);
      await c.remove('soft', id);
      expect(await c.getLicense('soft', id)).toMatchObject({ status: 4, key: null });
      expect(fake.state.callsOf('soft.delete')[0]!.params).toMatchObject({ elid: id, sok: 'ok' });
      // Another family's id, or an unknown one, is not ours.
      expect((await refusal(c.getLicense('platform', id))).code).toBe('upstream_access');
      expect((await refusal(c.suspend('soft', '999'))).code).toBe('upstream_access');
    });

    it('prolongQuote and prolong: from the expiry, charged; a suspended license from today', async () => {
      const c = client();
      const { id } = await c.orderLicense('soft', ORDER);
      expect(await c.prolongQuote(id)).toEqual({
        expiresOn: '2022-01-16',
        newExpiresOn: '2022-02-16',
        periods: [1, 12],
      });
      expect(await c.prolong(id, 12)).toEqual({ newExpiresOn: '2023-01-16' });
      expect(fake.state.balanceOf(USER)).toBe('17.50');
      expect(fake.state.callsOf('service.prolong').map((x) => x.params.sok ?? '')).toEqual(['', 'ok']);
      await c.suspend('soft', id);
      expect(await c.prolong(id, 1)).toEqual({ newExpiresOn: '2022-01-16' });
      expect(fake.state.balanceOf(USER)).toBe('10.00');
      expect((await refusal(c.prolong(id, 12))).code).toBe('upstream_not_enough_money');
      expect((await refusal(c.prolong(id, 3))).code).toBe('upstream_value');
    });

    it('a license not renewed is suspended at expiry; resume is refused until a renewal, which resumes it', async () => {
      const c = client();
      const { id } = await c.orderLicense('soft', ORDER);
      fake.clock.set('2022-01-17');
      expect((await c.getLicense('soft', id)).status).toBe(3);
      expect((await refusal(c.resume('soft', id))).code).toBe('upstream_value');
      expect(await c.prolong(id, 1)).toEqual({ newExpiresOn: '2022-02-17' });
      expect((await c.getLicense('soft', id)).status).toBe(2);
    });

    it("a legacy tariff's term is cut at its end, prorated by days, and not renewed past it", async () => {
      const c = client();
      const { id } = await c.orderLicense('soft', { ...ORDER, pricelist: '3541' });
      const license = await c.getLicense('soft', id);
      expect(license.expiresOn).toBe('2021-12-31');
      // 15 of the 31 days of 16 Dec – 16 Jan at 4.00.
      expect(fake.state.balanceOf(USER)).toBe('98.06');
      expect((await c.prolongQuote(id)).newExpiresOn).toBeNull();
      const e = await refusal(c.prolong(id, 1));
      expect([e.code, e.object]).toEqual(['upstream_value', 'pricelist']);
    });

    it('checkIp: free, taken (upstream_exists), invalid', async () => {
      const c = client();
      await c.checkIp('soft', '55227', 1, '203.0.113.10');
      await c.orderLicense('soft', ORDER);
      const taken = await refusal(c.checkIp('soft', '55227', 1, '203.0.113.10'));
      expect(flags(taken)).toEqual({ code: 'upstream_exists', retryable: false, ambiguous: false });
      await c.checkIp('soft', '55228', 12, '203.0.113.10');
      expect((await refusal(c.checkIp('soft', '55227', 1, 'nope'))).code).toBe('upstream_value');
    });

    it('platform licenses: a comment and addons; softexternal like soft', async () => {
      const c = client();
      const { id } = await c.orderLicense('platform', {
        pricelist: '55163',
        period: 1,
        remoteId: 'a77',
        comment: 'Item #77 addon VMmanager',
        addons: { '55165': 2, '55164': '10' },
      });
      const order = fake.state.callsOf('platform.order.param')[0]!.params;
      expect(order).toMatchObject({
        comment: 'Item #77 addon VMmanager',
        addon_55165: '2',
        addon_55164: '10',
      });
      expect(order.ip).toBeUndefined();
      // 20.00 + 2 × 5.00 + 10 × 0.50
      expect(fake.state.balanceOf(USER)).toBe('65.00');
      expect(await c.getLicense('platform', id)).toMatchObject({
        family: 'platform',
        name: 'Item #77 addon VMmanager',
        ip: null,
        cost: '35.00',
      });
      await c.editLicense('platform', id, { comment: 'renamed' });
      expect((await c.listLicenses('platform')).map((l) => l.name)).toEqual(['renamed']);
      const ext = await c.orderLicense('softexternal', { ...ORDER, pricelist: '9203' });
      expect((await c.waitForKey('softexternal', ext.id)).key!.startsWith(`${ext.id}-`)).toBe(true);
    });

    it('call: any function, its answer as a document; an unknown one is upstream_unknown_func', async () => {
      const c = client();
      await c.orderLicense('soft', ORDER);
      const doc = await c.call('soft');
      expect(doc.name).toBe('doc');
      expect(doc.elems().map((e) => e.children.find((f) => f.name === 'licname')?.text)).toEqual([
        'vps-1042',
      ]);
      const e = await refusal(c.call('soft.nothing'));
      expect(flags(e)).toEqual({ code: 'upstream_unknown_func', retryable: false, ambiguous: false });
    });
  });

  describe('faults', () => {
    it('latency under the timeout is waited for; over it, upstream_timeout (retryable, ambiguous)', async () => {
      const c = client({ timeoutMs: 400 });
      fake.faults.add({ kind: 'latency', ms: 100, func: 'soft', times: 1 });
      expect(await c.listLicenses('soft')).toEqual([]);
      fake.faults.add({ kind: 'latency', ms: 2000, func: 'soft', times: 1 });
      expect(flags(await refusal(c.listLicenses('soft')))).toEqual({
        code: 'upstream_timeout',
        retryable: true,
        ambiguous: true,
      });
    });

    it('HTTP 5xx: upstream_http_5xx, retryable and ambiguous — also on the sign-in', async () => {
      const c = client();
      fake.faults.add({ kind: 'http', status: 502, func: 'auth', times: 1 });
      const e = await refusal(c.checkConnection());
      expect(flags(e)).toEqual({ code: 'upstream_http_5xx', retryable: true, ambiguous: true });
      expect(e.status).toBe(502);
      fake.faults.add({ kind: 'http', status: 503, func: 'soft.order.param', times: 1 });
      expect(flags(await refusal(c.orderLicense('soft', ORDER)))).toMatchObject({
        code: 'upstream_http_5xx',
      });
      expect(fake.state.licenses.size).toBe(0);
      expect((await c.orderLicense('soft', ORDER)).id).toBeTruthy();
    });

    it('HTTP 429 is retryable, another 4xx is not; neither is ambiguous', async () => {
      const c = client();
      fake.faults.add({ kind: 'http', status: 429, times: 1 });
      expect(flags(await refusal(c.listLicenses('soft')))).toEqual({
        code: 'upstream_http_4xx',
        retryable: true,
        ambiguous: false,
      });
      fake.faults.add({ kind: 'http', status: 403, func: 'soft', times: 1 });
      expect(flags(await refusal(c.listLicenses('soft')))).toEqual({
        code: 'upstream_http_4xx',
        retryable: false,
        ambiguous: false,
      });
    });

    it('a redirect is not followed (the password would go with it): upstream_not_billmanager', async () => {
      const c = client();
      fake.faults.add({
        kind: 'http',
        status: 301,
        headers: { location: 'https://elsewhere.example/billmgr?x=1' },
        times: 1,
      });
      const e = await refusal(c.checkConnection());
      expect(flags(e)).toEqual({ code: 'upstream_not_billmanager', retryable: false, ambiguous: false });
      expect(e.message).toContain('https://elsewhere.example/billmgr');
    });

    it('a connection closed without an answer: upstream_unreachable, retryable, ambiguous', async () => {
      const c = client();
      await c.checkConnection();
      fake.faults.add({ kind: 'reset', func: 'soft.order.param', times: 1 });
      expect(flags(await refusal(c.orderLicense('soft', ORDER)))).toEqual({
        code: 'upstream_unreachable',
        retryable: true,
        ambiguous: true,
      });
    });

    it('nobody listening: upstream_unreachable, retryable, not ambiguous', async () => {
      const gone = await startFakeBillmanager();
      await gone.close();
      const e = await refusal(client({ url: gone.url }).checkConnection());
      expect(flags(e)).toEqual({ code: 'upstream_unreachable', retryable: true, ambiguous: false });
    });

    it.each([
      ['never answers', { kind: 'act-then-hang' } as const],
      ['answers after the timeout', { kind: 'act-then-delay', ms: 1500 } as const],
    ])(
      'an order the upstream makes and then %s: ambiguous; looking by remoteid finds exactly one license',
      async (_what, fault) => {
        const c = client({ timeoutMs: 400 });
        await c.checkConnection();
        fake.faults.add({ ...fault, func: 'soft.order.param', times: 1 });
        const e = await refusal(c.orderLicense('soft', ORDER));
        expect(flags(e)).toEqual({ code: 'upstream_timeout', retryable: true, ambiguous: true });
        // What the caller must do before ordering again: look.
        const found = await c.findByRemoteId('soft', ORDER.remoteId);
        expect(found).toHaveLength(1);
        expect(found[0]).toMatchObject({ ip: ORDER.ip, name: ORDER.name, status: 2 });
        expect(fake.state.licensesByRemoteId(ORDER.remoteId)).toHaveLength(1);
        expect(fake.state.callsOf('soft.order.param')).toHaveLength(1);
        expect(fake.state.balanceOf(USER)).toBe('92.50');
      },
    );

    it('not_enough_money on a renewal: permanent, not ambiguous, nothing charged', async () => {
      const c = client();
      const { id } = await c.orderLicense('soft', ORDER);
      fake.faults.add({ kind: 'not_enough_money', func: 'service.prolong', times: 1 });
      expect(flags(await refusal(c.prolong(id, 1)))).toEqual({
        code: 'upstream_not_enough_money',
        retryable: false,
        ambiguous: false,
      });
      expect((await c.getLicense('soft', id)).expiresOn).toBe('2022-01-16');
      expect(fake.state.balanceOf(USER)).toBe('92.50');
    });

    it.each([
      ['an HTML page with 200', { kind: 'html' } as const],
      ['an HTML page with 404', { kind: 'html', status: 404 } as const],
    ])('%s is upstream_not_billmanager', async (_what, fault) => {
      fake.faults.add(fault);
      const e = await refusal(client().checkConnection());
      expect(flags(e)).toEqual({ code: 'upstream_not_billmanager', retryable: false, ambiguous: false });
    });

    it('a wrong path (the 404 page of the site) is upstream_not_billmanager', async () => {
      const e = await refusal(client({ url: fake.url.replace('/billmgr', '/billing') }).checkConnection());
      expect(flags(e)).toEqual({ code: 'upstream_not_billmanager', retryable: false, ambiguous: false });
      expect(e.status).toBe(404);
    });

    it('wrong credentials as a fault on every call (the upstream password changed)', async () => {
      const c = client();
      await c.checkConnection();
      fake.faults.add({ kind: 'auth-error' });
      expect(flags(await refusal(c.listLicenses('soft')))).toMatchObject({ code: 'upstream_auth' });
      expect(flags(await refusal(c.checkConnection()))).toMatchObject({ code: 'upstream_auth' });
    });
  });
});
