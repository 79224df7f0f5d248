import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/platform/ids.js';
import {
  countRows,
  createAdmin,
  createClient,
  createHttpTest,
  createToken,
  expectError,
  type HttpTest,
  login,
  loginRequest,
  PASSWORD,
  request,
} from '../helpers/http.js';

let t: HttpTest;
beforeEach(async () => {
  t = await createHttpTest();
});
afterEach(async () => {
  await t.close();
});

describe('sessions', () => {
  it('login sets an httpOnly SameSite=Lax bf_session cookie and returns a csrfToken', async () => {
    const { account } = await createClient(t.ctx, 'ann@example.com', { name: 'Ann Ltd' });
    const res = await loginRequest(t.app, 'ann@example.com', PASSWORD);
    expect(res.statusCode, res.body).toBe(200);
    const cookie = res.cookies.find((c) => c.name === 'bf_session');
    expect(cookie).toBeDefined();
    expect(cookie!.httpOnly).toBe(true);
    expect(cookie!.sameSite).toBe('Lax');
    expect(cookie!.path).toBe('/');
    expect(cookie!.value.length).toBeGreaterThanOrEqual(40);
    // Max-Age, not Expires: the lifetime counts from the browser's own clock, so a server whose
    // clock was started in the past (BILLFOLD_CLOCK) still hands out a cookie that lives.
    expect(cookie!.maxAge).toBe(t.ctx.config.sessionTtlHours * 3600);
    expect(cookie!.expires).toBeUndefined();
    expect(String(res.headers['set-cookie'])).not.toMatch(/expires=/i);
    const body = res.json();
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(body.user).toMatchObject({
      email: 'ann@example.com',
      role: 'client',
      accountId: Number(account.id),
    });
    expect(body.account).toMatchObject({ id: Number(account.id), name: 'Ann Ltd' });
    // Only the hash of the cookie value is stored.
    const stored = await t.ctx.db.kysely.selectFrom('sessions').select('id').execute();
    expect(stored.map((s) => s.id)).toEqual([sha256(cookie!.value)]);
  });

  it('login matches the email case-insensitively and ignores surrounding spaces', async () => {
    await createAdmin(t.ctx, 'boss@example.com');
    const res = await loginRequest(t.app, '  BOSS@Example.com ', PASSWORD);
    expect(res.statusCode, res.body).toBe(200);
  });

  it('GET /me with the session cookie returns the user, the account and the csrf token', async () => {
    const { account } = await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const res = await request(t.app, 'GET', '/api/v1/me', { auth: s });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.user.email).toBe('ann@example.com');
    expect(body.account.id).toBe(Number(account.id));
    expect(body.csrfToken).toBe(s.csrfToken);
  });

  it('GET /me without credentials or with an unknown cookie → 401 unauthenticated', async () => {
    expectError(await request(t.app, 'GET', '/api/v1/me'), 401, 'unauthenticated');
    expectError(
      await request(t.app, 'GET', '/api/v1/me', { auth: { cookie: 'not-a-session', csrfToken: 'x' } }),
      401,
      'unauthenticated',
    );
  });

  it('wrong password and unknown email both → 401 invalid_credentials with the identical body', async () => {
    await createAdmin(t.ctx, 'boss@example.com');
    const wrongPassword = await loginRequest(t.app, 'boss@example.com', 'not-the-password');
    const unknownEmail = await loginRequest(t.app, 'nobody@example.com', PASSWORD);
    expectError(wrongPassword, 401, 'invalid_credentials');
    expectError(unknownEmail, 401, 'invalid_credentials');
    expect(wrongPassword.body).toBe(unknownEmail.body);
    expect(wrongPassword.cookies).toEqual([]);
    expect(unknownEmail.cookies).toEqual([]);
    expect((await countRows(t.ctx)).sessions).toBe(0);
  });

  it('logout ends the session: the cookie no longer works and the session row is gone', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const out = await request(t.app, 'POST', '/api/v1/auth/logout', { auth: s });
    expect(out.statusCode, out.body).toBe(204);
    const cleared = out.cookies.find((c) => c.name === 'bf_session');
    expect(cleared?.value).toBe('');
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: s }), 401, 'unauthenticated');
    expect((await countRows(t.ctx)).sessions).toBe(0);
  });

  it('logout of one session leaves the user’s other sessions working', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const first = await login(t.app, 'ann@example.com');
    const second = await login(t.app, 'ann@example.com');
    await request(t.app, 'POST', '/api/v1/auth/logout', { auth: first });
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: second })).statusCode).toBe(200);
  });

  it('a session expires after the TTL → 401', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const ttlMs = t.ctx.config.sessionTtlHours * 3_600_000;
    t.ctx.clock.advance(ttlMs - 1000);
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: s })).statusCode).toBe(200);
    t.ctx.clock.advance(1000);
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: s }), 401, 'unauthenticated');
  });

  it('a disabled user cannot sign in and loses their sessions and API tokens at once', async () => {
    await createAdmin(t.ctx, 'boss@example.com');
    const { user } = await createClient(t.ctx, 'ann@example.com');
    const admin = await login(t.app, 'boss@example.com');
    const ann = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, ann);
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } })).statusCode).toBe(200);

    const res = await request(t.app, 'PATCH', `/api/v1/users/${user.id}`, {
      auth: admin,
      body: { status: 'disabled' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().status).toBe('disabled');

    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: ann }), 401, 'unauthenticated');
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } }), 401, 'invalid_token');
    const again = await loginRequest(t.app, 'ann@example.com', PASSWORD);
    expectError(again, 401, 'invalid_credentials');
    // Same answer as a wrong password: a disabled account is not revealed.
    expect(again.body).toBe((await loginRequest(t.app, 'ann@example.com', 'wrong-password!')).body);

    // Re-enabled: the user can sign in again, but the revoked token stays revoked.
    const back = await request(t.app, 'PATCH', `/api/v1/users/${user.id}`, {
      auth: admin,
      body: { status: 'active' },
    });
    expect(back.statusCode, back.body).toBe(200);
    expect((await loginRequest(t.app, 'ann@example.com', PASSWORD)).statusCode).toBe(200);
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } }), 401, 'invalid_token');
  });

  it('closing an account signs its users out and keeps them out', async () => {
    await createAdmin(t.ctx, 'boss@example.com');
    const { account } = await createClient(t.ctx, 'ann@example.com');
    const admin = await login(t.app, 'boss@example.com');
    const ann = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, ann);
    const res = await request(t.app, 'PATCH', `/api/v1/accounts/${account.id}`, {
      auth: admin,
      body: { status: 'closed' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: ann }), 401, 'unauthenticated');
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } }), 401, 'invalid_token');
    expectError(await loginRequest(t.app, 'ann@example.com', PASSWORD), 401, 'invalid_credentials');
  });

  it('an admin cannot disable themself (409 cannot_disable_self)', async () => {
    const boss = await createAdmin(t.ctx, 'boss@example.com');
    const admin = await login(t.app, 'boss@example.com');
    const res = await request(t.app, 'PATCH', `/api/v1/users/${boss.id}`, {
      auth: admin,
      body: { status: 'disabled' },
    });
    expectError(res, 409, 'cannot_disable_self');
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: admin })).statusCode).toBe(200);
  });
});

describe('CSRF', () => {
  it('a cookie request that changes state without x-csrf-token → 403 csrf_token_invalid, nothing written', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const before = await countRows(t.ctx);
    const res = await request(t.app, 'POST', '/api/v1/me/tokens', {
      auth: s,
      csrf: false,
      body: { name: 'cli' },
    });
    expectError(res, 403, 'csrf_token_invalid');
    expect(await countRows(t.ctx)).toEqual(before);
  });

  it('a cookie request with a wrong x-csrf-token → 403 csrf_token_invalid, nothing written', async () => {
    await createAdmin(t.ctx, 'boss@example.com');
    const { user } = await createClient(t.ctx, 'ann@example.com');
    const admin = await login(t.app, 'boss@example.com');
    const ann = await login(t.app, 'ann@example.com');
    const before = await countRows(t.ctx);
    for (const wrong of ['wrong', `${admin.csrfToken}x`, admin.csrfToken.slice(1), ann.csrfToken]) {
      const res = await request(t.app, 'PATCH', `/api/v1/users/${user.id}`, {
        auth: admin,
        csrf: wrong,
        body: { status: 'disabled' },
      });
      expectError(res, 403, 'csrf_token_invalid');
    }
    const row = await t.ctx.db.kysely
      .selectFrom('users')
      .select('status')
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('active');
    expect(await countRows(t.ctx)).toEqual(before);
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: ann })).statusCode).toBe(200);
  });

  it('CSRF is checked on DELETE and on money routes too', async () => {
    await createAdmin(t.ctx, 'boss@example.com');
    const { account } = await createClient(t.ctx, 'ann@example.com');
    const admin = await login(t.app, 'boss@example.com');
    const token = await createToken(t.app, admin);
    const tokenId = (await request(t.app, 'GET', '/api/v1/me/tokens', { auth: admin })).json().items[0].id;
    expectError(
      await request(t.app, 'DELETE', `/api/v1/me/tokens/${tokenId}`, { auth: admin, csrf: false }),
      403,
      'csrf_token_invalid',
    );
    expectError(
      await request(t.app, 'POST', `/api/v1/accounts/${account.id}/payments`, {
        auth: admin,
        csrf: false,
        body: { amount: '10.00', method: 'bank', reference: 'R1' },
      }),
      403,
      'csrf_token_invalid',
    );
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } })).statusCode).toBe(200);
    expect((await countRows(t.ctx)).payments).toBe(0);
  });

  it('logout with the session cookie needs the CSRF token: without or with a wrong one → 403, still signed in', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    for (const csrf of [false, 'wrong', `${s.csrfToken}x`] as const) {
      const res = await request(t.app, 'POST', '/api/v1/auth/logout', { auth: s, csrf });
      expectError(res, 403, 'csrf_token_invalid');
      expect(res.cookies).toEqual([]);
    }
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: s })).statusCode).toBe(200);
    expect((await countRows(t.ctx)).sessions).toBe(1);
    const out = await request(t.app, 'POST', '/api/v1/auth/logout', { auth: s });
    expect(out.statusCode, out.body).toBe(204);
    expect((await countRows(t.ctx)).sessions).toBe(0);
  });

  it('logout with a Bearer token needs no CSRF token; a dead cookie is cleared without one', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, s);
    const bearer = await request(t.app, 'POST', '/api/v1/auth/logout', { auth: { bearer: token } });
    expect(bearer.statusCode, bearer.body).toBe(204);
    // The token is not a session: it keeps working (revoke it at DELETE /me/tokens/{id}).
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } })).statusCode).toBe(200);
    // A cookie whose session is gone proves nothing and protects nothing: it is cleared.
    const stale = await request(t.app, 'POST', '/api/v1/auth/logout', {
      auth: { cookie: 'no-such-session', csrfToken: 'x' },
      csrf: false,
    });
    expect(stale.statusCode, stale.body).toBe(204);
    expect(stale.cookies.find((c) => c.name === 'bf_session')?.value).toBe('');
  });

  it('a cookie request with the right x-csrf-token succeeds', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const res = await request(t.app, 'POST', '/api/v1/me/tokens', { auth: s, body: { name: 'cli' } });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('reads with the cookie need no CSRF token', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    expect((await request(t.app, 'GET', '/api/v1/me/tokens', { auth: s, csrf: false })).statusCode).toBe(200);
  });

  it('Bearer requests need no CSRF token', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, s);
    const res = await request(t.app, 'POST', '/api/v1/me/tokens', {
      auth: { bearer: token },
      body: { name: 'second' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const me = await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } });
    expect(me.json().csrfToken).toBeNull();
  });
});

describe('API tokens', () => {
  it('a token is shown once at creation, starts with bf_, and works as Bearer', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const res = await request(t.app, 'POST', '/api/v1/me/tokens', { auth: s, body: { name: 'deploy' } });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json();
    expect(created.token).toMatch(/^bf_[A-Za-z0-9_-]{40,}$/);
    expect(created).toMatchObject({ name: 'deploy', hint: `${created.token.slice(0, 7)}…`, revokedAt: null });

    const me = await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: created.token } });
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json().user.email).toBe('ann@example.com');

    // Only the hash is stored.
    const rows = await t.ctx.db.kysely.selectFrom('api_tokens').select('token_hash').execute();
    expect(rows).toEqual([{ token_hash: sha256(created.token) }]);
  });

  it('the token list shows hints, never token values', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, s, 'deploy');
    const list = await request(t.app, 'GET', '/api/v1/me/tokens', { auth: { bearer: token } });
    expect(list.statusCode, list.body).toBe(200);
    expect(list.body).not.toContain(token);
    const items = list.json().items;
    expect(items).toHaveLength(1);
    expect(items[0]).not.toHaveProperty('token');
    expect(items[0]).toMatchObject({ name: 'deploy', hint: `${token.slice(0, 7)}…`, revokedAt: null });
    expect(items[0].lastUsedAt).toBe('2021-12-16T10:00:00.000Z');
  });

  it('a user lists only their own tokens', async () => {
    await createClient(t.ctx, 'ann@example.com');
    await createClient(t.ctx, 'bob@example.com');
    const ann = await login(t.app, 'ann@example.com');
    const bob = await login(t.app, 'bob@example.com');
    await createToken(t.app, ann, 'ann-token');
    await createToken(t.app, bob, 'bob-token');
    const list = await request(t.app, 'GET', '/api/v1/me/tokens', { auth: ann });
    expect(list.json().items.map((i: { name: string }) => i.name)).toEqual(['ann-token']);
  });

  it('a revoked token → 401 invalid_token', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, s);
    const id = (await request(t.app, 'GET', '/api/v1/me/tokens', { auth: s })).json().items[0].id;
    const res = await request(t.app, 'DELETE', `/api/v1/me/tokens/${id}`, { auth: s });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().revokedAt).toBe('2021-12-16T10:00:00.000Z');
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } }), 401, 'invalid_token');
    // Revoking again is harmless and keeps the first revocation time.
    t.ctx.clock.advance(60_000);
    const again = await request(t.app, 'DELETE', `/api/v1/me/tokens/${id}`, { auth: s });
    expect(again.statusCode).toBe(200);
    expect(again.json().revokedAt).toBe('2021-12-16T10:00:00.000Z');
  });

  it('a token can revoke itself', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, s);
    const id = (await request(t.app, 'GET', '/api/v1/me/tokens', { auth: s })).json().items[0].id;
    const res = await request(t.app, 'DELETE', `/api/v1/me/tokens/${id}`, { auth: { bearer: token } });
    expect(res.statusCode, res.body).toBe(200);
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } }), 401, 'invalid_token');
  });

  it("revoking another user's token id → 404 api_token_not_found, and the token keeps working", async () => {
    await createClient(t.ctx, 'ann@example.com');
    await createAdmin(t.ctx, 'boss@example.com');
    const ann = await login(t.app, 'ann@example.com');
    const boss = await login(t.app, 'boss@example.com');
    const bossToken = await createToken(t.app, boss);
    const bossTokenId = (await request(t.app, 'GET', '/api/v1/me/tokens', { auth: boss })).json().items[0].id;
    const res = await request(t.app, 'DELETE', `/api/v1/me/tokens/${bossTokenId}`, { auth: ann });
    const err = expectError(res, 404, 'api_token_not_found');
    // Same answer as for an id that does not exist.
    const missing = await request(t.app, 'DELETE', '/api/v1/me/tokens/999999', { auth: ann });
    expect(missing.body).toBe(res.body);
    expect(err.details).toEqual({});
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: bossToken } })).statusCode).toBe(200);
  });

  it('a malformed Authorization header → 401 invalid_token, even with a valid cookie', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const s = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, s);
    for (const header of [
      'Bearer',
      'Bearer ',
      `Basic ${Buffer.from('ann@example.com:x').toString('base64')}`,
      `Token ${token}`,
      'Bearer not-a-billfold-token',
      `Bearer ${token} extra`,
      'Bearer bf_',
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
    ]) {
      const res = await request(t.app, 'GET', '/api/v1/me', { headers: { authorization: header } });
      expectError(res, 401, 'invalid_token');
      const withCookie = await request(t.app, 'GET', '/api/v1/me', {
        auth: s,
        headers: { authorization: header },
      });
      expectError(withCookie, 401, 'invalid_token');
    }
    // The scheme is case-insensitive.
    const lower = await request(t.app, 'GET', '/api/v1/me', {
      headers: { authorization: `bearer ${token}` },
    });
    expect(lower.statusCode).toBe(200);
  });
});

describe('brute-force protection', () => {
  const IP = '203.0.113.7';

  it('after 5 failures for one email the 6th attempt, even with the right password → 429 with Retry-After', async () => {
    await createClient(t.ctx, 'ann@example.com');
    for (let i = 0; i < 5; i++) {
      expectError(
        await loginRequest(t.app, 'ann@example.com', 'wrong-password', IP),
        401,
        'invalid_credentials',
      );
    }
    const blocked = await loginRequest(t.app, 'ann@example.com', PASSWORD, IP);
    const err = expectError(blocked, 429, 'too_many_login_attempts');
    expect(blocked.headers['retry-after']).toBe('900');
    expect(err.details).toEqual({ retryAfterSeconds: 900 });
    expect(blocked.cookies).toEqual([]);
    // The block is per email, whatever the IP.
    expectError(
      await loginRequest(t.app, 'ann@example.com', PASSWORD, '198.51.100.1'),
      429,
      'too_many_login_attempts',
    );
    // Retry-After counts down with the clock.
    t.ctx.clock.advance(10 * 60_000);
    expect((await loginRequest(t.app, 'ann@example.com', PASSWORD, IP)).headers['retry-after']).toBe('300');
    expect((await countRows(t.ctx)).sessions).toBe(0);
  });

  it('the per-email block ends when the failures are 15 minutes old', async () => {
    await createClient(t.ctx, 'ann@example.com');
    for (let i = 0; i < 5; i++) await loginRequest(t.app, 'ann@example.com', 'wrong-password', IP);
    t.ctx.clock.advance(15 * 60_000 - 1000);
    expectError(await loginRequest(t.app, 'ann@example.com', PASSWORD, IP), 429, 'too_many_login_attempts');
    t.ctx.clock.advance(1000);
    expect((await loginRequest(t.app, 'ann@example.com', PASSWORD, IP)).statusCode).toBe(200);
  });

  it('an unknown email is throttled exactly like a known one', async () => {
    for (let i = 0; i < 5; i++) {
      expectError(
        await loginRequest(t.app, 'ghost@example.com', 'whatever-pass', IP),
        401,
        'invalid_credentials',
      );
    }
    expectError(
      await loginRequest(t.app, 'ghost@example.com', 'whatever-pass', IP),
      429,
      'too_many_login_attempts',
    );
  });

  it('the per-email count is case-insensitive', async () => {
    await createClient(t.ctx, 'ann@example.com');
    for (const e of [
      'ann@example.com',
      'ANN@example.com',
      'Ann@Example.com',
      ' ann@example.com',
      'ANN@EXAMPLE.COM',
    ]) {
      await loginRequest(t.app, e, 'wrong-password', IP);
    }
    expectError(await loginRequest(t.app, 'ann@example.com', PASSWORD, IP), 429, 'too_many_login_attempts');
  });

  it('a successful login resets the per-email count, and failures after it count again', async () => {
    await createClient(t.ctx, 'ann@example.com');
    for (let i = 0; i < 4; i++) await loginRequest(t.app, 'ann@example.com', 'wrong-password', IP);
    expect((await loginRequest(t.app, 'ann@example.com', PASSWORD, IP)).statusCode).toBe(200);
    // Without the reset these would be failures 5..8 and the next login would be refused.
    for (let i = 0; i < 4; i++) {
      expectError(
        await loginRequest(t.app, 'ann@example.com', 'wrong-password', IP),
        401,
        'invalid_credentials',
      );
    }
    expect((await loginRequest(t.app, 'ann@example.com', PASSWORD, IP)).statusCode).toBe(200);
    // The count restarts from the success, it is not switched off: 5 new failures block again
    // (all at the same instant as the success, as under a pinned clock).
    for (let i = 0; i < 5; i++) await loginRequest(t.app, 'ann@example.com', 'wrong-password', IP);
    expectError(await loginRequest(t.app, 'ann@example.com', PASSWORD, IP), 429, 'too_many_login_attempts');
  });

  it('30 failures from one IP across different emails → 429 for any email from that IP, other IPs unaffected', async () => {
    await createClient(t.ctx, 'ann@example.com');
    for (let i = 0; i < 30; i++) {
      expectError(
        await loginRequest(t.app, `probe${i}@example.com`, 'wrong-password', IP),
        401,
        'invalid_credentials',
      );
    }
    const blocked = await loginRequest(t.app, 'ann@example.com', PASSWORD, IP);
    expectError(blocked, 429, 'too_many_login_attempts');
    expect(blocked.headers['retry-after']).toBe('900');
    expect((await loginRequest(t.app, 'ann@example.com', PASSWORD, '198.51.100.1')).statusCode).toBe(200);
    t.ctx.clock.advance(15 * 60_000);
    expect((await loginRequest(t.app, 'ann@example.com', PASSWORD, IP)).statusCode).toBe(200);
  });

  it('29 failures from one IP still let a correct login from it through', async () => {
    await createClient(t.ctx, 'ann@example.com');
    for (let i = 0; i < 29; i++) await loginRequest(t.app, `probe${i}@example.com`, 'wrong-password', IP);
    expect((await loginRequest(t.app, 'ann@example.com', PASSWORD, IP)).statusCode).toBe(200);
  });
});
