import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordPayment, systemActor } from '../../src/modules/accounts/index.js';
import {
  type Auth,
  createAdmin,
  createClient,
  createHttpTest,
  createToken,
  expectError,
  type HttpTest,
  login,
  type Method,
  moneySnapshot,
  request,
  type Session,
} from '../helpers/http.js';

/**
 * Who may see what. One file-wide world, read-only for the tests (every request here is
 * refused or only reads): an admin, client A (Alpha) and client B (Bravo) with a payment
 * and an API token each. A client asking for B's data must get exactly what it gets for an
 * id that does not exist — 404 — so ids cannot be probed.
 */
let t: HttpTest;
let alpha: { accountId: number; userId: number; session: Session; paymentId: number; tokenId: number };
let bravo: { accountId: number; userId: number; session: Session; paymentId: number; tokenId: number };
let bravoToken: string;
let alphaBearer: string;
let adminAuth: Auth;
const MISSING = 987654;
const BRAVO_SECRETS = ['Bravo Secret Industries', 'bravo@example.com', 'BRAVO-REF-77', '777.77'];

beforeAll(async () => {
  t = await createHttpTest();
  await createAdmin(t.ctx, 'boss@example.com');
  const admin = await login(t.app, 'boss@example.com');
  adminAuth = { bearer: await createToken(t.app, admin) };
  const make = async (email: string, name: string, amount: string, ref: string) => {
    const { account, user } = await createClient(t.ctx, email, { name });
    const payment = await recordPayment(t.ctx, systemActor('test'), Number(account.id), {
      amount,
      method: 'bank',
      reference: ref,
    });
    const session = await login(t.app, email);
    const token = await createToken(t.app, session);
    const tokenId = (await request(t.app, 'GET', '/api/v1/me/tokens', { auth: session })).json().items[0].id;
    return {
      world: {
        accountId: Number(account.id),
        userId: Number(user.id),
        session,
        paymentId: Number(payment.id),
        tokenId,
      },
      token,
    };
  };
  alpha = (await make('alpha@example.com', 'Alpha Hosting', '12.34', 'ALPHA-REF-1')).world;
  const b = await make('bravo@example.com', 'Bravo Secret Industries', '777.77', 'BRAVO-REF-77');
  bravo = b.world;
  bravoToken = b.token;
  alphaBearer = await createToken(t.app, alpha.session, 'alpha-bearer');
});

afterAll(async () => {
  await t?.close();
});

/** Client A's request for B's object: 404 with `code`, no trace of B, identical to a missing id. */
async function expectHidden(method: Method, bravoUrl: string, missingUrl: string, code: string) {
  const before = await moneySnapshot(t.ctx);
  for (const auth of [alpha.session, { bearer: alphaBearer }] as Auth[]) {
    const res = await request(t.app, method, bravoUrl, { auth });
    const err = expectError(res, 404, code);
    expect(err.details).toEqual({});
    for (const secret of BRAVO_SECRETS) expect(res.body).not.toContain(secret);
    const missing = await request(t.app, method, missingUrl, { auth });
    expect(missing.body).toBe(res.body);
  }
  expect(await moneySnapshot(t.ctx)).toBe(before);
}

describe('a client sees only its own account (404, not 403, for another account)', () => {
  it('GET /accounts/:id', async () => {
    const own = await request(t.app, 'GET', `/api/v1/accounts/${alpha.accountId}`, { auth: alpha.session });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().name).toBe('Alpha Hosting');
    await expectHidden(
      'GET',
      `/api/v1/accounts/${bravo.accountId}`,
      `/api/v1/accounts/${MISSING}`,
      'account_not_found',
    );
  });

  it('GET /accounts/:id/balance', async () => {
    const own = await request(t.app, 'GET', `/api/v1/accounts/${alpha.accountId}/balance`, {
      auth: alpha.session,
    });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json()).toMatchObject({ accountId: alpha.accountId, balance: '12.34' });
    await expectHidden(
      'GET',
      `/api/v1/accounts/${bravo.accountId}/balance`,
      `/api/v1/accounts/${MISSING}/balance`,
      'account_not_found',
    );
  });

  it('GET /accounts/:id/ledger', async () => {
    const own = await request(t.app, 'GET', `/api/v1/accounts/${alpha.accountId}/ledger`, {
      auth: alpha.session,
    });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().items.map((e: { amount: string }) => e.amount)).toEqual(['12.34']);
    await expectHidden(
      'GET',
      `/api/v1/accounts/${bravo.accountId}/ledger`,
      `/api/v1/accounts/${MISSING}/ledger`,
      'account_not_found',
    );
  });

  it('GET /accounts/:id/payments', async () => {
    const own = await request(t.app, 'GET', `/api/v1/accounts/${alpha.accountId}/payments`, {
      auth: alpha.session,
    });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().items.map((p: { reference: string }) => p.reference)).toEqual(['ALPHA-REF-1']);
    await expectHidden(
      'GET',
      `/api/v1/accounts/${bravo.accountId}/payments`,
      `/api/v1/accounts/${MISSING}/payments`,
      'account_not_found',
    );
  });

  it('GET /accounts/:id/users', async () => {
    const own = await request(t.app, 'GET', `/api/v1/accounts/${alpha.accountId}/users`, {
      auth: alpha.session,
    });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().items.map((u: { email: string }) => u.email)).toEqual(['alpha@example.com']);
    await expectHidden(
      'GET',
      `/api/v1/accounts/${bravo.accountId}/users`,
      `/api/v1/accounts/${MISSING}/users`,
      'account_not_found',
    );
  });

  it('GET /payments/:id', async () => {
    const own = await request(t.app, 'GET', `/api/v1/payments/${alpha.paymentId}`, { auth: alpha.session });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json()).toMatchObject({ id: alpha.paymentId, reference: 'ALPHA-REF-1' });
    await expectHidden(
      'GET',
      `/api/v1/payments/${bravo.paymentId}`,
      `/api/v1/payments/${MISSING}`,
      'payment_not_found',
    );
  });

  it("DELETE /me/tokens/:id (another user's token)", async () => {
    await expectHidden(
      'DELETE',
      `/api/v1/me/tokens/${bravo.tokenId}`,
      `/api/v1/me/tokens/${MISSING}`,
      'api_token_not_found',
    );
    const row = await t.ctx.db.kysely
      .selectFrom('api_tokens')
      .select('revoked_at')
      .where('id', '=', bravo.tokenId)
      .executeTakeFirstOrThrow();
    expect(row.revoked_at).toBeNull();
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: bravoToken } })).statusCode).toBe(
      200,
    );
  });

  it('GET /me shows the own account only', async () => {
    const me = await request(t.app, 'GET', '/api/v1/me', { auth: alpha.session });
    expect(me.json().account.id).toBe(alpha.accountId);
    for (const secret of BRAVO_SECRETS) expect(me.body).not.toContain(secret);
  });

  it('staff see any account', async () => {
    for (const url of [
      `/api/v1/accounts/${bravo.accountId}`,
      `/api/v1/accounts/${bravo.accountId}/balance`,
      `/api/v1/accounts/${bravo.accountId}/ledger`,
      `/api/v1/accounts/${bravo.accountId}/payments`,
      `/api/v1/accounts/${bravo.accountId}/users`,
      `/api/v1/payments/${bravo.paymentId}`,
    ]) {
      const res = await request(t.app, 'GET', url, { auth: adminAuth });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
    }
  });
});

interface RouteCase {
  readonly name: string;
  readonly method: Method;
  readonly url: () => string;
  readonly body?: () => unknown;
}

const adminOnly: RouteCase[] = [
  { name: 'GET /accounts', method: 'GET', url: () => '/api/v1/accounts' },
  {
    name: 'POST /accounts',
    method: 'POST',
    url: () => '/api/v1/accounts',
    body: () => ({ name: 'Sneaky', email: 'sneaky@example.com' }),
  },
  {
    name: 'PATCH /accounts/:id',
    method: 'PATCH',
    url: () => `/api/v1/accounts/${alpha.accountId}`,
    body: () => ({ creditLimit: '1000.00' }),
  },
  {
    name: 'POST /accounts/:id/payments',
    method: 'POST',
    url: () => `/api/v1/accounts/${alpha.accountId}/payments`,
    body: () => ({ amount: '1000.00', method: 'bank', reference: 'SELF-CREDIT' }),
  },
  {
    name: 'POST /accounts/:id/adjustments',
    method: 'POST',
    url: () => `/api/v1/accounts/${alpha.accountId}/adjustments`,
    body: () => ({ amount: '1000.00', description: 'gift to myself' }),
  },
  {
    name: 'POST /accounts/:id/users',
    method: 'POST',
    url: () => `/api/v1/accounts/${alpha.accountId}/users`,
    body: () => ({ email: 'friend@example.com', password: 'friend-password-1' }),
  },
  { name: 'GET /users', method: 'GET', url: () => '/api/v1/users' },
  {
    name: 'POST /users',
    method: 'POST',
    url: () => '/api/v1/users',
    body: () => ({ email: 'new-admin@example.com', password: 'new-admin-password' }),
  },
  {
    name: 'PATCH /users/:id',
    method: 'PATCH',
    url: () => `/api/v1/users/${bravo.userId}`,
    body: () => ({ status: 'disabled' }),
  },
  { name: 'GET /provider', method: 'GET', url: () => '/api/v1/provider' },
  {
    name: 'PATCH /provider',
    method: 'PATCH',
    url: () => '/api/v1/provider',
    body: () => ({ name: 'Taken over' }),
  },
];

describe('admin-only routes → 403 forbidden for a client, nothing written', () => {
  it.each(adminOnly.map((r) => [r.name, r] as const))('%s', async (_name, route) => {
    const before = await moneySnapshot(t.ctx);
    const users = await t.ctx.db.kysely.selectFrom('users').select(['id', 'status']).orderBy('id').execute();
    const provider = await t.ctx.db.kysely.selectFrom('provider').selectAll().execute();
    for (const auth of [alpha.session, { bearer: alphaBearer }] as Auth[]) {
      const res = await request(t.app, route.method, route.url(), {
        auth,
        ...(route.body ? { body: route.body() } : {}),
      });
      expectError(res, 403, 'forbidden');
    }
    expect(await moneySnapshot(t.ctx)).toBe(before);
    expect(
      await t.ctx.db.kysely.selectFrom('users').select(['id', 'status']).orderBy('id').execute(),
    ).toEqual(users);
    expect(await t.ctx.db.kysely.selectFrom('provider').selectAll().execute()).toEqual(provider);
  });
});

const everyRoute: RouteCase[] = [
  ...adminOnly,
  { name: 'GET /me', method: 'GET', url: () => '/api/v1/me' },
  {
    name: 'POST /me/password',
    method: 'POST',
    url: () => '/api/v1/me/password',
    body: () => ({ currentPassword: 'x', newPassword: 'long-enough-password' }),
  },
  { name: 'GET /me/tokens', method: 'GET', url: () => '/api/v1/me/tokens' },
  { name: 'POST /me/tokens', method: 'POST', url: () => '/api/v1/me/tokens', body: () => ({ name: 'x' }) },
  { name: 'DELETE /me/tokens/:id', method: 'DELETE', url: () => `/api/v1/me/tokens/${alpha.tokenId}` },
  { name: 'GET /accounts/:id', method: 'GET', url: () => `/api/v1/accounts/${alpha.accountId}` },
  {
    name: 'GET /accounts/:id/balance',
    method: 'GET',
    url: () => `/api/v1/accounts/${alpha.accountId}/balance`,
  },
  {
    name: 'GET /accounts/:id/ledger',
    method: 'GET',
    url: () => `/api/v1/accounts/${alpha.accountId}/ledger`,
  },
  {
    name: 'GET /accounts/:id/payments',
    method: 'GET',
    url: () => `/api/v1/accounts/${alpha.accountId}/payments`,
  },
  { name: 'GET /accounts/:id/users', method: 'GET', url: () => `/api/v1/accounts/${alpha.accountId}/users` },
  { name: 'GET /payments/:id', method: 'GET', url: () => `/api/v1/payments/${alpha.paymentId}` },
];

describe('unauthenticated → 401', () => {
  it.each(everyRoute.map((r) => [r.name, r] as const))('%s', async (_name, route) => {
    const res = await request(t.app, route.method, route.url(), route.body ? { body: route.body() } : {});
    expectError(res, 401, 'unauthenticated');
  });

  it('an unauthenticated request is refused before its body is read (invalid JSON still → 401)', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/accounts',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    expectError(res, 401, 'unauthenticated');
  });
});
