import { Temporal } from 'temporal-polyfill';
import { formatAmount } from '../../domain/money.js';
import { DEFAULT_REMINDER_DAYS, isDeletionDue, reminderDue } from '../../domain/periods.js';
import { FixedClock } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, isUniqueViolation, type ServiceRow, type Tx } from '../../platform/db/index.js';
import { AppError } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { systemActor } from '../accounts/actor.js';
import type { TariffAggregate } from '../catalog/aggregate.js';
import { deleteServiceTx, planRenewal, renewServiceTx } from '../services/commands.js';
import { enqueueOperation, hasPendingOperation, recordHistory } from '../services/lifecycle.js';

/**
 * The daily billing run (BILLING.md "The daily billing run"), for one calendar date:
 * 1. auto-renew services with `autoprolong` whose `expiresOn ≤ date + 1`, when the balance allows;
 * 2. suspend services whose `expiresOn ≤ date` (reason `expired`) and enqueue `suspend`;
 * 3. delete services suspended for non-payment for ≥ their product type's delay, enqueue `close`;
 * 4. notify: reminders 5, 3, 1, 0 days before expiry; low balance for auto-renewing services.
 * Every step of every service writes a row keyed (service, date, step) in the same
 * transaction as its effect, so a rerun — or a run killed half-way and started again — does
 * nothing twice. A dry run decides the same things and writes nothing.
 */
export type Step = 'renew' | 'suspend' | 'delete' | 'notify';

export interface RunSummary {
  date: string;
  dryRun: boolean;
  renewed: number;
  renewedAmount: string;
  renewFailed: number;
  suspended: number;
  deleted: number;
  reminders: number;
  lowBalance: number;
  alreadyDone: number;
  currency: string;
  actions: { serviceId: number; step: Step; outcome: string; amount?: string }[];
}

export interface RunOptions {
  readonly date: Temporal.PlainDate;
  readonly dryRun?: boolean;
  /** Called after each service a step looked at (for a progress bar). */
  readonly onProgress?: (done: number, total: number, step: Step) => void;
  /** Keep every action in the summary (tests, dry-run listing); off for big books. */
  readonly listActions?: boolean;
}

const actor = systemActor('billing');

/** The run acts "on" its date: a clock at that date, so catch-up runs for past days date their entries. */
function clockFor(ctx: AppContext, date: Temporal.PlainDate): FixedClock {
  const now = ctx.clock.now().toISOString();
  return new FixedClock(now.slice(0, 10) === date.toString() ? now : `${date.toString()}T00:00:00.000Z`);
}

async function stepDone(
  db: AppContext['db']['kysely'],
  serviceId: number,
  date: string,
  step: Step,
): Promise<boolean> {
  const row = await db
    .selectFrom('billing_steps')
    .select('id')
    .where('service_id', '=', serviceId)
    .where('run_date', '=', date)
    .where('step', '=', step)
    .executeTakeFirst();
  return row !== undefined;
}

async function markStep(
  tx: Tx,
  ctx: AppContext,
  serviceId: number,
  date: string,
  step: Step,
  outcome: string,
  amount: bigint | null = null,
) {
  await tx
    .insertInto('billing_steps')
    .values({
      service_id: serviceId,
      run_date: date,
      step,
      outcome,
      amount_minor: amount,
      created_at: ctx.clock.now().toISOString(),
    })
    .execute();
}

async function notify(
  tx: Tx,
  ctx: AppContext,
  service: ServiceRow,
  kind: string,
  payload: Record<string, unknown>,
  dedupeKey: string,
) {
  await tx
    .insertInto('notifications')
    .values({
      account_id: service.account_id,
      service_id: service.id,
      kind,
      payload: JSON.stringify(payload),
      dedupe_key: dedupeKey,
      created_at: ctx.clock.now().toISOString(),
    })
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .execute();
}

/**
 * The steps already recorded for the run's date, read once at the start: a rerun skips them
 * without a query per service. A concurrent run that records a step meanwhile is still caught
 * by the unique key inside the step's transaction.
 */
class DoneSteps {
  private readonly keys = new Set<string>();
  static async load(db: AppContext['db']['kysely'], date: string): Promise<DoneSteps> {
    const d = new DoneSteps();
    const rows = await db
      .selectFrom('billing_steps')
      .select(['service_id', 'step'])
      .where('run_date', '=', date)
      .execute();
    for (const r of rows) d.keys.add(`${toId(r.service_id)}:${r.step}`);
    return d;
  }
  has(serviceId: number, step: Step): boolean {
    return this.keys.has(`${serviceId}:${step}`);
  }
  add(serviceId: number, step: Step): void {
    this.keys.add(`${serviceId}:${step}`);
  }
}

/** Runs `fn` as one step of one service, unless that step is recorded already; a unique clash means another run did it. */
async function once(
  ctx: AppContext,
  done: DoneSteps,
  service: ServiceRow,
  date: string,
  step: Step,
  fn: (tx: Tx) => Promise<{ outcome: string; amount?: bigint } | null>,
): Promise<{ outcome: string; amount?: bigint } | 'already_done' | null> {
  const id = toId(service.id);
  if (done.has(id, step)) return 'already_done';
  try {
    const result = await inTransaction(ctx.db, async (tx) => {
      const result = await fn(tx);
      if (result) await markStep(tx, ctx, id, date, step, result.outcome, result.amount ?? null);
      return result;
    });
    if (result) done.add(id, step);
    return result;
  } catch (err) {
    if (isUniqueViolation(err) && (await stepDone(ctx.db.kysely, id, date, step))) return 'already_done';
    throw err;
  }
}

export async function runBilling(base: AppContext, opts: RunOptions): Promise<RunSummary> {
  const date = opts.date.toString();
  const ctx: AppContext = { ...base, clock: clockFor(base, opts.date) };
  const db = ctx.db.kysely;
  const provider = await db.selectFrom('provider').select('currency').executeTakeFirstOrThrow();
  const summary: RunSummary = {
    date,
    dryRun: opts.dryRun ?? false,
    renewed: 0,
    renewedAmount: '0',
    renewFailed: 0,
    suspended: 0,
    deleted: 0,
    reminders: 0,
    lowBalance: 0,
    alreadyDone: 0,
    currency: provider.currency,
    actions: [],
  };
  let renewedMinor = 0n;
  const act = (
    serviceId: number,
    step: Step,
    outcome: string,
    amount?: bigint,
    currency = provider.currency,
  ) => {
    if (opts.listActions)
      summary.actions.push({
        serviceId,
        step,
        outcome,
        ...(amount !== undefined ? { amount: formatAmount(amount, currency) } : {}),
      });
  };
  const runId = opts.dryRun
    ? null
    : (
        await db
          .insertInto('billing_runs')
          .values({ run_date: date, status: 'running', started_at: base.clock.now().toISOString() })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
  const tomorrow = opts.date.add({ days: 1 }).toString();
  const done = await DoneSteps.load(db, date);
  // Tariffs read once per run for pricing that writes nothing (renewals load theirs fresh in their transaction).
  const tariffCache = new Map<number, TariffAggregate>();
  // Dry runs track the balance they would spend, per account, to tell which renewals would fail
  // and which notices would then go out, and the services they would renew (those are then
  // neither expired nor about to expire).
  const spent = new Map<number, bigint>();
  const renewedInDryRun = new Set<number>();

  // 1. auto-renew
  const due = await db
    .selectFrom('services')
    .selectAll()
    .where('status', '=', 'active')
    .where('autoprolong', 'is not', null)
    .where('expires_on', '<=', tomorrow)
    .orderBy('id')
    .execute();
  let n = 0;
  for (const service of due) {
    const id = toId(service.id);
    const period = Number(service.autoprolong);
    if (opts.dryRun) {
      if (done.has(id, 'renew')) {
        summary.alreadyDone++;
      } else {
        try {
          const plan = await planRenewal(db, ctx, service, period, tariffCache);
          const account = await db
            .selectFrom('accounts')
            .select(['balance_minor', 'credit_limit_minor', 'currency'])
            .where('id', '=', service.account_id)
            .executeTakeFirstOrThrow();
          const used = spent.get(toId(service.account_id)) ?? 0n;
          if (account.balance_minor - used - plan.priced.totalMinor >= -account.credit_limit_minor) {
            spent.set(toId(service.account_id), used + plan.priced.totalMinor);
            renewedInDryRun.add(id);
            summary.renewed++;
            renewedMinor += plan.priced.totalMinor;
            act(id, 'renew', 'renewed', plan.priced.totalMinor, account.currency);
          } else {
            summary.renewFailed++;
            act(id, 'renew', 'insufficient_balance', plan.priced.totalMinor, account.currency);
          }
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          summary.renewFailed++;
          act(id, 'renew', err.code);
        }
      }
    } else {
      let failure: AppError | null = null;
      const r = await once(ctx, done, service, date, 'renew', async (tx) => {
        try {
          const { plan, replayed } = await renewServiceTx(tx, ctx, actor, id, period, { source: 'auto' });
          return { outcome: replayed ? 'replayed' : 'renewed', amount: plan.priced.totalMinor };
        } catch (err) {
          if (err instanceof AppError) {
            failure = err;
            // Roll the renewal back; the failure is recorded below in a transaction of its own.
            throw err;
          }
          throw err;
        }
      }).catch((err: unknown) => {
        if (err === failure) return null;
        throw err;
      });
      if (r === 'already_done') summary.alreadyDone++;
      else if (r) {
        summary.renewed++;
        renewedMinor += r.amount ?? 0n;
        act(id, 'renew', r.outcome, r.amount);
      } else if (failure) {
        const f: AppError = failure;
        const recorded = await once(ctx, done, service, date, 'renew', async (tx) => {
          await notify(
            tx,
            ctx,
            service,
            'renewal_failed',
            { reason: f.code, expiresOn: service.expires_on, period },
            `renewal_failed:${id}:${date}`,
          );
          await recordHistory(tx, ctx, actor, id, 'auto_renewal_failed', { details: { reason: f.code } });
          return { outcome: f.code };
        });
        if (recorded !== 'already_done') {
          summary.renewFailed++;
          act(id, 'renew', f.code);
        }
      }
    }
    opts.onProgress?.(++n, due.length, 'renew');
  }
  summary.renewedAmount = formatAmount(renewedMinor, provider.currency);

  // 2. suspend expired (a dry run pretends the renewals above happened)
  const expired = await db
    .selectFrom('services')
    .selectAll()
    .where('status', '=', 'active')
    .where('expires_on', '<=', date)
    .orderBy('id')
    .execute();
  n = 0;
  for (const service of expired) {
    const id = toId(service.id);
    if (opts.dryRun) {
      if (renewedInDryRun.has(id)) {
        // renewed above: not expired
      } else if (done.has(id, 'suspend')) {
        summary.alreadyDone++;
      } else if (!(await hasPendingOperation(db, id, ['suspend', 'close']))) {
        summary.suspended++;
        act(id, 'suspend', 'expired');
      }
    } else {
      const r = await once(ctx, done, service, date, 'suspend', async (tx) => {
        if (await hasPendingOperation(tx, id, ['suspend', 'close'])) return { outcome: 'pending' };
        await enqueueOperation(
          tx,
          ctx,
          id,
          'suspend',
          { reason: 'expired' },
          `suspend:${id}:expired:${service.expires_on}`,
        );
        await recordHistory(tx, ctx, actor, id, 'suspend_requested', {
          details: { reason: 'expired', expiresOn: service.expires_on },
        });
        await notify(
          tx,
          ctx,
          service,
          'service_suspended',
          { reason: 'expired', expiresOn: service.expires_on },
          `suspended:${id}:${service.expires_on}`,
        );
        return { outcome: 'expired' };
      });
      if (r === 'already_done') summary.alreadyDone++;
      else if (r?.outcome === 'expired') {
        summary.suspended++;
        act(id, 'suspend', 'expired');
      }
    }
    opts.onProgress?.(++n, expired.length, 'suspend');
  }

  // 3. delete long-suspended
  const suspended = await db
    .selectFrom('services as s')
    .innerJoin('product_types as t', 't.id', 's.product_type_id')
    .selectAll('s')
    .select('t.deletion_delay_days')
    .where('s.status', '=', 'suspended')
    .where('s.suspend_reason', '=', 'expired')
    .orderBy('s.id')
    .execute();
  n = 0;
  for (const row of suspended) {
    const { deletion_delay_days, ...service } = row;
    const id = toId(service.id);
    if (
      service.suspended_on &&
      isDeletionDue(Temporal.PlainDate.from(service.suspended_on), opts.date, Number(deletion_delay_days))
    ) {
      if (opts.dryRun) {
        if (done.has(id, 'delete')) {
          summary.alreadyDone++;
        } else {
          summary.deleted++;
          act(id, 'delete', 'suspended_too_long');
        }
      } else {
        const r = await once(ctx, done, service, date, 'delete', async (tx) => {
          await deleteServiceTx(tx, ctx, actor, service, false, 'suspended for non-payment too long');
          await notify(
            tx,
            ctx,
            service,
            'service_deleted',
            { suspendedOn: service.suspended_on },
            `deleted:${id}`,
          );
          return { outcome: 'suspended_too_long' };
        });
        if (r === 'already_done') summary.alreadyDone++;
        else if (r) {
          summary.deleted++;
          act(id, 'delete', r.outcome);
        }
      }
    }
    opts.onProgress?.(++n, suspended.length, 'delete');
  }

  // 4. notifications: reminders for services that do not renew themselves, low balance for those that do
  // Only the reminder days (5, 3, 1, 0 before expiry), not the whole range between them.
  const reminderDates = DEFAULT_REMINDER_DAYS.map((d) => opts.date.add({ days: d }).toString());
  const soon = await db
    .selectFrom('services')
    .selectAll()
    .where('status', '=', 'active')
    .where('expires_on', 'in', reminderDates)
    .orderBy('id')
    .execute();
  n = 0;
  for (const service of soon) {
    const id = toId(service.id);
    const days = reminderDue(Temporal.PlainDate.from(service.expires_on!), opts.date);
    if (done.has(id, 'notify')) {
      // Recorded by an earlier run of this date: nothing to price again.
      summary.alreadyDone++;
    } else if (days !== null && Number(service.period) !== -100 && !renewedInDryRun.has(id)) {
      let kind: 'renewal_reminder' | 'low_balance' | null = 'renewal_reminder';
      let need: bigint | null = null;
      if (service.autoprolong !== null) {
        kind = null;
        try {
          const plan = await planRenewal(db, ctx, service, Number(service.autoprolong), tariffCache);
          const account = await db
            .selectFrom('accounts')
            .select(['balance_minor', 'credit_limit_minor'])
            .where('id', '=', service.account_id)
            .executeTakeFirstOrThrow();
          // A dry run counts what its own renewals above would have spent.
          const used = opts.dryRun ? (spent.get(toId(service.account_id)) ?? 0n) : 0n;
          if (account.balance_minor - used + account.credit_limit_minor < plan.priced.totalMinor) {
            kind = 'low_balance';
            need = plan.priced.totalMinor;
          }
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          kind = 'renewal_reminder';
        }
      }
      if (kind) {
        const k = kind;
        if (opts.dryRun) {
          if (done.has(id, 'notify')) {
            summary.alreadyDone++;
          } else {
            if (k === 'low_balance') summary.lowBalance++;
            else summary.reminders++;
            act(id, 'notify', k);
          }
        } else {
          const r = await once(ctx, done, service, date, 'notify', async (tx) => {
            await notify(
              tx,
              ctx,
              service,
              k,
              {
                daysLeft: days,
                expiresOn: service.expires_on,
                ...(need !== null ? { needed: need.toString() } : {}),
              },
              `${k}:${id}:${date}`,
            );
            return { outcome: k };
          });
          if (r === 'already_done') summary.alreadyDone++;
          else if (r) {
            if (k === 'low_balance') summary.lowBalance++;
            else summary.reminders++;
            act(id, 'notify', k);
          }
        }
      }
    }
    opts.onProgress?.(++n, soon.length, 'notify');
  }

  if (runId !== null) {
    const { actions: _omit, ...brief } = summary;
    await db
      .updateTable('billing_runs')
      .set({
        status: 'completed',
        summary: JSON.stringify(brief),
        finished_at: base.clock.now().toISOString(),
      })
      .where('id', '=', runId)
      .execute();
  }
  return summary;
}

/** The last date a run completed for, or null. */
export async function lastCompletedRunDate(ctx: AppContext): Promise<string | null> {
  const row = await ctx.db.kysely
    .selectFrom('billing_runs')
    .select('run_date')
    .where('status', '=', 'completed')
    .orderBy('run_date', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.run_date ?? null;
}

/**
 * The dates a scheduler must run now: every day after the last completed run up to today
 * (catching up days the process was down), or just today on a fresh database.
 */
export function datesToRun(
  last: string | null,
  today: Temporal.PlainDate,
  maxCatchUp = 366,
): Temporal.PlainDate[] {
  if (last === null) return [today];
  const out: Temporal.PlainDate[] = [];
  let d = Temporal.PlainDate.from(last).add({ days: 1 });
  while (Temporal.PlainDate.compare(d, today) <= 0 && out.length < maxCatchUp) {
    out.push(d);
    d = d.add({ days: 1 });
  }
  return out;
}
