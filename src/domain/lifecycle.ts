/**
 * The service lifecycle as one pure function (BILLING.md "Service statuses", "Renewal", "The
 * daily billing run"): `decide(service, event, today)` says what an event does to a service —
 * the change of its row, the operations to queue, the pending operations it supersedes, the
 * money to charge — or refuses it with a `DomainError`. Commands lock the service, read its
 * state, call `decide` and write the decision; the daily run re-decides each service under
 * its lock; an operation's completion is an event too, with its precondition checked again.
 *
 * No I/O and no clock: `today` and the prices are parameters.
 */
import { Temporal } from 'temporal-polyfill';
import { DomainError } from './errors.js';
import { isAutoRenewDue, isExpired, TRIAL_PERIOD } from './periods.js';

export type ServiceStatus = 'ordered' | 'processing' | 'active' | 'suspended' | 'deleted';
export type SuspendReason = 'expired' | 'admin' | 'abuse' | 'client';
export type OperationKind = 'open' | 'prolong' | 'suspend' | 'resume' | 'close' | 'set_param';

/** Suspensions a renewal lifts: non-payment, and the owner's own (ISPsystem reactivates a license on `service.prolong`). */
export const RENEWAL_LIFTS: readonly SuspendReason[] = Object.freeze(['expired', 'client']);

/**
 * An operation of the service that has not finished: queued, waiting to retry, running, or
 * failed (a failed one still holds the service's later operations back until staff retry or
 * cancel it, so it counts as pending).
 */
export interface PendingOperation {
  readonly id: number;
  readonly kind: OperationKind;
  readonly reason?: string | undefined;
  /** A worker (or a person) is carrying it out: it can no longer be withdrawn. */
  readonly running: boolean;
}

/** Staff suspensions outrank the others: a renewal never lifts them, and they replace a weaker reason. */
const STAFF_REASONS: readonly SuspendReason[] = ['admin', 'abuse'];
const outranks = (a: SuspendReason, b: SuspendReason | null | undefined) =>
  STAFF_REASONS.includes(a) && !STAFF_REASONS.includes(b as SuspendReason);

export interface ServiceState {
  readonly status: ServiceStatus;
  readonly suspendReason: SuspendReason | null;
  readonly period: number;
  readonly autoprolong: number | null;
  readonly expiresOn: Temporal.PlainDate | null;
  readonly pending: readonly PendingOperation[];
}

/** What a renewal of `period` from `start` grants and costs (the tariff's prices and cut, priced by the caller). */
export interface RenewalPrice {
  readonly end: Temporal.PlainDate;
  readonly amountMinor: bigint;
}

export type Actor = 'staff' | 'client' | 'system';

export type LifecycleEvent =
  | { readonly type: 'order_paid' }
  | {
      readonly type: 'renew';
      readonly period: number;
      readonly source: 'manual' | 'auto';
      readonly price: (start: Temporal.PlainDate, period: number) => RenewalPrice;
    }
  | { readonly type: 'expire' }
  | { readonly type: 'suspend'; readonly reason: SuspendReason; readonly by: Actor }
  | { readonly type: 'resume'; readonly by: Actor }
  | { readonly type: 'delete' }
  | { readonly type: 'deletion_due'; readonly deletionDelayDays: number }
  | { readonly type: 'tariff_change' }
  | { readonly type: 'operation_done'; readonly kind: OperationKind; readonly reason?: string | undefined }
  | {
      readonly type: 'operation_cancelled';
      readonly kind: OperationKind;
      readonly reason?: string | undefined;
    };

export interface ServiceChange {
  status?: ServiceStatus;
  suspendReason?: SuspendReason | null;
  suspendedOn?: Temporal.PlainDate | null;
  expiresOn?: Temporal.PlainDate;
  periodStart?: Temporal.PlainDate;
  period?: number;
  /** `open` completed: paid time starts today (the caller computes the activated range). */
  activate?: true;
  deleted?: true;
}

export interface Decision {
  /** Nothing to do, and why (the daily run's steps, an operation whose precondition no longer holds). */
  readonly skip?: string;
  readonly change: ServiceChange;
  readonly operations: readonly { kind: OperationKind; reason?: SuspendReason | 'renewal' }[];
  /** Pending operations withdrawn by this event (a renewal withdraws a queued expiry suspend). */
  readonly supersede: readonly { id: number; kind: OperationKind }[];
  readonly charge?: { start: Temporal.PlainDate; end: Temporal.PlainDate; amountMinor: bigint };
  /** An operation completed whose precondition no longer holds: it changes nothing. */
  readonly superseded?: boolean;
}

const none = (skip?: string): Decision => ({
  ...(skip ? { skip } : {}),
  change: {},
  operations: [],
  supersede: [],
});

const cmp = Temporal.PlainDate.compare;

const refuse = (code: string, message: string, details: Record<string, unknown> = {}) =>
  new DomainError(code, message, details, 'conflict');

/** A service with a `close` pending is being deleted: nothing else may be done to it. */
export const isClosing = (s: ServiceState): boolean =>
  s.status === 'deleted' || s.pending.some((o) => o.kind === 'close');

function assertNotClosing(s: ServiceState): void {
  if (isClosing(s)) throw refuse('service_deleted', 'The service is deleted or being deleted.');
}

/**
 * Where a renewal starts (BILLING.md "Renewal"): a service that is suspended and past its
 * `expiresOn` — whatever the reason — is extended from today; any other service from its
 * `expiresOn`, so back-to-back renewals never lose or double a day.
 */
export function renewalStart(s: ServiceState, today: Temporal.PlainDate): Temporal.PlainDate {
  const expiresOn = s.expiresOn ?? today;
  if (s.status === 'suspended' && isExpired(expiresOn, today)) return today;
  return expiresOn;
}

/** Deletion is due for a suspended service once `expiresOn` + the product type's delay ≤ today, whatever the reason. */
export function isDeletionDue(
  expiresOn: Temporal.PlainDate,
  today: Temporal.PlainDate,
  deletionDelayDays: number,
): boolean {
  if (!Number.isSafeInteger(deletionDelayDays) || deletionDelayDays < 0) {
    throw new RangeError(
      `deletion delay must be a non-negative whole number of days, got ${deletionDelayDays}`,
    );
  }
  return cmp(today, expiresOn.add({ days: deletionDelayDays })) >= 0;
}

function renew(s: ServiceState, e: Extract<LifecycleEvent, { type: 'renew' }>, today: Temporal.PlainDate) {
  assertNotClosing(s);
  if (s.status !== 'active' && s.status !== 'suspended') {
    throw refuse('service_not_renewable', `A ${s.status} service cannot be renewed yet.`, {
      status: s.status,
    });
  }
  if (s.period === TRIAL_PERIOD || e.period === TRIAL_PERIOD)
    throw refuse('trial_not_renewable', 'A trial cannot be renewed.');
  if (e.source === 'auto') {
    if (s.status !== 'active' || s.autoprolong === null) return none('not_auto_renewing');
    if (s.expiresOn === null || !isAutoRenewDue(s.expiresOn, today)) return none('not_due');
  }
  const start = renewalStart(s, today);
  const price = e.price(start, e.period);
  const lifts = (reason: string | null | undefined) => RENEWAL_LIFTS.includes(reason as SuspendReason);
  const operations: Decision['operations'][number][] = [{ kind: 'prolong' }];
  const supersede: Decision['supersede'][number][] = [];
  let resumeNeeded = s.status === 'suspended' && lifts(s.suspendReason);
  for (const op of s.pending) {
    if (op.kind !== 'suspend' || !lifts(op.reason)) continue;
    // A suspend not yet started is withdrawn; one already under way is undone after it.
    if (op.running) resumeNeeded = true;
    else supersede.push({ id: op.id, kind: op.kind });
  }
  // A resume already queued (an earlier renewal's) will do.
  if (resumeNeeded && !s.pending.some((o) => o.kind === 'resume'))
    operations.push({ kind: 'resume', reason: 'renewal' });
  return {
    change: { expiresOn: price.end, periodStart: start, period: e.period },
    operations,
    supersede,
    charge: { start, end: price.end, amountMinor: price.amountMinor },
  };
}

function completion(
  s: ServiceState,
  e: Extract<LifecycleEvent, { type: 'operation_done' }>,
  today: Temporal.PlainDate,
): Decision {
  const superseded: Decision = { ...none('superseded'), superseded: true };
  switch (e.kind) {
    case 'open':
      return s.status === 'processing' ? { ...none(), change: { status: 'active', activate: true } } : none();
    case 'suspend': {
      const reason = (e.reason as SuspendReason | undefined) ?? 'admin';
      // A staff suspension of a service already suspended for a weaker reason takes its place.
      if (s.status === 'suspended' && outranks(reason, s.suspendReason))
        return { ...none(), change: { suspendReason: reason } };
      if (s.status !== 'active') return none();
      // An expiry suspend applies only while the service is still unpaid (a renewal may have come in between).
      if (reason === 'expired' && (s.expiresOn === null || !isExpired(s.expiresOn, today))) return superseded;
      return {
        ...none(),
        change: { status: 'suspended', suspendReason: reason, suspendedOn: today },
      };
    }
    case 'resume':
      if (s.status !== 'suspended') return none();
      // A service suspended for non-payment comes back only once it is paid again.
      if (s.suspendReason === 'expired' && (s.expiresOn === null || isExpired(s.expiresOn, today)))
        return superseded;
      return { ...none(), change: { status: 'active', suspendReason: null, suspendedOn: null } };
    case 'close':
      return s.status === 'deleted'
        ? none()
        : { ...none(), change: { status: 'deleted', suspendReason: null, deleted: true } };
    case 'prolong':
    case 'set_param':
      return none();
  }
}

/** What `event` does to service `s` on `today`; throws a `DomainError` when the event is refused. */
export function decide(s: ServiceState, event: LifecycleEvent, today: Temporal.PlainDate): Decision {
  switch (event.type) {
    case 'order_paid':
      return { ...none(), operations: [{ kind: 'open' }] };
    case 'renew':
      return renew(s, event, today);
    case 'expire':
      if (s.status !== 'active') return none('not_active');
      if (s.expiresOn === null || !isExpired(s.expiresOn, today)) return none('not_expired');
      if (s.pending.some((o) => o.kind === 'suspend' || o.kind === 'close')) return none('pending');
      return { ...none(), operations: [{ kind: 'suspend', reason: 'expired' }] };
    case 'suspend': {
      assertNotClosing(s);
      if (event.by === 'client' && event.reason !== 'client')
        throw new DomainError('forbidden', 'Clients suspend with reason "client".', {}, 'forbidden');
      // Staff may suspend a service already suspended for non-payment or by its owner: their
      // reason replaces the weaker one, so a renewal does not lift it.
      const upgrade = s.status === 'suspended' && outranks(event.reason, s.suspendReason);
      if (s.status !== 'active' && !upgrade)
        throw refuse('service_not_active', `A ${s.status} service cannot be suspended.`, {
          status: s.status,
        });
      // The same request again, or one as strong already on its way, changes nothing; a
      // staff suspension is queued even behind a pending expiry or client one.
      const pending = s.pending.filter((o) => o.kind === 'suspend');
      if (pending.some((o) => !outranks(event.reason, o.reason as SuspendReason))) return none('pending');
      return { ...none(), operations: [{ kind: 'suspend', reason: event.reason }] };
    }
    case 'resume':
      assertNotClosing(s);
      if (s.status !== 'suspended')
        throw refuse('service_not_suspended', 'The service is not suspended.', { status: s.status });
      if (event.by === 'client' && s.suspendReason !== 'client')
        throw new DomainError('forbidden', 'Only staff can lift this suspension.', {}, 'forbidden');
      if (s.suspendReason === 'expired' && s.expiresOn !== null && isExpired(s.expiresOn, today))
        throw refuse('service_expired', 'The service has expired: renew it to resume it.', {
          expiresOn: s.expiresOn.toString(),
        });
      if (s.pending.some((o) => o.kind === 'resume')) return none('pending');
      return { ...none(), operations: [{ kind: 'resume' }] };
    case 'delete':
      if (s.status === 'deleted') throw refuse('service_deleted', 'The service is deleted.');
      if (isClosing(s)) return none('pending');
      return { ...none(), operations: [{ kind: 'close' }] };
    case 'deletion_due':
      if (s.status !== 'suspended') return none('not_suspended');
      if (isClosing(s)) return none('pending');
      if (s.expiresOn === null || !isDeletionDue(s.expiresOn, today, event.deletionDelayDays))
        return none('not_due');
      return { ...none(), operations: [{ kind: 'close' }] };
    case 'tariff_change':
      assertNotClosing(s);
      if (s.status !== 'active')
        throw refuse('service_not_active', 'Only an active service can change its tariff.', {
          status: s.status,
        });
      return { ...none(), operations: [{ kind: 'set_param' }] };
    case 'operation_done':
      return completion(s, event, today);
    case 'operation_cancelled':
      // Staff gave up on the resume a renewal queued: the service is paid, so it is no longer
      // suspended for non-payment but by staff's choice — nothing lifts it but staff.
      if (
        event.kind === 'resume' &&
        s.status === 'suspended' &&
        s.suspendReason === 'expired' &&
        s.expiresOn !== null &&
        !isExpired(s.expiresOn, today) &&
        !s.pending.some((o) => o.kind === 'resume')
      )
        return { ...none(), change: { suspendReason: 'admin' } };
      return none('nothing_to_undo');
  }
}
