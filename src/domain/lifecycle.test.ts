import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import { DomainError } from './errors.js';
import {
  type Decision,
  decide,
  isDeletionDue,
  type LifecycleEvent,
  type PendingOperation,
  renewalStart,
  type ServiceState,
  type SuspendReason,
} from './lifecycle.js';
import { addMonthsAnchored, daysBetween } from './periods.js';

const d = (s: string) => Temporal.PlainDate.from(s);
/** A price of exactly 100 minor units a day: money charged must equal days granted × 100. */
const DAY_PRICE = 100n;
const price = (start: Temporal.PlainDate, period: number) => {
  const end = addMonthsAnchored(start, period);
  return { end, amountMinor: BigInt(daysBetween(start, end)) * DAY_PRICE };
};

const active = (over: Partial<ServiceState> = {}): ServiceState => ({
  status: 'active',
  suspendReason: null,
  period: 1,
  autoprolong: null,
  expiresOn: d('2022-01-16'),
  pending: [],
  ...over,
});

describe('decide: renewal', () => {
  it('an active service renews from its expiresOn; one suspended past its expiresOn, whatever the reason, from today', () => {
    const today = d('2022-02-01');
    expect(renewalStart(active(), today).toString()).toBe('2022-01-16');
    for (const reason of ['expired', 'admin', 'abuse', 'client'] as const)
      expect(
        renewalStart(active({ status: 'suspended', suspendReason: reason }), today).toString(),
        reason,
      ).toBe('2022-02-01');
    // Suspended but still paid: no paid day is given up.
    expect(
      renewalStart(active({ status: 'suspended', suspendReason: 'admin' }), d('2022-01-10')).toString(),
    ).toBe('2022-01-16');
  });

  it('a renewal withdraws a queued expiry suspend; one already running is undone by a resume after it', () => {
    const queued: PendingOperation = { id: 7, kind: 'suspend', reason: 'expired', running: false };
    const q = decide(
      active({ pending: [queued] }),
      { type: 'renew', period: 1, source: 'manual', price },
      d('2022-01-16'),
    );
    expect(q.supersede).toEqual([{ id: 7, kind: 'suspend' }]);
    expect(q.operations.map((o) => o.kind)).toEqual(['prolong']);
    const running = decide(
      active({ pending: [{ ...queued, running: true }] }),
      { type: 'renew', period: 1, source: 'manual', price },
      d('2022-01-16'),
    );
    expect(running.supersede).toEqual([]);
    expect(running.operations.map((o) => o.kind)).toEqual(['prolong', 'resume']);
  });

  it('a renewal resumes a service suspended for non-payment or by its owner; admin and abuse stay suspended', () => {
    const today = d('2022-01-20');
    for (const [reason, resumes] of [
      ['expired', true],
      ['client', true],
      ['admin', false],
      ['abuse', false],
    ] as const) {
      const r = decide(
        active({ status: 'suspended', suspendReason: reason }),
        { type: 'renew', period: 1, source: 'manual', price },
        today,
      );
      expect(
        r.operations.some((o) => o.kind === 'resume'),
        reason,
      ).toBe(resumes);
      expect(r.charge?.start.toString()).toBe('2022-01-20');
    }
  });

  it('refusals: deleted or being deleted, not yet active, a trial', () => {
    const renew: LifecycleEvent = { type: 'renew', period: 1, source: 'manual', price };
    const code = (s: ServiceState, e: LifecycleEvent = renew) => {
      try {
        decide(s, e, d('2022-01-01'));
        return null;
      } catch (err) {
        return (err as DomainError).code;
      }
    };
    expect(code(active({ status: 'deleted' }))).toBe('service_deleted');
    expect(code(active({ pending: [{ id: 1, kind: 'close', running: false }] }))).toBe('service_deleted');
    expect(code(active({ status: 'processing' }))).toBe('service_not_renewable');
    expect(code(active({ period: -100 }))).toBe('trial_not_renewable');
    expect(code(active(), { ...renew, period: -100 } as LifecycleEvent)).toBe('trial_not_renewable');
  });
});

describe('decide: staff suspensions stick', () => {
  const today = d('2022-01-16');
  const expirySuspend: PendingOperation = { id: 3, kind: 'suspend', reason: 'expired', running: false };
  it('an abuse suspend is queued even while an expiry suspend is pending, and a renewal withdraws only the latter', () => {
    const s = active({ pending: [expirySuspend] });
    const abuse = decide(s, { type: 'suspend', reason: 'abuse', by: 'staff' }, today);
    expect(abuse.operations).toEqual([{ kind: 'suspend', reason: 'abuse' }]);
    const both = active({
      pending: [expirySuspend, { id: 4, kind: 'suspend', reason: 'abuse', running: false }],
    });
    const renewed = decide(both, { type: 'renew', period: 1, source: 'manual', price }, today);
    expect(renewed.supersede).toEqual([{ id: 3, kind: 'suspend' }]);
    // The same request again is nothing new.
    expect(decide(both, { type: 'suspend', reason: 'abuse', by: 'staff' }, today).skip).toBe('pending');
  });

  it('staff may suspend a service suspended for non-payment: the stronger reason replaces the weaker on completion', () => {
    const s = active({ status: 'suspended', suspendReason: 'expired' });
    expect(decide(s, { type: 'suspend', reason: 'admin', by: 'staff' }, today).operations).toEqual([
      { kind: 'suspend', reason: 'admin' },
    ]);
    expect(decide(s, { type: 'operation_done', kind: 'suspend', reason: 'admin' }, today).change).toEqual({
      suspendReason: 'admin',
    });
    // A renewal then does not lift it.
    const admin = active({ status: 'suspended', suspendReason: 'admin' });
    const r = decide(admin, { type: 'renew', period: 1, source: 'manual', price }, today);
    expect(r.operations.map((o) => o.kind)).toEqual(['prolong']);
  });
});

describe('decide: completion re-checks its precondition', () => {
  it('an expiry suspend of a service renewed meanwhile is superseded and changes nothing', () => {
    const done = decide(
      active({ expiresOn: d('2022-02-16') }),
      { type: 'operation_done', kind: 'suspend', reason: 'expired' },
      d('2022-01-16'),
    );
    expect(done.superseded).toBe(true);
    expect(done.change).toEqual({});
    const still = decide(
      active(),
      { type: 'operation_done', kind: 'suspend', reason: 'expired' },
      d('2022-01-16'),
    );
    expect(still.change).toMatchObject({ status: 'suspended', suspendReason: 'expired' });
  });

  it('deletion is due once expiresOn + the delay has passed, whatever the suspension reason', () => {
    expect(isDeletionDue(d('2022-01-16'), d('2022-02-15'), 30)).toBe(true);
    expect(isDeletionDue(d('2022-01-16'), d('2022-02-14'), 30)).toBe(false);
    for (const reason of ['expired', 'admin', 'abuse', 'client'] as const) {
      const r = decide(
        active({ status: 'suspended', suspendReason: reason }),
        { type: 'deletion_due', deletionDelayDays: 30 },
        d('2022-02-15'),
      );
      expect(r.operations, reason).toEqual([{ kind: 'close' }]);
    }
  });
});

/** A simulated service driven by random events through `decide`, its operations completed in order. */
type Step =
  | { t: 'days'; n: number }
  | { t: 'renew'; period: 1 | 12 }
  | { t: 'expire' }
  | { t: 'complete' }
  | { t: 'fail' }
  | { t: 'claim' }
  | { t: 'cancel' }
  | { t: 'auto' }
  | { t: 'delete' }
  | { t: 'suspend'; reason: SuspendReason }
  | { t: 'resume'; by: 'staff' | 'client' }
  | { t: 'deletion_due' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('days' as const), n: fc.integer({ min: 0, max: 45 }) }),
  fc.record({ t: fc.constant('renew' as const), period: fc.constantFrom(1 as const, 12 as const) }),
  fc.constant({ t: 'expire' as const }),
  fc.constant({ t: 'complete' as const }),
  fc.constant({ t: 'complete' as const }),
  fc.constant({ t: 'fail' as const }),
  fc.constant({ t: 'claim' as const }),
  fc.constant({ t: 'cancel' as const }),
  fc.constant({ t: 'auto' as const }),
  fc.constant({ t: 'delete' as const }),
  fc.record({
    t: fc.constant('suspend' as const),
    reason: fc.constantFrom<SuspendReason>('admin', 'abuse', 'client'),
  }),
  fc.record({ t: fc.constant('resume' as const), by: fc.constantFrom('staff' as const, 'client' as const) }),
  fc.constant({ t: 'deletion_due' as const }),
);

describe('decide: properties over random event sequences', () => {
  it('money charged = days granted × day price; no paid day lost or paid twice; no suspended/expired service with a future expiresOn once its operations ran', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 60 }), (steps) => {
        let today = d('2021-12-16');
        let s: ServiceState = active({ expiresOn: d('2022-01-16') });
        let nextOp = 1;
        let charged = 0n;
        let granted = 0;
        const apply = (dec: Decision) => {
          const c = dec.change;
          s = {
            ...s,
            ...(c.status !== undefined ? { status: c.status } : {}),
            ...(c.suspendReason !== undefined ? { suspendReason: c.suspendReason } : {}),
            ...(c.expiresOn !== undefined ? { expiresOn: c.expiresOn } : {}),
            ...(c.period !== undefined ? { period: c.period } : {}),
            pending: [
              ...s.pending.filter((p) => !dec.supersede.some((x) => x.id === p.id)),
              ...dec.operations.map((o) => ({
                id: nextOp++,
                kind: o.kind,
                reason: o.reason,
                running: false,
              })),
            ],
          };
        };
        for (const step of steps) {
          if (s.status === 'deleted') break;
          let event: LifecycleEvent;
          switch (step.t) {
            case 'days':
              today = today.add({ days: step.n });
              continue;
            case 'renew':
              event = { type: 'renew', period: step.period, source: 'manual', price };
              break;
            case 'auto':
              s = { ...s, autoprolong: 1 };
              event = { type: 'renew', period: 1, source: 'auto', price };
              break;
            case 'delete':
              event = { type: 'delete' };
              break;
            case 'fail': {
              // The oldest operation fails for good: it stays, holding the later ones back.
              const [op, ...rest] = s.pending;
              if (op) s = { ...s, pending: [{ ...op, running: false }, ...rest] };
              continue;
            }
            case 'claim': {
              // A worker takes the oldest operation: it can no longer be withdrawn.
              const [op, ...rest] = s.pending;
              if (op) s = { ...s, pending: [{ ...op, running: true }, ...rest] };
              continue;
            }
            case 'cancel': {
              // Staff give up on the oldest operation.
              const [op, ...rest] = s.pending;
              if (!op) continue;
              s = { ...s, pending: rest };
              apply(decide(s, { type: 'operation_cancelled', kind: op.kind, reason: op.reason }, today));
              continue;
            }
            case 'expire':
              event = { type: 'expire' };
              break;
            case 'deletion_due':
              event = { type: 'deletion_due', deletionDelayDays: 30 };
              break;
            case 'suspend':
              event = {
                type: 'suspend',
                reason: step.reason,
                by: step.reason === 'client' ? 'client' : 'staff',
              };
              break;
            case 'resume':
              event = { type: 'resume', by: step.by };
              break;
            case 'complete': {
              const [op, ...rest] = s.pending;
              if (!op) continue;
              s = { ...s, pending: rest };
              apply(decide(s, { type: 'operation_done', kind: op.kind, reason: op.reason }, today));
              continue;
            }
          }
          let dec: Decision;
          try {
            dec = decide(s, event, today);
          } catch (err) {
            if (err instanceof DomainError) continue;
            throw err;
          }
          if (dec.charge) {
            const before = s.expiresOn!;
            // Never paid twice: the new range starts on or after the paid one ends.
            expect(Temporal.PlainDate.compare(dec.charge.start, before)).toBeGreaterThanOrEqual(0);
            // Never lost: it starts where the paid one ends, unless the service is suspended past it.
            if (!dec.charge.start.equals(before)) {
              expect(s.status).toBe('suspended');
              expect(dec.charge.start.equals(today)).toBe(true);
            }
            charged += dec.charge.amountMinor;
            granted += daysBetween(dec.charge.start, dec.charge.end);
          }
          apply(dec);
        }
        expect(charged).toBe(BigInt(granted) * DAY_PRICE);
        // Let every queued operation run, then look.
        while (s.pending.length > 0 && s.status !== 'deleted') {
          const [op, ...rest] = s.pending;
          s = { ...s, pending: rest };
          apply(decide(s, { type: 'operation_done', kind: op!.kind, reason: op!.reason }, today));
        }
        if (s.status === 'suspended' && s.suspendReason === 'expired')
          expect(Temporal.PlainDate.compare(s.expiresOn!, today)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('decide: an operation given up by staff', () => {
  it("a renewal's resume cancelled: the paid service stays suspended, now by staff, so no rule keeps it suspended for non-payment", () => {
    const s = active({ status: 'suspended', suspendReason: 'expired', expiresOn: d('2022-02-16') });
    expect(
      decide(s, { type: 'operation_cancelled', kind: 'resume', reason: 'renewal' }, d('2022-01-20')).change,
    ).toEqual({
      suspendReason: 'admin',
    });
    // Expired after all, or another resume on its way, or another kind: nothing to change.
    expect(decide(s, { type: 'operation_cancelled', kind: 'resume' }, d('2022-02-20')).change).toEqual({});
    expect(
      decide(
        { ...s, pending: [{ id: 9, kind: 'resume', running: false }] },
        { type: 'operation_cancelled', kind: 'resume' },
        d('2022-01-20'),
      ).change,
    ).toEqual({});
    expect(decide(s, { type: 'operation_cancelled', kind: 'prolong' }, d('2022-01-20')).change).toEqual({});
  });
});
