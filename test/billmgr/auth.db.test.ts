import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loginRequest } from '../helpers/http.js';
import {
  errorXml,
  expectXml,
  mgr,
  orderLicense,
  PASSWORD,
  type Params,
  type Seller,
  withSeller,
} from './setup.js';

/**
 * Authentication of the /billmgr API (PROTOCOL.md §2): authinfo on every request, func=auth
 * sessions with an idle hour, one-time key logins made by staff, and the same brute-force
 * limits as the web sign-in (5 failures per email in 15 minutes).
 */

const WRONG = errorXml('auth', 'The email or password is wrong.');
const TOO_MANY = errorXml('auth', 'Too many failed sign-in attempts. Try again later.');
const BAD_SESSION = errorXml('auth', 'The session has expired or does not exist; sign in again.');
const BAD_KEY = errorXml('auth', 'The key is wrong, used or expired.');

async function session(s: Seller, username: string, password = PASSWORD): Promise<string> {
  const res = await mgr(s, { func: 'auth', username, password, out: 'json' });
  const sid = (JSON.parse(res.body) as { doc: { auth?: { $id: string } } }).doc.auth?.$id;
  if (!sid) throw new Error(`no session: ${res.body}`);
  return sid;
}

/** The remoteids of the caller's soft licenses, or the error body. */
async function listAs(s: Seller, cred: Record<string, string>): Promise<string> {
  const res = await mgr(s, { ...cred, func: 'soft', out: 'json' });
  return res.body;
}

const MINUTE = 60_000;
const advance = (s: Seller, ms: number) =>
  s.t.ctx.clock.set(new Date(s.t.ctx.clock.now().getTime() + ms).toISOString());

describe('authinfo', () => {
  it('is split on the first colon: a password with colons works; the user is case-insensitive', () =>
    withSeller(async (s) => {
      expect(PASSWORD).toContain(':');
      expect(s.alpha.authinfo).toBe(`alpha@example.com:${PASSWORD}`);
      await orderLicense(s, s.alpha.authinfo, { remoteid: 'mine' });
      expect(await listAs(s, { authinfo: s.alpha.authinfo })).toContain('"remoteid":{"$":"mine"}');
      expect(await listAs(s, { authinfo: `ALPHA@Example.com:${PASSWORD}` })).toContain(
        '"remoteid":{"$":"mine"}',
      );
      // Bravo signs in to his own (empty) list.
      expect(await listAs(s, { authinfo: s.bravo.authinfo })).toBe('{"doc":{}}');
      // Splitting on the last colon would give user "alpha@example.com:pa:ss" — refused, as is a prefix.
      expectXml(await mgr(s, { authinfo: 'alpha@example.com:pa:ss', func: 'soft' }), WRONG);
      expectXml(await mgr(s, { authinfo: `alpha@example.com:${PASSWORD}:`, func: 'soft' }), WRONG);
      expectXml(
        await mgr(s, { authinfo: `:${PASSWORD}`, func: 'soft' }),
        errorXml('auth', 'authinfo must be user:password.'),
      );
    }));
});

describe('over-long user names', () => {
  it('are wrong credentials, checked and recorded nowhere (no user has one)', () =>
    withSeller(async (s) => {
      // Random, so that no engine can compress it into an index entry.
      const long = `${randomBytes(4000).toString('base64url')}@example.com`;
      const before = await s.t.ctx.db.kysely.selectFrom('login_attempts').selectAll().execute();
      expectXml(await mgr(s, { authinfo: `${long}:${PASSWORD}`, func: 'soft' }), WRONG);
      expectXml(await mgr(s, { func: 'auth', username: long, password: PASSWORD }), WRONG);
      expectXml(
        await mgr(s, { func: 'auth', username: long, key: 'k'.repeat(20), checkcookie: 'no' }),
        BAD_KEY,
      );
      expect(await s.t.ctx.db.kysely.selectFrom('login_attempts').selectAll().execute()).toEqual(before);
    }));
});

describe('func=auth sessions', () => {
  it('a session id works instead of authinfo and dies after an idle hour', () =>
    withSeller(async (s) => {
      await orderLicense(s, s.alpha.authinfo, { remoteid: 'mine' });
      const sid = await session(s, 'alpha@example.com');
      expect(sid).toMatch(/^[0-9a-f]{32}$/);
      expect(await listAs(s, { auth: sid })).toContain('"remoteid":{"$":"mine"}');
      advance(s, 61 * MINUTE);
      expectXml(await mgr(s, { auth: sid, func: 'soft' }), BAD_SESSION);
      // A dead session stays dead; signing in again gives a new one.
      expectXml(await mgr(s, { auth: sid, func: 'soft' }), BAD_SESSION);
      const again = await session(s, 'alpha@example.com');
      expect(again).not.toBe(sid);
      expect(await listAs(s, { auth: again })).toContain('"remoteid":{"$":"mine"}');
    }));

  it('used within the hour, a session stays alive past one hour from sign-in', () =>
    withSeller(async (s) => {
      const sid = await session(s, 'alpha@example.com');
      for (let i = 0; i < 3; i++) {
        advance(s, 59 * MINUTE);
        expectXml(await mgr(s, { auth: sid, func: 'soft' }), '<doc/>');
      }
      // Three hours after sign-in it is alive; 61 idle minutes later it is not.
      advance(s, 61 * MINUTE);
      expectXml(await mgr(s, { auth: sid, func: 'soft' }), BAD_SESSION);
    }));

  it('a staff session can make login keys; a wrong password or missing parameters are refused', () =>
    withSeller(async (s) => {
      const admin = await session(s, 'boss@example.com');
      expectXml(
        await mgr(s, {
          auth: admin,
          func: 'session.newkey',
          username: 'alpha@example.com',
          key: 'x'.repeat(16),
        }),
        '<doc><ok/></doc>',
      );
      expectXml(await mgr(s, { func: 'auth', username: 'alpha@example.com', password: 'pa' }), WRONG);
      expectXml(
        await mgr(s, { func: 'auth', username: 'alpha@example.com' }),
        errorXml('missed', 'The parameter "password" is required.', 'password'),
      );
      expectXml(
        await mgr(s, { func: 'auth', password: PASSWORD }),
        errorXml('missed', 'The parameter "username" is required.', 'username'),
      );
    }));
});

describe('key login (session.newkey + func=auth&key=…&checkcookie=no)', () => {
  it('logs the user in once; the second use is refused', () =>
    withSeller(async (s) => {
      await orderLicense(s, s.alpha.authinfo, { remoteid: 'mine' });
      const key = 'one-time-key-0123456789';
      expectXml(
        await mgr(s, {
          authinfo: s.admin.authinfo,
          func: 'session.newkey',
          username: 'alpha@example.com',
          key,
        }),
        '<doc><ok/></doc>',
      );
      const login = { func: 'auth', username: 'alpha@example.com', key, checkcookie: 'no' };
      // The key is Alpha's: Bravo's name with it is refused (and does not spend it).
      expectXml(await mgr(s, { ...login, username: 'bravo@example.com' }), BAD_KEY);
      const first = await mgr(s, login);
      expectXml(first, '<doc><auth id="<SID>" level="16"><SID></auth></doc>');
      const sid = /id="([0-9a-f]{32})"/.exec(first.body)![1]!;
      expect(await listAs(s, { auth: sid })).toContain('"remoteid":{"$":"mine"}');
      expectXml(await mgr(s, login), BAD_KEY);
      expectXml(await mgr(s, { ...login, key: 'some-other-key-000000' }), BAD_KEY);
    }));

  it('a key expires after an hour unused; short keys and unknown users are refused', () =>
    withSeller(async (s) => {
      const key = 'expiring-key-0123456789';
      const newkey = { func: 'session.newkey', username: 'alpha@example.com', key };
      expectXml(await mgr(s, { authinfo: s.admin.authinfo, ...newkey }), '<doc><ok/></doc>');
      advance(s, 61 * MINUTE);
      expectXml(
        await mgr(s, { func: 'auth', username: 'alpha@example.com', key, checkcookie: 'no' }),
        BAD_KEY,
      );
      expectXml(
        await mgr(s, { authinfo: s.admin.authinfo, ...newkey, key: 'short' }),
        errorXml('value', 'The key must be 16 to 256 characters.', 'key'),
      );
      expectXml(
        await mgr(s, { authinfo: s.admin.authinfo, ...newkey, username: 'nobody@example.com' }),
        errorXml('value', 'No such user.', 'username', 'nobody@example.com'),
      );
    }));

  it('a client makes a key for its own login and signs in with it once', () =>
    withSeller(async (s) => {
      await orderLicense(s, s.alpha.authinfo, { remoteid: 'mine' });
      const key = 'reseller-own-key-0123456789';
      // The user name is matched like a sign-in: case and surrounding spaces do not matter.
      expectXml(
        await mgr(s, {
          authinfo: s.alpha.authinfo,
          func: 'session.newkey',
          username: 'ALPHA@example.com',
          key,
        }),
        '<doc><ok/></doc>',
      );
      const row = await s.t.ctx.db.kysely
        .selectFrom('mgr_login_keys')
        .select(['user_id', 'created_by_user_id'])
        .executeTakeFirstOrThrow();
      expect(row.created_by_user_id).toBe(row.user_id);
      const login = { func: 'auth', username: 'alpha@example.com', key, checkcookie: 'no' };
      const first = await mgr(s, login);
      expectXml(first, '<doc><auth id="<SID>" level="16"><SID></auth></doc>');
      const sid = /id="([0-9a-f]{32})"/.exec(first.body)![1]!;
      expect(await listAs(s, { auth: sid })).toContain('"remoteid":{"$":"mine"}');
      expectXml(await mgr(s, login), BAD_KEY);
    }));

  it('a client cannot make a key for another user, existing or not: access, nothing written', () =>
    withSeller(async (s) => {
      const NOT_YOURS = errorXml('access', 'Only staff can make login keys for other users.');
      const alphaSession = await session(s, 'alpha@example.com');
      for (const username of ['bravo@example.com', 'boss@example.com', 'nobody@example.com']) {
        for (const cred of [{ authinfo: s.alpha.authinfo }, { auth: alphaSession }] as Params[]) {
          expectXml(
            await mgr(s, { ...cred, func: 'session.newkey', username, key: 'not-for-alpha-0123456789' }),
            NOT_YOURS,
          );
        }
      }
      // The access answer comes before the key is looked at: a short key changes nothing.
      expectXml(
        await mgr(s, {
          authinfo: s.alpha.authinfo,
          func: 'session.newkey',
          username: 'bravo@example.com',
          key: 'x',
        }),
        NOT_YOURS,
      );
      expect(await s.t.ctx.db.kysely.selectFrom('mgr_login_keys').selectAll().execute()).toEqual([]);
      expectXml(
        await mgr(s, {
          func: 'auth',
          username: 'bravo@example.com',
          key: 'not-for-alpha-0123456789',
          checkcookie: 'no',
        }),
        BAD_KEY,
      );
    }));
});

describe('failed logins are rate-limited like the web login', () => {
  it('the 6th wrong password is still auth; then even the right one is refused until the window passes', () =>
    withSeller(async (s) => {
      for (let i = 0; i < 5; i++)
        expectXml(await mgr(s, { authinfo: 'bravo@example.com:wrong', func: 'soft' }), WRONG);
      expectXml(await mgr(s, { authinfo: 'bravo@example.com:wrong', func: 'soft' }), TOO_MANY);
      expectXml(await mgr(s, { authinfo: s.bravo.authinfo, func: 'soft' }), TOO_MANY);
      expectXml(await mgr(s, { func: 'auth', username: 'bravo@example.com', password: PASSWORD }), TOO_MANY);
      // The same counter as the web sign-in.
      expect((await loginRequest(s.t.app, 'bravo@example.com', PASSWORD)).statusCode).toBe(429);
      // Alpha is not affected.
      expectXml(await mgr(s, { authinfo: s.alpha.authinfo, func: 'soft' }), '<doc/>');
      advance(s, 14 * MINUTE);
      expectXml(await mgr(s, { authinfo: s.bravo.authinfo, func: 'soft' }), TOO_MANY);
      advance(s, 2 * MINUTE);
      expectXml(await mgr(s, { authinfo: s.bravo.authinfo, func: 'soft' }), '<doc/>');
      expect(await session(s, 'bravo@example.com')).toMatch(/^[0-9a-f]{32}$/);
    }));

  it('web sign-in failures count toward the API limit too', () =>
    withSeller(async (s) => {
      for (let i = 0; i < 5; i++)
        expect((await loginRequest(s.t.app, 'bravo@example.com', 'wrong')).statusCode).toBe(401);
      expectXml(await mgr(s, { func: 'auth', username: 'bravo@example.com', password: PASSWORD }), TOO_MANY);
    }));

  // BUG (src/modules/billmgr/auth.ts byAuthinfo): a user+password pair verified in the last
  // minute (real time, Date.now) is served from the in-memory AUTHINFO cache before
  // authenticatePassword runs, so checkThrottle is skipped and the blocked account still gets in.
  it('the right password via authinfo is refused while blocked, even if it was used a moment ago', () =>
    withSeller(async (s) => {
      expectXml(await mgr(s, { authinfo: s.bravo.authinfo, func: 'soft' }), '<doc/>');
      for (let i = 0; i < 6; i++) await mgr(s, { authinfo: 'bravo@example.com:wrong', func: 'soft' });
      expectXml(await mgr(s, { func: 'auth', username: 'bravo@example.com', password: PASSWORD }), TOO_MANY);
      // Actual: <doc/> (the cached pair is accepted).
      expectXml(await mgr(s, { authinfo: s.bravo.authinfo, func: 'soft' }), TOO_MANY);
    }));
});
