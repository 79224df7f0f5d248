import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Auth,
  countRows,
  createAdmin,
  createHttpTest,
  createToken,
  expectError,
  type HttpTest,
  login,
  request,
  wireRequest,
} from '../helpers/http.js';

/**
 * Errors the HTTP layer answers before a handler runs (issue 11): no route, a body that is not
 * JSON or too large, a URL too long for Node's parser. Each is `{"error":{code,message,details}}`
 * like every other error of the REST API, never Fastify's `{"error","message","statusCode"}`.
 */
let t: HttpTest;
let bearer: Auth;
let token: string;

beforeAll(async () => {
  t = await createHttpTest();
  await createAdmin(t.ctx, 'boss@example.com');
  token = await createToken(t.app, await login(t.app, 'boss@example.com'));
  bearer = { bearer: token };
});
afterAll(async () => {
  await t?.close();
});

const auth = () => ({ authorization: `Bearer ${token}` });

describe('a body the REST API cannot read → 415 unsupported_media_type, nothing written', () => {
  it.each([
    ['application/x-www-form-urlencoded', 'name=ci&period=1'],
    ['text/xml', '<token><name>ci</name></token>'],
    ['text/plain', 'name=ci'],
    ['application/octet-stream', 'name=ci'],
    [
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nci\r\n--x--\r\n',
    ],
  ])('%s', async (contentType, payload) => {
    const before = await countRows(t.ctx);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/me/tokens',
      headers: { ...auth(), 'content-type': contentType },
      payload,
    });
    const err = expectError(res, 415, 'unsupported_media_type');
    expect(err.message).toBe('Send JSON (application/json).');
    expect(await countRows(t.ctx)).toEqual(before);
  });

  it('a body without a content type (as Guzzle sends one), over a real socket', async () => {
    const res = await wireRequest(t.app, {
      method: 'POST',
      path: '/api/v1/me/tokens',
      headers: auth(),
      body: 'name=ci',
    });
    expectError(res, 415, 'unsupported_media_type');
  });

  it('an empty body is no body, whatever its content type says', async () => {
    const created = await request(t.app, 'POST', '/api/v1/me/tokens', {
      auth: bearer,
      body: { name: 'gone' },
    });
    const id = (created.json() as { id: number }).id;
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/me/tokens/${id}`,
      headers: { ...auth(), 'content-type': 'text/plain' },
      payload: '',
    });
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe("Fastify's own refusals in the documented shape", () => {
  it('no route: 404 route_not_found, for an unknown path and an unknown method', async () => {
    expectError(
      await request(t.app, 'GET', '/api/v1/nothing-here', { auth: bearer }),
      404,
      'route_not_found',
    );
    const err = expectError(
      await request(t.app, 'PUT', '/api/v1/me', { auth: bearer, body: {} }),
      404,
      'route_not_found',
    );
    expect(err.message).toBe('No route PUT /api/v1/me.');
    // A body sent to no route is not read: still 404, not 415.
    const form = await t.app.inject({
      method: 'POST',
      url: '/api/v1/nothing-here',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=1',
    });
    expectError(form, 404, 'route_not_found');
  });

  it('a body over 1 MiB: 413 body_too_large, nothing written', async () => {
    const before = await countRows(t.ctx);
    const res = await request(t.app, 'POST', '/api/v1/me/tokens', {
      auth: bearer,
      body: { name: 'x'.repeat(1_100_000) },
    });
    expectError(res, 413, 'body_too_large');
    expect(await countRows(t.ctx)).toEqual(before);
  });

  it('malformed JSON: 400 invalid_json', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/me/tokens',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    expectError(res, 400, 'invalid_json');
  });

  it('a 20 000-character URL: 431 headers_too_large (Node refuses it before Fastify sees it)', async () => {
    const res = await wireRequest(t.app, { method: 'GET', path: `/api/v1/accounts?x=${'a'.repeat(20_000)}` });
    const err = expectError(res, 431, 'headers_too_large');
    expect(err.message).toBe('The URL or the headers of the request are too large.');
  });

  it('a malformed %-escape in the path: 400 invalid_url; an over-long path parameter: 414 uri_too_long', async () => {
    expectError(await request(t.app, 'GET', '/api/v1/accounts/%zz', { auth: bearer }), 400, 'invalid_url');
    expectError(
      await request(t.app, 'GET', `/api/v1/accounts/${'1'.repeat(150)}`, { auth: bearer }),
      414,
      'uri_too_long',
    );
  });
});
