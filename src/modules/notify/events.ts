import type { Insertable } from 'kysely';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import type { Database, Tx } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';

/**
 * Webhook events: written to the outbox (`deliveries`, channel `webhook`) in the transaction
 * that causes them, one row per endpoint subscribed to the event; `key` names the event
 * (unique per endpoint), so an event is never queued twice for one endpoint.
 */
export const WEBHOOK_EVENTS = [
  'service.activated',
  'service.suspended',
  'service.deleted',
  'service.renewed',
  'payment.recorded',
  'operation.failed',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface ActiveWebhook {
  readonly id: bigint | number;
  readonly url: string;
  readonly events: string;
}

/** The endpoints events go to now: read once, by one event or by a chunk of them. */
export async function activeWebhooks(tx: Tx): Promise<ActiveWebhook[]> {
  return tx.selectFrom('webhooks').select(['id', 'url', 'events']).where('status', '=', 'active').execute();
}

/** An event's outbox rows: one per endpoint subscribed to it. */
export function eventDeliveryRows(
  hooks: readonly ActiveWebhook[],
  event: WebhookEvent,
  key: string,
  data: Record<string, unknown>,
  now: string,
): Insertable<Database['deliveries']>[] {
  const id = `${event}:${key}`;
  return hooks
    .filter((hook) => (JSON.parse(hook.events) as string[]).includes(event))
    .map((hook) => ({
      channel: 'webhook',
      kind: event,
      account_id: typeof data.accountId === 'number' ? data.accountId : null,
      notification_id: null,
      webhook_id: hook.id,
      target: hook.url,
      payload: JSON.stringify({ id, event, createdAt: now, data }),
      status: 'queued',
      next_attempt_at: now,
      dedupe_key: `webhook:${toId(hook.id)}:${id}`,
      created_at: now,
      updated_at: now,
    }));
}

export async function queueEvent(
  tx: Tx,
  ctx: AppContext,
  event: WebhookEvent,
  key: string,
  data: Record<string, unknown>,
): Promise<void> {
  const rows = eventDeliveryRows(await activeWebhooks(tx), event, key, data, isoNow(ctx.clock));
  if (rows.length === 0) return;
  await tx
    .insertInto('deliveries')
    .values(rows)
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .execute();
  // Idle workers call the endpoints as soon as this transaction commits (D-wake).
  await ctx.db.signals.notify(tx, 'operations');
}
