import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAdmin,
  createClient,
  createHttpTest,
  createToken,
  expectError,
  type HttpTest,
  login,
  request,
} from '../helpers/http.js';

/**
 * Staff see and revoke any user's API tokens (GET /users/{id}/tokens, DELETE
 * /users/{id}/tokens/{tokenId}): the staff settings page lists each staff user's tokens. The
 * token itself is never shown (only its hint); only its owner makes one.
 */

let t: HttpTest;
beforeEach(async () => {
  t = await createHttpTest();
});
afterEach(async () => {
  await t.close();
});

describe("staff and other users' API tokens", () => {
  it('staff list a user’s tokens by hint, newest first; the token values never appear', async () => {
    await createAdmin(t.ctx, 'boss@example.com');
    await createAdmin(t.ctx, 'ops@example.com');
    const boss = await login(t.app, 'boss@example.com');
    const ops = await login(t.app, 'ops@example.com');
    const first = await createToken(t.app, ops, 'deploy');
    const second = await createToken(t.app, ops, 'backup');
    await createToken(t.app, boss, 'mine');

    const res = await request(t.app, 'GET', `/api/v1/users/${ops.userId}/tokens`, { auth: boss });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).not.toContain(first);
    expect(res.body).not.toContain(second);
    const items = res.json().items;
    expect(items.map((i: { name: string }) => i.name)).toEqual(['backup', 'deploy']);
    expect(items[1]).toMatchObject({ hint: `${first.slice(0, 7)}…`, revokedAt: null });
    expect(items[1]).not.toHaveProperty('token');

    expectError(
      await request(t.app, 'GET', '/api/v1/users/999999/tokens', { auth: boss }),
      404,
      'user_not_found',
    );
  });

  it('staff revoke a user’s token: it stops working at once; again keeps the first time', async () => {
    await createAdmin(t.ctx, 'boss@example.com');
    await createClient(t.ctx, 'ann@example.com');
    const boss = await login(t.app, 'boss@example.com');
    const ann = await login(t.app, 'ann@example.com');
    const token = await createToken(t.app, ann, 'script');
    const id = (await request(t.app, 'GET', `/api/v1/users/${ann.userId}/tokens`, { auth: boss })).json()
      .items[0].id;
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } })).statusCode).toBe(200);

    const res = await request(t.app, 'DELETE', `/api/v1/users/${ann.userId}/tokens/${id}`, { auth: boss });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ id, name: 'script', revokedAt: '2021-12-16T10:00:00.000Z' });
    expectError(await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } }), 401, 'invalid_token');
    t.ctx.clock.advance(60_000);
    const again = await request(t.app, 'DELETE', `/api/v1/users/${ann.userId}/tokens/${id}`, { auth: boss });
    expect(again.json().revokedAt).toBe('2021-12-16T10:00:00.000Z');
  });

  it('a token id under another user → 404 api_token_not_found, and the token keeps working', async () => {
    await createAdmin(t.ctx, 'boss@example.com');
    await createAdmin(t.ctx, 'ops@example.com');
    const boss = await login(t.app, 'boss@example.com');
    const ops = await login(t.app, 'ops@example.com');
    const token = await createToken(t.app, ops);
    const id = (await request(t.app, 'GET', '/api/v1/me/tokens', { auth: ops })).json().items[0].id;
    expectError(
      await request(t.app, 'DELETE', `/api/v1/users/${boss.userId}/tokens/${id}`, { auth: boss }),
      404,
      'api_token_not_found',
    );
    expect((await request(t.app, 'GET', '/api/v1/me', { auth: { bearer: token } })).statusCode).toBe(200);
    const rows = await t.ctx.db.kysely.selectFrom('api_tokens').select('revoked_at').execute();
    expect(rows).toEqual([{ revoked_at: null }]);
  });

  it('clients may not list or revoke anyone’s tokens here → 403 forbidden', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const ann = await login(t.app, 'ann@example.com');
    await createToken(t.app, ann);
    const id = (await request(t.app, 'GET', '/api/v1/me/tokens', { auth: ann })).json().items[0].id;
    expectError(
      await request(t.app, 'GET', `/api/v1/users/${ann.userId}/tokens`, { auth: ann }),
      403,
      'forbidden',
    );
    expectError(
      await request(t.app, 'DELETE', `/api/v1/users/${ann.userId}/tokens/${id}`, { auth: ann }),
      403,
      'forbidden',
    );
    const rows = await t.ctx.db.kysely.selectFrom('api_tokens').select('revoked_at').execute();
    expect(rows).toEqual([{ revoked_at: null }]);
  });
});
