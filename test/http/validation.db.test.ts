import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLedgerBalanced } from '../helpers/context.js';
import {
  type Auth,
  countRows,
  createAdmin,
  createClient,
  createHttpTest,
  createToken,
  type ErrorPayload,
  expectError,
  type HttpTest,
  login,
  type Method,
  moneySnapshot,
  request,
  type Session,
} from '../helpers/http.js';

/**
 * Bad input → 400 with a stable code and nothing written. One file-wide world: every
 * request here is refused, and each test proves it by comparing the database before/after.
 */
let t: HttpTest;
let admin: Session;
let bearer: Auth;
let accountId: number;

beforeAll(async () => {
  t = await createHttpTest();
  await createAdmin(t.ctx, 'boss@example.com');
  const { account } = await createClient(t.ctx, 'ann@example.com');
  accountId = Number(account.id);
  admin = await login(t.app, 'boss@example.com');
  bearer = { bearer: await createToken(t.app, admin) };
});
afterAll(async () => {
  await t?.close();
});

interface Issue {
  path: string;
  code: string;
  message: string;
}

/** Sends a request that must be refused with 400 `code` and must not change any table. */
async function refused(
  method: Method,
  url: string,
  body: unknown,
  code: string,
  auth: Auth | null = bearer,
): Promise<ErrorPayload & { details: { issues?: Issue[]; in?: string } }> {
  const counts = await countRows(t.ctx);
  const money = await moneySnapshot(t.ctx);
  const provider = await t.ctx.db.kysely.selectFrom('provider').selectAll().execute();
  const res = await request(t.app, method, url, {
    auth: auth ?? undefined,
    ...(body === undefined ? {} : { body }),
  });
  const err = expectError(res, 400, code);
  expect(await countRows(t.ctx)).toEqual(counts);
  expect(await moneySnapshot(t.ctx)).toBe(money);
  expect(await t.ctx.db.kysely.selectFrom('provider').selectAll().execute()).toEqual(provider);
  return err as ErrorPayload & { details: { issues?: Issue[]; in?: string } };
}

const payments = () => `/api/v1/accounts/${accountId}/payments`;
const payment = (amount: unknown) => ({ amount, method: 'bank', reference: `REF-${String(amount)}` });

describe('emails and passwords', () => {
  it.each(['not-an-email', 'a@', '@example.com', 'a b@example.com', 'ann@@example.com', ''])(
    'a malformed email %j → 400 validation_failed with issue invalid_email',
    async (email) => {
      const err = await refused('POST', '/api/v1/accounts', { name: 'X', email }, 'validation_failed');
      expect(err.details.in).toBe('body');
      expect(err.details.issues).toContainEqual(
        expect.objectContaining({ path: 'email', code: 'invalid_email' }),
      );
    },
  );

  it('a malformed email is refused for new users as well', async () => {
    const err = await refused(
      'POST',
      `/api/v1/accounts/${accountId}/users`,
      { email: 'nope', password: 'long-enough-password' },
      'validation_failed',
    );
    expect(err.details.issues).toContainEqual(
      expect.objectContaining({ path: 'email', code: 'invalid_email' }),
    );
  });

  it('a short password → 400 validation_failed (too_small) on every route that sets one', async () => {
    for (const [url, body] of [
      ['/api/v1/users', { email: 'new@example.com', password: 'short' }],
      [`/api/v1/accounts/${accountId}/users`, { email: 'new@example.com', password: '123456789' }],
      ['/api/v1/accounts', { name: 'New', email: 'new@example.com', password: 'short' }],
    ] as const) {
      const err = await refused('POST', url, body, 'validation_failed');
      expect(err.details.issues).toContainEqual(
        expect.objectContaining({ path: 'password', code: 'too_small' }),
      );
    }
  });

  it('a missing required field → 400 validation_failed naming it', async () => {
    const err = await refused('POST', '/api/v1/accounts', { name: 'X' }, 'validation_failed');
    expect(err.details.issues).toEqual([expect.objectContaining({ path: 'email', code: 'required' })]);
  });

  it('an email already taken → 409 email_taken, nothing written', async () => {
    const before = await countRows(t.ctx);
    const res = await request(t.app, 'POST', '/api/v1/accounts', {
      auth: bearer,
      body: { name: 'Dup', email: 'ANN@example.com', password: 'long-enough-password' },
    });
    expectError(res, 409, 'email_taken');
    expect(await countRows(t.ctx)).toEqual(before);
  });
});

describe('amounts', () => {
  it('a negative payment amount → 400 invalid_amount', async () => {
    await refused('POST', payments(), payment('-5.00'), 'invalid_amount');
    await expectLedgerBalanced(t.ctx);
  });

  it.each(['1,00', '1e3', 'abc', '', ' 1.00', '1.', '.5', '+1.00', '1 000', '0x10', '١٢'])(
    'a malformed amount %j → 400 validation_failed (invalid_format)',
    async (amount) => {
      const err = await refused('POST', payments(), payment(amount), 'validation_failed');
      expect(err.details.issues).toContainEqual(
        expect.objectContaining({ path: 'amount', code: 'invalid_format' }),
      );
      await expectLedgerBalanced(t.ctx);
    },
  );

  it('an amount as a JSON number → 400 validation_failed (invalid_type): amounts are strings', async () => {
    const err = await refused('POST', payments(), payment(100), 'validation_failed');
    expect(err.details.issues).toContainEqual(
      expect.objectContaining({ path: 'amount', code: 'invalid_type' }),
    );
    await expectLedgerBalanced(t.ctx);
  });

  it('more decimals than the currency has ("1.001" EUR) → 400 amount_too_precise', async () => {
    const err = await refused('POST', payments(), payment('1.001'), 'amount_too_precise');
    expect(err.details).toMatchObject({ field: 'amount', value: '1.001', currency: 'EUR' });
    await refused('POST', payments(), payment('0.001'), 'amount_too_precise');
    await expectLedgerBalanced(t.ctx);
  });

  it.each(['0', '0.00', '-0', '000.00'])('a zero amount %j → 400 invalid_amount', async (amount) => {
    await refused('POST', payments(), payment(amount), 'invalid_amount');
    await expectLedgerBalanced(t.ctx);
  });

  it('an absurdly large amount → 400 amount_too_large or invalid_amount, never a credit', async () => {
    await refused('POST', payments(), payment('100000000000.01'), 'amount_too_large');
    await refused('POST', payments(), payment('1234567890123456789'), 'invalid_amount');
    await refused('POST', payments(), payment('9'.repeat(41)), 'validation_failed');
    await expectLedgerBalanced(t.ctx);
  });

  it('a zero or malformed adjustment → 400', async () => {
    const url = `/api/v1/accounts/${accountId}/adjustments`;
    await refused('POST', url, { amount: '0.00', description: 'nothing' }, 'invalid_amount');
    await refused('POST', url, { amount: '-1,5', description: 'comma' }, 'validation_failed');
    await refused('POST', url, { amount: '-1.005', description: 'too precise' }, 'amount_too_precise');
    await expectLedgerBalanced(t.ctx);
  });

  it('a malformed or negative credit limit → 400', async () => {
    await refused(
      'POST',
      '/api/v1/accounts',
      { name: 'X', email: 'x@example.com', creditLimit: '1e3' },
      'validation_failed',
    );
    await refused(
      'POST',
      '/api/v1/accounts',
      { name: 'X', email: 'x@example.com', creditLimit: '-10.00' },
      'invalid_amount',
    );
    await refused('PATCH', `/api/v1/accounts/${accountId}`, { creditLimit: '10.001' }, 'amount_too_precise');
    await expectLedgerBalanced(t.ctx);
  });
});

describe('currencies', () => {
  it.each(['XYZ', 'eur', 'EURO', '', 'E1R'])(
    'an unknown currency %j → 400 validation_failed',
    async (currency) => {
      const err = await refused(
        'POST',
        '/api/v1/accounts',
        { name: 'X', email: 'x@example.com', currency },
        'validation_failed',
      );
      expect(err.details.issues?.length).toBeGreaterThan(0);
      expect(err.details.issues?.every((i) => i.path === 'currency')).toBe(true);
      await refused('PATCH', '/api/v1/provider', { currency }, 'validation_failed');
    },
  );
});

describe('unknown fields', () => {
  it('an unknown body field → 400 unknown_field naming the field', async () => {
    const err = await refused(
      'POST',
      '/api/v1/accounts',
      { name: 'X', email: 'x@example.com', balance: '1000000.00' },
      'unknown_field',
    );
    expect(err.message).toContain('balance');
    expect(err.details.in).toBe('body');
    expect(err.details.issues).toEqual([
      { path: 'balance', code: 'unknown_field', message: 'Unknown field "balance".' },
    ]);
  });

  it('unknown fields on money routes → 400 unknown_field, no credit', async () => {
    const err = await refused(
      'POST',
      payments(),
      { amount: '10.00', method: 'bank', reference: 'R', accountId: 2, currency: 'USD' },
      'unknown_field',
    );
    expect(err.details.issues?.map((i) => i.path).sort()).toEqual(['accountId', 'currency']);
    await refused(
      'POST',
      `/api/v1/accounts/${accountId}/adjustments`,
      { amount: '10.00', description: 'x', kind: 'payment' },
      'unknown_field',
    );
    await expectLedgerBalanced(t.ctx);
  });

  it('unknown fields on users, provider, tokens and login → 400 unknown_field', async () => {
    const users = await t.ctx.db.kysely
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'client')
      .executeTakeFirstOrThrow();
    await refused(
      'POST',
      '/api/v1/users',
      { email: 'n@example.com', password: 'long-enough-password', role: 'admin' },
      'unknown_field',
    );
    await refused('PATCH', `/api/v1/users/${users.id}`, { status: 'active', role: 'admin' }, 'unknown_field');
    await refused('PATCH', '/api/v1/provider', { name: 'P', id: 2 }, 'unknown_field');
    await refused('POST', '/api/v1/me/tokens', { name: 'x', userId: 1 }, 'unknown_field');
    await refused(
      'POST',
      '/api/v1/auth/login',
      { email: 'boss@example.com', password: 'x', remember: true },
      'unknown_field',
      null,
    );
  });

  it('an unknown query parameter → 400 unknown_field (in querystring)', async () => {
    const err = await refused('GET', '/api/v1/accounts?limit=10&sort=name', undefined, 'unknown_field');
    expect(err.details.in).toBe('querystring');
    expect(err.details.issues).toEqual([expect.objectContaining({ path: 'sort', code: 'unknown_field' })]);
  });

  it('several unknown fields are all named', async () => {
    const err = await refused(
      'POST',
      '/api/v1/accounts',
      { name: 'X', email: 'x@example.com', a: 1, b: 2 },
      'unknown_field',
    );
    expect(err.message).toMatch(/a, b/);
  });
});

describe('malformed requests', () => {
  it('an invalid JSON body → 400 invalid_json', async () => {
    const counts = await countRows(t.ctx);
    for (const payload of ['{"name": "X", ', '{name: "X"}', "{'a':1}", '[1,2', 'nul']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/accounts',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${(bearer as { bearer: string }).bearer}`,
        },
        payload,
      });
      expectError(res, 400, 'invalid_json');
    }
    expect(await countRows(t.ctx)).toEqual(counts);
  });

  it('a JSON body that is not an object → 400 validation_failed', async () => {
    for (const body of [[1], 'text', 42, null]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/accounts',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${(bearer as { bearer: string }).bearer}`,
        },
        payload: JSON.stringify(body),
      });
      expectError(res, 400, 'validation_failed');
    }
  });

  it('a missing body on a route that needs one → 400 validation_failed, not invalid_json', async () => {
    for (const headers of [{}, { 'content-type': 'application/json' }]) {
      const res = await t.app.inject({
        method: 'POST',
        url: payments(),
        headers: { ...headers, authorization: `Bearer ${(bearer as { bearer: string }).bearer}` },
      });
      expectError(res, 400, 'validation_failed');
    }
  });

  it('an empty JSON body on a route without a body is accepted (logout, DELETE)', async () => {
    const s = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, s);
    const id = (await request(t.app, 'GET', '/api/v1/me/tokens', { auth: s })).json().items[0].id;
    const del = await request(t.app, 'DELETE', `/api/v1/me/tokens/${id}`, {
      auth: s,
      headers: { 'content-type': 'application/json' },
    });
    expect(del.statusCode, del.body).toBe(200);
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } }), 401, 'invalid_token');
    const out = await request(t.app, 'POST', '/api/v1/auth/logout', {
      auth: s,
      headers: { 'content-type': 'application/json' },
    });
    expect(out.statusCode, out.body).toBe(204);
  });

  it.each(['abc', '0', '-1', '1.5', '99999999999999999999', '%20'])(
    'a non-numeric or non-positive id %j → 400 validation_failed (in params)',
    async (id) => {
      const err = await refused('GET', `/api/v1/accounts/${id}`, undefined, 'validation_failed');
      expect(err.details.in).toBe('params');
      expect(err.details.issues?.[0]?.path).toBe('id');
    },
  );

  it('a non-numeric id on a write route → 400, nothing written', async () => {
    await refused('POST', '/api/v1/accounts/abc/payments', payment('10.00'), 'validation_failed');
    await refused('PATCH', '/api/v1/users/abc', { status: 'disabled' }, 'validation_failed');
    await refused('DELETE', '/api/v1/me/tokens/abc', undefined, 'validation_failed');
  });

  it('a bad page size → 400 validation_failed', async () => {
    for (const q of ['limit=0', 'limit=501', 'limit=ten', 'before=-1']) {
      await refused('GET', `/api/v1/accounts/${accountId}/ledger?${q}`, undefined, 'validation_failed');
    }
  });

  it('a cross-site form post (cookie, form-encoded, no CSRF header) → 403 csrf_token_invalid, nothing written', async () => {
    const counts = await countRows(t.ctx);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/accounts',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `bf_session=${admin.cookie}` },
      payload: 'name=Evil&email=evil%40example.com',
    });
    expectError(res, 403, 'csrf_token_invalid');
    expect(await countRows(t.ctx)).toEqual(counts);
  });
});
