import { sql } from 'kysely';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, lockRows, type Tx } from '../../platform/db/index.js';

const BATCH = 1000;

export interface CredentialHousekeeping {
  /** Sign-in attempts older than the retention. */
  readonly loginAttempts: number;
  /** `login_limit_keys` rows of emails and addresses with no attempt left. */
  readonly loginKeys: number;
  /** Web sessions past their expiry. */
  readonly sessions: number;
  /** BILLmanager API sessions idle past their hour. */
  readonly mgrSessions: number;
  /** One-time BILLmanager login keys used or expired. */
  readonly mgrLoginKeys: number;
  /** Password reset links expired more than a day ago. */
  readonly passwordResets: number;
}

/** How long a spent reset link is kept: the "three links an hour" limit counts the last hour's. */
const RESET_KEPT_MS = 24 * 60 * 60_000;

/**
 * Deletes what can no longer let anyone in nor count toward a limit, so these tables hold
 * what is live rather than everything ever written (an integration that signs in with
 * `func=auth` on every sync leaves a session each time; a password sprayer, an attempt and a
 * limit key per address):
 *
 * - sign-in attempts older than `BILLFOLD_LOGIN_ATTEMPTS_RETENTION_DAYS` (the limits read the
 *   last 15 minutes; the rest is kept for looking back at an attack);
 * - the limit keys of emails and addresses that have no attempt left; a sign-in that finds its
 *   key gone between creating and locking it makes it again (`reserveAttempt`);
 * - web sessions past `expires_at`, API sessions idle for `mgrSessionIdleMs` (both refused by
 *   then), used or expired one-time login keys, reset links expired over a day ago.
 *
 * Each kind goes `BATCH` rows a transaction, oldest first; on PostgreSQL rows another
 * transaction holds are skipped (a sign-in in progress), and a second process running this at
 * once takes other rows. One-time login keys, made one at a time by hand, go in one statement.
 */
export async function pruneCredentials(
  ctx: AppContext,
  opts: { readonly mgrSessionIdleMs: number; readonly retentionDays?: number; readonly batch?: number },
): Promise<CredentialHousekeeping> {
  const now = ctx.clock.now().getTime();
  const iso = (ms: number) => new Date(ms).toISOString();
  const days = opts.retentionDays ?? ctx.config.loginAttemptsRetentionDays;
  const batch = opts.batch ?? BATCH;
  const nowIso = iso(now);

  /** Runs `step` (which deletes up to `batch` rows and says how many) until a batch is short. */
  const inBatches = async (step: (tx: Tx) => Promise<number>): Promise<number> => {
    let total = 0;
    for (;;) {
      const n = await inTransaction(ctx.db, step);
      total += n;
      if (n < batch) return total;
    }
  };
  /** The rows of `table` that `pick` selects (and locks), deleted by id in batches. */
  const deleteAll = (
    table: 'login_attempts' | 'password_resets' | 'sessions' | 'mgr_sessions',
    pick: (tx: Tx) => Promise<{ id: number | bigint | string }[]>,
  ) =>
    inBatches(async (tx) => {
      const ids = (await pick(tx)).map((r) => r.id);
      if (ids.length > 0)
        await sql`delete from ${sql.table(table)} where id in (${sql.join(ids)})`.execute(tx);
      return ids.length;
    });

  const loginAttempts = await deleteAll('login_attempts', (tx) =>
    lockRows(
      tx,
      tx
        .selectFrom('login_attempts')
        .select('id')
        .where('created_at', '<', iso(now - days * 86_400_000))
        .orderBy('id')
        .limit(batch),
      { skipLocked: true },
    ).execute(),
  );

  let loginKeys = 0;
  for (const scope of ['email', 'ip'] as const) {
    loginKeys += await inBatches(async (tx) => {
      const keys = (
        await lockRows(
          tx,
          tx
            .selectFrom('login_limit_keys as k')
            .select('k.key')
            .where('k.scope', '=', scope)
            .where(({ not, exists, selectFrom }) =>
              not(
                exists(
                  selectFrom('login_attempts as a')
                    .select('a.id')
                    .whereRef(scope === 'email' ? 'a.email' : 'a.ip', '=', 'k.key'),
                ),
              ),
            )
            .orderBy('k.key')
            .limit(batch),
          { skipLocked: true },
        ).execute()
      ).map((r) => r.key);
      if (keys.length > 0)
        await tx.deleteFrom('login_limit_keys').where('scope', '=', scope).where('key', 'in', keys).execute();
      return keys.length;
    });
  }

  const sessions = await deleteAll('sessions', (tx) =>
    lockRows(
      tx,
      tx.selectFrom('sessions').select('id').where('expires_at', '<=', nowIso).orderBy('id').limit(batch),
      { skipLocked: true },
    ).execute(),
  );
  const mgrSessions = await deleteAll('mgr_sessions', (tx) =>
    lockRows(
      tx,
      tx
        .selectFrom('mgr_sessions')
        .select('id')
        .where('last_seen_at', '<=', iso(now - opts.mgrSessionIdleMs))
        .orderBy('last_seen_at')
        .limit(batch),
      { skipLocked: true },
    ).execute(),
  );
  const spentKeys = await ctx.db.kysely
    .deleteFrom('mgr_login_keys')
    .where((e) => e.or([e('used_at', 'is not', null), e('expires_at', '<=', nowIso)]))
    .executeTakeFirst();
  const passwordResets = await deleteAll('password_resets', (tx) =>
    lockRows(
      tx,
      tx
        .selectFrom('password_resets')
        .select('id')
        .where('expires_at', '<=', iso(now - RESET_KEPT_MS))
        .orderBy('id')
        .limit(batch),
      { skipLocked: true },
    ).execute(),
  );
  return {
    loginAttempts,
    loginKeys,
    sessions,
    mgrSessions,
    mgrLoginKeys: Number(spentKeys.numDeletedRows),
    passwordResets,
  };
}
