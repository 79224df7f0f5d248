import type { AppContext } from '../../platform/context.js';
import type { ServiceRow, ServiceStatus } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { type Actor, isStaff } from '../accounts/actor.js';
import { getServiceFor } from './commands.js';
import { operationsOfService } from './retention.js';

export interface ServiceFilter {
  readonly accountId?: number | undefined;
  readonly status?: ServiceStatus | undefined;
  readonly tariffId?: number | undefined;
  readonly expiresBefore?: string | undefined;
  /** A product type code (`soft`, `vds`, …). */
  readonly productType?: string | undefined;
  readonly moduleId?: number | undefined;
  /** Expiring between these days, both included (YYYY-MM-DD). */
  readonly expiresFrom?: string | undefined;
  readonly expiresTo?: string | undefined;
  readonly limit: number;
  readonly before?: number | undefined;
}

/** Clients see their own services; staff see all, filtered. Newest first, keyset-paginated. */
export async function listServices(ctx: AppContext, actor: Actor, f: ServiceFilter): Promise<ServiceRow[]> {
  let q = ctx.db.kysely.selectFrom('services').selectAll().orderBy('id', 'desc').limit(f.limit);
  if (!isStaff(actor)) q = q.where('account_id', '=', actor.type === 'user' ? (actor.accountId ?? -1) : -1);
  else if (f.accountId) q = q.where('account_id', '=', f.accountId);
  if (f.status) q = q.where('status', '=', f.status);
  if (f.tariffId) q = q.where('tariff_id', '=', f.tariffId);
  if (f.expiresBefore) q = q.where('expires_on', '<', f.expiresBefore);
  if (f.expiresFrom) q = q.where('expires_on', '>=', f.expiresFrom);
  if (f.expiresTo) q = q.where('expires_on', '<=', f.expiresTo);
  if (f.moduleId) q = q.where('module_id', '=', f.moduleId);
  if (f.productType) {
    const code = f.productType;
    q = q.where('product_type_id', 'in', (eb) =>
      eb.selectFrom('product_types').select('id').where('code', '=', code),
    );
  }
  if (f.before) q = q.where('id', '<', f.before);
  return q.execute();
}

export async function serviceDetail(ctx: AppContext, actor: Actor, id: number) {
  const service = await getServiceFor(ctx, actor, id);
  const [charges, operations, account] = await Promise.all([
    ctx.db.kysely
      .selectFrom('service_charges')
      .selectAll()
      .where('service_id', '=', id)
      .orderBy('id')
      .execute(),
    operationsOfService(ctx.db.kysely, id),
    ctx.db.kysely
      .selectFrom('accounts')
      .select('currency')
      .where('id', '=', toId(service.account_id))
      .executeTakeFirstOrThrow(),
  ]);
  return { service, charges, operations, currency: account.currency };
}

export async function serviceHistory(ctx: AppContext, actor: Actor, id: number) {
  await getServiceFor(ctx, actor, id);
  // With the acting user's role: a client's page says "You" or "Staff", never a user id.
  return ctx.db.kysely
    .selectFrom('service_history as h')
    .leftJoin('users as u', 'u.id', 'h.actor_user_id')
    .selectAll('h')
    .select('u.role as actor_role')
    .where('h.service_id', '=', id)
    .orderBy('h.id')
    .execute();
}
