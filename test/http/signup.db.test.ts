import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../src/app/http.js';
import { MAX_FAILURES_PER_EMAIL } from '../../src/modules/accounts/auth.js';
import { MIN_PASSWORD_LENGTH } from '../../src/modules/accounts/passwords.js';
import { contextOn, expectLedgerBalanced } from '../helpers/context.js';
import {
  createAdmin,
  createClient,
  createHttpTest,
  expectError,
  type HttpTest,
  login,
  loginRequest,
  request,
} from '../helpers/http.js';

/**
 * Sign-up (`POST /api/v1/auth/signup`): when the provider takes sign-ups, anyone creates a
 * client account and is signed in; staff open and close it with `PATCH /provider`; the
 * sign-in page learns which from `GET /auth/options`.
 */

const NEW = { name: 'Nina Newcomer', email: 'Nina@Example.com', password: 'a-long-enough-password' };

let t: HttpTest;
beforeEach(async () => {
  t = await createHttpTest({ file: true });
});
afterEach(async () => {
  await expectLedgerBalanced(t.ctx);
  await t.close();
});

const signup = (body: unknown, remoteAddress?: string) =>
  request(t.app, 'POST', '/api/v1/auth/signup', { body, ...(remoteAddress ? { remoteAddress } : {}) });

async function setSignup(enabled: boolean) {
  await createAdmin(t.ctx, 'staff@example.com');
  const staff = await login(t.app, 'staff@example.com');
  const res = await request(t.app, 'PATCH', '/api/v1/provider', {
    auth: staff,
    body: { signupEnabled: enabled },
  });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.json()).toMatchObject({ signupEnabled: enabled });
  return staff;
}

describe('sign-up', () => {
  it('a new database takes sign-ups: the account is created in the provider’s currency and its owner is signed in', async () => {
    const options = await request(t.app, 'GET', '/api/v1/auth/options');
    expect(options.statusCode).toBe(200);
    expect(options.json()).toEqual({ providerName: 'My hosting', signupEnabled: true });

    const res = await signup(NEW);
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json() as {
      user: { email: string; role: string; accountId: number };
      account: { name: string; email: string; currency: string; balance: string };
      csrfToken: string;
    };
    expect(body.user).toMatchObject({ email: 'nina@example.com', role: 'client' });
    expect(body.account).toMatchObject({ name: 'Nina Newcomer', email: 'nina@example.com', currency: 'EUR' });
    const cookie = res.cookies.find((c) => c.name === 'bf_session');
    expect(cookie?.httpOnly).toBe(true);

    // The cookie is a session like the one sign-in gives: /me answers, a state change with the CSRF token works.
    const session = { cookie: cookie!.value, csrfToken: body.csrfToken };
    const me = await request(t.app, 'GET', '/api/v1/me', { auth: session });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({
      user: { email: 'nina@example.com' },
      account: { name: 'Nina Newcomer' },
    });
    const token = await request(t.app, 'POST', '/api/v1/me/tokens', { auth: session, body: { name: 'x' } });
    expect(token.statusCode).toBe(201);

    // And the password works for signing in later.
    expect((await loginRequest(t.app, NEW.email, NEW.password)).statusCode).toBe(200);
    // No credit: a signed-up client spends only what they paid.
    const account = await t.ctx.db.kysely
      .selectFrom('accounts')
      .selectAll()
      .where('email', '=', 'nina@example.com')
      .executeTakeFirstOrThrow();
    expect(account.credit_limit_minor).toBe(0n);
    expect(account.balance_minor).toBe(0n);
  });

  it('staff close sign-up: it is refused with signup_disabled and nothing is created; opened again it works', async () => {
    const staff = await setSignup(false);
    expect((await request(t.app, 'GET', '/api/v1/auth/options')).json()).toMatchObject({
      signupEnabled: false,
    });
    const provider = await request(t.app, 'GET', '/api/v1/provider', { auth: staff });
    expect(provider.json()).toMatchObject({ signupEnabled: false });

    expectError(await signup(NEW), 403, 'signup_disabled');
    expect(await t.ctx.db.kysely.selectFrom('accounts').select('id').execute()).toHaveLength(0);

    const reopened = await request(t.app, 'PATCH', '/api/v1/provider', {
      auth: staff,
      body: { signupEnabled: true },
    });
    expect(reopened.statusCode).toBe(200);
    expect((await signup(NEW)).statusCode).toBe(201);
  });

  it('only staff change it', async () => {
    await createClient(t.ctx, 'client@example.com');
    const client = await login(t.app, 'client@example.com');
    expectError(
      await request(t.app, 'PATCH', '/api/v1/provider', { auth: client, body: { signupEnabled: false } }),
      403,
      'forbidden',
    );
  });

  it('an email in use (by an account or a staff user, in any case) is email_taken; nothing changes', async () => {
    await createClient(t.ctx, 'taken@example.com');
    await createAdmin(t.ctx, 'boss@example.com');
    expectError(await signup({ ...NEW, email: 'TAKEN@example.com' }), 409, 'email_taken');
    expectError(await signup({ ...NEW, email: 'boss@example.com' }), 409, 'email_taken');
    expect(await t.ctx.db.kysely.selectFrom('accounts').select('id').execute()).toHaveLength(1);
    expect(await t.ctx.db.kysely.selectFrom('users').select('id').execute()).toHaveLength(2);
  });

  it('the password policy is the one of a password change; bad fields are validation_failed', async () => {
    const short = await signup({ ...NEW, password: 'x'.repeat(MIN_PASSWORD_LENGTH - 1) });
    expectError(short, 400, 'validation_failed');
    expectError(await signup({ ...NEW, email: 'not-an-email' }), 400, 'validation_failed');
    expectError(await signup({ ...NEW, name: '   ' }), 400, 'validation_failed');
    expectError(await signup({ email: NEW.email, password: NEW.password }), 400, 'validation_failed');
    expectError(await signup({ ...NEW, role: 'admin' }), 400, 'unknown_field');
    expect(await t.ctx.db.kysely.selectFrom('accounts').select('id').execute()).toHaveLength(0);
  });

  it('refused attempts count toward the sign-in limits: probing one email is stopped like password guessing', async () => {
    await createClient(t.ctx, 'taken@example.com');
    const ip = '198.51.100.9';
    for (let i = 0; i < MAX_FAILURES_PER_EMAIL; i++)
      expectError(await signup({ ...NEW, email: 'taken@example.com' }, ip), 409, 'email_taken');
    expectError(await signup({ ...NEW, email: 'taken@example.com' }, ip), 429, 'too_many_login_attempts');
    // The owner's own sign-in is held to the same count, as after five wrong passwords.
    expectError(
      await loginRequest(t.app, 'taken@example.com', 'whatever', ip),
      429,
      'too_many_login_attempts',
    );
  });

  it('two sign-ups with one email at once, through two application instances: one wins, the other is email_taken', async () => {
    const other: FastifyInstance = await buildHttpApp(
      contextOn(t.ctx.testDb.openAnother(), t.ctx.testDb, undefined, t.ctx.clock),
    );
    await other.ready();
    try {
      for (let round = 0; round < 3; round++) {
        const email = `race${round}@example.com`;
        const answers = await Promise.all([
          signup({ ...NEW, email, name: 'First' }, '203.0.113.1'),
          other.inject({
            method: 'POST',
            url: '/api/v1/auth/signup',
            payload: { ...NEW, email, name: 'Second' },
            remoteAddress: '203.0.113.2',
          }),
        ]);
        const codes = answers.map((a) => a.statusCode).sort();
        expect(codes, answers.map((a) => a.body).join('\n')).toEqual([201, 409]);
        const lost = answers.find((a) => a.statusCode === 409)!;
        expectError(lost, 409, 'email_taken');
        const accounts = await t.ctx.db.kysely
          .selectFrom('accounts')
          .select(['id', 'name'])
          .where('email', '=', email)
          .execute();
        expect(accounts).toHaveLength(1);
        const users = await t.ctx.db.kysely
          .selectFrom('users')
          .select('account_id')
          .where('email', '=', email)
          .execute();
        expect(users).toEqual([{ account_id: accounts[0]!.id }]);
      }
    } finally {
      await other.close();
    }
  });
});
