import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_FAILURES_PER_EMAIL } from '../../src/modules/accounts/auth.js';
import {
  createClient,
  createHttpTest,
  createToken,
  expectError,
  type HttpTest,
  login,
  loginRequest,
  mgrSession,
  mgrSessionWorks,
  PASSWORD,
  request,
  type Session,
} from '../helpers/http.js';

/** POST /api/v1/me/password: a user changes their own password. */

const NEW = 'a-brand-new-password-42';
const EMAIL = 'ann@example.com';

let t: HttpTest;
beforeEach(async () => {
  t = await createHttpTest();
  await createClient(t.ctx, EMAIL);
});
afterEach(async () => {
  await t.close();
});

const change = (auth: Session | { bearer: string }, body: unknown, opts: { remoteAddress?: string } = {}) =>
  request(t.app, 'POST', '/api/v1/me/password', { auth, body, ...opts });

const passwordHash = async () =>
  (
    await t.ctx.db.kysely
      .selectFrom('users')
      .select('password_hash')
      .where('email', '=', EMAIL)
      .executeTakeFirstOrThrow()
  ).password_hash;

describe('POST /me/password', () => {
  it('changes the password, keeps this session, ends the others, and leaves API tokens working', async () => {
    const here = await login(t.app, EMAIL);
    const elsewhere = await login(t.app, EMAIL);
    const token = await createToken(t.app, here);
    const mgr = await mgrSession(t.app, EMAIL);

    const res = await change(here, { currentPassword: PASSWORD, newPassword: NEW });
    expect(res.statusCode, res.body).toBe(204);

    expect((await request(t.app, 'GET', '/api/v1/me', { auth: here })).statusCode).toBe(200);
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: elsewhere }), 401, 'unauthenticated');
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } })).statusCode).toBe(200);
    expect(await t.ctx.db.kysely.selectFrom('sessions').select('id').execute()).toHaveLength(1);
    // A BILLmanager API session opened with the old password ends with it.
    expect(await mgrSessionWorks(t.app, mgr)).toBe(false);

    expectError(await loginRequest(t.app, EMAIL, PASSWORD), 401, 'invalid_credentials');
    expect((await loginRequest(t.app, EMAIL, NEW)).statusCode).toBe(200);
  });

  it('with an API token (no session of its own) every session ends', async () => {
    const session = await login(t.app, EMAIL);
    const token = await createToken(t.app, session);
    const res = await change({ bearer: token }, { currentPassword: PASSWORD, newPassword: NEW });
    expect(res.statusCode, res.body).toBe(204);
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: session }), 401, 'unauthenticated');
    expect(await t.ctx.db.kysely.selectFrom('sessions').select('id').execute()).toHaveLength(0);
    expect((await loginRequest(t.app, EMAIL, NEW)).statusCode).toBe(200);
  });

  it('refuses a wrong current password, a short new one, the same one, or no CSRF token; nothing changes', async () => {
    const here = await login(t.app, EMAIL);
    const elsewhere = await login(t.app, EMAIL);
    const before = await passwordHash();

    const wrong = expectError(
      await change(here, { currentPassword: 'not-my-password', newPassword: NEW }),
      400,
      'current_password_wrong',
    );
    expect(wrong.details).toEqual({ field: 'currentPassword' });
    const short = expectError(
      await change(here, { currentPassword: PASSWORD, newPassword: 'short' }),
      400,
      'validation_failed',
    );
    expect(JSON.stringify(short.details)).toContain('newPassword');
    expectError(
      await change(here, { currentPassword: PASSWORD, newPassword: PASSWORD }),
      400,
      'password_unchanged',
    );
    expectError(
      await change(here, { currentPassword: PASSWORD, newPassword: NEW, userId: 1 }),
      400,
      'unknown_field',
    );
    expectError(
      await request(t.app, 'POST', '/api/v1/me/password', {
        auth: here,
        csrf: false,
        body: { currentPassword: PASSWORD, newPassword: NEW },
      }),
      403,
      'csrf_token_invalid',
    );
    expectError(
      await request(t.app, 'POST', '/api/v1/me/password', {
        body: { currentPassword: PASSWORD, newPassword: NEW },
      }),
      401,
      'unauthenticated',
    );

    expect(await passwordHash()).toBe(before);
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: elsewhere })).statusCode).toBe(200);
    expect((await loginRequest(t.app, EMAIL, PASSWORD)).statusCode).toBe(200);
  });

  it('guessing the current password is held to the sign-in limits, shared with the sign-in page', async () => {
    const IP = '203.0.113.7';
    const here = await login(t.app, EMAIL);
    const before = await passwordHash();
    for (let i = 0; i < MAX_FAILURES_PER_EMAIL; i++) {
      expectError(
        await change(here, { currentPassword: `guess-${i}-wrong`, newPassword: NEW }, { remoteAddress: IP }),
        400,
        'current_password_wrong',
      );
    }
    // Blocked now even with the right password, here and on the sign-in page.
    const blocked = expectError(
      await change(here, { currentPassword: PASSWORD, newPassword: NEW }, { remoteAddress: IP }),
      429,
      'too_many_login_attempts',
    );
    expect(blocked.details.retryAfterSeconds).toBeGreaterThan(0);
    expectError(await loginRequest(t.app, EMAIL, PASSWORD, IP), 429, 'too_many_login_attempts');
    expect(await passwordHash()).toBe(before);
  });
});
