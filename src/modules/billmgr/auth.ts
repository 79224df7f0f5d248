import { randomBytes } from 'node:crypto';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import type { Conn, UserRow } from '../../platform/db/index.js';
import { prepareQuery } from '../../platform/db/prepared.js';
import { sha256 } from '../../platform/ids.js';
import { type Actor, isStaff } from '../accounts/actor.js';
import {
  authenticatePassword,
  checkThrottle,
  limitedAttempt,
  loginFailedSince,
  loginWindowStart,
  normalizeEmail,
  userToActor,
} from '../accounts/auth.js';
import { MgrFault, missed } from './errors.js';

/**
 * Who calls the BILLmanager API (PROTOCOL.md §2): `authinfo=user:password` on each request,
 * a session from `func=auth` (`auth=SID`, dies after an idle hour), or a one-time key made
 * with `session.newkey` (by staff for anyone, by a user for themself). Wrong credentials are `auth` errors and count toward the same
 * brute-force limits as the web sign-in.
 */
export const SESSION_IDLE_MS = 60 * 60_000;
/** last_seen_at is written at most this often, so a busy session does not write on every call. */
const TOUCH_EVERY_MS = 60_000;
export const LOGIN_KEY_TTL_MS = 60 * 60_000;
/**
 * `authinfo` sends the password with every request; argon2 takes tens of milliseconds by
 * design. A verified pair is remembered (as a hash, in memory) for a minute, and reused only
 * while the user's password hash and status are unchanged.
 */
const AUTHINFO_CACHE_MS = 60_000;

export interface MgrCaller {
  readonly actor: Actor;
  readonly userId: number;
  readonly level: number;
}

type CallerUser = Pick<UserRow, 'id' | 'role' | 'account_id' | 'status' | 'password_hash'>;

const cache = new WeakMap<AppContext, Map<string, { userId: number; passwordHash: string; until: number }>>();
const cacheOf = (ctx: AppContext) => {
  let c = cache.get(ctx);
  if (!c) {
    c = new Map();
    cache.set(ctx, c);
  }
  return c;
};

/** BILLmanager's access levels: 16 a client user, 29 an administrator [ours: the values its panels use]. */
const levelOf = (actor: Actor) => (isStaff(actor) ? 29 : 16);

function callerOf(user: CallerUser): MgrCaller {
  const actor = userToActor(user);
  return { actor, userId: Number(user.id), level: levelOf(actor) };
}

/** Users with their account's status: what decides whether a user may call. */
export const callers = (db: Conn) =>
  db
    .selectFrom('users as u')
    .leftJoin('accounts as a', 'a.id', 'u.account_id')
    .select(['u.id', 'u.role', 'u.account_id', 'u.status', 'u.password_hash', 'a.status as account_status']);

export type CallerRow = CallerUser & { account_status: string | null };
const usable = <T extends CallerRow>(user: T | undefined): T | undefined =>
  user?.status === 'active' && user.account_status !== 'closed' ? user : undefined;

/** An active user of an account that is not closed, or undefined. */
async function usableUser(
  ctx: AppContext,
  where: { id: number } | { email: string },
): Promise<CallerUser | undefined> {
  return usable(
    await callers(ctx.db.kysely)
      .$if('id' in where, (q) => q.where('u.id', '=', (where as { id: number }).id))
      .$if('email' in where, (q) =>
        q.where('u.email', '=', (where as { email: string }).email.trim().toLowerCase()),
      )
      .executeTakeFirst(),
  );
}

const badSession = () => new MgrFault('auth', 'The session has expired or does not exist; sign in again.');

/**
 * The caller's columns (callers) start every row of these reads; a function may read its own
 * columns in the same statement (CallerReads), named so as not to clash with them.
 */
export type SessionRow = CallerRow & { last_seen_at: string };
export type RememberedRow = CallerRow & { failed_recently: boolean | bigint };

/**
 * Reads that fetch the caller's row and, in the same statement, what a function needs (one row
 * or several per caller). `session` by the hash of a session id, `remembered` by the user id of
 * a remembered `authinfo` pair with the login limits' check (loginFailedSince); both find
 * nothing when the session or user does not exist.
 */
export interface CallerReads<R> {
  session(db: Conn, sessionHash: string): Promise<(SessionRow & R)[]>;
  remembered(
    db: Conn,
    userId: number,
    email: string,
    ip: string,
    since: string,
  ): Promise<(RememberedRow & R)[]>;
}

/** A session (by the hash of its id) with its user and the user's account. */
const sessionCaller = prepareQuery('mgr_session', 1, (db, id: string) =>
  callers(db)
    .innerJoin('mgr_sessions as s', 's.user_id', 'u.id')
    .select('s.last_seen_at')
    .where('s.id', '=', id),
);

/** A remembered `authinfo` user, and whether its email or the caller's address failed a sign-in since `since`. */
const rememberedCaller = prepareQuery(
  'mgr_authinfo',
  4,
  (db, userId: number, email: string, ip: string, since: string) =>
    callers(db)
      .select(loginFailedSince(email, ip, since).as('failed_recently'))
      .where('u.id', '=', userId),
);

const callerOnly: CallerReads<object> = { session: sessionCaller, remembered: rememberedCaller };

/** A session's caller: the session, its user and the account in one read (a write once a minute). */
async function bySession<R>(
  ctx: AppContext,
  sid: string,
  reads: CallerReads<R>,
): Promise<{ caller: MgrCaller; rows: R[] }> {
  const id = sha256(sid);
  const rows = await reads.session(ctx.db.kysely, id);
  const row = rows[0];
  const now = ctx.clock.now().getTime();
  const lastSeen = row ? Date.parse(row.last_seen_at) : Number.NaN;
  if (!row || lastSeen + SESSION_IDLE_MS <= now) throw badSession();
  const user = usable(row);
  if (!user) throw badSession();
  if (lastSeen + TOUCH_EVERY_MS <= now) {
    await ctx.db.kysely
      .updateTable('mgr_sessions')
      .set({ last_seen_at: isoNow(ctx.clock) })
      .where('id', '=', id)
      .execute();
  }
  return { caller: callerOf(user), rows };
}

/** Remembered `authinfo` pairs, at most this many (the oldest goes first). */
const AUTHINFO_CACHE_MAX = 10_000;

/**
 * The caller of an `authinfo` pair; `rows` are the reads' rows when the pair was remembered
 * and still holds, null when it was checked with argon2 (the reads did not run).
 */
async function byAuthinfo<R>(
  ctx: AppContext,
  authinfo: string,
  ip: string,
  reads: CallerReads<R>,
): Promise<{ caller: MgrCaller; rows: R[] | null }> {
  const colon = authinfo.indexOf(':');
  if (colon <= 0) throw new MgrFault('auth', 'authinfo must be user:password.');
  const username = authinfo.slice(0, colon);
  const password = authinfo.slice(colon + 1);
  const key = sha256(`${username.trim().toLowerCase()}\u0000${password}`);
  const c = cacheOf(ctx);
  const hit = c.get(key);
  const now = ctx.clock.now().getTime();
  if (hit && hit.until > now) {
    // One read: the user as it is now, and whether its email or the caller's address failed a
    // sign-in lately. The limits hold for a remembered password too, so when one did, the
    // full check decides (a blocked email or address is refused).
    const rows = await reads.remembered(
      ctx.db.kysely,
      hit.userId,
      normalizeEmail(username),
      ip,
      loginWindowStart(now),
    );
    const row = rows[0];
    if (row && Number(row.failed_recently) !== 0) await checkThrottle(ctx, username, ip);
    const user = usable(row);
    if (user && user.password_hash === hit.passwordHash) return { caller: callerOf(user), rows };
    c.delete(key);
  }
  const user = await authenticatePassword(ctx, username, password, ip);
  c.delete(key);
  c.set(key, { userId: Number(user.id), passwordHash: user.password_hash, until: now + AUTHINFO_CACHE_MS });
  if (c.size > AUTHINFO_CACHE_MAX) c.delete(c.keys().next().value as string);
  return { caller: callerOf(user), rows: null };
}

/** The caller of a request, or null when it carries no credentials (public functions). */
export async function resolveCaller(
  ctx: AppContext,
  p: Record<string, string>,
  ip: string,
): Promise<MgrCaller | null> {
  return (await resolveCallerReading(ctx, p, ip, callerOnly))?.caller ?? null;
}

/**
 * resolveCaller, reading what a function needs in the statement that reads the caller (one
 * round trip instead of two for the calls repeated most). The checks are resolveCaller's, in
 * its order, on the same rows. `rows` is null when the caller was not found by those reads
 * (an `authinfo` pair checked with argon2): the function reads for itself.
 */
export async function resolveCallerReading<R>(
  ctx: AppContext,
  p: Record<string, string>,
  ip: string,
  reads: CallerReads<R>,
): Promise<{ caller: MgrCaller; rows: R[] | null } | null> {
  if (p.auth) return bySession(ctx, p.auth, reads);
  if (p.authinfo !== undefined) return byAuthinfo(ctx, p.authinfo, ip, reads);
  return null;
}

async function newSession(ctx: AppContext, userId: number): Promise<string> {
  const sid = randomBytes(16).toString('hex');
  const now = isoNow(ctx.clock);
  await ctx.db.kysely
    .insertInto('mgr_sessions')
    .values({ id: sha256(sid), user_id: userId, created_at: now, last_seen_at: now })
    .execute();
  return sid;
}

/** `func=auth`: with a password, or with a one-time key (`checkcookie=no`). Returns the session id and level. */
export async function mgrLogin(ctx: AppContext, p: Record<string, string>, ip: string) {
  const username = p.username;
  if (!username) throw missed('username');
  let user: CallerUser | undefined;
  if (p.key !== undefined) {
    const key = p.key;
    // A key is a secret like a password: each try counts toward the same limits.
    const spentBy = await limitedAttempt(ctx, username, ip, async () => {
      const target = await usableUser(ctx, { email: username });
      if (!target) return null;
      const now = isoNow(ctx.clock);
      // One use only: the key is spent by the update that finds it unused and unexpired.
      const spent = await ctx.db.kysely
        .updateTable('mgr_login_keys')
        .set({ used_at: now })
        .where('key_hash', '=', sha256(key))
        .where('user_id', '=', target.id)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(spent.numUpdatedRows) === 1 ? target : null;
    });
    if (!spentBy) throw new MgrFault('auth', 'The key is wrong, used or expired.');
    user = spentBy;
  } else {
    if (p.password === undefined) throw missed('password');
    user = await authenticatePassword(ctx, username, p.password, ip);
  }
  const caller = callerOf(user);
  return { sid: await newSession(ctx, caller.userId), level: caller.level };
}

/**
 * `func=session.newkey`: a key that lets a user in once (single sign-on). Anyone may make one
 * for their own login (ISPsystem's reseller module does, to open the panel it signed in to);
 * only staff for another user. A client naming anyone else — existing or not — gets `access`
 * before anything else is looked at, so it learns nothing about other logins.
 */
export async function mgrNewKey(
  ctx: AppContext,
  caller: MgrCaller,
  p: Record<string, string>,
): Promise<void> {
  if (!p.username) throw missed('username');
  const target = await usableUser(ctx, { email: p.username });
  if (!isStaff(caller.actor) && (target === undefined || Number(target.id) !== caller.userId))
    throw new MgrFault('access', 'Only staff can make login keys for other users.');
  if (!p.key) throw missed('key');
  if (p.key.length < 16 || p.key.length > 256)
    throw new MgrFault('value', 'The key must be 16 to 256 characters.', 'key');
  if (!target) throw new MgrFault('value', 'No such user.', 'username', p.username);
  const now = ctx.clock.now();
  await ctx.db.kysely
    .insertInto('mgr_login_keys')
    .values({
      key_hash: sha256(p.key),
      user_id: target.id,
      created_by_user_id: caller.userId,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + LOGIN_KEY_TTL_MS).toISOString(),
      used_at: null,
    })
    .onConflict((oc) => oc.column('key_hash').doNothing())
    .execute();
}
