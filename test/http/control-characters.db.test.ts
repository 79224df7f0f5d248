import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  moneySnapshot,
  request,
} from '../helpers/http.js';

/**
 * Text that no field accepts (issue 11): a NUL byte made PostgreSQL fail with a 500 while
 * SQLite stored it. Every request string — body, query, path, and the keys of bodies — is
 * checked before any handler runs: C0 control characters other than tab, LF and CR, unpaired
 * surrogates and U+FFFE/U+FFFF are `400 invalid_characters` naming the field, on both engines,
 * and nothing is written.
 */
let t: HttpTest;
let bearer: Auth;
let accountId: number;

beforeAll(async () => {
  t = await createHttpTest();
  await createAdmin(t.ctx, 'boss@example.com');
  const { account } = await createClient(t.ctx, 'ann@example.com');
  accountId = Number(account.id);
  bearer = { bearer: await createToken(t.app, await login(t.app, 'boss@example.com')) };
});
afterAll(async () => {
  await t?.close();
});

/** Everything the requests below could write. */
async function state(): Promise<string> {
  const tariffs = await t.ctx.db.kysely.selectFrom('tariffs').selectAll().orderBy('id').execute();
  const tokens = await t.ctx.db.kysely
    .selectFrom('api_tokens')
    .select(['id', 'name'])
    .orderBy('id')
    .execute();
  const accounts = await t.ctx.db.kysely
    .selectFrom('accounts')
    .select(['id', 'name'])
    .orderBy('id')
    .execute();
  return JSON.stringify(
    { counts: await countRows(t.ctx), money: await moneySnapshot(t.ctx), tariffs, tokens, accounts },
    (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
  );
}

/** Expects `400 invalid_characters` naming `param` (in `where`), and that nothing changed. */
async function refused(
  send: () => Promise<LightMyRequestResponse>,
  param: string,
  where: 'body' | 'querystring' | 'params',
): Promise<ErrorPayload> {
  const before = await state();
  const err = expectError(await send(), 400, 'invalid_characters');
  expect(err.details).toMatchObject({ in: where, param });
  expect(err.details.issues).toContainEqual(
    expect.objectContaining({ path: param, code: 'invalid_characters' }),
  );
  expect(err.message).toContain(JSON.stringify(param));
  expect(await state()).toBe(before);
  return err;
}

const post = (url: string, body: unknown) => () => request(t.app, 'POST', url, { auth: bearer, body });
const tariff = (name: string, prices: Record<string, string> = { '1': '7.50' }) => ({
  name,
  productType: 'soft',
  periods: [1],
  prices,
});

describe('a NUL byte in a named field → 400 invalid_characters, nothing written', () => {
  it('the token name (/me/tokens)', async () => {
    const err = await refused(post('/api/v1/me/tokens', { name: 'ci\u0000bot' }), 'name', 'body');
    expect(err.message).toContain('U+0000');
  });

  it('the account name', () =>
    refused(post('/api/v1/accounts', { name: 'Evil\u0000 Ltd', email: 'evil@example.com' }), 'name', 'body'));

  it('the payment reference', () =>
    refused(
      post(`/api/v1/accounts/${accountId}/payments`, {
        amount: '10.00',
        method: 'bank',
        reference: 'R-1\u0000',
      }),
      'reference',
      'body',
    ));

  it('the tariff name, and a price nested in the body (path prices.1)', async () => {
    await refused(post('/api/v1/tariffs', tariff('\u0000Lite')), 'name', 'body');
    await refused(post('/api/v1/tariffs', tariff('Lite', { '1': '7.50\u0000' })), 'prices.1', 'body');
  });

  it('a query parameter and a path parameter', async () => {
    await refused(
      () => request(t.app, 'GET', '/api/v1/accounts?limit=%00', { auth: bearer }),
      'limit',
      'querystring',
    );
    await refused(() => request(t.app, 'GET', '/api/v1/accounts/1%00', { auth: bearer }), 'id', 'params');
  });

  it('a key of the body', () =>
    refused(post('/api/v1/me/tokens', { 'na\u0000me': 'x' }), 'na\u0000me', 'body'));
});

describe('which characters', () => {
  it.each([
    ['\u0001', 'U+0001'],
    ['\u0008', 'U+0008'],
    ['\u000b', 'U+000B'],
    ['\u000c', 'U+000C'],
    ['\u001b', 'U+001B'],
    ['\u001f', 'U+001F'],
    ['\ud800', 'U+D800'],
    ['\ufffe', 'U+FFFE'],
    ['\uffff', 'U+FFFF'],
  ])('%j is refused like NUL', async (char, code) => {
    const err = await refused(post('/api/v1/me/tokens', { name: `a${char}b` }), 'name', 'body');
    expect(err.message).toContain(code);
  });

  it('tab, LF, CR, DEL and astral characters are text: accepted and stored as sent', async () => {
    const name = 'a\tb\nc\rd\u007fe 😀 é';
    const res = await request(t.app, 'POST', '/api/v1/me/tokens', { auth: bearer, body: { name } });
    expect(res.statusCode, res.body).toBe(201);
    const id = (res.json() as { id: number }).id;
    const row = await t.ctx.db.kysely
      .selectFrom('api_tokens')
      .select('name')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.name).toBe(name);
  });
});
