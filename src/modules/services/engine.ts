import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { decide, type OperationKind as LifecycleOperation } from '../../domain/lifecycle.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, lockRows, type OperationRow, type Tx } from '../../platform/db/index.js';
import { conflict, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorLabel, requireStaff, systemActor } from '../accounts/actor.js';
import { queueEvent } from '../notify/events.js';
import { rowChangeOf } from './decisions.js';
import { refundUnopened, reverseDeletionRefund } from './deletion.js';
import { recordHistory } from './history.js';
import { releaseLicenseIpClaim } from './license-ips.js';
import { completeOperation, holdsLease } from './lifecycle.js';
import { originalKey, releasedKey } from './operations.js';
import { lockService, serviceState } from './repository.js';

/**
 * The durable operations engine: claims operations with a lease, runs their handler outside
 * any transaction, and writes the outcome:
 * - success → the service's post-state and `done` in one transaction (`completeOperation`);
 * - a retryable error → `retry_wait` with exponential backoff and jitter;
 * - a permanent error, or the 10th failure → `failed` plus a staff task; staff retry or cancel;
 *   except for an operation whose payload says `refusable` (a license IP change or new key
 *   someone asked for through the license API): the upstream's refusal is the answer to that
 *   request, not a fault for staff — the operation ends `cancelled` with the error as its
 *   `last_error` (the license view shows it), nothing changes on the service, and the
 *   service's later operations are not held back behind it.
 * Operations of one service run in id order, one at a time: a later one waits while an
 * earlier one is queued, running, waiting to retry, or failed. A worker that dies leaves a
 * lease that expires; another worker then takes the operation over (handlers are written so
 * that running twice is safe, and save per-step progress so a retry resumes).
 */
export const MAX_ATTEMPTS = 10;
/** A lease held by a person (a manual module's staff task): it never expires on its own. */
export const STAFF_LEASE_UNTIL = '9999-12-31T23:59:59.999Z';
export const staffLeaseOwner = (taskId: number | bigint) => `staff-task:${taskId}`;
export const DEFAULT_LEASE_MS = 60_000;
const BACKOFF_BASE_MS = 5_000;
const BACKOFF_MAX_MS = 30 * 60_000;

/** Error a handler throws: `retryable` for timeouts, 5xx, 429; permanent otherwise. */
export class OperationError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

/** Delay before attempt n+1 after n failures: base × 2^(n−1), capped, with ±20 % jitter (`rand` in [0,1)). */
export function backoffMs(failures: number, rand: number): number {
  const raw = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(raw * (0.8 + 0.4 * rand));
}

export interface HandlerTools {
  /** Progress saved so far (by a previous attempt too): skip the steps it lists. */
  readonly progress: Record<string, unknown>;
  /** Saves a completed step at once, so a retry or another worker resumes after it. */
  saveStep(step: string, data?: unknown): Promise<void>;
}

/** Runs the remote side of an operation; returns what to keep as its result. */
export type OperationHandler = (
  ctx: AppContext,
  op: OperationRow,
  tools: HandlerTools,
) => Promise<Record<string, unknown>>;

/** Services no processing module serves: nothing remote to do; completion applies the post-state. */
export const builtinHandler: OperationHandler = async () => ({ executor: 'builtin' });

const BLOCKING = ['queued', 'running', 'retry_wait', 'failed'] as const;

/** Claims the next runnable operation for `worker`, or null. */
export async function claimNext(
  ctx: AppContext,
  worker: string,
  leaseMs = DEFAULT_LEASE_MS,
  only: { serviceId?: number } = {},
): Promise<OperationRow | null> {
  for (;;) {
    const r = await claimOnce(ctx, worker, leaseMs, only);
    if (r !== 'again') return r;
  }
}

async function claimOnce(
  ctx: AppContext,
  worker: string,
  leaseMs: number,
  only: { serviceId?: number },
): Promise<OperationRow | null | 'again'> {
  const now = isoNow(ctx.clock);
  const leaseUntil = new Date(ctx.clock.now().getTime() + leaseMs).toISOString();
  return inTransaction(ctx.db, async (tx) => {
    const candidate = await tx
      .selectFrom('operations as o')
      .selectAll('o')
      // The partial index `operations_pending`'s condition, verbatim, so the planner uses it.
      .where('o.status', 'in', ['queued', 'running', 'retry_wait'])
      .where((eb) =>
        eb.or([
          eb.and([eb('o.status', 'in', ['queued', 'retry_wait']), eb('o.next_attempt_at', '<=', now)]),
          eb.and([eb('o.status', '=', 'running'), eb('o.lease_expires_at', '<', now)]),
        ]),
      )
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('operations as e')
              .select('e.id')
              .whereRef('e.service_id', '=', 'o.service_id')
              .whereRef('e.id', '<', 'o.id')
              .where('e.status', 'in', [...BLOCKING]),
          ),
        ),
      )
      .$if(only.serviceId !== undefined, (q) => q.where('o.service_id', '=', only.serviceId!))
      .orderBy('o.id')
      .limit(1)
      .$call((q) => lockRows(tx, q, { skipLocked: true }))
      .executeTakeFirst();
    if (!candidate) return null;
    // A reclaim after an expired lease is an attempt too: an operation whose worker keeps
    // dying (a crash inside the handler) fails after the attempt limit instead of being
    // taken over forever.
    if (candidate.status === 'running' && Number(candidate.attempts) >= MAX_ATTEMPTS) {
      const code = 'worker_lost';
      const message = `The operation's worker stopped ${candidate.attempts} times without finishing it.`;
      await failOperation(tx, ctx, candidate, JSON.stringify({ code, message, retryable: false, at: now }));
      await openTask(tx, ctx, candidate, { code, message });
      await recordHistory(
        tx,
        ctx,
        systemActor('operations'),
        toId(candidate.service_id),
        `operation_${candidate.kind}_failed`,
        {
          details: { operationId: toId(candidate.id), code, attempts: Number(candidate.attempts) },
        },
      );
      return 'again' as const;
    }
    return tx
      .updateTable('operations')
      .set({
        status: 'running',
        lease_owner: worker,
        lease_expires_at: leaseUntil,
        attempts: sql<number>`attempts + 1`,
        updated_at: now,
      })
      .where('id', '=', candidate.id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/** Failed for good: the key is released (asking again makes a new operation) and a person is told. */
async function failOperation(tx: Tx, ctx: AppContext, op: OperationRow, lastError: string) {
  await tx
    .updateTable('operations')
    .set({
      status: 'failed',
      idempotency_key: releasedKey,
      last_error: lastError,
      lease_owner: null,
      lease_expires_at: null,
      updated_at: isoNow(ctx.clock),
    })
    .where('id', '=', op.id)
    .execute();
}

/** A request the upstream refused: ended with its error, its key released, its address claim dropped. */
async function refuseOperation(tx: Tx, ctx: AppContext, op: OperationRow, lastError: string) {
  await tx
    .updateTable('operations')
    .set({
      status: 'cancelled',
      idempotency_key: releasedKey,
      last_error: lastError,
      lease_owner: null,
      lease_expires_at: null,
      updated_at: isoNow(ctx.clock),
    })
    .where('id', '=', op.id)
    .execute();
  await releaseLicenseIpClaim(tx, toId(op.id));
}

async function openTask(tx: Tx, ctx: AppContext, op: OperationRow, error: { code: string; message: string }) {
  const task = await tx
    .insertInto('staff_tasks')
    .values({
      operation_id: op.id,
      service_id: op.service_id,
      kind: 'operation_failed',
      status: 'open',
      title: `Operation ${op.kind} of service #${op.service_id} failed: ${error.code}`,
      details: JSON.stringify({ operationId: toId(op.id), attempts: Number(op.attempts), ...error }),
      created_at: isoNow(ctx.clock),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // Keyed by the task: a retried operation that fails again is a new event.
  await queueEvent(tx, ctx, 'operation.failed', `task-${toId(task.id)}`, {
    operationId: toId(op.id),
    serviceId: toId(op.service_id),
    taskId: toId(task.id),
    kind: op.kind,
    attempts: Number(op.attempts),
    code: error.code,
    message: error.message,
  });
}

interface HandOffRequest {
  readonly title: string;
  readonly instructions?: string;
  readonly fields: readonly string[];
}

/**
 * A person carries the operation out: a `manual_action` task is opened and holds the
 * operation's lease (no worker will take it) until staff complete or cancel the task.
 */
async function handOffToStaff(tx: Tx, ctx: AppContext, op: OperationRow, req: HandOffRequest) {
  const task = await tx
    .insertInto('staff_tasks')
    .values({
      operation_id: op.id,
      service_id: op.service_id,
      kind: 'manual_action',
      status: 'open',
      title: req.title,
      details: JSON.stringify({
        operationId: toId(op.id),
        operation: op.kind,
        payload: JSON.parse(op.payload) as unknown,
        fields: req.fields,
        ...(req.instructions ? { instructions: req.instructions } : {}),
      }),
      created_at: isoNow(ctx.clock),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await tx
    .updateTable('operations')
    .set({
      lease_owner: staffLeaseOwner(task.id),
      lease_expires_at: STAFF_LEASE_UNTIL,
      updated_at: isoNow(ctx.clock),
    })
    .where('id', '=', op.id)
    .execute();
}

/** Runs one claimed operation to its outcome. Returns the status it ended in. */
export async function runClaimed(
  ctx: AppContext,
  op: OperationRow,
  worker: string,
  handler: OperationHandler,
  opts: { leaseMs?: number; random?: () => number } = {},
): Promise<OperationRow['status'] | 'lost' | 'waiting_for_staff'> {
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const progress = op.progress ? (JSON.parse(op.progress) as Record<string, unknown>) : {};
  // Keep the lease alive while the handler works.
  const renew = setInterval(
    () => {
      void ctx.db.kysely
        .updateTable('operations')
        .set({ lease_expires_at: new Date(ctx.clock.now().getTime() + leaseMs).toISOString() })
        .where('id', '=', op.id)
        .where('lease_owner', '=', worker)
        .execute()
        .catch((err: unknown) => ctx.logger.warn({ err, operationId: toId(op.id) }, 'lease renewal failed'));
    },
    Math.max(100, Math.floor(leaseMs / 3)),
  );
  renew.unref();
  const tools: HandlerTools = {
    progress,
    async saveStep(step, data = true) {
      progress[step] = data;
      const saved = await ctx.db.kysely
        .updateTable('operations')
        .set({ progress: JSON.stringify(progress), updated_at: isoNow(ctx.clock) })
        .where('id', '=', op.id)
        .where('lease_owner', '=', worker)
        .executeTakeFirst();
      // Our lease expired and another worker took the operation over: stop before the next
      // step, so two workers never act on it at once (its outcome is the one that counts).
      if (Number(saved.numUpdatedRows) !== 1)
        throw new OperationError('lease_lost', 'Another worker took this operation over.', true);
    },
  };
  let result: Record<string, unknown> | undefined;
  let failure: OperationError | undefined;
  try {
    result = await handler(ctx, op, tools);
  } catch (err) {
    failure =
      err instanceof OperationError
        ? err
        : new OperationError('internal_error', err instanceof Error ? err.message : String(err), true);
  } finally {
    clearInterval(renew);
  }
  // One stable name in history whichever worker ran it (the lease owner says which).
  const actor = systemActor('operations');
  return inTransaction(ctx.db, async (tx) => {
    // The service's lock first, then the operation's (the order every path takes). Another
    // worker took the operation over after our lease expired: its outcome counts, not ours.
    await lockService(tx, toId(op.service_id));
    if (!(await holdsLease(tx, toId(op.id), worker))) return 'lost' as const;
    if (result?.handOff) {
      await handOffToStaff(tx, ctx, op, result.handOff as HandOffRequest);
      return 'waiting_for_staff' as const;
    }
    if (result) {
      const outcome = await completeOperation(tx, ctx, op, actor, result, worker);
      return outcome === 'lost' ? ('lost' as const) : ('done' as const);
    }
    const f = failure!;
    const now = isoNow(ctx.clock);
    const lastError = JSON.stringify({ code: f.code, message: f.message, retryable: f.retryable, at: now });
    const attempts = Number(op.attempts);
    if (f.retryable && attempts < MAX_ATTEMPTS) {
      const delay = backoffMs(attempts, (opts.random ?? Math.random)());
      await tx
        .updateTable('operations')
        .set({
          status: 'retry_wait',
          next_attempt_at: new Date(ctx.clock.now().getTime() + delay).toISOString(),
          last_error: lastError,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now,
        })
        .where('id', '=', op.id)
        .execute();
      return 'retry_wait' as const;
    }
    // A refusal is the remote side's answer (permanent); retries run out are a failure for
    // staff, since the change may have been made after all.
    if (!f.retryable && (JSON.parse(op.payload) as { refusable?: unknown }).refusable === true) {
      await refuseOperation(tx, ctx, op, lastError);
      await recordHistory(tx, ctx, actor, toId(op.service_id), `operation_${op.kind}_refused`, {
        details: { operationId: toId(op.id), code: f.code, message: f.message, attempts },
      });
      return 'cancelled' as const;
    }
    await failOperation(tx, ctx, op, lastError);
    await openTask(tx, ctx, op, { code: f.code, message: f.message });
    // The service keeps its last good status; its history says what failed.
    await recordHistory(tx, ctx, actor, toId(op.service_id), `operation_${op.kind}_failed`, {
      details: { operationId: toId(op.id), code: f.code, attempts },
    });
    return 'failed' as const;
  });
}

export const newWorkerId = (): string => `${process.pid}-${randomBytes(3).toString('hex')}`;

/** Runs every operation that is due now, one after another; returns how many it finished as done. */
export async function drainOperations(
  ctx: AppContext,
  opts: {
    resolve?: (op: OperationRow) => OperationHandler;
    limit?: number;
    worker?: string;
    /** Only this service's operations (a request that wants its result promptly). */
    serviceId?: number;
  } = {},
): Promise<number> {
  const worker = opts.worker ?? newWorkerId();
  const resolve = opts.resolve ?? (() => builtinHandler);
  let done = 0;
  for (let i = 0; i < (opts.limit ?? 10_000); i++) {
    const op = await claimNext(
      ctx,
      worker,
      DEFAULT_LEASE_MS,
      opts.serviceId ? { serviceId: opts.serviceId } : {},
    );
    if (!op) break;
    if ((await runClaimed(ctx, op, worker, resolve(op))) === 'done') done++;
  }
  return done;
}

async function loadOperation(ctx: AppContext, id: number): Promise<OperationRow> {
  const op = await ctx.db.kysely.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst();
  if (!op) throw notFound('operation');
  return op;
}

async function closeTasks(
  tx: Tx,
  ctx: AppContext,
  operationId: number,
  status: 'done' | 'cancelled',
  by: string,
) {
  await tx
    .updateTable('staff_tasks')
    .set({ status, closed_at: isoNow(ctx.clock), closed_by: by })
    .where('operation_id', '=', operationId)
    .where('status', '=', 'open')
    .execute();
}

/** Staff: try a failed (or waiting) operation again now, with a fresh attempt budget. */
export async function retryOperation(ctx: AppContext, actor: Actor, id: number): Promise<OperationRow> {
  requireStaff(actor);
  const op = await loadOperation(ctx, id);
  if (op.status !== 'failed' && op.status !== 'retry_wait') {
    throw conflict('operation_not_retryable', `A ${op.status} operation cannot be retried.`, {
      status: op.status,
    });
  }
  return inTransaction(ctx.db, async (tx) => {
    await lockService(tx, toId(op.service_id));
    const current = await tx
      .selectFrom('operations')
      .selectAll()
      .where('id', '=', id)
      .$call((q) => lockRows(tx, q))
      .executeTakeFirstOrThrow();
    // Only if still failed or waiting: a worker may have claimed it since it was read.
    if (current.status !== 'failed' && current.status !== 'retry_wait')
      throw conflict('operation_not_retryable', 'The operation started running meanwhile.', {
        status: current.status,
      });
    // A failed operation gave its key up; it takes it back unless a newer operation serves
    // the same request (retrying the old one would do the work twice).
    const key = originalKey(current.idempotency_key);
    if (key !== current.idempotency_key) {
      const newer = await tx
        .selectFrom('operations')
        .select('id')
        .where('idempotency_key', '=', key)
        .executeTakeFirst();
      if (newer)
        throw conflict('operation_superseded', 'A newer operation does what this one was for.', {
          operationId: toId(newer.id),
        });
    }
    const requeued = await tx
      .updateTable('operations')
      .set({
        status: 'queued',
        idempotency_key: key,
        attempts: 0,
        next_attempt_at: isoNow(ctx.clock),
        updated_at: isoNow(ctx.clock),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await closeTasks(tx, ctx, id, 'done', actorLabel(actor));
    await ctx.db.signals.notify(tx, 'operations');
    return requeued;
  });
}

/**
 * Whether an open may have made something remote that a refund would leave paid for and
 * unused: it saved a step other than an intent (steps named `intent…` only record what is about
 * to be done — the plug-in convention), or it saved intents and its
 * last failure was not a definite refusal (a timeout after sending, a lost connection).
 * Returns why, or null when nothing remote can exist.
 */
function mayHaveReachedRemote(op: OperationRow): string | null {
  const steps = Object.keys(op.progress ? (JSON.parse(op.progress) as Record<string, unknown>) : {});
  if (steps.length === 0) return null;
  if (steps.some((s) => !s.startsWith('intent'))) return 'got as far as the remote side';
  const last = op.last_error ? (JSON.parse(op.last_error) as { retryable?: boolean }) : null;
  return last?.retryable === false ? null : 'may have reached the remote side before it failed';
}

/** What giving up on an operation means for its service (the lifecycle decides; usually nothing). */
async function applyCancellation(tx: Tx, ctx: AppContext, op: OperationRow): Promise<void> {
  const service = await lockService(tx, toId(op.service_id));
  const state = await serviceState(tx, service);
  const payload = JSON.parse(op.payload) as { reason?: string };
  const d = decide(
    { ...state, pending: state.pending.filter((p) => p.id !== toId(op.id)) },
    { type: 'operation_cancelled', kind: op.kind as LifecycleOperation, reason: payload.reason },
    await todayIn(ctx, tx),
  );
  const set = rowChangeOf(d.change, isoNow(ctx.clock));
  if (Object.keys(set).length === 0) return;
  await tx
    .updateTable('services')
    .set({ ...set, updated_at: isoNow(ctx.clock) } as never)
    .where('id', '=', service.id)
    .execute();
}

/**
 * Staff: give up on an operation that has not run to completion. The service keeps its status,
 * except a service whose `open` is cancelled: it never opened, so it is closed and refunded.
 */
export async function cancelOperation(ctx: AppContext, actor: Actor, id: number): Promise<OperationRow> {
  requireStaff(actor);
  const found = await loadOperation(ctx, id);
  return inTransaction(ctx.db, async (tx) => {
    // Checked under the locks (service, then operation): a worker may have claimed it since.
    await lockService(tx, toId(found.service_id));
    const op = await tx
      .selectFrom('operations')
      .selectAll()
      .where('id', '=', id)
      .$call((q) => lockRows(tx, q))
      .executeTakeFirstOrThrow();
    const heldByStaff = op.status === 'running' && (op.lease_owner ?? '').startsWith('staff-task:');
    if (op.status === 'done' || op.status === 'cancelled' || (op.status === 'running' && !heldByStaff)) {
      throw conflict('operation_not_cancellable', `A ${op.status} operation cannot be cancelled.`, {
        status: op.status,
      });
    }
    // The service stays: what its deletion refunded is taken back.
    if (op.kind === 'close') await reverseDeletionRefund(tx, ctx, actor, op);
    // A service that never opened is closed, and what its order charged is refunded — but only
    // when its open certainly made nothing remote (see `mayHaveReachedRemote`).
    if (op.kind === 'open') {
      const why = mayHaveReachedRemote(op);
      if (why)
        throw conflict(
          'open_may_have_reached_upstream',
          `This open ${why}: retry it (it looks upstream before acting again), or let it finish and delete the service.`,
          { operationId: id },
        );
      await refundUnopened(tx, ctx, actor, op);
    }
    await applyCancellation(tx, ctx, op);
    await closeTasks(tx, ctx, id, 'cancelled', actorLabel(actor));
    await releaseLicenseIpClaim(tx, id);
    await recordHistory(tx, ctx, actor, toId(op.service_id), `operation_${op.kind}_cancelled`, {
      details: { operationId: id },
    });
    return tx
      .updateTable('operations')
      .set({
        status: 'cancelled',
        // Released: the same request later (a delete after a cancelled close) makes a new operation.
        idempotency_key: op.status === 'failed' ? op.idempotency_key : releasedKey,
        lease_owner: null,
        lease_expires_at: null,
        updated_at: isoNow(ctx.clock),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}
