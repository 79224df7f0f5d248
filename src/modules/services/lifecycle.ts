import { Temporal } from 'temporal-polyfill';
import { countsAsIpChange } from '../../domain/licenses.js';
import { decide, type OperationKind as LifecycleOperation } from '../../domain/lifecycle.js';
import { parseAmount, parseScaled, prorate } from '../../domain/money.js';
import { cutAtExpiration, PeriodError } from '../../domain/periods.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import {
  lockRows,
  type OperationRow,
  type ServiceRow,
  type ServiceStatus,
  type Tx,
  withSavepoint,
} from '../../platform/db/index.js';
import { AppError } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorUserId } from '../accounts/actor.js';
import { postEntry } from '../accounts/ledger.js';
import { queueEvent } from '../notify/events.js';
import { queueMail } from '../notify/outbox.js';
import { rowChangeOf } from './decisions.js';
import { recordCharge, recordHistory } from './history.js';
import { bindLicenseIp, licenseFamily, releaseLicenseIpClaim } from './license-ips.js';
import type { OperationPayload } from './operations.js';
import { lockService, productTypeOf, serviceState } from './repository.js';

/** An upstream cost as a plug-in reports it (provisioning's `UpstreamCost`). */
interface UpstreamCost {
  kind: 'order' | 'renewal';
  period: number;
  amount: string;
  currency: string;
}

/**
 * What a completed operation does to its service. Statuses change only when an operation
 * completes (a failed operation never flips a status): `processing → active` on `open`,
 * `active → suspended` on `suspend`, back on `resume`, `→ deleted` on `close`. Completion
 * is an event of the pure lifecycle like any other: under the service's lock, its
 * precondition is checked again (an expiry suspend whose service was renewed meanwhile
 * completes as superseded and changes nothing), and it is fenced on the lease, so a worker
 * whose lease was taken over cannot complete what another worker now owns.
 */

const date = (s: string) => Temporal.PlainDate.from(s);

/**
 * Activation: paid time starts now, not at order. The period is recomputed from today with
 * the tariff cut; when a late activation grants fewer days than the order paid for (the
 * tariff ends in between), the difference is credited back, so the rule "never past the
 * tariff's end" and "never charge for days not given" both hold.
 */
async function activate(
  tx: Tx,
  ctx: AppContext,
  service: ServiceRow,
  actor: Actor,
  today: Temporal.PlainDate,
): Promise<Partial<ServiceRow>> {
  const item = service.order_item_id
    ? await tx
        .selectFrom('order_items')
        .selectAll()
        .where('id', '=', service.order_item_id)
        .executeTakeFirst()
    : undefined;
  const tariff = await tx
    .selectFrom('tariffs')
    .select(['expires_on', 'trial_days'])
    .where('id', '=', service.tariff_id)
    .executeTakeFirstOrThrow();
  const period = Number(service.period);
  const trialDays = tariff.trial_days === null ? undefined : Number(tariff.trial_days);
  const expiration = tariff.expires_on ? date(tariff.expires_on) : null;
  let end: Temporal.PlainDate;
  let grantedNow = 0;
  let fullNow = 1;
  let cutNow = false;
  try {
    const cut = cutAtExpiration(today, period, expiration, trialDays);
    end = cut.end;
    grantedNow = cut.grantedDays;
    fullNow = cut.fullDays;
    cutNow = cut.cut;
  } catch (err) {
    if (!(err instanceof PeriodError) || err.code !== 'tariff_expired') throw err;
    // Activated on or after the tariff's end: nothing can be granted; all but the setup is returned.
    end = today;
    cutNow = true;
  }
  if (item && cutNow) {
    const periodPaid = item.amount_minor - item.setup_minor;
    // What the activated range is worth: each line's full-period price cut by the days it
    // grants from today, rounded once per line — the same rule the order was priced by.
    const currency = (
      await tx
        .selectFrom('accounts')
        .select('currency')
        .where('id', '=', service.account_id)
        .executeTakeFirstOrThrow()
    ).currency;
    const lines = JSON.parse(item.lines) as { kind: string; quantity: number; unitPrice: string }[];
    let worth = 0n;
    for (const line of lines) {
      if (line.kind === 'setup') continue;
      const full = parseAmount(line.unitPrice, currency) * BigInt(line.quantity);
      worth += prorate(full, BigInt(grantedNow), BigInt(fullNow));
    }
    const deserved = worth < periodPaid ? worth : periodPaid;
    const refund = periodPaid - deserved;
    if (refund > 0n) {
      const { entry } = await postEntry(tx, {
        accountId: toId(service.account_id),
        kind: 'refund',
        amountMinor: refund,
        description: `Service #${service.id}: days the tariff no longer allows at activation`,
        idempotencyKey: `activation-refund:${service.id}`,
        refType: 'service',
        refId: toId(service.id),
        createdByUserId: actorUserId(actor),
        now: isoNow(ctx.clock),
      });
      await recordCharge(tx, ctx, service.id, {
        kind: 'activation_adjustment',
        period,
        start: today.toString(),
        end: end.toString(),
        amountMinor: -refund,
        ledgerEntryId: entry.id,
      });
    }
  }
  // The order's charge now knows the days it bought (refunds on deletion prorate by them).
  await tx
    .updateTable('service_charges')
    .set({ start_on: today.toString(), end_on: end.toString() })
    .where('service_id', '=', service.id)
    .where('kind', '=', 'order')
    .where('start_on', 'is', null)
    .execute();
  return {
    status: 'active',
    activated_on: today.toString(),
    period_start: today.toString(),
    expires_on: end.toString(),
  };
}

/**
 * Writes the post-state of a successful operation and marks it done, in the caller's
 * transaction: either both land or neither. `leaseOwner` is who must still hold the
 * operation (a worker, or `staff-task:N`); when it no longer does, nothing is written and
 * `lost` is returned.
 */
export async function completeOperation(
  tx: Tx,
  ctx: AppContext,
  op: OperationRow,
  actor: Actor,
  result: Record<string, unknown>,
  leaseOwner: string,
): Promise<'done' | 'superseded' | 'lost'> {
  // The service first, then the operation: every path takes the two locks in this order.
  const service = await lockService(tx, toId(op.service_id));
  if (!(await holdsLease(tx, toId(op.id), leaseOwner))) return 'lost';
  const payload = JSON.parse(op.payload) as OperationPayload;
  const today = await todayIn(ctx, tx);
  const now = isoNow(ctx.clock);
  // The operation being completed is pending no more: the state is decided without it.
  const state = await serviceState(tx, service);
  const decision = decide(
    { ...state, pending: state.pending.filter((p) => p.id !== toId(op.id)) },
    { type: 'operation_done', kind: op.kind as LifecycleOperation, reason: payload.reason },
    today,
  );
  let change: Partial<ServiceRow> = {};
  if (!decision.superseded) {
    const c = decision.change;
    change = c.activate ? await activate(tx, ctx, service, actor, today) : rowChangeOf(c, now);
    // What the module learnt (an IP, a key, the upstream id) lands with the post-state, over
    // what a license IP change or new key asked for.
    const learnt = {
      ...requestedParams(op.kind, payload, service, today.toString()),
      ...(result.serviceParams as Record<string, string> | undefined),
    };
    if (Object.keys(learnt).length > 0) {
      change.params = JSON.stringify({
        ...(JSON.parse(service.params) as Record<string, string>),
        ...learnt,
      });
    }
    if (typeof result.externalId === 'string') change.external_id = result.externalId;
    if (learnt.ip !== undefined) await bindLearntIp(tx, ctx, actor, service, learnt.ip);
  }
  // The address a pending IP change claimed is held now (bound above) or no longer wanted.
  await releaseLicenseIpClaim(tx, toId(op.id));
  await recordUpstreamCost(tx, op, result, today.toString(), now);
  if (Object.keys(change).length > 0) {
    await tx
      .updateTable('services')
      .set({ ...change, updated_at: now } as never)
      .where('id', '=', service.id)
      .execute();
  }
  if (change.status === 'deleted')
    await tx.deleteFrom('license_ips').where('service_id', '=', service.id).execute();
  await tx
    .updateTable('operations')
    .set({
      status: 'done',
      result: JSON.stringify(decision.superseded ? { ...result, superseded: true } : result),
      completed_at: now,
      updated_at: now,
      lease_owner: null,
      lease_expires_at: null,
    })
    .where('id', '=', op.id)
    .where('lease_owner', '=', leaseOwner)
    .execute();
  await recordHistory(
    tx,
    ctx,
    actor,
    toId(service.id),
    decision.superseded ? `operation_${op.kind}_superseded` : `operation_${op.kind}_done`,
    {
      from: service.status,
      to: (change.status as ServiceStatus | undefined) ?? service.status,
      details: {
        operationId: toId(op.id),
        ...(change.expires_on ? { expiresOn: change.expires_on } : {}),
        ...(payload.reason ? { reason: payload.reason } : {}),
        ...(decision.superseded ? { why: 'the service no longer needs it (renewed meanwhile)' } : {}),
      },
    },
  );
  if (!decision.superseded) await tellOperationDone(tx, ctx, op, service, change);
  return decision.superseded ? 'superseded' : 'done';
}

/** Webhook events (and, for an open, the client's mail) of an operation that changed the service. */
async function tellOperationDone(
  tx: Tx,
  ctx: AppContext,
  op: OperationRow,
  service: ServiceRow,
  change: Partial<ServiceRow>,
) {
  const event = (
    { open: 'service.activated', suspend: 'service.suspended', close: 'service.deleted' } as const
  )[op.kind as 'open' | 'suspend' | 'close'];
  if (!event) return;
  const serviceId = toId(service.id);
  const params = JSON.parse((change.params as string | undefined) ?? service.params) as Record<
    string,
    string
  >;
  const expiresOn = (change.expires_on as string | undefined) ?? service.expires_on;
  await queueEvent(tx, ctx, event, `${serviceId}:${toId(op.id)}`, {
    serviceId,
    accountId: toId(service.account_id),
    operationId: toId(op.id),
    status: (change.status as string | undefined) ?? service.status,
    expiresOn,
  });
  if (op.kind !== 'open') return;
  const issued = await tx
    .selectFrom('issued_licenses')
    .select('license_key')
    .where('service_id', '=', service.id)
    .executeTakeFirst();
  await queueMail(tx, ctx, {
    accountId: toId(service.account_id),
    kind: 'service_active',
    facts: {
      serviceId,
      serviceName: service.name,
      expiresOn,
      licenseKey: issued?.license_key ?? params.key,
      serverIp: params.ip,
    },
    dedupeKey: `service_active:${serviceId}`,
  });
}

/**
 * What a license IP change or new key (`set_param` with `{param: 'ip', value, previous}` or
 * `{param: 'key'}`) sets once the upstream did it, when the plug-in reports nothing more
 * precise: the address, and the day of the change — an IP change only when it counts toward
 * the once-a-month rule — so the rule is explained from the service's own parameters.
 */
function requestedParams(
  kind: OperationRow['kind'],
  payload: OperationPayload,
  service: ServiceRow,
  today: string,
): Record<string, string> {
  if (kind !== 'set_param') return {};
  if (payload.param === 'key') return { keyChangedOn: today };
  if (payload.param !== 'ip' || typeof payload.value !== 'string') return {};
  const from = (JSON.parse(service.params) as Record<string, string>).ip ?? null;
  return countsAsIpChange(from, payload.value)
    ? { ip: payload.value, ipChangedOn: today }
    : { ip: payload.value };
}

/**
 * A module that moved the license to another address (an IP change done upstream) moves its
 * local hold too. The address was checked free when the change was asked for; should another
 * license have taken it since, the upstream's answer still stands, and the clash is recorded
 * for staff instead of undoing a change the upstream already made.
 */
async function bindLearntIp(tx: Tx, ctx: AppContext, actor: Actor, service: ServiceRow, ip: string) {
  const before = (JSON.parse(service.params) as Record<string, string>).ip ?? null;
  if (before === ip) return;
  const family = licenseFamily((await productTypeOf(tx, service)).code, toId(service.tariff_id));
  if (!family) return;
  try {
    await withSavepoint(tx, 'bind_learnt_ip', () => bindLicenseIp(tx, toId(service.id), family, ip));
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== 'ip_taken') throw err;
    await recordHistory(tx, ctx, actor, toId(service.id), 'ip_conflict', { details: { ip, from: before } });
  }
}

/** What the upstream charged for an order or renewal, once per operation (upstream currency, 4 places). */
async function recordUpstreamCost(
  tx: Tx,
  op: OperationRow,
  result: Record<string, unknown>,
  today: string,
  now: string,
): Promise<void> {
  const cost = result.cost as UpstreamCost | undefined;
  if (!cost || typeof result.moduleId !== 'number') return;
  await tx
    .insertInto('upstream_costs')
    .values({
      service_id: op.service_id,
      module_id: result.moduleId,
      operation_id: op.id,
      kind: cost.kind,
      period: cost.period,
      amount_e4: parseScaled(cost.amount, 4, { allowNegative: false }),
      currency: cost.currency,
      recorded_on: today,
      created_at: now,
    })
    .onConflict((oc) => oc.column('operation_id').doNothing())
    .execute();
}

/** The operation is still running under `owner`'s lease (locked until the transaction ends). */
export async function holdsLease(tx: Tx, operationId: number, owner: string): Promise<boolean> {
  const row = await tx
    .selectFrom('operations')
    .select(['status', 'lease_owner'])
    .where('id', '=', operationId)
    .$call((q) => lockRows(tx, q))
    .executeTakeFirst();
  return row?.status === 'running' && row.lease_owner === owner;
}
