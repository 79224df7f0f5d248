import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, lockRows, type StaffTaskRow } from '../../platform/db/index.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { requireIp } from '../../platform/ip.js';
import { type Actor, actorLabel, requireStaff } from '../accounts/actor.js';
import { cancelOperation, staffLeaseOwner } from './engine.js';
import { completeOperation } from './lifecycle.js';
import { lockService } from './repository.js';

async function loadTask(ctx: AppContext, id: number): Promise<StaffTaskRow> {
  const task = await ctx.db.kysely
    .selectFrom('staff_tasks')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!task) throw notFound('task');
  return task;
}

/** Checks what staff entered against the fields the task asked for. */
function checkFields(asked: readonly string[], given: Record<string, string>): Record<string, string> {
  const missing = asked.filter((f) => !given[f]?.trim());
  if (missing.length > 0)
    throw invalid('task_fields_missing', `Enter ${missing.join(', ')} to complete this task.`, { missing });
  const out: Record<string, string> = {};
  for (const [field, raw] of Object.entries(given)) {
    const value = raw.trim();
    if (!asked.includes(field))
      throw invalid('unknown_field', `This task does not ask for "${field}".`, { field, asked });
    out[field] = field === 'ip' ? requireIp(value, field) : value;
  }
  return out;
}

/**
 * Staff did what a manual module's task asked: the waiting operation completes — the
 * service moves on (opened, suspended, …) with the parameters entered — in one transaction
 * with closing the task.
 */
export async function completeTask(
  ctx: AppContext,
  actor: Actor,
  id: number,
  input: { params?: Record<string, string> } = {},
): Promise<StaffTaskRow> {
  requireStaff(actor);
  const task = await loadTask(ctx, id);
  // A daily-run error has no operation behind it: completing it says a person dealt with it.
  if (task.kind === 'billing_error') return closeNoteTask(ctx, actor, id, 'done');
  if (task.kind !== 'manual_action')
    throw conflict('task_not_manual', 'A failed operation is retried or cancelled, not completed.', {
      operationId: task.operation_id === null ? null : toId(task.operation_id),
    });
  const details = JSON.parse(task.details) as { fields?: string[] };
  const params = checkFields(details.fields ?? [], input.params ?? {});
  return inTransaction(ctx.db, async (tx) => {
    // The service's lock first, as on every path that completes an operation.
    if (task.service_id !== null) await lockService(tx, toId(task.service_id));
    const current = await tx
      .selectFrom('staff_tasks')
      .selectAll()
      .where('id', '=', id)
      .$call((q) => lockRows(tx, q))
      .executeTakeFirstOrThrow();
    if (current.status !== 'open') throw conflict('task_not_open', `The task is already ${current.status}.`);
    const op = await tx
      .selectFrom('operations')
      .selectAll()
      .where('id', '=', current.operation_id ?? -1)
      .executeTakeFirstOrThrow();
    if (op.status !== 'running' || op.lease_owner !== staffLeaseOwner(current.id))
      throw conflict('task_not_open', 'The operation of this task is no longer waiting for it.');
    await completeOperation(
      tx,
      ctx,
      op,
      actor,
      {
        executor: 'staff',
        taskId: toId(current.id),
        ...(Object.keys(params).length > 0 ? { serviceParams: params } : {}),
      },
      staffLeaseOwner(current.id),
    );
    return tx
      .updateTable('staff_tasks')
      .set({
        status: 'done',
        closed_at: isoNow(ctx.clock),
        closed_by: actorLabel(actor),
        details: JSON.stringify({ ...JSON.parse(current.details), entered: params }),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/** Staff will not do it: the task's operation is cancelled and the service keeps its status. */
export async function cancelTask(ctx: AppContext, actor: Actor, id: number): Promise<StaffTaskRow> {
  requireStaff(actor);
  const task = await loadTask(ctx, id);
  if (task.status !== 'open') throw conflict('task_not_open', `The task is already ${task.status}.`);
  if (task.kind === 'billing_error') return closeNoteTask(ctx, actor, id, 'cancelled');
  if (task.operation_id === null) throw conflict('task_not_open', 'The task has no operation.');
  await cancelOperation(ctx, actor, toId(task.operation_id));
  return loadTask(ctx, id);
}

/** Closes a task that only tells (a daily-run error): nothing else changes. */
async function closeNoteTask(
  ctx: AppContext,
  actor: Actor,
  id: number,
  status: 'done' | 'cancelled',
): Promise<StaffTaskRow> {
  const closed = await ctx.db.kysely
    .updateTable('staff_tasks')
    .set({ status, closed_at: isoNow(ctx.clock), closed_by: actorLabel(actor) })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
  if (!closed) throw conflict('task_not_open', 'The task is already closed.');
  return closed;
}
