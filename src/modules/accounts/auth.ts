import { timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RawBuilder, sql } from 'kysely';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import {
  type AccountRow,
  type Conn,
  type IdValue,
  inTransaction,
  lockRows,
  type UserRow,
} from '../../platform/db/index.js';
import { AppError, conflict, invalid, notFound } from '../../platform/errors.js';
import { newApiToken, randomToken, sha256 } from '../../platform/ids.js';
import type { Actor } from './actor.js';
import { insertAccount } from './commands.js';
import { dummyPasswordHash, hashPassword, verifyPassword } from './passwords.js';
import { MAX_EMAIL_LENGTH } from './schemas.js';
import { signOutUser } from './sign-out.js';

/**
 * Brute-force protection, stored in the database so it holds across processes and restarts:
 * at most 5 failed logins per email and 30 per client IP in a sliding 15-minute window.
 * A success clears the email's count (failures before it no longer count).
 */
export const LOGIN_WINDOW_MS = 15 * 60_000;
export const MAX_FAILURES_PER_EMAIL = 5;
export const MAX_FAILURES_PER_IP = 30;

export interface LoginResult {
  readonly user: UserRow;
  /** The cookie value; only its hash is stored. */
  readonly sessionToken: string;
  readonly csrfToken: string;
  readonly expiresAt: string;
}

const invalidCredentials = () =>
  new AppError('unauthenticated', 'invalid_credentials', 'The email or password is wrong.');

const tooManyAttempts = (retryAfterSeconds: number) =>
  new AppError(
    'rate_limited',
    'too_many_login_attempts',
    'Too many failed sign-in attempts. Try again later.',
    {
      retryAfterSeconds,
    },
  );

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export function userToActor(user: Pick<UserRow, 'id' | 'role' | 'account_id'>): Actor {
  return user.role === 'admin'
    ? { type: 'user', userId: Number(user.id), role: 'admin', accountId: null }
    : { type: 'user', userId: Number(user.id), role: 'client', accountId: Number(user.account_id) };
}

/** An attempt still unsettled after this long was abandoned (its process died): a failure. */
const IN_FLIGHT_STALE_MS = 60_000;
/** How long an attempt waits for attempts in flight to settle before it is refused unchecked. */
export const LOGIN_WAIT_MS = 5_000;
const LOGIN_POLL_MS = 20;

interface LimitState {
  /** Seconds until the settled failures let the email and the IP try again; null: they may now. */
  readonly blockedFor: number | null;
  /** The same, counting the attempts still being checked as failures. */
  readonly blockedWithInFlightFor: number | null;
}

async function limitState(db: Conn, email: string, ip: string, now: number): Promise<LimitState> {
  const since = new Date(now - LOGIN_WINDOW_MS).toISOString();
  // "Since the last success" is decided by row id, not by time: attempts made in the same
  // millisecond as the success (or all of them, under a test's fixed clock) still count.
  const lastSuccess = await db
    .selectFrom('login_attempts')
    .select('id')
    .where('email', '=', email)
    .where('outcome', '=', 'success')
    .where('created_at', '>', since)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  const [byEmail, byIp] = await Promise.all([
    db
      .selectFrom('login_attempts')
      .select(['created_at', 'settled_at'])
      .where('email', '=', email)
      .where('outcome', '=', 'failure')
      .where('created_at', '>', since)
      .$if(lastSuccess !== undefined, (q) => q.where('id', '>', lastSuccess!.id))
      .orderBy('id', 'asc')
      .execute(),
    db
      .selectFrom('login_attempts')
      .select(['created_at', 'settled_at'])
      .where('ip', '=', ip)
      .where('outcome', '=', 'failure')
      .where('created_at', '>', since)
      .orderBy('id', 'asc')
      .execute(),
  ]);
  type Row = (typeof byEmail)[number];
  const blocked = (rows: Row[], max: number) => {
    if (rows.length < max) return null;
    // Unblocked when the oldest failure that still counts leaves the window.
    const oldest = rows[rows.length - max]!;
    return Math.max(1, Math.ceil((Date.parse(oldest.created_at) + LOGIN_WINDOW_MS - now) / 1000));
  };
  const settled = (r: Row) => r.settled_at !== null || Date.parse(r.created_at) <= now - IN_FLIGHT_STALE_MS;
  const either = (pick: (rows: Row[]) => Row[]) =>
    blocked(pick(byEmail), MAX_FAILURES_PER_EMAIL) ?? blocked(pick(byIp), MAX_FAILURES_PER_IP);
  return {
    blockedFor: either((rows) => rows.filter(settled)),
    blockedWithInFlightFor: either((rows) => rows),
  };
}

/**
 * An SQL condition, true when `email` or `ip` failed a sign-in within the limits' window: a
 * caller that checks no secret can ask it in the same query as its user, and needs the full
 * `checkThrottle` only when it is true (nobody can be blocked without a failure in the window).
 */
export function loginFailedRecently(emailRaw: string, ip: string, now: number): RawBuilder<boolean | bigint> {
  return loginFailedSince(normalizeEmail(emailRaw), ip, loginWindowStart(now));
}

/** When the limits' window began, as `login_attempts.created_at` holds it. */
export const loginWindowStart = (now: number): string => new Date(now - LOGIN_WINDOW_MS).toISOString();

/**
 * loginFailedRecently with its values worked out by the caller (`email` normalised, `since`
 * from loginWindowStart), each used as a parameter only: for a prepared query (prepareQuery).
 */
export function loginFailedSince(email: string, ip: string, since: string): RawBuilder<boolean | bigint> {
  return sql<boolean | bigint>`(exists (select 1 from login_attempts
      where email = ${email} and outcome = 'failure' and created_at > ${since})
    or exists (select 1 from login_attempts
      where ip = ${ip} and outcome = 'failure' and created_at > ${since}))`;
}

/**
 * Refuses a blocked email or IP without counting an attempt: for a caller that checks no
 * secret (a remembered `authinfo` pair) but must still be held to the limits.
 */
export async function checkThrottle(ctx: AppContext, emailRaw: string, ip: string): Promise<void> {
  const { blockedFor } = await limitState(
    ctx.db.kysely,
    normalizeEmail(emailRaw),
    ip,
    ctx.clock.now().getTime(),
  );
  if (blockedFor !== null) throw tooManyAttempts(blockedFor);
}

/**
 * Reserves a place for one attempt among its email's and IP's failures: locks their
 * `login_limit_keys` rows (always email, then IP: two attempts never wait on each other),
 * counts, and records the attempt as a failure in flight. Refuses at the limit; returns null,
 * writing nothing, when only attempts still in flight make the limit.
 */
async function reserveAttempt(ctx: AppContext, email: string, ip: string): Promise<IdValue | null> {
  return inTransaction(ctx.db, async (tx) => {
    for (const [scope, key] of [
      ['email', email],
      ['ip', ip],
    ] as const) {
      // The key's row is made if missing, then locked. Housekeeping deletes the rows of keys
      // with no attempt left (pruneCredentials) and may take this one between the two
      // statements: then it is made again, so every attempt counts under the lock.
      for (;;) {
        await tx
          .insertInto('login_limit_keys')
          .values({ scope, key })
          .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
          .execute();
        const locked = await lockRows(
          tx,
          tx.selectFrom('login_limit_keys').select('key').where('scope', '=', scope).where('key', '=', key),
        ).execute();
        if (locked.length > 0) break;
      }
    }
    const state = await limitState(tx, email, ip, ctx.clock.now().getTime());
    if (state.blockedFor !== null) throw tooManyAttempts(state.blockedFor);
    if (state.blockedWithInFlightFor !== null) return null;
    const row = await tx
      .insertInto('login_attempts')
      .values({ email, ip, outcome: 'failure', created_at: isoNow(ctx.clock), settled_at: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  });
}

/**
 * Waits, holding no lock, until the attempts in flight settle. Refuses when they settle as
 * failures, or when they take longer than `giveUpAt` (real time: a pinned clock stands still).
 */
async function waitForInFlight(ctx: AppContext, email: string, ip: string, giveUpAt: number): Promise<void> {
  for (;;) {
    await sleep(LOGIN_POLL_MS);
    const state = await limitState(ctx.db.kysely, email, ip, ctx.clock.now().getTime());
    if (state.blockedFor !== null) throw tooManyAttempts(state.blockedFor);
    if (state.blockedWithInFlightFor === null) return;
    if (Date.now() >= giveUpAt) throw tooManyAttempts(state.blockedWithInFlightFor);
  }
}

/**
 * Runs one sign-in attempt — a password, an `authinfo` pair or a one-time key — within the
 * limits, counted *before* its secret is checked, so parallel guesses cannot all be checked:
 *
 * 1. reserve (`reserveAttempt`): at the limit, 429 `too_many_login_attempts`; at the limit
 *    only by counting attempts still being checked, wait for them (they may succeed) for at
 *    most LOGIN_WAIT_MS and try again; otherwise the attempt is recorded as a failure in
 *    flight (`settled_at` null);
 * 2. `check` runs outside any transaction (argon2 takes tens of milliseconds) and returns what
 *    it authenticated, or null;
 * 3. settle: a success becomes one (which resets the email's count); anything else — a wrong
 *    secret, an exception — stays a failure. A crash leaves the attempt in flight: after
 *    IN_FLIGHT_STALE_MS it counts as a settled failure.
 */
export async function limitedAttempt<T>(
  ctx: AppContext,
  emailRaw: string,
  ip: string,
  check: () => Promise<T | null>,
): Promise<T | null> {
  const email = normalizeEmail(emailRaw);
  // No user has a longer address: nothing to check, nothing to count (and no over-long key to
  // store — /billmgr user names come unbounded).
  if (email.length > MAX_EMAIL_LENGTH) return null;
  const giveUpAt = Date.now() + LOGIN_WAIT_MS;
  let attemptId = await reserveAttempt(ctx, email, ip);
  while (attemptId === null) {
    await waitForInFlight(ctx, email, ip, giveUpAt);
    attemptId = await reserveAttempt(ctx, email, ip);
  }
  let result: T | null = null;
  try {
    result = await check();
    return result;
  } finally {
    await ctx.db.kysely
      .updateTable('login_attempts')
      .set({ outcome: result === null ? 'failure' : 'success', settled_at: isoNow(ctx.clock) })
      .where('id', '=', attemptId)
      .execute();
  }
}

/** Verifies email + password; the answer to a wrong email and a wrong password is the same, in the same time. */
export async function authenticatePassword(
  ctx: AppContext,
  emailRaw: string,
  password: string,
  ip: string,
): Promise<UserRow> {
  const email = normalizeEmail(emailRaw);
  const user = await limitedAttempt(ctx, email, ip, async () => {
    const user = await ctx.db.kysely
      .selectFrom('users')
      .selectAll()
      .where('email', '=', email)
      .executeTakeFirst();
    const ok = await verifyPassword(user?.password_hash ?? (await dummyPasswordHash()), password);
    if (!ok || user === undefined || user.status !== 'active') return null;
    if (user.account_id !== null) {
      const account = await ctx.db.kysely
        .selectFrom('accounts')
        .select('status')
        .where('id', '=', user.account_id)
        .executeTakeFirst();
      if (account === undefined || account.status === 'closed') return null;
    }
    return user;
  });
  if (!user) throw invalidCredentials();
  return user;
}

export async function login(
  ctx: AppContext,
  input: { email: string; password: string; ip: string; userAgent?: string | undefined },
): Promise<LoginResult> {
  const user = await authenticatePassword(ctx, input.email, input.password, input.ip);
  return startSession(ctx, user, input);
}

/** A new browser session of `user`: the cookie value and the CSRF token (only its hash is stored). */
async function startSession(
  ctx: AppContext,
  user: UserRow,
  input: { ip: string; userAgent?: string | undefined },
): Promise<LoginResult> {
  const sessionToken = randomToken(32);
  const csrfToken = randomToken(24);
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + ctx.config.sessionTtlHours * 3_600_000).toISOString();
  await inTransaction(ctx.db, async (tx) => {
    await tx
      .insertInto('sessions')
      .values({
        id: sha256(sessionToken),
        user_id: user.id,
        csrf_token: csrfToken,
        ip: input.ip,
        user_agent: input.userAgent?.slice(0, 500) ?? null,
        created_at: now.toISOString(),
        last_seen_at: now.toISOString(),
        expires_at: expiresAt,
      })
      .execute();
    await tx
      .updateTable('users')
      .set({ last_login_at: now.toISOString() })
      .where('id', '=', user.id)
      .execute();
    // Housekeeping: expired sessions of this user go now rather than piling up.
    await tx
      .deleteFrom('sessions')
      .where('user_id', '=', user.id)
      .where('expires_at', '<=', now.toISOString())
      .execute();
  });
  return { user, sessionToken, csrfToken, expiresAt };
}

/**
 * Someone creates their own client account (when the provider allows it, else 403
 * `signup_disabled`) and is signed in, as `login` would sign them in. The account is in the
 * provider's currency with no credit. The attempt runs within the sign-in limits
 * (`limitedAttempt`, keyed by the email and the IP): a refused one (`email_taken`) counts as a
 * failure, so addresses cannot be probed faster than passwords can be guessed. Two sign-ups
 * with one email at once: the unique indexes let one win, the other is 409 `email_taken`.
 */
export async function signUp(
  ctx: AppContext,
  input: { name: string; email: string; password: string; ip: string; userAgent?: string | undefined },
): Promise<LoginResult & { account: AccountRow }> {
  const provider = await ctx.db.kysely
    .selectFrom('provider')
    .select(['signup', 'currency'])
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  if (provider.signup !== 'open')
    throw new AppError(
      'forbidden',
      'signup_disabled',
      'This provider does not take sign-ups: ask them to create your account.',
    );
  const email = normalizeEmail(input.email);
  const created = await limitedAttempt(ctx, email, input.ip, () =>
    insertAccount(
      ctx,
      { name: input.name, email, currency: provider.currency, creditLimit: 0n },
      input.password,
    ),
  );
  // insertAccount returns or throws; null would only come from a check that declined.
  const { account, user } = created!;
  return { ...(await startSession(ctx, user!, input)), account };
}

export async function logout(ctx: AppContext, sessionToken: string): Promise<void> {
  await ctx.db.kysely.deleteFrom('sessions').where('id', '=', sha256(sessionToken)).execute();
}

export interface ResolvedSession {
  readonly actor: Actor;
  readonly csrfToken: string;
}

/** Cookie → actor, or null when the session is unknown, expired, or its user can no longer sign in. */
export async function resolveSession(ctx: AppContext, sessionToken: string): Promise<ResolvedSession | null> {
  const now = isoNow(ctx.clock);
  const row = await ctx.db.kysely
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .leftJoin('accounts as a', 'a.id', 'u.account_id')
    .select([
      's.id as sid',
      's.csrf_token',
      's.expires_at',
      's.last_seen_at',
      'u.id',
      'u.role',
      'u.account_id',
      'u.status',
      'a.status as account_status',
    ])
    .where('s.id', '=', sha256(sessionToken))
    .executeTakeFirst();
  if (!row || row.expires_at <= now || row.status !== 'active' || row.account_status === 'closed')
    return null;
  // last_seen_at is written at most once a minute: reads stay reads.
  if (Date.parse(now) - Date.parse(row.last_seen_at) > 60_000) {
    await ctx.db.kysely
      .updateTable('sessions')
      .set({ last_seen_at: now })
      .where('id', '=', row.sid)
      .execute();
  }
  return { actor: userToActor(row), csrfToken: row.csrf_token };
}

/** Constant-time comparison of the CSRF header with the session's token. */
export function csrfMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A user changes their own password. The current one is checked within the sign-in limits
 * (`limitedAttempt`, keyed by the user's email and the caller's IP), so a stolen session
 * cannot be used to guess it faster than the sign-in page allows. On success every other
 * session of the user ends, BILLmanager API sessions included; the one that asked
 * (`keepSessionToken`, null when the call came with an API token) stays signed in. API tokens
 * are left alone: they are credentials of their own, listed beside the form and revoked one by
 * one (signOutUser).
 */
export async function changePassword(
  ctx: AppContext,
  actor: Actor,
  input: { currentPassword: string; newPassword: string; ip: string; keepSessionToken: string | null },
): Promise<void> {
  if (actor.type !== 'user') throw new AppError('forbidden', 'forbidden', 'Only users have a password.');
  if (input.newPassword === input.currentPassword)
    throw invalid('password_unchanged', 'The new password is the same as the current one.', {
      field: 'newPassword',
    });
  const user = await getUser(ctx, actor.userId);
  const ok = await limitedAttempt(ctx, user.email, input.ip, async () =>
    (await verifyPassword(user.password_hash, input.currentPassword)) ? true : null,
  );
  if (!ok)
    throw invalid('current_password_wrong', 'The current password is wrong.', { field: 'currentPassword' });
  const hash = await hashPassword(input.newPassword);
  await inTransaction(ctx.db, async (tx) => {
    // Only over the hash that was checked: a change made meanwhile (another session) wins.
    const updated = await tx
      .updateTable('users')
      .set({ password_hash: hash, updated_at: isoNow(ctx.clock) })
      .where('id', '=', user.id)
      .where('password_hash', '=', user.password_hash)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1)
      throw conflict('password_changed_meanwhile', 'The password was changed meanwhile; sign in again.');
    await signOutUser(tx, Number(user.id), {
      keepSessionToken: input.keepSessionToken,
      tokens: false,
      now: isoNow(ctx.clock),
    });
  });
}

export async function createApiToken(ctx: AppContext, actor: Actor, name: string) {
  if (actor.type !== 'user') throw new AppError('forbidden', 'forbidden', 'Only users own API tokens.');
  const token = newApiToken();
  const row = await ctx.db.kysely
    .insertInto('api_tokens')
    .values({
      user_id: actor.userId,
      name,
      token_hash: sha256(token),
      token_hint: `${token.slice(0, 7)}…`,
      created_at: isoNow(ctx.clock),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token, row };
}

/**
 * An API token for the user with this email, made outside the API (`billfold token create`,
 * for scripts): the same token `POST /me/tokens` makes when that user asks.
 */
export async function createApiTokenForEmail(ctx: AppContext, email: string, name: string) {
  const user = await ctx.db.kysely
    .selectFrom('users')
    .selectAll()
    .where('email', '=', email.trim().toLowerCase())
    .executeTakeFirst();
  if (!user) throw notFound('user', { email });
  if (user.status !== 'active')
    throw conflict('user_disabled', `The user ${user.email} is disabled: a token of theirs would not work.`, {
      email: user.email,
    });
  return createApiToken(ctx, userToActor(user), name);
}

export async function listApiTokens(ctx: AppContext, actor: Actor) {
  if (actor.type !== 'user') return [];
  return listUserTokens(ctx, actor.userId);
}

/** A user's API tokens, newest first (hints only: the token itself is never stored). */
export async function listUserTokens(ctx: AppContext, userId: number) {
  return ctx.db.kysely
    .selectFrom('api_tokens')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('id', 'desc')
    .execute();
}

/** Revokes one of the caller's own tokens; another user's token id is reported as missing. */
export async function revokeApiToken(ctx: AppContext, actor: Actor, tokenId: number) {
  if (actor.type !== 'user') throw notFound('api_token');
  return revokeUserToken(ctx, actor.userId, tokenId);
}

/**
 * Revokes a token of this user (its owner asking, or staff): a token id of another user is
 * reported as missing; revoking again keeps the first revocation time.
 */
export async function revokeUserToken(ctx: AppContext, userId: number, tokenId: number) {
  const row = await ctx.db.kysely
    .selectFrom('api_tokens')
    .selectAll()
    .where('id', '=', tokenId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) throw notFound('api_token');
  if (row.revoked_at) return row;
  return ctx.db.kysely
    .updateTable('api_tokens')
    .set({ revoked_at: isoNow(ctx.clock) })
    .where('id', '=', tokenId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function resolveApiToken(ctx: AppContext, token: string): Promise<Actor | null> {
  const row = await ctx.db.kysely
    .selectFrom('api_tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .leftJoin('accounts as a', 'a.id', 'u.account_id')
    .select([
      't.id as tid',
      't.revoked_at',
      't.last_used_at',
      'u.id',
      'u.role',
      'u.account_id',
      'u.status',
      'a.status as account_status',
    ])
    .where('t.token_hash', '=', sha256(token))
    .executeTakeFirst();
  if (!row || row.revoked_at !== null || row.status !== 'active' || row.account_status === 'closed')
    return null;
  const now = isoNow(ctx.clock);
  if (!row.last_used_at || Date.parse(now) - Date.parse(row.last_used_at) > 60_000) {
    await ctx.db.kysely
      .updateTable('api_tokens')
      .set({ last_used_at: now })
      .where('id', '=', row.tid)
      .execute();
  }
  return userToActor(row);
}

export async function getUser(ctx: AppContext, userId: number): Promise<UserRow> {
  const user = await ctx.db.kysely
    .selectFrom('users')
    .selectAll()
    .where('id', '=', userId)
    .executeTakeFirst();
  if (!user) throw notFound('user');
  return user;
}
