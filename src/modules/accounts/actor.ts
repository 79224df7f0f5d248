import { forbidden, notFound } from '../../platform/errors.js';

/** Who is acting: a signed-in user (by session or API token) or the system (CLI, daily run). */
export type Actor =
  | { readonly type: 'user'; readonly userId: number; readonly role: 'admin'; readonly accountId: null }
  | { readonly type: 'user'; readonly userId: number; readonly role: 'client'; readonly accountId: number }
  | { readonly type: 'system'; readonly name: string };

export const systemActor = (name: string): Actor => ({ type: 'system', name });

export const isStaff = (actor: Actor): boolean => actor.type === 'system' || actor.role === 'admin';

/** How history, tasks and orders name who acted: `user:<id>` or `system:<name>`. */
export const actorLabel = (actor: Actor): string =>
  actor.type === 'user' ? `user:${actor.userId}` : `system:${actor.name}`;

export const actorUserId = (actor: Actor): number | null => (actor.type === 'user' ? actor.userId : null);

export function requireStaff(actor: Actor): void {
  if (!isStaff(actor)) throw forbidden('Only staff may do this.');
}

/**
 * Client-scoped data: a client sees only its own account. Anything else is reported as
 * missing (404), not forbidden, so ids cannot be probed.
 */
export function assertAccountVisible(actor: Actor, accountId: number, what = 'account'): void {
  if (isStaff(actor)) return;
  if (actor.type === 'user' && actor.accountId === accountId) return;
  throw notFound(what);
}
