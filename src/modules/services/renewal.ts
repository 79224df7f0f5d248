import { Temporal } from 'temporal-polyfill';
import type { Decision, ServiceState } from '../../domain/lifecycle.js';
import { formatAmount } from '../../domain/money.js';
import { isTariffEnded } from '../../domain/periods.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, type ServiceRow, type Tx } from '../../platform/db/index.js';
import { conflict } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorUserId } from '../accounts/actor.js';
import { type PostEntryInput, postEntry } from '../accounts/ledger.js';
import type { TariffAggregate } from '../catalog/aggregate.js';
import { type PricedRange, priceRange } from '../catalog/quote.js';
import { issueRenewalInvoice, type RenewalInvoice } from '../invoices/issue.js';
import { queueEvent } from '../notify/events.js';
import { addonValuesOf, getServiceFor, tariffOf } from './commands.js';
import { decideOrThrow, writeDecision } from './decisions.js';
import { type ChargeRecord, type HistoryChange, recordCharge, recordHistory, storeLines } from './history.js';
import { type DecisionService, lockService, serviceState } from './repository.js';

/**
 * Renewal (BILLING.md "Renewal"): the pure lifecycle decides where it starts, whether it
 * resumes the service and which pending suspend it withdraws; this prices it, charges it and
 * writes it — under the service's lock, so concurrent renewals of one service queue and each
 * grants exactly the days it charges.
 */
type Reader = Tx | AppContext['db']['kysely'];

export interface RenewalPlan<S extends DecisionService = ServiceRow> {
  readonly service: S;
  readonly start: Temporal.PlainDate;
  readonly priced: PricedRange;
  /** The renewal lifts the service's suspension (non-payment, or its owner's). */
  readonly resumes: boolean;
  readonly decision: Decision;
}

function assertRenewable(agg: TariffAggregate, today: Temporal.PlainDate): void {
  if (agg.tariff.status === 'archived')
    throw conflict('tariff_not_renewable', 'The tariff is archived: it cannot be renewed.', {});
  if (isTariffEnded(agg.tariff.expires_on, today)) {
    throw conflict('tariff_expired', 'The tariff has ended: it can no longer be ordered or renewed.', {
      expiresOn: agg.tariff.expires_on,
    });
  }
}

/**
 * Decides and prices a renewal of `service` as it is now (no writes). `source: 'auto'` is the
 * daily run's: null when the service is not (or no longer) due.
 */
export async function planRenewal(
  db: Reader,
  ctx: AppContext,
  service: ServiceRow,
  period: number,
  opts: {
    today?: Temporal.PlainDate;
    source?: 'manual' | 'auto';
    /** Read-only callers (the daily run's dry run and reminders) share tariffs across services. */
    tariffCache?: Map<number, TariffAggregate>;
  } = {},
): Promise<RenewalPlan | null> {
  const today = opts.today ?? (await todayIn(ctx, db));
  const tariffId = toId(service.tariff_id);
  let agg = opts.tariffCache?.get(tariffId);
  if (!agg) {
    agg = await tariffOf(db, tariffId);
    opts.tariffCache?.set(tariffId, agg);
  }
  return renewalPlanOf(await serviceState(db, service), service, agg, period, today, opts.source ?? 'manual');
}

/** The pure part of `planRenewal`: the lifecycle's decision on the service as read, priced with its tariff. */
export function renewalPlanOf<S extends DecisionService>(
  state: ServiceState,
  service: S,
  tariff: TariffAggregate,
  period: number,
  today: Temporal.PlainDate,
  source: 'manual' | 'auto',
): RenewalPlan<S> | null {
  let priced: PricedRange | undefined;
  const decision = decideOrThrow(
    state,
    {
      type: 'renew',
      period,
      source,
      price: (start, p) => {
        assertRenewable(tariff, today);
        priced = priceRange(tariff, p, addonValuesOf(service), start, {
          includeSetup: false,
          existing: true,
        });
        return { end: priced.cut.end, amountMinor: priced.totalMinor };
      },
    },
    today,
  );
  if (decision.skip || !priced || !decision.charge) return null;
  return {
    service,
    start: decision.charge.start,
    priced,
    resumes: decision.operations.some((o) => o.kind === 'resume'),
    decision,
  };
}

/** A renewal that cannot be skipped (asked for by a person): its plan. */
async function manualPlan(
  db: Reader,
  ctx: AppContext,
  service: ServiceRow,
  period: number,
  today?: Temporal.PlainDate,
) {
  const plan = await planRenewal(db, ctx, service, period, today ? { today } : {});
  if (!plan) throw new Error('a manual renewal is never skipped');
  return plan;
}

export async function quoteRenewal(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  period: number,
): Promise<RenewalPlan> {
  const service = await getServiceFor(ctx, actor, serviceId);
  return manualPlan(ctx.db.kysely, ctx, service, period);
}

export interface RenewalResult {
  readonly service: ServiceRow;
  readonly plan: RenewalPlan;
  /** The same request (idempotency key) was renewed before: nothing charged now. */
  readonly replayed: boolean;
}

/**
 * Renews: charges the plan's total, moves `expiresOn`, queues `prolong` (and `resume` where
 * the renewal lifts a suspension), withdraws a pending expiry suspend. A caller's idempotency
 * key makes a retried request renew once.
 */
export async function renewService(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  period: number,
  opts: { idempotencyKey?: string } = {},
): Promise<RenewalResult> {
  await getServiceFor(ctx, actor, serviceId);
  const today = await todayIn(ctx);
  return inTransaction(ctx.db, async (tx) => {
    const r = await renewServiceTx(tx, ctx, actor, serviceId, period, { ...opts, today });
    if ('skipped' in r) throw new Error('a manual renewal is never skipped');
    return r;
  });
}

/**
 * What a renewal records, whoever writes it (one renewal now, or the daily run's chunk at
 * once): the charge's ledger entry (none when free), the charge and its invoice (both name the
 * entry, written first), the history event and the webhook event.
 */
export function renewalRecords(
  plan: RenewalPlan<DecisionService>,
  period: number,
  at: { actor: Actor; now: string; source: 'manual' | 'auto'; idempotencyKey: string | null },
): {
  entry: PostEntryInput | null;
  charge: Omit<ChargeRecord, 'ledgerEntryId'>;
  invoice: Omit<RenewalInvoice, 'ledgerEntryId'>;
  history: { event: string; change: HistoryChange };
  event: { key: string; data: Record<string, unknown> };
} {
  const service = plan.service;
  const serviceId = toId(service.id);
  const accountId = toId(service.account_id);
  const currency = plan.priced.order.currency;
  const start = plan.start.toString();
  const end = plan.priced.cut.end.toString();
  const total = plan.priced.totalMinor;
  const lines = storeLines(plan.priced.order.lines, currency);
  return {
    entry:
      total > 0n
        ? {
            accountId,
            kind: 'charge',
            amountMinor: -total,
            description: `Renewal of service #${serviceId} until ${end}`,
            // A caller's key is namespaced: it can never match another kind of ledger entry's key.
            idempotencyKey: at.idempotencyKey
              ? `renew-request:${serviceId}:${at.idempotencyKey}`
              : `renew:${serviceId}:${start}:${period}`,
            refType: 'service',
            refId: serviceId,
            createdByUserId: actorUserId(at.actor),
            now: at.now,
          }
        : null,
    charge: {
      kind: 'renewal',
      period,
      start,
      end,
      amountMinor: total,
      lines,
      requestKey: at.idempotencyKey,
    },
    invoice: { accountId, serviceId, period, start, end, currency, lines },
    history: {
      event: at.source === 'auto' ? 'renewed_automatically' : 'renewed',
      change: {
        from: service.status,
        to: service.status,
        details: {
          period,
          start,
          expiresOn: end,
          cut: plan.priced.cut.cut,
          charged: formatAmount(total, currency),
          ...(plan.resumes ? { resumes: true } : {}),
        },
      },
    },
    event: {
      key: `${serviceId}:${start}:${end}`,
      data: {
        serviceId,
        accountId,
        period,
        start,
        expiresOn: end,
        charged: formatAmount(total, currency),
        currency,
        automatic: at.source === 'auto',
      },
    },
  };
}

export async function renewServiceTx(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  period: number,
  opts: { idempotencyKey?: string; source?: 'manual' | 'auto'; today: Temporal.PlainDate },
): Promise<RenewalResult | { skipped: string }> {
  const service = await lockService(tx, serviceId, actor);
  if (opts.idempotencyKey) {
    const prior = await tx
      .selectFrom('service_charges')
      .selectAll()
      .where('service_id', '=', serviceId)
      .where('request_key', '=', opts.idempotencyKey)
      .executeTakeFirst();
    if (prior) {
      if (Number(prior.period) !== period)
        throw conflict(
          'idempotency_key_reused',
          'This idempotency key was used for a renewal of another period.',
          {
            period: Number(prior.period),
          },
        );
      // The range the first request bought, priced again for the answer (nothing is charged).
      const start = Temporal.PlainDate.from(prior.start_on!);
      const agg = await tariffOf(tx, service.tariff_id);
      const priced = priceRange(agg, Number(prior.period), addonValuesOf(service), start, {
        includeSetup: false,
        existing: true,
      });
      const decision = { change: {}, operations: [], supersede: [] } satisfies Decision;
      return { service, plan: { service, start, priced, resumes: false, decision }, replayed: true };
    }
  }
  const plan = await planRenewal(tx, ctx, service, period, {
    today: opts.today,
    source: opts.source ?? 'manual',
  });
  if (!plan) return { skipped: 'not_due' };
  const now = isoNow(ctx.clock);
  const r = renewalRecords(plan, period, {
    actor,
    now,
    source: opts.source ?? 'manual',
    idempotencyKey: opts.idempotencyKey ?? null,
  });
  let entryId: bigint | number | null = null;
  if (r.entry) entryId = (await postEntry(tx, r.entry)).entry.id;
  await writeDecision(tx, ctx, actor, service, plan.decision, { today: opts.today });
  await recordCharge(tx, ctx, serviceId, { ...r.charge, ledgerEntryId: entryId });
  if (entryId !== null) await issueRenewalInvoice(tx, ctx, { ...r.invoice, ledgerEntryId: entryId });
  await recordHistory(tx, ctx, actor, serviceId, r.history.event, r.history.change);
  await queueEvent(tx, ctx, 'service.renewed', r.event.key, r.event.data);
  return { service: await lockService(tx, serviceId), plan, replayed: false };
}
