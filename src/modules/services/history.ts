import type { Insertable } from 'kysely';
import { formatAmount } from '../../domain/money.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import type { Database, ServiceChargeRow, ServiceStatus, Tx } from '../../platform/db/index.js';
import { type Actor, actorLabel, actorUserId } from '../accounts/actor.js';

export interface HistoryChange {
  from?: ServiceStatus | null;
  to?: ServiceStatus | null;
  details?: Record<string, unknown>;
}

/** A service's history row: one per event, with who did it and what changed. */
export function historyRow(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  event: string,
  change: HistoryChange = {},
): Insertable<Database['service_history']> {
  return {
    service_id: serviceId,
    event,
    from_status: change.from ?? null,
    to_status: change.to ?? null,
    details: JSON.stringify(change.details ?? {}),
    actor_user_id: actorUserId(actor),
    actor: actorLabel(actor),
    created_at: isoNow(ctx.clock),
  };
}

/** Records one history event now (`historyRow`). */
export async function recordHistory(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  event: string,
  change: HistoryChange = {},
): Promise<void> {
  await tx
    .insertInto('service_history')
    .values(historyRow(ctx, actor, serviceId, event, change))
    .execute();
}

export interface ChargeRecord {
  kind: ServiceChargeRow['kind'];
  period: number | null;
  start: string | null;
  end: string | null;
  amountMinor: bigint;
  /** The priced lines (`storeLines`); credits and differences have none. */
  lines?: string;
  ledgerEntryId: bigint | number | null;
  /** A renewal request's idempotency key. */
  requestKey?: string | null;
}

/**
 * What a service was charged or credited, kept with the range it bought (`service_charges`):
 * refunds prorate what a range actually cost, never today's prices.
 */
export function chargeRow(
  ctx: AppContext,
  serviceId: number | bigint,
  c: ChargeRecord,
): Insertable<Database['service_charges']> {
  return {
    service_id: serviceId,
    kind: c.kind,
    period: c.period,
    start_on: c.start,
    end_on: c.end,
    amount_minor: c.amountMinor,
    lines: c.lines ?? '[]',
    ledger_entry_id: c.ledgerEntryId,
    request_key: c.requestKey ?? null,
    created_at: isoNow(ctx.clock),
  };
}

export async function recordCharge(
  tx: Tx,
  ctx: AppContext,
  serviceId: number | bigint,
  c: ChargeRecord,
): Promise<void> {
  await tx
    .insertInto('service_charges')
    .values(chargeRow(ctx, serviceId, c))
    .execute();
}

/** Lines as stored with a charge: amounts as decimal strings, so JSON keeps them exact. */
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
