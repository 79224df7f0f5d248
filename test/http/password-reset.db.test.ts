import { afterEach, beforeEach, expect, it } from 'vitest';
import { expectLedgerBalanced } from '../helpers/context.js';
import {
  createToken,
  expectError,
  login,
  loginRequest,
  mgrSession,
  mgrSessionWorks,
  request,
} from '../helpers/http.js';
import { call, ok, openShop, type Shop } from '../helpers/shop.js';

/**
 * Password reset by mail: the same answer for a known and an unknown address; the mail carries
 * a one-time link; the token works once, within the hour, and ends the user's sessions.
 */
let shop: Shop;
beforeEach(async () => {
  shop = await openShop();
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const resetMails = () =>
  shop.ctx.db.kysely
    .selectFrom('deliveries')
    .selectAll()
    .where('kind', '=', 'password_reset')
    .orderBy('id')
    .execute();

async function tokenFromLatestMail(to: string): Promise<string> {
  const mails = (await resetMails()).filter((d) => d.target === to);
  const text = (JSON.parse(mails.at(-1)!.payload) as { text: string }).text;
  return /reset-password\?token=([A-Za-z0-9_-]+)/.exec(text)![1]!;
}

const ask = (email: string) =>
  request(shop.t.app, 'POST', '/api/v1/auth/password-reset', { body: { email } });
const confirm = (token: string, newPassword: string) =>
  request(shop.t.app, 'POST', '/api/v1/auth/password-reset/confirm', { body: { token, newPassword } });

it('a known and an unknown address get the same answer; only the known one gets a mail', async () => {
  const unknown = await ask('nobody@example.com');
  const known = await ask('Alpha@Example.com');
  expect(unknown.statusCode).toBe(202);
  expect(known.statusCode).toBe(202);
  expect(unknown.body).toBe(known.body);
  const mails = await resetMails();
  expect(mails.map((m) => m.target)).toEqual(['alpha@example.com']);
  const mail = JSON.parse(mails[0]!.payload) as { subject: string; text: string };
  expect(mail.subject).toBe('Reset your password');
  expect(mail.text).toMatch(
    /open http:\/\/localhost:8080\/reset-password\?token=[A-Za-z0-9_-]{43} before 16 December 2021/,
  );
  // The token is stored only as its hash.
  const token = await tokenFromLatestMail('alpha@example.com');
  const stored = await shop.ctx.db.kysely.selectFrom('password_resets').select('token_hash').execute();
  expect(stored.map((s) => s.token_hash)).not.toContain(token);
  // Staff see that the mail went, not the link.
  const detail = ok(await call(shop, 'GET', `/api/v1/deliveries/${mails[0]!.id}`, shop.admin));
  expect(detail.payload).toEqual({ redacted: true });
});

it('the link sets a new password once, ends the sessions, revokes the API tokens, and is then refused', async () => {
  const before = await login(shop.t.app, 'alpha@example.com');
  const apiToken = await createToken(shop.t.app, before);
  const mgr = await mgrSession(shop.t.app, 'alpha@example.com');
  expect(await mgrSessionWorks(shop.t.app, mgr)).toBe(true);
  await ask('alpha@example.com');
  const token = await tokenFromLatestMail('alpha@example.com');
  expectError(await confirm(token, 'short'), 400, 'validation_failed');
  // A refused confirmation changed nothing.
  expect(await mgrSessionWorks(shop.t.app, mgr)).toBe(true);
  expect((await request(shop.t.app, 'GET', '/api/v1/me', { auth: { bearer: apiToken } })).statusCode).toBe(
    200,
  );
  expect((await confirm(token, 'a-brand-new-password-1')).statusCode).toBe(204);
  expect((await request(shop.t.app, 'GET', '/api/v1/me', { auth: before })).statusCode).toBe(401);
  // Whoever knew the old password kept nothing: API sessions end, API tokens are revoked.
  expect(await mgrSessionWorks(shop.t.app, mgr)).toBe(false);
  expectError(
    await request(shop.t.app, 'GET', '/api/v1/me', { auth: { bearer: apiToken } }),
    401,
    'invalid_token',
  );
  expect((await loginRequest(shop.t.app, 'alpha@example.com', 'a-brand-new-password-1')).statusCode).toBe(
    200,
  );
  expectError(await confirm(token, 'another-password-22'), 400, 'reset_token_invalid');
  expectError(await confirm('not-a-token', 'another-password-22'), 400, 'reset_token_invalid');
});

it('a link expires after an hour; a newer password makes older links useless', async () => {
  await ask('bravo@example.com');
  const old = await tokenFromLatestMail('bravo@example.com');
  shop.ctx.clock.advance(61 * 60_000);
  expectError(await confirm(old, 'bravo-new-password-1'), 400, 'reset_token_invalid');
  await ask('bravo@example.com');
  const first = await tokenFromLatestMail('bravo@example.com');
  await ask('bravo@example.com');
  const second = await tokenFromLatestMail('bravo@example.com');
  expect((await confirm(second, 'bravo-new-password-1')).statusCode).toBe(204);
  expectError(await confirm(first, 'bravo-new-password-2'), 400, 'reset_token_invalid');
});

it('at most three links an hour per user: more requests get the same answer and no mail (found in review)', async () => {
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await ask('alpha@example.com'));
  expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 202, 202, 202]);
  expect(new Set(answers.map((a) => a.body)).size).toBe(1);
  expect(await resetMails()).toHaveLength(3);
  // An hour later the user may ask again.
  shop.ctx.clock.advance(60 * 60_000 + 1);
  await ask('alpha@example.com');
  expect(await resetMails()).toHaveLength(4);
});
