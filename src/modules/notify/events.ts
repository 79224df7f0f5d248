import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import type { Tx } from '../../platform/db/index.js';
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

export async function queueEvent(
  tx: Tx,
  ctx: AppContext,
  event: WebhookEvent,
  key: string,
  data: Record<string, unknown>,
): Promise<void> {
  const hooks = await tx
    .selectFrom('webhooks')
    .select(['id', 'url', 'events'])
    .where('status', '=', 'active')
    .execute();
  const now = isoNow(ctx.clock);
  let queued = false;
  for (const hook of hooks) {
    if (!(JSON.parse(hook.events) as string[]).includes(event)) continue;
    queued = true;
    const id = `${event}:${key}`;
    await tx
      .insertInto('deliveries')
      .values({
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
      })
      .onConflict((oc) => oc.column('dedupe_key').doNothing())
      .execute();
  }
  // Idle workers call the endpoints as soon as this transaction commits (D-wake).
  if (queued) await ctx.db.signals.notify(tx, 'operations');
}
