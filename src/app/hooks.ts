import { systemActor } from '../modules/accounts/actor.js';
import { payAwaitingOrdersTx } from '../modules/orders/commands.js';
import type { AppHooks } from '../platform/context.js';

/**
 * The hooks modules call instead of importing each other: accounts and services credit money,
 * orders knows what waits for it.
 */
export const appHooks: AppHooks = {
  async afterCredit(tx, ctx, accountId) {
    await payAwaitingOrdersTx(tx, ctx, systemActor('payments'), accountId);
  },
};
