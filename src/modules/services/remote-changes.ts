import type { AppContext } from '../../platform/context.js';
import type { OperationRow, ServiceRow, Tx } from '../../platform/db/index.js';

type Reader = Tx | AppContext['db']['kysely'];

/**
 * What asking a service's module for a change (a `set_param` operation someone requested: a
 * license's IP or key, a server's reinstall or root password) shares: the plug-in that would
 * carry it out, the request's operation key, and the requests still on their way.
 */

/** The plug-in of the module serving the service, or null (none chosen yet, or an unknown type). */
export async function servingPlugin(ctx: AppContext, db: Reader, service: ServiceRow) {
  if (service.module_id === null) return null;
  const row = await db
    .selectFrom('processing_modules')
    .select('module_type')
    .where('id', '=', service.module_id)
    .executeTakeFirst();
  return row ? (ctx.plugins.get(row.module_type) ?? null) : null;
}

/**
 * A key for a request (`<scope>:<service>:<what>:after:<latest operation id>`) that is new for
 * every request made after the service's latest operation, and the same for a request repeated
 * before anything else was queued.
 */
export async function requestKey(tx: Tx, serviceId: number, scope: string, what: string): Promise<string> {
  const last = await tx
    .selectFrom('operations')
    .select((eb) => eb.fn.max('id').as('id'))
    .where('service_id', '=', serviceId)
    .executeTakeFirst();
  return `${scope}:${serviceId}:${what}:after:${last?.id ?? 0}`;
}

/** Statuses of a requested change not settled yet: on its way, or failed and waiting for staff. */
export const UNSETTLED = ['queued', 'running', 'retry_wait', 'failed'] as const;

/** The service's `set_param` operations asking for `param` that are not settled yet, newest first. */
export async function unsettledSetParams(
  db: Reader,
  serviceId: number,
  param: string,
): Promise<{ op: OperationRow; value: string | null }[]> {
  const ops = await db
    .selectFrom('operations')
    .selectAll()
    .where('service_id', '=', serviceId)
    .where('kind', '=', 'set_param')
    .where('status', 'in', [...UNSETTLED])
    .orderBy('id', 'desc')
    .execute();
  return ops.flatMap((op) => {
    const p = JSON.parse(op.payload) as { param?: unknown; value?: unknown };
    return p.param === param ? [{ op, value: typeof p.value === 'string' ? p.value : null }] : [];
  });
}
