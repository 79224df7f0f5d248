import { Temporal } from 'temporal-polyfill';
import { decide } from '../../domain/lifecycle.js';
import { formatAmount } from '../../domain/money.js';
import { DEFAULT_REMINDER_DAYS, reminderDue, TRIAL_PERIOD } from '../../domain/periods.js';
import { providerTimeZone, startOfDay } from '../../platform/calendar.js';
import { FixedClock, todayOf } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, isUniqueViolation, type Tx } from '../../platform/db/index.js';
import { AppError } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { systemActor } from '../accounts/actor.js';
import { type CredentialHousekeeping, pruneCredentials } from '../accounts/housekeeping.js';
import { SESSION_IDLE_MS } from '../billmgr/auth.js';
import type { TariffAggregate } from '../catalog/aggregate.js';
import { payAwaitingOrders } from '../orders/commands.js';
import { type DailyReconciliation, reconcileEnabledModules } from '../provisioning/reconcile.js';
import { type DailyUpkeep, runModuleUpkeep } from '../provisioning/upkeep.js';
import { planRenewal } from '../services/renewal.js';
import { pendingOperations, stateOf } from '../services/repository.js';
import { archiveOperations } from '../services/retention.js';
import {
  type ChunkEnv,
  deleteChunk,
  notifyChunk,
  renewChunk,
  type Step,
  type StepResult,
  stepRow,
  stepsRecorded,
  suspendChunk,
} from './chunks.js';

/**
 * The daily billing run (BILLING.md "The daily billing run"), for one calendar date:
 * 0. pay awaiting orders the balance now covers (a credit's own transaction pays them; this
 *    sweeps any left behind);
 * 1. auto-renew services with `autoprolong` whose `expiresOn ≤ date + 1`, when the balance allows;
 * 2. suspend services whose `expiresOn ≤ date` (reason `expired`) and enqueue `suspend`;
 * 3. delete suspended services whose `expiresOn` + their product type's delay ≤ date, whatever
 *    the reason, and enqueue `close`;
 * 4. notify: reminders 5, 3, 1, 0 days before expiry; low balance for auto-renewing services.
 * A step takes its listed services in chunks (chunks.ts, D-chunked-run): a chunk's services are
 * locked together, re-read, and decided again with the pure lifecycle — the lists read before
 * say only which services to look at. Every step of a service writes a row keyed (service,
 * date, step) in its chunk's transaction, with its effect, so a rerun — or a run killed
 * half-way and started again — does nothing twice. A chunk that fails is retried one service
 * at a time; a service that fails alone is recorded (outcome `error`, a staff task) and the run
 * goes on. A dry run decides the same things, one service at a time, and writes nothing.
 */
export type { Step } from './chunks.js';

/** Services a chunk of the run takes in one transaction (D-chunked-run). */
export const DEFAULT_CHUNK_SIZE = 500;
export const MAX_CHUNK_SIZE = 5000;

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
  ordersPaid: number;
  errors: number;
  currency: string;
  /** The reconciliation after the run (today's run only, not a dry run); null when it did not run. */
  reconciliation: DailyReconciliation | null;
  /** The modules' daily upkeep after the run (today's run only); null when it did not run. */
  upkeep: DailyUpkeep | null;
  /** Finished operations moved to the archive after the run (today's run only); null when it did not run. */
  archivedOperations: number | null;
  /** Spent credentials and old sign-in attempts deleted after the run (today's run only); null when it did not run. */
  housekeeping: CredentialHousekeeping | null;
  actions: { serviceId: number; step: Step; outcome: string; amount?: string }[];
}

export interface RunOptions {
  readonly date: Temporal.PlainDate;
  readonly dryRun?: boolean;
  /** Called after each service a step looked at (for a progress bar). */
  readonly onProgress?: (done: number, total: number, step: Step) => void;
  /** Keep every action in the summary (tests, dry-run listing); off for big books. */
  readonly listActions?: boolean;
  /** Called after a step has read its list and before it acts on it (tests pause the run here). */
  readonly afterList?: (step: Step, serviceIds: readonly number[]) => Promise<void>;
  /** Reconcile the modules after the run (default true; only a real run for today does). */
  readonly reconcile?: boolean;
  /** Services per chunk transaction (DEFAULT_CHUNK_SIZE, at most MAX_CHUNK_SIZE). */
  readonly chunkSize?: number;
}

const actor = systemActor('billing');

/**
 * The run acts "on" its date: a clock at that date (now, when the date is today in the
 * provider's zone; the start of the day there otherwise), so catch-up runs for past days
 * date their entries on the day they bill.
 */
function clockFor(ctx: AppContext, date: Temporal.PlainDate, zone: string): FixedClock {
  const now = ctx.clock.now();
  return new FixedClock(todayOf(ctx.clock, zone).equals(date) ? now : startOfDay(date, zone));
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
    .values(stepRow(ctx, serviceId, date, step, outcome, amount))
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
  id: number,
  date: string,
  step: Step,
  fn: (tx: Tx) => Promise<{ outcome: string; amount?: bigint } | null>,
): Promise<{ outcome: string; amount?: bigint } | 'already_done' | null> {
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
    if (isUniqueViolation(err) && (await stepsRecorded(ctx.db.kysely, [id], date, step)).has(id))
      return 'already_done';
    throw err;
  }
}

export async function runBilling(base: AppContext, opts: RunOptions): Promise<RunSummary> {
  const date = opts.date.toString();
  const zone = await providerTimeZone(base);
  const ctx: AppContext = { ...base, clock: clockFor(base, opts.date, zone) };
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
    ordersPaid: 0,
    errors: 0,
    currency: provider.currency,
    reconciliation: null,
    upkeep: null,
    archivedOperations: null,
    housekeeping: null,
    actions: [],
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
  try {
    await runSteps(ctx, opts, summary);
  } catch (err) {
    // Only what is not one service's fault gets here (the database went away): the run is
    // marked failed and the scheduler tries the date again.
    if (runId !== null)
      await db
        .updateTable('billing_runs')
        .set({ status: 'failed', finished_at: base.clock.now().toISOString() })
        .where('id', '=', runId)
        .execute()
        .catch(() => {});
    throw err;
  }
  // 5. reconcile the modules with their upstreams: what is true now, so only today's run does
  // it (a catch-up of a past day would observe the present all the same). It asks upstreams
  // outside any transaction and never fails the run (reconcile.ts).
  if (!opts.dryRun && opts.reconcile !== false && todayOf(base.clock, zone).equals(opts.date)) {
    summary.reconciliation = await reconcileEnabledModules(ctx, date).catch((err: unknown) => {
      ctx.logger.error({ err, date }, 'daily reconciliation failed');
      return null;
    });
    summary.upkeep = await runModuleUpkeep(ctx, date).catch((err: unknown) => {
      ctx.logger.error({ err, date }, 'daily module upkeep failed');
      return null;
    });
  }
  // 6. finished operations older than the retention period leave the hot table (today's run).
  if (!opts.dryRun && todayOf(base.clock, zone).equals(opts.date)) {
    summary.archivedOperations = await archiveOperations(ctx)
      .then((r) => r.archived)
      .catch((err: unknown) => {
        ctx.logger.error({ err, date }, 'archiving finished operations failed');
        return null;
      });
    // 7. what can no longer let anyone in (expired sessions, spent keys) and old sign-in attempts go.
    summary.housekeeping = await pruneCredentials(ctx, { mgrSessionIdleMs: SESSION_IDLE_MS }).catch(
      (err: unknown) => {
        ctx.logger.error({ err, date }, 'credential housekeeping failed');
        return null;
      },
    );
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

/**
 * One service's unexpected failure in a step: recorded as that step's outcome `error` with a
 * staff task carrying the message, so the run goes on and a person looks at it. A rerun of the
 * date skips it; the next day's run tries again.
 */
async function recordError(
  ctx: AppContext,
  done: DoneSteps,
  serviceId: number,
  date: string,
  step: Step,
  err: unknown,
) {
  const message = err instanceof Error ? err.message : String(err);
  ctx.logger.error({ err, serviceId, step, date }, 'daily billing run: a service failed');
  await once(ctx, done, serviceId, date, step, async (tx) => {
    await tx
      .insertInto('staff_tasks')
      .values({
        operation_id: null,
        service_id: serviceId,
        kind: 'billing_error',
        status: 'open',
        title: `Daily run ${date}: ${step} of service #${serviceId} failed`,
        details: JSON.stringify({ date, step, message }),
        created_at: ctx.clock.now().toISOString(),
      })
      .execute();
    return { outcome: 'error' };
  });
}

async function runSteps(ctx: AppContext, opts: RunOptions, summary: RunSummary): Promise<void> {
  const date = opts.date.toString();
  const db = ctx.db.kysely;
  const currency = summary.currency;
  const dryRun = opts.dryRun ?? false;
  // Bounded: a chunk's ids travel as `in (…)` lists, which both engines cap in parameters.
  const chunkSize = Math.min(Math.max(1, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK_SIZE)), MAX_CHUNK_SIZE);
  const env: ChunkEnv = { ctx, actor, date, today: opts.date };
  let renewedMinor = 0n;
  const act = (serviceId: number, step: Step, outcome: string, amount?: bigint, cur = currency) => {
    if (opts.listActions)
      summary.actions.push({
        serviceId,
        step,
        outcome,
        ...(amount !== undefined ? { amount: formatAmount(amount, cur) } : {}),
      });
  };
  const tomorrow = opts.date.add({ days: 1 }).toString();
  const done = await DoneSteps.load(db, date);
  // Tariffs read once per run for pricing that writes nothing (the dry run's).
  const tariffCache = new Map<number, TariffAggregate>();
  // Dry runs track the balance they would spend, per account, to tell which renewals would fail
  // and which notices would then go out, and the services they would renew (those are then
  // neither expired nor about to expire).
  const spent = new Map<number, bigint>();
  const renewedInDryRun = new Set<number>();
  /** Runs one service's step; an unexpected error is recorded and the run goes on. */
  const guarded = async (id: number, step: Step, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      summary.errors++;
      act(id, step, 'error');
      if (!dryRun) await recordError(ctx, done, id, date, step, err);
    }
  };
  /** Counts what a chunk did for one service. */
  const tally = (step: Step, r: StepResult) => {
    if (r.outcome === 'already_done') {
      summary.alreadyDone++;
      return;
    }
    done.add(r.serviceId, step);
    if (step === 'renew' && r.failed) summary.renewFailed++;
    else if (step === 'renew') {
      summary.renewed++;
      renewedMinor += r.amount ?? 0n;
    } else if (step === 'suspend') summary.suspended++;
    else if (step === 'delete') summary.deleted++;
    else if (r.outcome === 'low_balance') summary.lowBalance++;
    else summary.reminders++;
    act(r.serviceId, step, r.outcome, r.amount);
  };
  /**
   * A step over the listed services in chunks of `chunkSize`, one transaction each (D-chunked-run).
   * A chunk that fails is rolled back whole and its services are tried again one at a time, so
   * one bad service is recorded as an error (a staff task) without holding back the others.
   */
  const chunked = async (
    step: Step,
    listed: readonly number[],
    fn: (tx: Tx, ids: readonly number[]) => Promise<StepResult[]>,
  ) => {
    const ids = listed.filter((id) => {
      if (!done.has(id, step)) return true;
      summary.alreadyDone++;
      return false;
    });
    let n = listed.length - ids.length;
    if (ids.length === 0 && n > 0) opts.onProgress?.(n, listed.length, step);
    for (let i = 0; i < ids.length; i += chunkSize) {
      const chunk = ids.slice(i, i + chunkSize);
      try {
        for (const r of await inTransaction(ctx.db, (tx) => fn(tx, chunk))) tally(step, r);
      } catch (err) {
        if (chunk.length > 1)
          ctx.logger.warn(
            { err, step, date, from: chunk[0], to: chunk.at(-1) },
            'daily billing run: a chunk failed; its services are tried one at a time',
          );
        for (const id of chunk) {
          await guarded(id, step, async () => {
            if (chunk.length === 1) throw err;
            for (const r of await inTransaction(ctx.db, (tx) => fn(tx, [id]))) tally(step, r);
          });
        }
      }
      n += chunk.length;
      opts.onProgress?.(n, listed.length, step);
    }
  };
  const idsOf = (rows: readonly { id: number | bigint }[]) => rows.map((r) => toId(r.id));

  // 0. awaiting orders the balance covers by now
  if (!dryRun) {
    const accounts = await db
      .selectFrom('orders')
      .select('account_id')
      .distinct()
      .where('status', '=', 'awaiting_payment')
      .orderBy('account_id')
      .execute();
    for (const { account_id } of accounts) {
      try {
        const r = await payAwaitingOrders(ctx, actor, toId(account_id));
        summary.ordersPaid += r.paid.length;
      } catch (err) {
        summary.errors++;
        ctx.logger.error(
          { err, accountId: toId(account_id) },
          'daily billing run: paying awaiting orders failed',
        );
      }
    }
  }

  // 1. auto-renew
  const dueList = db
    .selectFrom('services')
    .where('status', '=', 'active')
    .where('autoprolong', 'is not', null)
    .where('expires_on', '<=', tomorrow)
    .orderBy('id');
  if (!dryRun) {
    const ids = idsOf(await dueList.select('id').execute());
    await opts.afterList?.('renew', ids);
    await chunked('renew', ids, (tx, chunk) => renewChunk(tx, env, chunk));
  } else {
    const due = await dueList.selectAll().execute();
    await opts.afterList?.('renew', idsOf(due));
    let n = 0;
    for (const listed of due) {
      const id = toId(listed.id);
      await guarded(id, 'renew', async () => {
        if (done.has(id, 'renew')) {
          summary.alreadyDone++;
          return;
        }
        try {
          const plan = await planRenewal(db, ctx, listed, Number(listed.autoprolong), {
            today: opts.date,
            source: 'auto',
            tariffCache,
          });
          if (!plan) return;
          const account = await db
            .selectFrom('accounts')
            .select(['balance_minor', 'credit_limit_minor', 'currency'])
            .where('id', '=', listed.account_id)
            .executeTakeFirstOrThrow();
          const used = spent.get(toId(listed.account_id)) ?? 0n;
          if (account.balance_minor - used - plan.priced.totalMinor >= -account.credit_limit_minor) {
            spent.set(toId(listed.account_id), used + plan.priced.totalMinor);
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
      });
      opts.onProgress?.(++n, due.length, 'renew');
    }
  }
  summary.renewedAmount = formatAmount(renewedMinor, currency);

  // 2. suspend expired (a dry run pretends the renewals above happened)
  const expiredList = db
    .selectFrom('services')
    .where('status', '=', 'active')
    .where('expires_on', '<=', date)
    .orderBy('id');
  if (!dryRun) {
    const ids = idsOf(await expiredList.select('id').execute());
    await opts.afterList?.('suspend', ids);
    await chunked('suspend', ids, (tx, chunk) => suspendChunk(tx, env, chunk));
  } else {
    const expired = await expiredList.selectAll().execute();
    await opts.afterList?.('suspend', idsOf(expired));
    let n = 0;
    for (const listed of expired) {
      const id = toId(listed.id);
      await guarded(id, 'suspend', async () => {
        if (done.has(id, 'suspend')) {
          summary.alreadyDone++;
          return;
        }
        if (renewedInDryRun.has(id)) return;
        const d = decide(stateOf(listed, await pendingOperations(db, id)), { type: 'expire' }, opts.date);
        if (d.skip) return;
        summary.suspended++;
        act(id, 'suspend', 'expired');
      });
      opts.onProgress?.(++n, expired.length, 'suspend');
    }
  }

  let n = 0;
  // 3. delete: suspended (whatever the reason) and past expiresOn + the product type's delay
  const suspendedList = db
    .selectFrom('services as s')
    .where('s.status', '=', 'suspended')
    .where('s.expires_on', '<=', date)
    .orderBy('s.id');
  if (!dryRun) {
    const ids = idsOf(await suspendedList.select('s.id').execute());
    await opts.afterList?.('delete', ids);
    await chunked('delete', ids, (tx, chunk) => deleteChunk(tx, env, chunk));
  } else {
    const suspended = await suspendedList
      .innerJoin('product_types as t', 't.id', 's.product_type_id')
      .selectAll('s')
      .select('t.deletion_delay_days')
      .execute();
    await opts.afterList?.('delete', idsOf(suspended));
    for (const row of suspended) {
      const { deletion_delay_days, ...listed } = row;
      const id = toId(listed.id);
      await guarded(id, 'delete', async () => {
        if (done.has(id, 'delete')) {
          summary.alreadyDone++;
          return;
        }
        const event = { type: 'deletion_due', deletionDelayDays: Number(deletion_delay_days) } as const;
        const d = decide(stateOf(listed, await pendingOperations(db, id)), event, opts.date);
        if (d.skip) return;
        summary.deleted++;
        act(id, 'delete', 'suspended_too_long');
      });
      opts.onProgress?.(++n, suspended.length, 'delete');
    }
  }

  // 4. notifications: reminders for services that do not renew themselves, low balance for those that do
  // Only the reminder days (5, 3, 1, 0 before expiry), not the whole range between them.
  const reminderDates = DEFAULT_REMINDER_DAYS.map((d) => opts.date.add({ days: d }).toString());
  const soonList = db
    .selectFrom('services')
    .where('status', '=', 'active')
    .where('expires_on', 'in', reminderDates)
    .orderBy('id');
  if (!dryRun) {
    const ids = idsOf(await soonList.select('id').execute());
    await opts.afterList?.('notify', ids);
    await chunked('notify', ids, (tx, chunk) => notifyChunk(tx, env, chunk, reminderDates));
    return;
  }
  const soon = await soonList.selectAll().execute();
  await opts.afterList?.('notify', idsOf(soon));
  n = 0;
  for (const service of soon) {
    const id = toId(service.id);
    await guarded(id, 'notify', async () => {
      const days = reminderDue(Temporal.PlainDate.from(service.expires_on!), opts.date);
      if (done.has(id, 'notify')) {
        // Recorded by an earlier run of this date: nothing to price again.
        summary.alreadyDone++;
        return;
      }
      if (days === null || Number(service.period) === TRIAL_PERIOD || renewedInDryRun.has(id)) return;
      let kind: 'renewal_reminder' | 'low_balance' | null = 'renewal_reminder';
      if (service.autoprolong !== null) {
        kind = null;
        try {
          const plan = await planRenewal(db, ctx, service, Number(service.autoprolong), {
            today: opts.date,
            tariffCache,
          });
          const account = await db
            .selectFrom('accounts')
            .select(['balance_minor', 'credit_limit_minor'])
            .where('id', '=', service.account_id)
            .executeTakeFirstOrThrow();
          // A dry run counts what its own renewals above would have spent.
          const used = spent.get(toId(service.account_id)) ?? 0n;
          if (plan && account.balance_minor - used + account.credit_limit_minor < plan.priced.totalMinor)
            kind = 'low_balance';
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          kind = 'renewal_reminder';
        }
      }
      if (!kind) return;
      if (kind === 'low_balance') summary.lowBalance++;
      else summary.reminders++;
      act(id, 'notify', kind);
    });
    opts.onProgress?.(++n, soon.length, 'notify');
  }
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
