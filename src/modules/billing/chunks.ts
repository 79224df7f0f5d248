import type { Insertable } from 'kysely';
import type { Temporal } from 'temporal-polyfill';
import { decide } from '../../domain/lifecycle.js';
import { parseAmount } from '../../domain/money.js';
import { reminderDue, storedDate, TRIAL_PERIOD } from '../../domain/periods.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { Ref, WriteBatch } from '../../platform/db/batch.js';
import { type AccountRow, type Database, lockRows, type Tx } from '../../platform/db/index.js';
import { AppError } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import type { Actor } from '../accounts/actor.js';
import { ledgerEntryRow } from '../accounts/ledger.js';
import { loadTariffAggregates, type TariffAggregate } from '../catalog/aggregate.js';
import { documentRow, renewalInvoiceDraft, takeDocumentNumbers } from '../invoices/issue.js';
import { activeWebhooks, eventDeliveryRows } from '../notify/events.js';
import { type AccountNotice, batchNotices } from '../notify/outbox.js';
import {
  decideOrThrow,
  decisionWrites,
  type QueuedOperation,
  withdrawSuperseded,
} from '../services/decisions.js';
import { deletionHistory } from '../services/deletion.js';
import { chargeRow, historyRow } from '../services/history.js';
import { operationRow } from '../services/operations.js';
import { renewalPlanOf, renewalRecords } from '../services/renewal.js';
import { type DecisionService, lockServices, pendingOperationsOf, stateOf } from '../services/repository.js';

/**
 * The daily run's steps over a chunk of services in one transaction (D-chunked-run): the
 * chunk's services locked together and re-read, everything they need read in a few queries,
 * each service decided in memory by the pure lifecycle, and what it decided written as
 * multi-row statements (`WriteBatch`) with the same row builders a single command uses. The
 * step rows (`billing_steps`) go in the same transaction, so a chunk commits whole or not at
 * all and a rerun skips what is recorded. A chunk of one is how a single service is retried
 * alone when its chunk failed (run.ts).
 */
export type Step = 'renew' | 'suspend' | 'delete' | 'notify';

export interface ChunkEnv {
  readonly ctx: AppContext;
  readonly actor: Actor;
  /** The run's date (ISO) and as a date. */
  readonly date: string;
  readonly today: Temporal.PlainDate;
}

export interface StepResult {
  readonly serviceId: number;
  /** `already_done`: an earlier (or concurrent) run recorded the step. */
  readonly outcome: string;
  readonly amount?: bigint;
  /** A renewal that failed for a known reason (the outcome is its code). */
  readonly failed?: boolean;
}

/** The row recording that a step of a service is done for a date. */
export function stepRow(
  ctx: AppContext,
  serviceId: number,
  date: string,
  step: Step,
  outcome: string,
  amount: bigint | null = null,
): Insertable<Database['billing_steps']> {
  return {
    service_id: serviceId,
    run_date: date,
    step,
    outcome,
    amount_minor: amount,
    created_at: isoNow(ctx.clock),
  };
}

/** A notification about a service; the mail's facts are its payload, an amount needed as money. */
export function serviceNotice(
  service: Pick<DecisionService, 'id' | 'account_id' | 'name'>,
  kind: string,
  payload: Record<string, unknown>,
  dedupeKey: string,
): AccountNotice {
  const { needed, ...rest } = payload as Record<string, string | number | null | undefined>;
  return {
    accountId: toId(service.account_id),
    serviceId: toId(service.id),
    kind,
    payload,
    dedupeKey,
    facts: {
      serviceId: toId(service.id),
      serviceName: service.name,
      ...rest,
      ...(needed !== undefined ? { neededMinor: needed } : {}),
    },
  };
}

/** The services of `ids` whose `step` is recorded for `date` (a chunk reads it after its lock). */
export async function stepsRecorded(
  tx: Tx | AppContext['db']['kysely'],
  ids: readonly number[],
  date: string,
  step: Step,
): Promise<Set<number>> {
  const rows = await tx
    .selectFrom('billing_steps')
    .select('service_id')
    .where('run_date', '=', date)
    .where('step', '=', step)
    .where('service_id', 'in', ids)
    .execute();
  return new Set(rows.map((r) => toId(r.service_id)));
}

function accountIdsOf(services: readonly DecisionService[]): number[] {
  return [...new Set(services.map((s) => toId(s.account_id)))].sort((a, b) => a - b);
}

/** The accounts a renewal chunk charges, locked (after their services, as a single renewal takes them). */
async function lockAccountsOf(
  tx: Tx,
  services: readonly DecisionService[],
): Promise<Map<number, AccountRow>> {
  const ids = accountIdsOf(services);
  if (ids.length === 0) return new Map();
  const q = tx.selectFrom('accounts').selectAll().where('id', 'in', ids).orderBy('id');
  return new Map((await lockRows(tx, q).execute()).map((a) => [toId(a.id), a]));
}

/** What the other steps read of the accounts: who gets the mail, and what the balance covers. */
const NOTICE_COLUMNS = [
  'id',
  'email',
  'name',
  'language',
  'currency',
  'balance_minor',
  'credit_limit_minor',
] as const;
type NoticeAccount = Pick<AccountRow, (typeof NOTICE_COLUMNS)[number]>;

async function accountsOf(tx: Tx, services: readonly DecisionService[]): Promise<Map<number, NoticeAccount>> {
  const ids = accountIdsOf(services);
  if (ids.length === 0) return new Map();
  const rows = await tx.selectFrom('accounts').select(NOTICE_COLUMNS).where('id', 'in', ids).execute();
  return new Map(rows.map((a) => [toId(a.id), a]));
}

async function tariffsOf(
  tx: Tx,
  services: readonly DecisionService[],
): Promise<Map<number, TariffAggregate>> {
  const ids = [...new Set(services.map((s) => toId(s.tariff_id)))];
  return new Map((await loadTariffAggregates(tx, { ids })).map((a) => [toId(a.tariff.id), a]));
}

/**
 * A chunk's services, locked, without those whose step is recorded already (returned as
 * `already_done`), with their pending operations.
 */
async function openChunk(tx: Tx, env: ChunkEnv, ids: readonly number[], step: Step) {
  const locked = await lockServices(tx, ids);
  const done = await stepsRecorded(tx, ids, env.date, step);
  const services = locked.filter((s) => !done.has(toId(s.id)));
  const pending = await pendingOperationsOf(
    tx,
    services.map((s) => toId(s.id)),
  );
  const results: StepResult[] = [...done].map((serviceId) => ({ serviceId, outcome: 'already_done' }));
  const state = (s: DecisionService) => stateOf(s, pending.get(toId(s.id)) ?? []);
  return { services, results, state };
}

/** What every chunk writes last: its operations (those whose request is not queued already), notices, the batch. */
async function closeChunk(
  tx: Tx,
  env: ChunkEnv,
  batch: WriteBatch,
  ops: readonly { serviceId: number; op: QueuedOperation }[],
  notices: readonly AccountNotice[],
  accounts: ReadonlyMap<number, NoticeAccount>,
): Promise<void> {
  const { ctx } = env;
  const now = isoNow(ctx.clock);
  if (ops.length > 0) {
    const queued = new Set(
      (
        await tx
          .selectFrom('operations')
          .select('idempotency_key')
          .where(
            'idempotency_key',
            'in',
            ops.map((o) => o.op.key),
          )
          .execute()
      ).map((r) => r.idempotency_key),
    );
    for (const { serviceId, op } of ops) {
      if (queued.has(op.key)) continue;
      queued.add(op.key);
      batch.insert('operations', operationRow(serviceId, op.kind, op.payload, op.key, now));
    }
  }
  await batchNotices(tx, ctx, batch, notices, accounts);
  const wakes = batch.has('operations') || batch.has('deliveries');
  await batch.flush(tx);
  // Idle workers start the operations and deliveries as soon as the chunk commits (D-wake).
  if (wakes) await ctx.db.signals.notify(tx, 'operations');
}

/** Step 1: automatic renewal of the chunk's due services. */
export async function renewChunk(tx: Tx, env: ChunkEnv, ids: readonly number[]): Promise<StepResult[]> {
  const { ctx, actor, date, today } = env;
  const now = isoNow(ctx.clock);
  const { services, results, state } = await openChunk(tx, env, ids, 'renew');
  // Whether a service is (still) due is the lifecycle's to say, on the row as locked.
  const due = services.filter((s) => s.autoprolong !== null);
  const accounts = await lockAccountsOf(tx, due);
  const tariffs = await tariffsOf(tx, due);
  const hooks = await activeWebhooks(tx);
  const batch = new WriteBatch();
  const ops: { serviceId: number; op: QueuedOperation }[] = [];
  const notices: AccountNotice[] = [];
  const invoices: { ref: Ref; account: AccountRow; invoice: ReturnType<typeof renewalRecords>['invoice'] }[] =
    [];
  for (const s of due) {
    const id = toId(s.id);
    const period = Number(s.autoprolong);
    const account = accounts.get(toId(s.account_id))!;
    let plan: ReturnType<typeof renewalPlanOf>;
    let records: ReturnType<typeof renewalRecords>;
    let entry: ReturnType<typeof ledgerEntryRow> | null;
    try {
      plan = renewalPlanOf(state(s), s, tariffs.get(toId(s.tariff_id))!, period, today, 'auto');
      if (!plan) continue;
      records = renewalRecords(plan, period, { actor, now, source: 'auto', idempotencyKey: null });
      entry = records.entry ? ledgerEntryRow(account, records.entry) : null;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      notices.push(
        serviceNotice(
          s,
          'renewal_failed',
          {
            reason: err.code,
            expiresOn: s.expires_on,
            period,
            // What the renewal needed (the ledger's refusal says), for the mail.
            ...(typeof err.details?.required === 'string' && typeof err.details.currency === 'string'
              ? { needed: parseAmount(err.details.required, err.details.currency).toString() }
              : {}),
          },
          `renewal_failed:${id}:${date}`,
        ),
      );
      batch.insert(
        'service_history',
        historyRow(ctx, actor, id, 'auto_renewal_failed', { details: { reason: err.code } }),
      );
      batch.insert('billing_steps', stepRow(ctx, id, date, 'renew', err.code));
      results.push({ serviceId: id, outcome: err.code, failed: true });
      continue;
    }
    let ref: Ref | null = null;
    if (entry) {
      ref = new Ref();
      batch.insert('ledger_entries', entry.row, { ref, by: 'idempotency_key' });
      // The next renewal of this account in the chunk is checked against what is left.
      (account as { balance_minor: bigint }).balance_minor = entry.balanceAfter;
      batch.update('accounts', toId(account.id), { balance_minor: entry.balanceAfter, updated_at: now });
      invoices.push({ ref, account, invoice: records.invoice });
    }
    const operations =
      plan.decision.supersede.length > 0
        ? await withdrawSuperseded(tx, ctx, actor, id, plan.decision)
        : plan.decision.operations;
    const { set, queue } = decisionWrites(s, plan.decision, operations, { today }, now);
    if (Object.keys(set).length > 0) batch.update('services', id, { ...set, updated_at: now } as never);
    for (const op of queue) ops.push({ serviceId: id, op });
    const entryRef = ref;
    batch.insert('service_charges', () =>
      chargeRow(ctx, id, { ...records.charge, ledgerEntryId: entryRef ? entryRef.value : null }),
    );
    batch.insert(
      'service_history',
      historyRow(ctx, actor, id, records.history.event, records.history.change),
    );
    // An event queued already for an endpoint is not queued again (as `queueEvent`).
    for (const row of eventDeliveryRows(hooks, 'service.renewed', records.event.key, records.event.data, now))
      batch.insert('deliveries', row, { ignoreConflictOn: 'dedupe_key' });
    batch.insert('billing_steps', stepRow(ctx, id, date, 'renew', 'renewed', plan.priced.totalMinor));
    results.push({ serviceId: id, outcome: 'renewed', amount: plan.priced.totalMinor });
  }
  if (invoices.length > 0) {
    // Numbers in the order the charges were made, taken after the accounts' locks (as one issue does).
    const first = await takeDocumentNumbers(tx, invoices.length);
    const provider = await tx
      .selectFrom('provider')
      .selectAll()
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    const issuedOn = (await todayIn(ctx, tx)).toString();
    invoices.forEach(({ ref, account, invoice }, i) => {
      batch.insert('documents', () =>
        documentRow(renewalInvoiceDraft({ ...invoice, ledgerEntryId: ref.value }), {
          provider,
          account,
          number: first + BigInt(i),
          issuedOn,
          now,
        }),
      );
    });
  }
  await closeChunk(tx, env, batch, ops, notices, accounts);
  return results;
}

/** Step 2: suspension of the chunk's expired services. */
export async function suspendChunk(tx: Tx, env: ChunkEnv, ids: readonly number[]): Promise<StepResult[]> {
  const { ctx, actor, date, today } = env;
  const now = isoNow(ctx.clock);
  const { services, results, state } = await openChunk(tx, env, ids, 'suspend');
  const batch = new WriteBatch();
  const ops: { serviceId: number; op: QueuedOperation }[] = [];
  const notices: AccountNotice[] = [];
  const suspended: DecisionService[] = [];
  for (const s of services) {
    const id = toId(s.id);
    const d = decide(state(s), { type: 'expire' }, today);
    if (d.skip) continue;
    const operations =
      d.supersede.length > 0 ? await withdrawSuperseded(tx, ctx, actor, id, d) : d.operations;
    const { set, queue } = decisionWrites(s, d, operations, { today }, now);
    if (Object.keys(set).length > 0) batch.update('services', id, { ...set, updated_at: now } as never);
    for (const op of queue) ops.push({ serviceId: id, op });
    batch.insert(
      'service_history',
      historyRow(ctx, actor, id, 'suspend_requested', {
        details: { reason: 'expired', expiresOn: s.expires_on },
      }),
    );
    notices.push(
      serviceNotice(
        s,
        'service_suspended',
        { reason: 'expired', expiresOn: s.expires_on },
        `suspended:${id}:${s.expires_on}`,
      ),
    );
    batch.insert('billing_steps', stepRow(ctx, id, date, 'suspend', 'expired'));
    results.push({ serviceId: id, outcome: 'expired' });
    suspended.push(s);
  }
  await closeChunk(tx, env, batch, ops, notices, await accountsOf(tx, suspended));
  return results;
}

/** Why the daily run deletes a service (kept with its `close` and its history). */
export const DELETION_REASON = 'suspended past its paid time too long';

/**
 * Step 3: deletion of suspended services past their paid time plus their product type's delay
 * (no refund: nothing of the paid time is left).
 */
export async function deleteChunk(tx: Tx, env: ChunkEnv, ids: readonly number[]): Promise<StepResult[]> {
  const { ctx, actor, date, today } = env;
  const now = isoNow(ctx.clock);
  const { services, results, state } = await openChunk(tx, env, ids, 'delete');
  const typeIds = [...new Set(services.map((s) => toId(s.product_type_id)))];
  const delays = new Map(
    typeIds.length === 0
      ? []
      : (
          await tx
            .selectFrom('product_types')
            .select(['id', 'deletion_delay_days'])
            .where('id', 'in', typeIds)
            .execute()
        ).map((t) => [toId(t.id), Number(t.deletion_delay_days)]),
  );
  const batch = new WriteBatch();
  const ops: { serviceId: number; op: QueuedOperation }[] = [];
  const notices: AccountNotice[] = [];
  const deleted: DecisionService[] = [];
  for (const s of services) {
    const id = toId(s.id);
    const d = decideOrThrow(
      state(s),
      { type: 'deletion_due', deletionDelayDays: delays.get(toId(s.product_type_id))! },
      today,
    );
    if (d.skip) continue;
    const operations =
      d.supersede.length > 0 ? await withdrawSuperseded(tx, ctx, actor, id, d) : d.operations;
    const { set, queue } = decisionWrites(s, d, operations, { today, reason: DELETION_REASON }, now);
    if (Object.keys(set).length > 0) batch.update('services', id, { ...set, updated_at: now } as never);
    for (const op of queue) ops.push({ serviceId: id, op });
    batch.insert(
      'service_history',
      historyRow(ctx, actor, id, 'delete_requested', deletionHistory(DELETION_REASON, 0n, null)),
    );
    notices.push(
      serviceNotice(
        s,
        'service_deleted',
        { suspendedOn: s.suspended_on, expiresOn: s.expires_on },
        `deleted:${id}`,
      ),
    );
    batch.insert('billing_steps', stepRow(ctx, id, date, 'delete', 'suspended_too_long'));
    results.push({ serviceId: id, outcome: 'suspended_too_long' });
    deleted.push(s);
  }
  await closeChunk(tx, env, batch, ops, notices, await accountsOf(tx, deleted));
  return results;
}

/**
 * Step 4: reminders 5, 3, 1 and 0 days before expiry for services that do not renew
 * themselves; a low-balance notice for those that do and whose account cannot pay the renewal.
 */
export async function notifyChunk(
  tx: Tx,
  env: ChunkEnv,
  ids: readonly number[],
  reminderDates: readonly string[],
): Promise<StepResult[]> {
  const { ctx, date, today } = env;
  const { services, results, state } = await openChunk(tx, env, ids, 'notify');
  // Re-read under the lock: a service renewed, suspended or switched since the list was read
  // gets no notice with stale dates.
  const listed = services.filter(
    (s) =>
      s.status === 'active' &&
      s.expires_on !== null &&
      reminderDates.includes(s.expires_on) &&
      Number(s.period) !== TRIAL_PERIOD,
  );
  const accounts = await accountsOf(tx, listed);
  const tariffs = await tariffsOf(
    tx,
    listed.filter((s) => s.autoprolong !== null),
  );
  const batch = new WriteBatch();
  const notices: AccountNotice[] = [];
  const noticed: StepResult[] = [];
  for (const s of listed) {
    const id = toId(s.id);
    const days = reminderDue(storedDate(s.expires_on!), today);
    if (days === null) continue;
    let kind: 'renewal_reminder' | 'low_balance' | null = 'renewal_reminder';
    let need: bigint | null = null;
    if (s.autoprolong !== null) {
      kind = null;
      try {
        const plan = renewalPlanOf(
          state(s),
          s,
          tariffs.get(toId(s.tariff_id))!,
          Number(s.autoprolong),
          today,
          'manual',
        );
        const account = accounts.get(toId(s.account_id))!;
        if (plan && account.balance_minor + account.credit_limit_minor < plan.priced.totalMinor) {
          kind = 'low_balance';
          need = plan.priced.totalMinor;
        }
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        kind = 'renewal_reminder';
      }
    }
    if (!kind) continue;
    notices.push(
      serviceNotice(
        s,
        kind,
        { daysLeft: days, expiresOn: s.expires_on, ...(need !== null ? { needed: need.toString() } : {}) },
        `${kind}:${id}:${date}`,
      ),
    );
    batch.insert('billing_steps', stepRow(ctx, id, date, 'notify', kind));
    noticed.push({ serviceId: id, outcome: kind });
  }
  await closeChunk(tx, env, batch, [], notices, accounts);
  return [...results, ...noticed];
}
