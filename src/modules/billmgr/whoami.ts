import { formatAmount } from '../../domain/money.js';
import type { Call } from './licenses.js';
import { el, type MgrNode, mgrDoc } from './protocol.js';

/**
 * `whoami`: the signed-in user and, for a client, the account's balance and currency —
 * `<doc><user name="alpha@example.com" level="16" balance="92.50" currency="EUR"/></doc>`.
 * `whoami` is the mgr core's "who am I" function; BILLmanager client scripts read their
 * balance from its `user` element's `balance` attribute (json `doc.user.$balance`), and so
 * does Billfold's BILLmanager client when it resells from another Billfold. Read-only; staff
 * have no account, so no balance.
 */
export async function whoami(c: Call): Promise<MgrNode> {
  const { actor, userId, level } = c.caller;
  const user = await c.ctx.db.kysely
    .selectFrom('users')
    .select('email')
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  const attrs: Record<string, string> = { name: user.email, level: String(level) };
  if (actor.type === 'user' && actor.accountId !== null) {
    const account = await c.ctx.db.kysely
      .selectFrom('accounts')
      .select(['balance_minor', 'currency'])
      .where('id', '=', actor.accountId)
      .executeTakeFirstOrThrow();
    attrs.balance = formatAmount(account.balance_minor, account.currency);
    attrs.currency = account.currency;
  }
  return mgrDoc([el('user', null, attrs)]);
}
