import { describe, expect, it } from 'vitest';
import { errorXml, expectJson, expectXml, licenseState, mgr, orderLicense, withSeller } from './setup.js';

/**
 * `whoami` (PROTOCOL.md §2): the caller and, for a client, its balance — what a reselling
 * BILLmanager or another Billfold reads its upstream balance with. Read-only.
 */
describe('whoami', () => {
  it("a client sees its name, level, and its account's balance and currency", () =>
    withSeller(async (s) => {
      const user = '<user name="alpha@example.com" level="16" balance="100.00" currency="EUR"/>';
      expectXml(await mgr(s, { authinfo: s.alpha.authinfo, func: 'whoami' }), `<doc>${user}</doc>`);
      await orderLicense(s, s.alpha.authinfo);
      expectJson(await mgr(s, { authinfo: s.alpha.authinfo, func: 'whoami', out: 'json' }), {
        doc: { user: { $name: 'alpha@example.com', $level: '16', $balance: '92.50', $currency: 'EUR' } },
      });
      // The other client's balance is its own.
      expectXml(
        await mgr(s, { authinfo: s.bravo.authinfo, func: 'whoami', out: 'xml' }, { method: 'GET' }),
        '<doc><user name="bravo@example.com" level="16" balance="100.00" currency="EUR"/></doc>',
      );
    }));

  it('by session as well; staff have no account and so no balance', () =>
    withSeller(async (s) => {
      const auth = await mgr(s, {
        func: 'auth',
        username: 'alpha@example.com',
        password: s.alpha.authinfo.slice('alpha@example.com:'.length),
        out: 'json',
      });
      const sid = (JSON.parse(auth.body) as { doc: { auth: { $id: string } } }).doc.auth.$id;
      expectJson(await mgr(s, { auth: sid, func: 'whoami', out: 'json' }), {
        doc: { user: { $name: 'alpha@example.com', $level: '16', $balance: '100.00', $currency: 'EUR' } },
      });
      expectXml(
        await mgr(s, { authinfo: s.admin.authinfo, func: 'whoami' }),
        '<doc><user name="boss@example.com" level="29"/></doc>',
      );
    }));

  it('needs a sign-in and changes nothing', () =>
    withSeller(async (s) => {
      const before = await licenseState(s.t.ctx);
      expectXml(
        await mgr(s, { func: 'whoami' }),
        errorXml('auth', 'Sign in: authinfo=user:password or auth=&lt;session id&gt;.'),
      );
      await mgr(s, { authinfo: s.alpha.authinfo, func: 'whoami', sok: 'ok', elid: '1' });
      expect(await licenseState(s.t.ctx)).toBe(before);
    }));
});
