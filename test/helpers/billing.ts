import type { Actor } from '../../src/modules/accounts/actor.js';
import { systemActor } from '../../src/modules/accounts/actor.js';
import { createAccount, recordPayment } from '../../src/modules/accounts/commands.js';
import { createTariff } from '../../src/modules/catalog/commands.js';
import type { CreateTariffInput } from '../../src/modules/catalog/schemas.js';
import { placeOrder } from '../../src/modules/orders/commands.js';
import type { OrderItemInput } from '../../src/modules/orders/schemas.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import type { AppContext } from '../../src/platform/context.js';
import { freshIp } from './ips.js';

export const staff = systemActor('test');

let refs = 0;
/** A client account with a login-less actor and an optional opening balance. */
export async function client(
  ctx: AppContext,
  email: string,
  balance?: string,
): Promise<{ accountId: number; actor: Actor }> {
  const { account, user } = await createAccount(ctx, staff, {
    name: email,
    email,
    password: 'client-password-1',
  });
  const accountId = Number(account.id);
  if (balance)
    await recordPayment(ctx, staff, accountId, {
      amount: balance,
      method: 'manual',
      reference: `seed-${++refs}-${email}`,
    });
  return { accountId, actor: { type: 'user', userId: Number(user!.id), role: 'client', accountId } };
}

export async function pay(ctx: AppContext, accountId: number, amount: string) {
  return recordPayment(ctx, staff, accountId, { amount, method: 'manual', reference: `pay-${++refs}` });
}

export const licenseTariff = (ctx: AppContext, extra: Partial<CreateTariffInput> = {}) =>
  createTariff(ctx, staff, {
    name: 'ISPmanager Lite',
    productType: 'soft',
    periods: [1, 12],
    prices: { '1': '10.00' },
    ...extra,
  });

/** Orders one license service, pays now, completes the open operation; returns the service id. */
export async function orderLicense(
  ctx: AppContext,
  actor: Actor,
  tariffId: number,
  item: Partial<OrderItemInput> = {},
): Promise<number> {
  const { order } = await placeOrder(ctx, actor, {
    items: [{ tariffId, period: 1, params: { ip: freshIp(), licname: 'lic-1' }, ...item }],
    payNow: true,
  });
  await runQueuedOperations(ctx);
  const row = await ctx.db.kysely
    .selectFrom('order_items')
    .select('service_id')
    .where('order_id', '=', order.id)
    .executeTakeFirstOrThrow();
  return Number(row.service_id);
}

export async function service(ctx: AppContext, id: number) {
  return ctx.db.kysely.selectFrom('services').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

export async function balance(ctx: AppContext, accountId: number): Promise<bigint> {
  const a = await ctx.db.kysely
    .selectFrom('accounts')
    .select('balance_minor')
    .where('id', '=', accountId)
    .executeTakeFirstOrThrow();
  return a.balance_minor;
}
