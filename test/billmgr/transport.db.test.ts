import { describe, expect, it, vi } from 'vitest';
import { type WireResponse, wireRequest } from '../helpers/http.js';
import {
  errorXml,
  expectJson,
  expectXml,
  ledgerOf,
  licenseState,
  type Seller,
  withSeller,
  XML_HEAD,
} from './setup.js';

/**
 * The HTTP side of /billmgr (issue 11): any POST body is read as a form whatever its content
 * type (Guzzle-based clients such as Upmind's send `func=…&authinfo=…` with none), and every
 * error on the API's paths — the HTTP layer's 404, 413, 415, 431 and 500 included — is an mgr
 * error document in the `out` format asked for, never the REST API's JSON.
 */

const PATHS = ['/billmgr', '/billmgr/', '/manager/billmgr', '/manager/billmgr/'];

const ORDER = {
  func: 'soft.order.param',
  pricelist: '55227',
  period: '1',
  ip: '203.0.113.10',
  licname: 'vps-1',
  skipbasket: 'on',
  sok: 'ok',
  clicked_button: 'finish',
};

const form = (p: Record<string, string>) => new URLSearchParams(p).toString();

/** An HTTP-layer refusal as an mgr document: type `error`, object = the stable code. */
function expectTransport(res: WireResponse, status: number, out: 'xml' | 'json', code: string, msg: string) {
  expect(res.statusCode, res.body).toBe(status);
  if (out === 'xml') {
    expect(res.headers['content-type']).toBe('text/xml; charset=utf-8');
    expect(res.body).toBe(`${XML_HEAD}${errorXml('error', msg, code)}`);
  } else {
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.json()).toEqual({
      doc: {
        error: {
          $type: 'error',
          $object: code,
          $lang: 'en',
          param: { $name: 'object', $type: 'msg', $: code },
          msg: { $: msg },
        },
      },
    });
  }
}

describe('a POST body is a form whatever its content type', () => {
  it('no content type (Guzzle, over a real socket): the order is placed and charged; sign-in works', () =>
    withSeller(async (s) => {
      const res = await wireRequest(s.t.app, {
        method: 'POST',
        path: '/billmgr',
        body: form({ authinfo: s.alpha.authinfo, ...ORDER, remoteid: 'u-1' }),
      });
      expectXml(res, '<doc><id>1</id></doc>');
      expect(await ledgerOf(s, s.alpha.accountId)).toContainEqual(
        expect.objectContaining({ kind: 'charge', amount: '-750' }),
      );
      const password = s.alpha.authinfo.slice(s.alpha.authinfo.indexOf(':') + 1);
      const auth = await wireRequest(s.t.app, {
        method: 'POST',
        path: '/manager/billmgr',
        body: form({ func: 'auth', username: 'alpha@example.com', password, out: 'json' }),
      });
      expect(auth.statusCode, auth.body).toBe(200);
      expect((auth.json() as { doc: { auth: { $id: string } } }).doc.auth.$id).toMatch(/^[0-9a-f]{32}$/);
    }));

  it('text/plain, application/octet-stream, a form with a charset, and no content type (inject) on every path; the query merges in', () =>
    withSeller(async (s) => {
      const types = [
        'text/plain',
        'application/octet-stream',
        'application/x-www-form-urlencoded; charset=UTF-8',
        undefined,
      ];
      for (const [i, path] of PATHS.entries()) {
        const type = types[i];
        const res = await s.t.app.inject({
          method: 'POST',
          url: `${path}?out=json`,
          headers: type ? { 'content-type': type } : {},
          payload: form({
            authinfo: s.alpha.authinfo,
            ...ORDER,
            ip: `203.0.113.${20 + i}`,
            remoteid: `r-${i}`,
          }),
        });
        expectJson(res, { doc: { id: { $: String(i + 1) } } });
      }
    }));
});

describe('every error on the API paths is an mgr document, in xml and json', () => {
  it('404: a method the API does not answer', () =>
    withSeller(async (s) => {
      for (const path of PATHS) {
        const xml = await s.t.app.inject({ method: 'PUT', url: path, payload: 'a=1' });
        expectTransport(xml, 404, 'xml', 'route_not_found', `No route PUT ${path}.`);
      }
      const json = await s.t.app.inject({ method: 'DELETE', url: '/billmgr?out=json' });
      expectTransport(json, 404, 'json', 'route_not_found', 'No route DELETE /billmgr.');
    }));

  it('415: a multipart or JSON body, nothing ordered', () =>
    withSeller(async (s) => {
      const before = await licenseState(s.t.ctx);
      const msg =
        'Send the parameters in the query string or as a form body (application/x-www-form-urlencoded).';
      const multipart = await s.t.app.inject({
        method: 'POST',
        url: '/billmgr',
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
        payload: `--x\r\nContent-Disposition: form-data; name="func"\r\n\r\nsoft\r\n--x--\r\n`,
      });
      expectTransport(multipart, 415, 'xml', 'unsupported_media_type', msg);
      const json = await s.t.app.inject({
        method: 'POST',
        url: '/billmgr?out=json',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ authinfo: s.alpha.authinfo, ...ORDER }),
      });
      expectTransport(json, 415, 'json', 'unsupported_media_type', msg);
      expect(await licenseState(s.t.ctx)).toBe(before);
    }));

  it('413: a body over 1 MiB, nothing ordered', () =>
    withSeller(async (s) => {
      const before = await licenseState(s.t.ctx);
      const payload = form({ authinfo: s.alpha.authinfo, ...ORDER, licname: 'x'.repeat(1_100_000) });
      for (const out of ['xml', 'json'] as const) {
        const res = await s.t.app.inject({ method: 'POST', url: `/billmgr?out=${out}`, payload });
        expectTransport(res, 413, out, 'body_too_large', 'The request body is too large.');
      }
      expect(await licenseState(s.t.ctx)).toBe(before);
    }));

  it('431: a 20 000-character URL, refused by the HTTP parser', () =>
    withSeller(async (s) => {
      const long = 'a'.repeat(20_000);
      const msg = 'The URL or the headers of the request are too large.';
      const xml = await wireRequest(s.t.app, { method: 'GET', path: `/billmgr?func=soft&x=${long}` });
      expectTransport(xml, 431, 'xml', 'headers_too_large', msg);
      const json = await wireRequest(s.t.app, {
        method: 'GET',
        path: `/manager/billmgr/?out=json&x=${long}`,
      });
      expectTransport(json, 431, 'json', 'headers_too_large', msg);
    }));

  it('500: a failure before the function runs (the session lookup), without details', () =>
    withSeller(async (s) => {
      const spy = vi.spyOn(s.t.ctx.db.kysely, 'selectFrom').mockImplementation(() => {
        throw new Error('database is down: secret detail');
      });
      try {
        for (const out of ['xml', 'json'] as const) {
          const res = await s.t.app.inject({
            method: 'GET',
            url: `/billmgr?func=soft&out=${out}`,
            cookies: { bf_session: 'some-session' },
          });
          expectTransport(res, 500, out, 'internal_error', 'Something went wrong on our side.');
        }
      } finally {
        spy.mockRestore();
      }
    }));

  it('an error of the app before the function (a bad Authorization header) is an API error: HTTP 200, type auth', () =>
    withSeller(async (s: Seller) => {
      const res = await s.t.app.inject({
        method: 'GET',
        url: '/billmgr?func=soft',
        headers: { authorization: 'Bearer nonsense' },
      });
      expectXml(res, errorXml('auth', 'The API token is not valid.'));
    }));
});
