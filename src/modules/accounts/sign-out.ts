import type { Tx } from '../../platform/db/index.js';
import { sha256 } from '../../platform/ids.js';

/**
 * Ends a user's ways in, in the caller's transaction: every web session (but `keepSessionToken`,
 * the one that asked, when given) and every BILLmanager API session (`func=auth`: a session
 * opened with the old password is ended with it; `authinfo` pairs are checked against the
 * password itself). API tokens are revoked only when `tokens` says so: they are credentials of
 * their own, which a user who knows the password keeps, and which a reset or a disabled user
 * must not leave behind.
 *
 * - a password change: other sessions, the API sessions; tokens stay;
 * - a password reset (the password may have been someone else's to use): everything;
 * - a user disabled by staff: everything.
 */
export async function signOutUser(
  tx: Tx,
  userId: number,
  opts: { readonly keepSessionToken?: string | null; readonly tokens: boolean; readonly now: string },
): Promise<void> {
  const keep = opts.keepSessionToken ?? null;
  await tx
    .deleteFrom('sessions')
    .where('user_id', '=', userId)
    .$if(keep !== null, (q) => q.where('id', '!=', sha256(keep!)))
    .execute();
  await tx.deleteFrom('mgr_sessions').where('user_id', '=', userId).execute();
  if (opts.tokens)
    await tx
      .updateTable('api_tokens')
      .set({ revoked_at: opts.now })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
}
