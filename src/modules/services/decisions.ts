import type { Temporal } from 'temporal-polyfill';
import {
  type Decision,
  decide,
  type LifecycleEvent,
  type ServiceChange,
  type ServiceState,
} from '../../domain/lifecycle.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import type { OperationRow, ServiceRow, Tx } from '../../platform/db/index.js';
import { fromDomainError } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import type { Actor } from '../accounts/actor.js';
import { recordHistory } from './history.js';
import { enqueueOperation, type OperationPayload, withdrawOperation } from './operations.js';

/**
 * Writing what the pure lifecycle decided, in the caller's transaction (the service row is
 * locked by then): withdraw the operations the event supersedes, change the row, queue the
 * operations. Every command and every step of the daily run goes through here, so an
 * operation's key and payload are built in one place.
 */
export function decideOrThrow(
  state: ServiceState,
  event: LifecycleEvent,
  today: Temporal.PlainDate,
): Decision {
  try {
    return decide(state, event, today);
  } catch (err) {
    throw fromDomainError(err);
  }
}

export interface WriteOptions {
  readonly today: Temporal.PlainDate;
  /** Extra payload for `set_param` (the new tariff). */
  readonly tariffId?: number;
  /**
   * A tariff or addon change's number among the service's changes: it tells two `set_param`s
   * apart that the tariff and the instant do not (Lite → Pro → Lite → Pro in one instant are
   * three operations; an addon change keeps the tariff).
   */
  readonly change?: number;
  /** Why a service is closed (kept with the `close` operation). */
  readonly reason?: string;
}

export async function writeDecision(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  service: ServiceRow,
  d: Decision,
  opts: WriteOptions,
): Promise<OperationRow[]> {
  const id = toId(service.id);
  const now = isoNow(ctx.clock);
  const operations = await withdrawSuperseded(tx, ctx, actor, id, d);
  const { set, queue } = decisionWrites(service, d, operations, opts, now);
  if (Object.keys(set).length > 0) {
    await tx
      .updateTable('services')
      .set({ ...set, updated_at: now } as never)
      .where('id', '=', id)
      .execute();
  }
  const queued: OperationRow[] = [];
  for (const op of queue) queued.push(await enqueueOperation(tx, ctx, id, op.kind, op.payload, op.key));
  return queued;
}

/**
 * Withdraws the operations the decision supersedes (now: whether a worker took one first is
 * only known by trying) and returns the operations to queue: the decided ones, plus a `resume`
 * undoing a superseded one that is already under way.
 */
export async function withdrawSuperseded(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  d: Decision,
): Promise<Decision['operations'][number][]> {
  const operations = [...d.operations];
  for (const op of d.supersede) {
    if (await withdrawOperation(tx, ctx, op.id)) {
      await recordHistory(tx, ctx, actor, serviceId, `operation_${op.kind}_superseded`, {
        details: { operationId: op.id },
      });
    } else if (!operations.some((o) => o.kind === 'resume')) {
      // A worker took it between our read and the withdrawal: it runs, then this undoes it.
      operations.push({ kind: 'resume', reason: 'renewal' });
    }
  }
  return operations;
}

export interface QueuedOperation {
  readonly kind: Decision['operations'][number]['kind'];
  readonly key: string;
  readonly payload: OperationPayload;
}

/** What a decision writes: the service row's columns and the operations to queue, with their keys. */
export function decisionWrites(
  service: Pick<ServiceRow, 'id' | 'expires_on' | 'period'>,
  d: Decision,
  operations: readonly Decision['operations'][number][],
  opts: WriteOptions,
  now: string,
): { set: Partial<ServiceRow>; queue: QueuedOperation[] } {
  const id = toId(service.id);
  const c = d.change;
  const set = rowChangeOf(c, now);
  const expiresOn = c.expiresOn?.toString() ?? service.expires_on ?? '';
  const queue = operations.map((op) => ({
    kind: op.kind,
    ...operationOf(id, op, {
      now,
      expiresOn,
      previousExpiresOn: service.expires_on,
      start: c.periodStart?.toString() ?? null,
      period: c.period ?? Number(service.period),
      tariffId: opts.tariffId,
      change: opts.change,
      reason: opts.reason,
    }),
  }));
  return { set, queue };
}

/** A decided change as the columns of the service's row (`activate` is the caller's: it prices the activated range). */
export function rowChangeOf(c: ServiceChange, now: string): Partial<ServiceRow> {
  const set: Partial<ServiceRow> = {};
  if (c.status !== undefined) set.status = c.status;
  if (c.suspendReason !== undefined) set.suspend_reason = c.suspendReason;
  if (c.suspendedOn !== undefined) set.suspended_on = c.suspendedOn?.toString() ?? null;
  if (c.expiresOn !== undefined) set.expires_on = c.expiresOn.toString();
  if (c.periodStart !== undefined) set.period_start = c.periodStart.toString();
  if (c.period !== undefined) set.period = c.period;
  if (c.deleted) set.deleted_at = now;
  return set;
}

/** An operation's idempotency key and payload: the request it serves, named once. */
function operationOf(
  id: number,
  op: Decision['operations'][number],
  at: {
    now: string;
    expiresOn: string;
    previousExpiresOn: string | null;
    start: string | null;
    period: number;
    tariffId: number | undefined;
    change: number | undefined;
    reason: string | undefined;
  },
): { key: string; payload: OperationPayload } {
  switch (op.kind) {
    case 'open':
      return { key: `open:${id}`, payload: {} };
    case 'prolong':
      // The renewal's range and period travel with it: a remote side renews by the same period,
      // and a module can tell a renewal it already made from one still to make.
      return {
        key: `prolong:${id}:${at.expiresOn}`,
        payload: { expiresOn: at.expiresOn, from: at.previousExpiresOn, start: at.start, period: at.period },
      };
    case 'close':
      return { key: `close:${id}`, payload: at.reason ? { reason: at.reason } : {} };
    case 'suspend':
      return op.reason === 'expired'
        ? {
            key: `suspend:${id}:expired:${at.expiresOn}`,
            payload: { reason: 'expired', expiresOn: at.expiresOn },
          }
        : { key: `suspend:${id}:${op.reason}:${at.now}`, payload: { reason: op.reason } };
    case 'resume':
      return op.reason === 'renewal'
        ? { key: `resume:${id}:renewed:${at.expiresOn}`, payload: { after: 'renewal' } }
        : { key: `resume:${id}:${at.now}`, payload: {} };
    case 'set_param':
      return {
        key: `set-param:${id}:tariff:${at.tariffId}:${at.now}${at.change === undefined ? '' : `:change:${at.change}`}`,
        payload: { tariffId: at.tariffId },
      };
  }
}
