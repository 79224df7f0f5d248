import type { PendingOperation, ServiceState } from '../../domain/lifecycle.js';
import { storedDate } from '../../domain/periods.js';
import type { AppContext } from '../../platform/context.js';
import { lockRows, type ProductTypeRow, type ServiceRow, type Tx } from '../../platform/db/index.js';
import { notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, assertAccountVisible } from '../accounts/actor.js';

/**
 * Reading services: the one place that knows how a service row, its pending operations and
 * its product type are read. Every command that changes a service starts with `lockService`
 * (ARCHITECTURE.md "One lock, first"): PostgreSQL locks the row until the transaction ends,
 * SQLite's IMMEDIATE transaction already holds the one write lock. What the command decides
 * on is read after the lock, never before it.
 */
export type Reader = Tx | AppContext['db']['kysely'];

/** Not finished: a failed operation still holds the service's later ones back until staff act. */
export const PENDING_OPERATION = ['queued', 'running', 'retry_wait', 'failed'] as const;

/** Locks a service's row for the rest of the transaction and returns it as it is now. */
export async function lockService(tx: Tx, id: number, actor?: Actor): Promise<ServiceRow> {
  const s = await tx
    .selectFrom('services')
    .selectAll()
    .where('id', '=', id)
    .$call((q) => lockRows(tx, q))
    .executeTakeFirst();
  if (!s) throw notFound('service', { serviceId: id });
  if (actor) assertAccountVisible(actor, toId(s.account_id), 'service');
  return s;
}

export async function findService(db: Reader, id: number): Promise<ServiceRow> {
  const s = await db.selectFrom('services').selectAll().where('id', '=', id).executeTakeFirst();
  if (!s) throw notFound('service', { serviceId: id });
  return s;
}

/** The service's operations not yet finished, oldest first. */
export async function pendingOperations(db: Reader, serviceId: number): Promise<PendingOperation[]> {
  return (await pendingOperationsOf(db, [serviceId])).get(serviceId) ?? [];
}

/** The operations not yet finished of several services (a chunk of the daily run), oldest first, by service. */
export async function pendingOperationsOf(
  db: Reader,
  serviceIds: readonly number[],
): Promise<Map<number, PendingOperation[]>> {
  const out = new Map<number, PendingOperation[]>();
  if (serviceIds.length === 0) return out;
  const rows = await db
    .selectFrom('operations')
    .select(['id', 'service_id', 'kind', 'status', 'payload'])
    .where(
      'service_id',
      serviceIds.length === 1 ? '=' : 'in',
      serviceIds.length === 1 ? serviceIds[0]! : serviceIds,
    )
    .where('status', 'in', [...PENDING_OPERATION])
    // Found through `operations_service_status` (service, status, id; migration 0020), then
    // sorted: ordering by id alone makes SQLite walk the whole table in id order for a list of
    // services.
    .orderBy('service_id')
    .orderBy('id')
    .execute();
  for (const r of rows) {
    const sid = toId(r.service_id);
    let list = out.get(sid);
    if (!list) {
      list = [];
      out.set(sid, list);
    }
    list.push({
      id: toId(r.id),
      kind: r.kind,
      reason: (JSON.parse(r.payload) as { reason?: string }).reason,
      running: r.status === 'running',
    });
  }
  return out;
}

/**
 * What the daily run's chunks decide on and write from: not the parameters, the timestamps or
 * the upstream ids. A chunk reads 500 rows at a time, and the whole row cost half again as much
 * to read as these columns (0.4 s of a run over a million services on SQLite).
 */
export const DECISION_COLUMNS = [
  'id',
  'account_id',
  'tariff_id',
  'product_type_id',
  'name',
  'status',
  'suspend_reason',
  'period',
  'autoprolong',
  'addon_values',
  'period_start',
  'expires_on',
  'suspended_on',
] as const;
export type DecisionService = Pick<ServiceRow, (typeof DECISION_COLUMNS)[number]>;

/**
 * Locks several services' rows together (a chunk of the daily run), in id order so that two
 * lockers of overlapping chunks queue instead of deadlocking; returns them as they are now.
 */
export async function lockServices(tx: Tx, ids: readonly number[]): Promise<DecisionService[]> {
  if (ids.length === 0) return [];
  return tx
    .selectFrom('services')
    .select(DECISION_COLUMNS)
    .where('id', 'in', ids)
    .orderBy('id')
    .$call((q) => lockRows(tx, q))
    .execute();
}

/** What the pure lifecycle decides on. */
export function stateOf(
  s: Pick<ServiceRow, 'status' | 'suspend_reason' | 'period' | 'autoprolong' | 'expires_on'>,
  pending: readonly PendingOperation[],
): ServiceState {
  return {
    status: s.status,
    suspendReason: s.suspend_reason,
    period: Number(s.period),
    autoprolong: s.autoprolong === null ? null : Number(s.autoprolong),
    expiresOn: s.expires_on ? storedDate(s.expires_on) : null,
    pending,
  };
}

export async function serviceState(db: Reader, s: ServiceRow): Promise<ServiceState> {
  return stateOf(s, await pendingOperations(db, toId(s.id)));
}

export async function productTypeOf(db: Reader, s: ServiceRow): Promise<ProductTypeRow> {
  return db
    .selectFrom('product_types')
    .selectAll()
    .where('id', '=', s.product_type_id)
    .executeTakeFirstOrThrow();
}
