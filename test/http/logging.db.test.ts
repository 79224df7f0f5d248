import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';
import { mgr, orderLicense, PASSWORD, withSeller } from '../billmgr/setup.js';
import { createToken, login, loginRequest, request } from '../helpers/http.js';

/**
 * Nothing a caller proves itself with reaches the log, at any level: passwords (JSON body,
 * `authinfo`, `func=auth&password`), session ids (`auth=`), one-time keys, API tokens, session
 * cookies and CSRF tokens. The lines are still there and say what happened.
 */

interface Line {
  readonly level: number;
  readonly msg?: string;
  readonly req?: { method?: string; url?: string };
  readonly func?: string;
  readonly [k: string]: unknown;
}

/** The production logger at `trace`, writing its JSON lines into an array. */
function capture() {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      raw.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: 'trace', pretty: false, destination }), raw };
}

/** A secret as it may appear: as is, percent-encoded, or form-encoded. */
const spellings = (secret: string) => [
  secret,
  encodeURIComponent(secret),
  new URLSearchParams({ x: secret }).toString().slice(2),
];

describe('request logging', () => {
  it('the /billmgr and REST sign-in journeys log method, path and func, but no secret', async () => {
    const { logger, raw } = capture();
    const secrets: string[] = [PASSWORD, 'wrong-password-in-the-log'];
    await withSeller(
      async (s) => {
        const app = s.t.app;
        // /billmgr: authinfo on a GET and on a POST form, a wrong authinfo.
        await orderLicense(s, s.alpha.authinfo, { remoteid: 'by-post' });
        const get = await mgr(
          s,
          {
            authinfo: s.alpha.authinfo,
            func: 'soft.order.param',
            pricelist: '55227',
            period: '1',
            ip: '203.0.113.11',
            licname: 'vps-get',
            remoteid: 'by-get',
            skipbasket: 'on',
            sok: 'ok',
          },
          { method: 'GET' },
        );
        expect(get.body).toContain('<id>');
        await mgr(
          s,
          { authinfo: 'bravo@example.com:wrong-password-in-the-log', func: 'soft' },
          { method: 'GET' },
        );
        // func=auth with a password, then the session id.
        const auth = await mgr(
          s,
          { func: 'auth', username: 'alpha@example.com', password: PASSWORD },
          { method: 'GET' },
        );
        const sid = /id="([0-9a-f]{32})"/.exec(auth.body)?.[1];
        expect(sid).toBeDefined();
        secrets.push(sid!);
        await mgr(s, { auth: sid!, func: 'soft' }, { method: 'GET' });
        await mgr(s, { auth: sid!, func: 'soft.edit', elid: '1' });
        // Staff make a one-time key; the user signs in with it.
        const key = 'one-time-key-in-the-log-0001';
        secrets.push(key);
        const boss = await mgr(
          s,
          { func: 'auth', username: 'boss@example.com', password: PASSWORD },
          { method: 'GET' },
        );
        const bossSid = /id="([0-9a-f]{32})"/.exec(boss.body)![1]!;
        secrets.push(bossSid);
        const newkey = await mgr(
          s,
          { auth: bossSid, func: 'session.newkey', username: 'alpha@example.com', key },
          { method: 'GET' },
        );
        expect(newkey.body).toContain('<ok/>');
        const byKey = await mgr(
          s,
          { func: 'auth', username: 'alpha@example.com', key, checkcookie: 'no' },
          { method: 'GET' },
        );
        const keySid = /id="([0-9a-f]{32})"/.exec(byKey.body)?.[1];
        expect(keySid).toBeDefined();
        secrets.push(keySid!);

        // REST: a wrong and a right password (JSON body), the cookie and CSRF token, an API token.
        await loginRequest(app, 'alpha@example.com', 'wrong-password-in-the-log');
        const session = await login(app, 'alpha@example.com', PASSWORD);
        secrets.push(session.cookie, session.csrfToken);
        const token = await createToken(app, session);
        secrets.push(token);
        expect((await request(app, 'GET', '/api/v1/me', { auth: { bearer: token } })).statusCode).toBe(200);
        // A secret in a REST query string is not logged either.
        await request(app, 'GET', `/api/v1/me?token=${token}&password=${encodeURIComponent(PASSWORD)}`, {
          auth: session,
        });
        expect((await request(app, 'POST', '/api/v1/auth/logout', { auth: session })).statusCode).toBe(204);
      },
      { logger },
    );

    expect(raw.length).toBeGreaterThan(0);
    for (const line of raw) {
      for (const secret of secrets) {
        for (const spelled of spellings(secret)) expect(line).not.toContain(spelled);
      }
    }

    // Still useful: every request is there with its method and path, /billmgr calls with func.
    const lines = raw.map((l) => JSON.parse(l) as Line);
    const incoming = lines.filter((l) => l.msg === 'incoming request');
    const seen = incoming.map((l) => `${l.req?.method} ${l.req?.url?.split('?')[0]}`);
    expect(seen).toContain('GET /billmgr');
    expect(seen).toContain('POST /billmgr');
    expect(seen).toContain('POST /api/v1/auth/login');
    expect(seen).toContain('POST /api/v1/me/tokens');
    expect(seen).toContain('GET /api/v1/me');
    expect(seen).toContain('POST /api/v1/auth/logout');
    const getUrls = incoming.filter((l) => l.req?.url?.startsWith('/billmgr?')).map((l) => l.req!.url!);
    for (const func of ['soft.order.param', 'auth', 'session.newkey', 'soft']) {
      expect(getUrls.some((u) => u.includes(`func=${func}&`) || u.endsWith(`func=${func}`))).toBe(true);
    }
    // The parameter names stay, their values are replaced.
    expect(getUrls.some((u) => u.includes('authinfo=[redacted]'))).toBe(true);
    expect(getUrls.some((u) => u.includes('password=[redacted]'))).toBe(true);
    expect(getUrls.some((u) => u.includes('key=[redacted]'))).toBe(true);
    // Every call, GET or POST form, says which function it was and how it ended.
    const calls = lines.filter((l) => l.msg === 'billmgr call');
    expect(calls.map((l) => l.func)).toEqual(
      expect.arrayContaining(['soft.order.param', 'soft.edit', 'auth', 'session.newkey', 'soft']),
    );
    expect(calls.some((l) => l.func === 'soft' && l.result === 'auth')).toBe(true);
    expect(calls.some((l) => l.func === 'soft.order.param' && l.result === 'ok')).toBe(true);
  });
});
