import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, CONFIG_A, type FakeDcimanager, parseWhere, startFakeDcimanager } from './fake-server.js';

/**
 * The fake DCImanager 6 on the wire, as any client meets it (plain fetch): login, the three ways
 * a token travels, both path prefixes, list filters, the error envelope, admin-only access and
 * the call log. The client's tests (client.test.ts) cover its functions and the fault knobs.
 */

let fake: FakeDcimanager;
beforeEach(async () => {
  fake = await startFakeDcimanager();
});
afterEach(() => fake.close());

async function req(
  method: string,
  path: string,
  o: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(fake.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...o.headers },
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), body: text ? JSON.parse(text) : null };
}

async function login(email: string = ADMIN.email, password: string = ADMIN.password): Promise<string> {
  const res = await req('POST', '/api/auth/v4/public/token', { body: { email, password } });
  expect(res.status).toBe(201);
  return res.body.token;
}

describe('fake DCImanager 6', () => {
  it('login answers 201 {id, token, expires_at, confirmed}; a wrong password is a 400 error envelope', async () => {
    const ok = await req('POST', '/auth/v4/public/token', {
      body: { email: ADMIN.email, password: ADMIN.password },
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ id: expect.any(String), token: expect.any(String), confirmed: true });
    const bad = await req('POST', '/auth/v4/public/token', {
      body: { email: ADMIN.email, password: 'nope' },
    });
    expect(bad).toMatchObject({ status: 400, type: 'application/json' });
    expect(bad.body).toEqual({ error: { code: 3004, msg: 'Invalid email or password', value: {} } });
  });

  it('takes the token as x-xsrf-token, ses6 cookie or ses6 header, under /api and without', async () => {
    const token = await login();
    const ways: Record<string, string>[] = [
      { 'x-xsrf-token': token },
      { cookie: `a=b; ses6=${token}` },
      { ses6: token },
    ];
    for (const headers of ways)
      for (const prefix of ['/api', ''])
        expect((await req('GET', `${prefix}/dci/v3/server/1`, { headers })).body).toMatchObject({
          id: 1,
          configuration: CONFIG_A,
        });
    expect((await req('GET', '/dci/v3/server/1')).status).toBe(401);
    expect((await req('GET', '/dci/v3/server/1', { headers: { 'x-xsrf-token': 'bogus' } })).body).toEqual({
      error: { code: 3001, msg: 'Unauthorized', value: {} },
    });
  });

  it('a client user may log in but not call the admin API (403, code 3001)', async () => {
    fake.state.addUser({ email: 'c@example.com', password: 'pass-word' });
    const token = await login('c@example.com', 'pass-word');
    const res = await req('GET', '/dci/v3/server', { headers: { 'x-xsrf-token': token } });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe(3001);
  });

  it('lists: where, orderby, limit; size counts before the limit; an unknown field is a 400', async () => {
    const headers = { 'x-xsrf-token': await login() };
    const q = (s: string) => req('GET', `/dci/v3/server?${s}`, { headers });
    const where = encodeURIComponent(`(location_id EQ 1) AND (configuration CP '%9900k%')`);
    const res = await q(`where=${where}&orderby=id+desc&limit=0,1`);
    expect(res.body.size).toBe(2);
    expect(res.body.list.map((s: { id: number }) => s.id)).toEqual([2]);
    expect(typeof res.body.last_notify).toBe('number');
    expect((await q(`limit=1`)).body.list).toHaveLength(1);
    expect((await q(`where=${encodeURIComponent('(nonsense EQ 1)')}`)).status).toBe(400);
    expect((await q(`where=${encodeURIComponent('(id EQ')}`)).status).toBe(400);
  });

  it('the where grammar', () => {
    const row = { id: 5, name: "O'Brien", owner_email: null, is_new: false, location: { id: 2 } };
    const t = (w: string) => parseWhere(w)(row);
    expect(t("(id EQ '5') AND (is_new EQ false)")).toBe(true);
    expect(t('owner_email IS null AND NOT id NE 5')).toBe(true);
    expect(t('owner_email IS NOT null OR location.id EQ 3')).toBe(false);
    expect(t("name EQ 'O''Brien'")).toBe(true);
    expect(t("name CP '%bri%'")).toBe(true);
    expect(t('id GT 4 AND id LT 6')).toBe(true);
  });

  it('a created user can be read back; the call log hides passwords; other methods are 405', async () => {
    const headers = { 'x-xsrf-token': await login() };
    const made = await req('POST', '/api/dci/v3/user', {
      headers,
      body: {
        email: 'new@example.com',
        password: 'N3w-secret',
        role: '@user',
        full_name: 'New',
        phone_number: '',
      },
    });
    expect(made.status).toBe(200);
    const where = encodeURIComponent("(email EQ 'new@example.com')");
    const listed = await req('GET', `/dci/v3/user?where=${where}`, { headers });
    expect(listed.body.list).toEqual([
      { id: made.body.id, email: 'new@example.com', full_name: 'New', roles: ['@user'], server_count: 0 },
    ]);
    expect(JSON.stringify(fake.state.calls)).not.toMatch(/N3w-secret|secret-pass/);
    expect(fake.state.calls[1]).toMatchObject({
      method: 'POST',
      path: '/dci/v3/user',
      body: { password: '***' },
    });
    expect((await req('PUT', '/dci/v3/user', { headers, body: {} })).status).toBe(405);
  });

  it('free servers per configuration follow the owner, and tick() finishes operations', async () => {
    const headers = { 'x-xsrf-token': await login() };
    const counts = async () =>
      Object.fromEntries(
        (await req('GET', '/dci/v3/server/configuration', { headers })).body.list.map(
          (r: { configuration: string; free_server_count: number }) => [r.configuration, r.free_server_count],
        ),
      );
    expect((await counts())[CONFIG_A]).toBe(3);
    await req('POST', '/dci/v3/server/1/power_off', { headers, body: {} });
    expect((await counts())[CONFIG_A]).toBe(2);
    expect(fake.tick()).toBe(1);
    expect((await counts())[CONFIG_A]).toBe(3);
    expect(fake.state.servers.get(1)!.power).toBe('off');
  });
});
