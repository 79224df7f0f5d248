import { z } from 'zod';
import { formatAmount } from '../../domain/money.js';
import type {
  OperationRow,
  ServiceChargeRow,
  ServiceHistoryRow,
  ServiceRow,
  StaffTaskRow,
} from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { type Actor, isStaff } from '../accounts/actor.js';

export const ServiceView = z.object({
  id: z.number(),
  accountId: z.number(),
  tariffId: z.number(),
  name: z.string(),
  status: z.enum(['ordered', 'processing', 'active', 'suspended', 'deleted']),
  suspendReason: z.enum(['expired', 'admin', 'abuse', 'client']).nullable(),
  period: z.number(),
  autoprolong: z.number().nullable(),
  params: z.record(z.string(), z.string()),
  addonValues: z.record(z.string(), z.union([z.boolean(), z.number()])),
  activatedOn: z.string().nullable(),
  periodStart: z.string().nullable(),
  expiresOn: z
    .string()
    .nullable()
    .meta({ description: 'The day the service stops (exclusive end of the paid range)' }),
  suspendedOn: z.string().nullable(),
  deletedAt: z.string().nullable(),
  moduleId: z.number().nullable().meta({ description: 'The processing module serving the service' }),
  externalId: z
    .string()
    .nullable()
    .meta({ description: "The service's id at the module (an upstream license id)" }),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const presentService = (s: ServiceRow) => ({
  id: toId(s.id),
  accountId: toId(s.account_id),
  tariffId: toId(s.tariff_id),
  name: s.name,
  status: s.status,
  suspendReason: s.suspend_reason,
  period: Number(s.period),
  autoprolong: s.autoprolong === null ? null : Number(s.autoprolong),
  params: visibleParams(s),
  addonValues: JSON.parse(s.addon_values) as Record<string, boolean | number>,
  activatedOn: s.activated_on,
  periodStart: s.period_start,
  expiresOn: s.expires_on,
  suspendedOn: s.suspended_on,
  deletedAt: s.deleted_at,
  moduleId: s.module_id === null ? null : toId(s.module_id),
  externalId: s.external_id,
  createdAt: s.created_at,
  updatedAt: s.updated_at,
});

export const OperationView = z.object({
  id: z.number(),
  serviceId: z.number(),
  kind: z.string(),
  status: z.string(),
  attempts: z.number(),
  payload: z.unknown(),
  lastError: z.unknown(),
  nextAttemptAt: z.string(),
  leaseOwner: z.string().nullable(),
  waitingForTaskId: z
    .number()
    .nullable()
    .meta({ description: 'A manual step: the staff task this operation waits on' }),
  progress: z.unknown().meta({ description: "The module's saved steps (staff only; null for clients)" }),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
});

/** Sealed secrets (`…Sealed` keys, at any depth) are never shown: a step may have saved one. */
export function withoutSealed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutSealed);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>)
      .filter(([k]) => !k.endsWith('Sealed'))
      .map(([k, x]) => [k, withoutSealed(x)]),
  );
}

/**
 * An operation as `actor` sees it: its saved steps (`progress`) are the plug-in's working notes —
 * upstream ids, the reseller's purchase price, sealed values — and the worker holding it are
 * shown to staff only (sealed values to no one); a client sees the operation's kind, status,
 * attempts and error.
 */
export const presentOperationFor = (actor: Actor) => (o: OperationRow) => {
  const view = presentOperation(o);
  return isStaff(actor) ? view : { ...view, progress: null, leaseOwner: null };
};

export const presentOperation = (o: OperationRow) => ({
  id: toId(o.id),
  serviceId: toId(o.service_id),
  kind: o.kind,
  status: o.status,
  attempts: Number(o.attempts),
  payload: withoutSealed(JSON.parse(o.payload)),
  lastError: o.last_error ? (JSON.parse(o.last_error) as unknown) : null,
  nextAttemptAt: o.next_attempt_at,
  leaseOwner: o.lease_owner,
  waitingForTaskId: o.lease_owner?.startsWith('staff-task:')
    ? Number(o.lease_owner.slice('staff-task:'.length))
    : null,
  progress: o.progress ? withoutSealed(JSON.parse(o.progress)) : null,
  createdAt: o.created_at,
  completedAt: o.completed_at,
});

export const ChargeView = z.object({
  id: z.number(),
  kind: z.string(),
  period: z.number().nullable(),
  startOn: z.string().nullable(),
  endOn: z.string().nullable(),
  amount: z.string(),
  lines: z.unknown(),
  createdAt: z.string(),
});

export const presentCharge = (c: ServiceChargeRow, currency: string) => ({
  id: toId(c.id),
  kind: c.kind,
  period: c.period === null ? null : Number(c.period),
  startOn: c.start_on,
  endOn: c.end_on,
  amount: formatAmount(c.amount_minor, currency),
  lines: JSON.parse(c.lines) as unknown,
  createdAt: c.created_at,
});

export const HistoryView = z.object({
  id: z.number(),
  event: z.string(),
  fromStatus: z.string().nullable(),
  toStatus: z.string().nullable(),
  details: z.unknown(),
  actor: z.string().meta({ description: '`user:<id>` or `system:<job>`' }),
  actorKind: z.enum(['staff', 'client', 'system']).meta({
    description:
      'Who acted: a staff user, a user of the client account, or Billfold itself (`actor` names which)',
  }),
  createdAt: z.string(),
});

export const presentHistory = (h: ServiceHistoryRow & { actor_role: 'admin' | 'client' | null }) => ({
  id: toId(h.id),
  event: h.event,
  fromStatus: h.from_status,
  toStatus: h.to_status,
  details: JSON.parse(h.details) as unknown,
  actor: h.actor,
  actorKind:
    h.actor_role === 'admin'
      ? ('staff' as const)
      : h.actor_role === 'client'
        ? ('client' as const)
        : ('system' as const),
  createdAt: h.created_at,
});

export const TaskView = z.object({
  id: z.number(),
  operationId: z.number().nullable(),
  serviceId: z.number().nullable(),
  kind: z.string(),
  status: z.enum(['open', 'done', 'cancelled']),
  title: z.string(),
  details: z.unknown(),
  createdAt: z.string(),
  closedAt: z.string().nullable(),
  closedBy: z.string().nullable(),
});

export const presentTask = (t: StaffTaskRow) => ({
  id: toId(t.id),
  operationId: t.operation_id === null ? null : toId(t.operation_id),
  serviceId: t.service_id === null ? null : toId(t.service_id),
  kind: t.kind,
  status: t.status,
  title: t.title,
  details: JSON.parse(t.details) as unknown,
  createdAt: t.created_at,
  closedAt: t.closed_at,
  closedBy: t.closed_by,
});

/**
 * A service's parameters as shown: sealed secrets (`…Sealed`, a server's root password) never —
 * their owner reads them through their own route — and a deleted license's key is gone with
 * it (as the license view says).
 */
function visibleParams(s: ServiceRow): Record<string, string> {
  const params = JSON.parse(s.params) as Record<string, string>;
  return Object.fromEntries(
    Object.entries(params).filter(
      ([name]) => !name.endsWith('Sealed') && !(name === 'key' && s.status === 'deleted'),
    ),
  );
}
