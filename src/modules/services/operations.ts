import { type Insertable, sql } from 'kysely';
import type { OperationKind } from '../../domain/lifecycle.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import type { Database, OperationRow, Tx } from '../../platform/db/index.js';
import { releaseLicenseIpClaim } from './license-ips.js';

/**
 * The operations queue as commands see it: enqueue in the caller's transaction, and release a
 * dead operation's idempotency key. An operation's key names the request it serves
 * (`close:<service>`, `suspend:<service>:expired:<date>`): the same request again finds the
 * operation already there while it is pending, running or done. One that failed or was
 * cancelled gives its key up (`<key>#released:<id>`), so asking again makes a new operation
 * instead of finding the dead one — a cancelled `close` no longer blocks a later delete.
 */
export interface OperationPayload {
  readonly reason?: string;
  readonly expiresOn?: string;
  readonly tariffId?: number;
  readonly [key: string]: unknown;
}

const RELEASED = '#released:';

/** The key a failed or cancelled operation keeps: unique, and no longer the request's. */
export const releasedKey = sql<string>`idempotency_key || ${RELEASED} || cast(id as text)`;

/** The request's own key of an operation whose key was released. */
export const originalKey = (key: string): string => {
  const at = key.indexOf(RELEASED);
  return at < 0 ? key : key.slice(0, at);
};

/** A queued operation's row. */
export function operationRow(
  serviceId: number,
  kind: OperationKind,
  payload: OperationPayload,
  idempotencyKey: string,
  now: string,
): Insertable<Database['operations']> {
  return {
    service_id: serviceId,
    kind,
    payload: JSON.stringify(payload),
    idempotency_key: idempotencyKey,
    status: 'queued',
    attempts: 0,
    next_attempt_at: now,
    created_at: now,
    updated_at: now,
  };
}

export async function enqueueOperation(
  tx: Tx,
  ctx: AppContext,
  serviceId: number,
  kind: OperationKind,
  payload: OperationPayload,
  idempotencyKey: string,
): Promise<OperationRow> {
  const now = isoNow(ctx.clock);
  const existing = await tx
    .selectFrom('operations')
    .selectAll()
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst();
  if (existing) return existing;
  const op = await tx
    .insertInto('operations')
    .values(operationRow(serviceId, kind, payload, idempotencyKey, now))
    .returningAll()
    .executeTakeFirstOrThrow();
  // An idle worker starts it as soon as this transaction commits, not at its next poll.
  await ctx.db.signals.notify(tx, 'operations');
  return op;
}

/**
 * Withdraws an operation that is not under way (queued, waiting to retry, or failed): it is
 * cancelled, its key released, and a staff task about it closed. False when a worker claimed
 * it meanwhile (it is running: too late to withdraw).
 */
export async function withdrawOperation(tx: Tx, ctx: AppContext, operationId: number): Promise<boolean> {
  const r = await tx
    .updateTable('operations')
    .set({
      status: 'cancelled',
      // A failed operation released its key already.
      idempotency_key: sql<string>`case when status = 'failed' then idempotency_key else ${releasedKey} end`,
      lease_owner: null,
      lease_expires_at: null,
      updated_at: isoNow(ctx.clock),
    })
    .where('id', '=', operationId)
    .where('status', 'in', ['queued', 'retry_wait', 'failed'])
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) return false;
  await releaseLicenseIpClaim(tx, operationId);
  await tx
    .updateTable('staff_tasks')
    .set({ status: 'cancelled', closed_at: isoNow(ctx.clock), closed_by: 'system:lifecycle' })
    .where('operation_id', '=', operationId)
    .where('status', '=', 'open')
    .execute();
  return true;
}
