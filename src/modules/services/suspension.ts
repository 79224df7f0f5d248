import type { SuspendReason } from '../../domain/lifecycle.js';
import { today as todayIn } from '../../platform/calendar.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, type ServiceRow } from '../../platform/db/index.js';
import { type Actor, isStaff } from '../accounts/actor.js';
import { getServiceFor } from './commands.js';
import { decideOrThrow, writeDecision } from './decisions.js';
import { recordHistory } from './history.js';
import { lockService, serviceState } from './repository.js';

/**
 * Suspension and its lifting: staff suspend with reason `admin` or `abuse`, a client its own
 * service with reason `client` (and lifts only that). The status moves when the operation
 * completes; a request while one is pending changes nothing.
 */
const by = (actor: Actor) => (isStaff(actor) ? (actor.type === 'system' ? 'system' : 'staff') : 'client');

export async function suspendService(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  reason: SuspendReason,
): Promise<ServiceRow> {
  await getServiceFor(ctx, actor, serviceId);
  const today = await todayIn(ctx);
  return inTransaction(ctx.db, async (tx) => {
    const service = await lockService(tx, serviceId, actor);
    const d = decideOrThrow(
      await serviceState(tx, service),
      { type: 'suspend', reason, by: by(actor) },
      today,
    );
    if (d.skip) return service;
    await recordHistory(tx, ctx, actor, serviceId, 'suspend_requested', { details: { reason } });
    await writeDecision(tx, ctx, actor, service, d, { today });
    return lockService(tx, serviceId);
  });
}

export async function resumeService(ctx: AppContext, actor: Actor, serviceId: number): Promise<ServiceRow> {
  await getServiceFor(ctx, actor, serviceId);
  const today = await todayIn(ctx);
  return inTransaction(ctx.db, async (tx) => {
    const service = await lockService(tx, serviceId, actor);
    const d = decideOrThrow(await serviceState(tx, service), { type: 'resume', by: by(actor) }, today);
    if (d.skip) return service;
    await recordHistory(tx, ctx, actor, serviceId, 'resume_requested', {});
    await writeDecision(tx, ctx, actor, service, d, { today });
    return lockService(tx, serviceId);
  });
}
