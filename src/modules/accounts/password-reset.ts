import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, lockRows } from '../../platform/db/index.js';
import { invalid } from '../../platform/errors.js';
import { randomToken, sha256, toId } from '../../platform/ids.js';
import { queueMail } from '../notify/outbox.js';
import { hashPassword } from './passwords.js';
import { signOutUser } from './sign-out.js';

/**
 * Password reset by mail: a request mails a one-time link; the token is random (256 bits),
 * stored only as its SHA-256, valid for an hour, used once (a conditional update, so two
 * confirmations at once cannot both use it). The request answers the same whatever the address
 * (no account enumeration): an unknown or disabled address simply gets no mail, nor does one
 * already mailed `RESETS_PER_HOUR` links in the last hour. A new password ends every session
 * of the user (BILLmanager API sessions too), revokes its API tokens, and spends every other
 * outstanding reset link.
 */
export const RESET_TTL_MS = 60 * 60_000;
/**
 * Links a user may be mailed per `RESET_TTL_MS`: more requests answer the same and mail nothing,
 * so nobody can flood an address (or the outbox) through the public endpoint.
 */
export const RESETS_PER_HOUR = 3;

export async function requestPasswordReset(ctx: AppContext, email: string): Promise<void> {
  const user = await ctx.db.kysely
    .selectFrom('users')
    .select(['id', 'email', 'account_id', 'status'])
    .where('email', '=', email.trim().toLowerCase())
    .executeTakeFirst();
  if (user?.status !== 'active') return;
  const token = randomToken(32);
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + RESET_TTL_MS).toISOString();
  await inTransaction(ctx.db, async (tx) => {
    // The user's row, locked: concurrent requests count one after the other.
    await lockRows(tx, tx.selectFrom('users').select('id').where('id', '=', user.id)).execute();
    const recent = await tx
      .selectFrom('password_resets')
      .select((e) => e.fn.countAll<bigint>().as('n'))
      .where('user_id', '=', user.id)
      .where('created_at', '>', new Date(now.getTime() - RESET_TTL_MS).toISOString())
      .executeTakeFirstOrThrow();
    if (Number(recent.n) >= RESETS_PER_HOUR) return;
    const row = await tx
      .insertInto('password_resets')
      .values({
        user_id: user.id,
        token_hash: sha256(token),
        created_at: now.toISOString(),
        expires_at: expiresAt,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await queueMail(tx, ctx, {
      accountId: user.account_id === null ? null : toId(user.account_id),
      kind: 'password_reset',
      to: user.email,
      facts: {
        resetUrl: `${ctx.config.publicUrl}/reset-password?token=${token}`,
        expiresAt,
      },
      dedupeKey: `password_reset:${toId(row.id)}`,
    });
  });
}

export async function confirmPasswordReset(
  ctx: AppContext,
  token: string,
  newPassword: string,
): Promise<void> {
  const refused = () =>
    invalid('reset_token_invalid', 'This reset link is unknown, expired or used already. Ask for a new one.');
  const now = isoNow(ctx.clock);
  const found = await ctx.db.kysely
    .selectFrom('password_resets')
    .select(['id', 'user_id'])
    .where('token_hash', '=', sha256(token))
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!found) throw refused();
  const hash = await hashPassword(newPassword);
  await inTransaction(ctx.db, async (tx) => {
    const used = await tx
      .updateTable('password_resets')
      .set({ used_at: now })
      .where('id', '=', found.id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(used.numUpdatedRows) !== 1) throw refused();
    await tx
      .updateTable('users')
      .set({ password_hash: hash, updated_at: now })
      .where('id', '=', found.user_id)
      .execute();
    // The password may have been someone else's to use: nothing they opened with it stays.
    await signOutUser(tx, toId(found.user_id), { tokens: true, now });
    await tx
      .updateTable('password_resets')
      .set({ used_at: now })
      .where('user_id', '=', found.user_id)
      .where('used_at', 'is', null)
      .execute();
  });
}
