import { Temporal } from 'temporal-polyfill';
import { formatAmount, parseAmount, prorate } from '../../domain/money.js';
import { cutAtExpiration, PeriodError } from '../../domain/periods.js';
import { isoNow, todayOf } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import type {
  OperationKind,
  OperationRow,
  ServiceRow,
  ServiceStatus,
  SuspendReason,
  Tx,
} from '../../platform/db/index.js';
import { notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorLabel, actorUserId } from '../accounts/actor.js';
import { postEntry } from '../accounts/ledger.js';

/**
 * The service lifecycle: history, the operations queue contract, and what a completed
 * operation does to its service. Statuses change only when an operation completes (a failed
 * operation never flips a status): `processing → active` on `open`, `active → suspended` on
 * `suspend`, back on `resume`, `→ deleted` on `close`.
 */

export const PENDING_OPERATION = ['queued', 'running', 'retry_wait'] as const;

export async function recordHistory(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  event: string,
  change: { from?: ServiceStatus | null; to?: ServiceStatus | null; details?: Record<string, unknown> } = {},
): Promise<void> {
  await tx
    .insertInto('service_history')
    .values({
      service_id: serviceId,
      event,
      from_status: change.from ?? null,
      to_status: change.to ?? null,
      details: JSON.stringify(change.details ?? {}),
      actor_user_id: actorUserId(actor),
      actor: actorLabel(actor),
      created_at: isoNow(ctx.clock),
    })
    .execute();
}

export interface OperationPayload {
  readonly reason?: string;
  readonly expiresOn?: string;
  readonly tariffId?: number;
  readonly [key: string]: unknown;
}

/**
 * Enqueues an operation in the caller's transaction. The idempotency key makes a repeated
 * enqueue (a retried request, a rerun of the daily run) return the operation already there.
 */
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
  return tx
    .insertInto('operations')
    .values({
      service_id: serviceId,
      kind,
      payload: JSON.stringify(payload),
      idempotency_key: idempotencyKey,
      status: 'queued',
      attempts: 0,
      next_attempt_at: now,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function hasPendingOperation(
  tx: Tx | AppContext['db']['kysely'],
  serviceId: number,
  kinds?: readonly OperationKind[],
): Promise<boolean> {
  let q = tx
    .selectFrom('operations')
    .select('id')
    .where('service_id', '=', serviceId)
    .where('status', 'in', [...PENDING_OPERATION]);
  if (kinds) q = q.where('kind', 'in', [...kinds]);
  return (await q.limit(1).executeTakeFirst()) !== undefined;
}

export async function loadServiceTx(tx: Tx, id: number): Promise<ServiceRow> {
  const s = await tx.selectFrom('services').selectAll().where('id', '=', id).executeTakeFirst();
  if (!s) throw notFound('service', { serviceId: id });
  return s;
}

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
): Promise<Partial<ServiceRow>> {
  const today = todayOf(ctx.clock);
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
      await tx
        .insertInto('service_charges')
        .values({
          service_id: service.id,
          kind: 'activation_adjustment',
          period,
          start_on: today.toString(),
          end_on: end.toString(),
          amount_minor: -refund,
          lines: '[]',
          ledger_entry_id: entry.id,
          created_at: isoNow(ctx.clock),
        })
        .execute();
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
 * transaction: either both land or neither.
 */
export async function completeOperation(
  tx: Tx,
  ctx: AppContext,
  op: OperationRow,
  actor: Actor,
  result: Record<string, unknown> = {},
): Promise<void> {
  const service = await loadServiceTx(tx, toId(op.service_id));
  const payload = JSON.parse(op.payload) as OperationPayload;
  const today = todayOf(ctx.clock).toString();
  let change: Partial<ServiceRow> = {};
  switch (op.kind) {
    case 'open':
      if (service.status === 'processing') change = await activate(tx, ctx, service, actor);
      break;
    case 'suspend':
      if (service.status === 'active')
        change = {
          status: 'suspended',
          suspend_reason: (payload.reason as SuspendReason | undefined) ?? 'admin',
          suspended_on: today,
        };
      break;
    case 'resume':
      if (service.status === 'suspended')
        change = { status: 'active', suspend_reason: null, suspended_on: null };
      break;
    case 'close':
      // A deleted service has no suspension reason (services_suspension check); the history keeps it.
      if (service.status !== 'deleted')
        change = { status: 'deleted', suspend_reason: null, deleted_at: isoNow(ctx.clock) };
      break;
    case 'prolong':
    case 'set_param':
      break;
  }
  // What the module learnt (an IP, a key, the upstream id) lands with the post-state.
  const learnt = result.serviceParams as Record<string, string> | undefined;
  if (learnt && Object.keys(learnt).length > 0) {
    change.params = JSON.stringify({ ...(JSON.parse(service.params) as Record<string, string>), ...learnt });
  }
  if (typeof result.externalId === 'string') change.external_id = result.externalId;
  if (Object.keys(change).length > 0) {
    await tx
      .updateTable('services')
      .set({ ...change, updated_at: isoNow(ctx.clock) } as never)
      .where('id', '=', service.id)
      .execute();
  }
  await tx
    .updateTable('operations')
    .set({
      status: 'done',
      result: JSON.stringify(result),
      completed_at: isoNow(ctx.clock),
      updated_at: isoNow(ctx.clock),
      lease_owner: null,
      lease_expires_at: null,
    })
    .where('id', '=', op.id)
    .execute();
  await recordHistory(tx, ctx, actor, toId(service.id), `operation_${op.kind}_done`, {
    from: service.status,
    to: (change.status as ServiceStatus | undefined) ?? service.status,
    details: {
      operationId: toId(op.id),
      ...(change.expires_on ? { expiresOn: change.expires_on } : {}),
      ...(payload.reason ? { reason: payload.reason } : {}),
    },
  });
}

/** Lines as stored with a charge: amounts as minor-unit strings, so JSON keeps them exact. */
export function storeLines(
  lines: readonly {
    kind: string;
    addonId: number | null;
    label: string;
    quantity: number;
    unitPriceMinor: bigint;
    amountMinor: bigint;
    value: unknown;
  }[],
  currency: string,
) {
  return JSON.stringify(
    lines.map((l) => ({
      kind: l.kind,
      addonId: l.addonId,
      label: l.label,
      quantity: l.quantity,
      unitPrice: formatAmount(l.unitPriceMinor, currency),
      amount: formatAmount(l.amountMinor, currency),
      value: l.value,
    })),
  );
}
