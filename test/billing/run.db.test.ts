import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { Temporal } from 'temporal-polyfill';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/modules/accounts/actor.js';
import { createAccount, recordPayment } from '../../src/modules/accounts/commands.js';
import {
  datesToRun,
  lastCompletedRunDate,
  type RunSummary,
  runBilling,
} from '../../src/modules/billing/run.js';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { setAutoprolong } from '../../src/modules/services/commands.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import type { Database } from '../../src/platform/db/index.js';
import { client, licenseTariff, service, staff } from '../helpers/billing.js';
import { contextOn, createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';
import { TEST_ENGINE, TEST_PG_URL } from '../helpers/db.js';
import { freshIp } from '../helpers/ips.js';

/**
 * BILLING.md "The daily billing run": each step is idempotent per (service, date, step), so the
 * same date run twice (one after the other, or two at once) changes nothing the second time;
 * `--dry-run` changes nothing and says what the real run then does; a scheduler that was down
 * catches up every missed day; a run killed with SIGKILL half-way (a child process running
 * test/billing/run-child.ts) and started again ends exactly where an uninterrupted run ends.
 */

let ctx: TestContext;
let extra: TestContext | null = null;
/** A fresh database per test (the kill test makes its own). */
function freshDatabasePerTest() {
  beforeEach(async () => {
    ctx = await createTestContext({ now: '2021-10-15T10:00:00Z' });
  });
  afterEach(async () => {
    await expectLedgerBalanced(ctx);
    await ctx.testDb.destroy();
    if (extra) {
      await expectLedgerBalanced(extra);
      await extra.testDb.destroy();
      extra = null;
    }
  });
}

const ALL_TABLES: readonly (keyof Database)[] = [
  'provider',
  'accounts',
  'users',
  'sessions',
  'api_tokens',
  'login_attempts',
  'ledger_entries',
  'payments',
  'product_types',
  'enumerations',
  'enumeration_values',
  'tariffs',
  'tariff_periods',
  'addons',
  'addon_values',
  'addon_prices',
  'tariff_history',
  'orders',
  'order_items',
  'services',
  'service_charges',
  'service_history',
  'operations',
  'billing_runs',
  'billing_steps',
  'notifications',
];
/** What a billing run writes (billing_runs aside: every real run logs itself). */
const RUN_TABLES: readonly (keyof Database)[] = [
  'accounts',
  'ledger_entries',
  'services',
  'service_charges',
  'service_history',
  'operations',
  'billing_steps',
  'notifications',
];

async function snapshot(c: TestContext, tables: readonly (keyof Database)[]) {
  const out: Record<string, unknown[]> = {};
  for (const t of tables) {
    // Some tables have no id column: rows sorted by their whole content.
    const rows = await c.db.kysely.selectFrom(t).selectAll().execute();
    out[t] = rows
      .map((r) => [JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)), r] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, r]) => r);
  }
  return out;
}

const at = (c: TestContext, date: string, time = '00:30:00') => c.clock.set(`${date}T${time}Z`);
const day = (d: string) => Temporal.PlainDate.from(d);
const counts = (s: RunSummary) => ({
  renewed: s.renewed,
  renewedAmount: s.renewedAmount,
  renewFailed: s.renewFailed,
  suspended: s.suspended,
  deleted: s.deleted,
  reminders: s.reminders,
  lowBalance: s.lowBalance,
});
/** What a run did, per service and step (a dry run also shows what a failed renewal would have cost). */
const sortedActions = (s: RunSummary) =>
  s.actions
    .map(({ amount, ...a }) => (a.outcome === 'renewed' ? { ...a, amount } : a))
    .sort((a, b) => a.serviceId - b.serviceId || a.step.localeCompare(b.step));

let licenses = 0;
async function order(c: TestContext, actor: Actor, tariffId: number, autoprolong: number | null = null) {
  const { order: o } = await placeOrder(c, actor, {
    items: [{ tariffId, period: 1, params: { ip: freshIp(), licname: `lic-${++licenses}` }, autoprolong }],
    payNow: true,
  });
  await runQueuedOperations(c);
  const row = await c.db.kysely
    .selectFrom('order_items')
    .select('service_id')
    .where('order_id', '=', o.id)
    .executeTakeFirstOrThrow();
  return Number(row.service_id);
}

/**
 * Services in every situation the run of 2021-12-15 acts on:
 * - a1: autoprolong, ends 12-16, rich account → renewed;
 * - b1, b2: autoprolong, end 12-16, one account whose balance pays one renewal → b1 renewed,
 *   b2 renewal_failed and low_balance (1 day left);
 * - c1: no autoprolong, ended 12-15 → suspended, reminder 0 days; c2: ends 12-16 → reminder 1 day;
 * - d1: suspended for non-payment on 11-15 → deleted (30 days);
 * - e1: autoprolong, ends 12-20, balance 0 → low_balance (5 days);
 * - f1: ends 12-15 itself, autoprolong turned on since (no run on 12-14) → renewed, not suspended.
 */
async function bookFor20211215(c: TestContext) {
  at(c, '2021-10-15', '10:00:00');
  const tariff = await licenseTariff(c);
  const d = await client(c, 'd@example.com', '10.00');
  const d1 = await order(c, d.actor, tariff.id);
  at(c, '2021-11-15');
  await runBilling(c, { date: day('2021-11-15') });
  await runQueuedOperations(c);
  at(c, '2021-11-15', '10:00:00');
  const cc = await client(c, 'c@example.com', '20.00');
  const c1 = await order(c, cc.actor, tariff.id);
  const f = await client(c, 'f@example.com', '20.00');
  const f1 = await order(c, f.actor, tariff.id);
  at(c, '2021-11-16', '10:00:00');
  const c2 = await order(c, cc.actor, tariff.id);
  const a = await client(c, 'a@example.com', '100.00');
  const a1 = await order(c, a.actor, tariff.id, 1);
  const b = await client(c, 'b@example.com', '30.00');
  const b1 = await order(c, b.actor, tariff.id, 1);
  const b2 = await order(c, b.actor, tariff.id, 1);
  at(c, '2021-11-20', '10:00:00');
  const e = await client(c, 'e@example.com', '10.00');
  const e1 = await order(c, e.actor, tariff.id, 1);
  at(c, '2021-12-15');
  await setAutoprolong(c, f.actor, f1, 1);
  return { a1, b1, b2, c1, c2, d1, e1, f1 };
}

/** Everything the run wrote, keyed by what is the same on two databases (names, not ids or times). */
async function image(c: TestContext) {
  const k = c.db.kysely;
  const services = await k
    .selectFrom('services')
    .select(['id', 'name', 'status', 'expires_on', 'period_start', 'autoprolong'])
    .orderBy('name')
    .execute();
  const nameOf = new Map(services.map((s) => [Number(s.id), s.name]));
  const accounts = await k.selectFrom('accounts').select(['id', 'name', 'balance_minor']).execute();
  const accountOf = new Map(accounts.map((a) => [Number(a.id), a.name]));
  const sorted = <T>(rows: T[]) =>
    rows
      .map((r) => [JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)), r] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, r]) => r);
  const charges = await k
    .selectFrom('service_charges')
    .select(['service_id', 'kind', 'period', 'start_on', 'end_on', 'amount_minor', 'lines'])
    .execute();
  const entries = await k
    .selectFrom('ledger_entries')
    .select(['account_id', 'kind', 'amount_minor', 'balance_after_minor', 'description', 'idempotency_key'])
    .orderBy('id')
    .execute();
  const steps = await k
    .selectFrom('billing_steps')
    .select(['service_id', 'run_date', 'step', 'outcome', 'amount_minor'])
    .execute();
  const notes = await k
    .selectFrom('notifications')
    .select(['account_id', 'service_id', 'kind', 'payload', 'dedupe_key'])
    .execute();
  const ops = await k
    .selectFrom('operations')
    .select(['service_id', 'kind', 'payload', 'idempotency_key', 'status'])
    .execute();
  const history = await k
    .selectFrom('service_history')
    .select(['service_id', 'event', 'from_status', 'to_status', 'details', 'actor'])
    .execute();
  return {
    services: services.map(({ id: _id, ...s }) => s),
    balances: Object.fromEntries(accounts.map((a) => [a.name, a.balance_minor])),
    charges: sorted(
      charges.map(({ service_id, ...r }) => ({ service: nameOf.get(Number(service_id)), ...r })),
    ),
    // per account, in the order they were written (the run goes through services in id order)
    ledger: Object.fromEntries(
      accounts.map((a) => [
        a.name,
        entries
          .filter((e) => Number(e.account_id) === Number(a.id))
          // payment references carry the test helpers' counter: payments compare by amount
          .map(({ account_id: _a, ...e }) =>
            e.kind === 'payment' ? { ...e, description: 'payment', idempotency_key: null } : e,
          ),
      ]),
    ),
    steps: sorted(steps.map(({ service_id, ...r }) => ({ service: nameOf.get(Number(service_id)), ...r }))),
    notifications: sorted(
      notes.map(({ service_id, account_id, ...r }) => ({
        account: accountOf.get(Number(account_id)),
        service: nameOf.get(Number(service_id)),
        ...r,
      })),
    ),
    operations: sorted(
      ops.map(({ service_id, ...r }) => ({ service: nameOf.get(Number(service_id)), ...r })),
    ),
    history: sorted(
      history.map(({ service_id, details, ...r }) => {
        const { operationId: _o, ...d } = JSON.parse(details) as Record<string, unknown>;
        return { service: nameOf.get(Number(service_id)), details: d, ...r };
      }),
    ),
  };
}

describe('the daily run is idempotent per (service, date, step)', () => {
  freshDatabasePerTest();
  it('a billing run executed twice for one date gives an identical ledger: the second run does nothing', async () => {
    const s = await bookFor20211215(ctx);
    const first = await runBilling(ctx, { date: day('2021-12-15'), listActions: true });
    expect(counts(first)).toEqual({
      renewed: 3,
      renewedAmount: '30.00',
      renewFailed: 1,
      suspended: 1,
      deleted: 1,
      reminders: 2,
      lowBalance: 2,
    });
    const steps = await ctx.db.kysely
      .selectFrom('billing_steps')
      .select((e) => e.fn.countAll().as('n'))
      .where('run_date', '=', '2021-12-15')
      .executeTakeFirstOrThrow();
    const before = await snapshot(ctx, RUN_TABLES);
    ctx.clock.set('2021-12-15T18:00:00Z');
    const second = await runBilling(ctx, { date: day('2021-12-15'), listActions: true });
    expect(await snapshot(ctx, RUN_TABLES)).toEqual(before);
    expect(counts(second)).toEqual({
      renewed: 0,
      renewedAmount: '0.00',
      renewFailed: 0,
      suspended: 0,
      deleted: 0,
      reminders: 0,
      lowBalance: 0,
    });
    // Every service the second run looked at again was already done: renewed services are no
    // longer due, so they are not looked at.
    expect(second.alreadyDone).toBe(Number(steps.n) - 3);
    expect(second.actions).toEqual([]);
    // Both runs are logged as completed for the date.
    const runs = await ctx.db.kysely.selectFrom('billing_runs').select(['run_date', 'status']).execute();
    expect(runs.filter((r) => r.run_date === '2021-12-15')).toEqual([
      { run_date: '2021-12-15', status: 'completed' },
      { run_date: '2021-12-15', status: 'completed' },
    ]);
    // …and the operations it queued complete once.
    await runQueuedOperations(ctx);
    expect((await service(ctx, s.c1)).status).toBe('suspended');
    expect((await service(ctx, s.d1)).status).toBe('deleted');
    await runBilling(ctx, { date: day('2021-12-15') });
    expect(await runQueuedOperations(ctx)).toBe(0);
  });

  it('a dry run changes nothing (every table) and predicts exactly what the real run then does', async () => {
    await bookFor20211215(ctx);
    const before = await snapshot(ctx, ALL_TABLES);
    const brief = await runBilling(ctx, { date: day('2021-12-15'), dryRun: true });
    const listed = await runBilling(ctx, { date: day('2021-12-15'), dryRun: true, listActions: true });
    expect(await snapshot(ctx, ALL_TABLES)).toEqual(before);
    expect(counts(brief)).toEqual(counts(listed));
    expect(brief.dryRun).toBe(true);

    const real = await runBilling(ctx, { date: day('2021-12-15'), listActions: true });
    expect(counts(listed)).toEqual(counts(real));
    expect(sortedActions(listed)).toEqual(sortedActions(real));
    expect(real.dryRun).toBe(false);
  });

  it.each([
    ['one chunk each', undefined],
    ['chunks of 2, interleaved', 2],
  ])(
    'two runs of one date at once (two schedulers, two connections) write what one run writes: %s',
    async (_, chunkSize) => {
      licenses = 0;
      await bookFor20211215(ctx);
      extra = await createTestContext({ now: '2021-10-15T10:00:00Z' });
      licenses = 0;
      await bookFor20211215(extra);
      expect(await image(ctx)).toEqual(await image(extra));
      // On SQLite one process has one connection (better-sqlite3 is synchronous): the two runs
      // interleave their transactions on it; on PostgreSQL each has its own pool.
      const twin: TestContext =
        TEST_ENGINE === 'postgres'
          ? contextOn(ctx.testDb.openAnother(), ctx.testDb, undefined, ctx.clock)
          : ctx;
      const [a, b] = await Promise.all([
        runBilling(ctx, { date: day('2021-12-15'), chunkSize }),
        runBilling(twin, { date: day('2021-12-15'), chunkSize }),
      ]);
      await runBilling(extra, { date: day('2021-12-15') });
      expect(await image(ctx)).toEqual(await image(extra));
      expect(a.renewed + b.renewed).toBe(3);
      expect(a.suspended + b.suspended).toBe(1);
      expect(a.deleted + b.deleted).toBe(1);
    },
  );

  it('a dry run after the real run predicts nothing more: it reports the steps as already done', async () => {
    await bookFor20211215(ctx);
    await runBilling(ctx, { date: day('2021-12-15') });
    const before = await snapshot(ctx, ALL_TABLES);
    const dry = await runBilling(ctx, { date: day('2021-12-15'), dryRun: true, listActions: true });
    expect(await snapshot(ctx, ALL_TABLES)).toEqual(before);
    const again = await runBilling(ctx, { date: day('2021-12-15'), listActions: true });
    expect(counts(dry)).toEqual(counts(again));
    expect(dry.actions).toEqual([]);
    expect(dry.alreadyDone).toBe(again.alreadyDone);
  });
});

describe('catch-up (scheduler): every missed day runs once, dated on its day', () => {
  freshDatabasePerTest();
  /** Monthly autoprolong services ending 12-12 … 12-16 (all funded), and one that does not renew. */
  async function book(c: TestContext) {
    const tariff = await licenseTariff(c);
    const rich = await client(c, 'rich@example.com', '200.00');
    const ids: number[] = [];
    for (const d of ['2021-11-12', '2021-11-13', '2021-11-14', '2021-11-15', '2021-11-16']) {
      at(c, d, '10:00:00');
      ids.push(await order(c, rich.actor, tariff.id, 1));
    }
    at(c, '2021-11-12', '10:00:00');
    const manual = await order(c, rich.actor, tariff.id);
    return { ids, manual };
  }

  async function outcome(c: TestContext) {
    const ledger = await c.db.kysely
      .selectFrom('ledger_entries')
      .select(['kind', 'amount_minor', 'ref_type', 'ref_id', 'created_at'])
      .orderBy('id')
      .execute();
    const notes = await c.db.kysely
      .selectFrom('notifications')
      .select(['service_id', 'kind', 'payload', 'created_at'])
      .orderBy('id')
      .execute();
    const services = await c.db.kysely
      .selectFrom('services')
      .select(['id', 'status', 'expires_on', 'period_start'])
      .orderBy('id')
      .execute();
    return {
      ledger: ledger.map((e) => ({ ...e, created_at: e.created_at.slice(0, 10) })),
      notes: notes.map((n) => ({ ...n, created_at: n.created_at.slice(0, 10) })),
      services,
    };
  }

  it('datesToRun after five days down runs each missed day once; the ledger equals day-by-day runs', async () => {
    ctx.clock.set('2021-11-12T10:00:00Z');
    const { ids, manual } = await book(ctx);
    at(ctx, '2021-12-10');
    await runBilling(ctx, { date: day('2021-12-10') });
    await runQueuedOperations(ctx);
    expect(await lastCompletedRunDate(ctx)).toBe('2021-12-10');

    // Down from 12-11 to 12-15: at 12-15 10:00 the scheduler starts and catches up (no operations in between).
    ctx.clock.set('2021-12-15T10:00:00Z');
    const today = day('2021-12-15');
    const dates = datesToRun(await lastCompletedRunDate(ctx), today);
    expect(dates.map(String)).toEqual(['2021-12-11', '2021-12-12', '2021-12-13', '2021-12-14', '2021-12-15']);
    const summaries = [];
    for (const d of dates) summaries.push(await runBilling(ctx, { date: d }));
    await runQueuedOperations(ctx);
    expect(summaries.map((s) => s.renewed)).toEqual([1, 1, 1, 1, 1]);
    expect(datesToRun(await lastCompletedRunDate(ctx), today)).toEqual([]);
    // Ran again (a second scheduler, a restart): nothing twice.
    const before = await snapshot(ctx, RUN_TABLES);
    for (const d of dates) await runBilling(ctx, { date: d });
    await runQueuedOperations(ctx);
    expect(await snapshot(ctx, RUN_TABLES)).toEqual(before);

    for (const [i, id] of ids.entries()) {
      // each renewed once, from its own end: 11-(12+i) + 1 month → 12-(12+i), + 1 month → 01-(12+i)
      expect((await service(ctx, id)).expires_on).toBe(`2022-01-${12 + i}`);
    }
    expect(await service(ctx, manual)).toMatchObject({ status: 'suspended', expires_on: '2021-12-12' });

    // The same book run day by day (the run at 00:30, operations after each) ends in the same place.
    extra = await createTestContext({ now: '2021-11-12T10:00:00Z' });
    await book(extra);
    for (let d = day('2021-12-10'); Temporal.PlainDate.compare(d, today) <= 0; d = d.add({ days: 1 })) {
      at(extra, d.toString());
      await runBilling(extra, { date: d });
      await runQueuedOperations(extra);
    }
    const caughtUp = await outcome(ctx);
    const daily = await outcome(extra);
    expect(caughtUp.ledger).toEqual(daily.ledger);
    expect(caughtUp.notes).toEqual(daily.notes);
    expect(caughtUp.services).toEqual(daily.services);
    // reminders went out on their own days during the catch-up
    expect(
      caughtUp.notes
        .filter((n) => Number(n.service_id) === manual)
        .map((n) => [n.created_at, n.kind, JSON.parse(n.payload).daysLeft ?? null]),
    ).toEqual([
      ['2021-12-11', 'renewal_reminder', 1],
      ['2021-12-12', 'service_suspended', null],
      ['2021-12-12', 'renewal_reminder', 0],
    ]);
  });

  it('datesToRun: just today on a fresh database; nothing when today already ran; at most maxCatchUp days', () => {
    expect(datesToRun(null, day('2022-01-01')).map(String)).toEqual(['2022-01-01']);
    expect(datesToRun('2022-01-01', day('2022-01-01'))).toEqual([]);
    expect(datesToRun('2022-01-02', day('2022-01-01'))).toEqual([]);
    expect(datesToRun('2021-01-01', day('2022-01-01'), 3).map(String)).toEqual([
      '2021-01-02',
      '2021-01-03',
      '2021-01-04',
    ]);
  });

  it('a run killed before it completed is run again: its date is not the last completed one', async () => {
    ctx.clock.set('2021-11-12T10:00:00Z');
    await book(ctx);
    at(ctx, '2021-12-10');
    await runBilling(ctx, { date: day('2021-12-10') });
    // A run of 12-11 that died half-way leaves its log row "running".
    await ctx.db.kysely
      .insertInto('billing_runs')
      .values({ run_date: '2021-12-11', status: 'running', started_at: '2021-12-11T00:00:05.000Z' })
      .execute();
    expect(datesToRun(await lastCompletedRunDate(ctx), day('2021-12-11')).map(String)).toEqual([
      '2021-12-11',
    ]);
  });
});

describe('a run killed mid-way (separate process, kill -9) then rerun', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));
  const CHILD = join(ROOT, 'test/billing/run-child.ts');
  const RUN_DATE = '2021-12-15';
  const ACCOUNTS = 30;
  const PER_ACCOUNT = 10;
  let killed: TestContext | null = null;
  let uninterrupted: TestContext | null = null;
  let child: ChildProcess | null = null;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const c of [killed, uninterrupted]) if (c) await c.testDb.destroy();
    killed = uninterrupted = null;
  });

  /**
   * 300 auto-renewing monthly services ending 2021-12-16 (due on 12-15) over 30 accounts:
   * a third can pay every renewal, a third half of them, a third none (renewal_failed, low_balance);
   * and 20 services without autoprolong ending 12-15 (suspended, reminder 0 days).
   */
  async function book(c: TestContext) {
    const tariff = await licenseTariff(c);
    let n = 0;
    const item = (autoprolong: number | null) => ({
      tariffId: tariff.id,
      period: 1,
      params: { ip: freshIp(), licname: `book-${++n}` },
      autoprolong,
    });
    // Accounts without a login (no password hashing: fast), ordered for by staff.
    const account = async (email: string, money: string) => {
      const { account: a } = await createAccount(c, staff, { name: email, email });
      await recordPayment(c, staff, Number(a.id), { amount: money, method: 'manual', reference: email });
      return Number(a.id);
    };
    at(c, '2021-11-15', '10:00:00');
    const lapsing = await account('lapsing@example.com', '200.00');
    for (let i = 0; i < 2; i++)
      await placeOrder(c, staff, {
        accountId: lapsing,
        items: Array.from({ length: 10 }, () => item(null)),
        payNow: true,
      });
    await runQueuedOperations(c, { limit: 1000 });
    at(c, '2021-11-16', '10:00:00');
    for (let a = 0; a < ACCOUNTS; a++) {
      const renewals = [PER_ACCOUNT, PER_ACCOUNT / 2, 0][a % 3]!;
      const accountId = await account(`book-${a}@example.com`, `${PER_ACCOUNT * 10 + renewals * 10}.00`);
      await placeOrder(c, staff, {
        accountId,
        items: Array.from({ length: PER_ACCOUNT }, () => item(1)),
        payNow: true,
      });
    }
    await runQueuedOperations(c, { limit: 1000 });
    at(c, RUN_DATE);
  }

  async function childEnv(c: TestContext): Promise<Record<string, string>> {
    if (c.db.kind === 'sqlite') {
      const { rows } = await sql<{
        file: string;
      }>`select file from pragma_database_list where name = 'main'`.execute(c.db.kysely);
      return { RUN_CHILD_SQLITE_FILE: rows[0]!.file };
    }
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(c.db.kysely);
    return { RUN_CHILD_PG_URL: TEST_PG_URL, RUN_CHILD_PG_SCHEMA: rows[0]!.schema };
  }

  const stepCount = async (c: TestContext) =>
    Number(
      (
        await c.db.kysely
          .selectFrom('billing_steps')
          .select((e) => e.fn.countAll().as('n'))
          .where('run_date', '=', RUN_DATE)
          .executeTakeFirstOrThrow()
      ).n,
    );

  /** Starts the run in a child process and kills it with SIGKILL once `after` steps of the date are recorded. */
  async function runAndKill(c: TestContext, after: number): Promise<{ seen: number; output: string }> {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: { ...process.env, ...(await childEnv(c)), RUN_CHILD_DATE: RUN_DATE, RUN_CHILD_CHUNK: '10' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let output = '';
    proc.stdout!.on('data', (d) => {
      output += d;
    });
    proc.stderr!.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      proc.on('exit', (_code, signal) => resolve(signal)),
    );
    const deadline = Date.now() + 60_000;
    let seen = await stepCount(c);
    while (seen < after && proc.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
      seen = await stepCount(c);
    }
    proc.kill('SIGKILL');
    expect(await exited, output).toBe('SIGKILL');
    return { seen, output };
  }

  it('the rerun completes the run and the ledger equals that of an uninterrupted run on an identical database', async () => {
    killed = await createTestContext({ now: '2021-11-15T10:00:00Z', file: true });
    uninterrupted = await createTestContext({ now: '2021-11-15T10:00:00Z' });
    await Promise.all([book(killed), book(uninterrupted)]);
    expect(await image(killed)).toEqual(await image(uninterrupted));
    const totalSteps = 300 + 20 + 150 + 20; // renew 300, suspend 20, low_balance 150, reminder 20

    // The uninterrupted run (in this process) alongside the run that will be killed (in a child).
    const reference = runBilling(uninterrupted, { date: day(RUN_DATE) });
    // Killed once while renewing, started again in a child and killed again while notifying.
    for (const after of [60, 330]) {
      const { seen, output } = await runAndKill(killed, after);
      expect(seen, output).toBeGreaterThanOrEqual(after);
      // It really died half-way: steps left to do, its run never marked completed.
      expect(await stepCount(killed)).toBeLessThan(totalSteps);
      await expectLedgerBalanced(killed);
    }
    expect(await reference).toMatchObject({ renewed: 150, renewFailed: 150, suspended: 20, lowBalance: 150 });
    expect(await stepCount(uninterrupted)).toBe(totalSteps);
    const runs = await killed.db.kysely.selectFrom('billing_runs').select(['run_date', 'status']).execute();
    expect(runs).toEqual([
      { run_date: RUN_DATE, status: 'running' },
      { run_date: RUN_DATE, status: 'running' },
    ]);

    // Started again (in this process): it does what is left, nothing twice.
    killed.clock.set(`${RUN_DATE}T00:40:00Z`);
    const rerun = await runBilling(killed, { date: day(RUN_DATE) });
    expect(rerun.alreadyDone).toBeGreaterThanOrEqual(330 - 150); // services it renewed are no longer due
    expect(await stepCount(killed)).toBe(totalSteps);
    expect(await lastCompletedRunDate(killed)).toBe(RUN_DATE);
    await expectLedgerBalanced(killed);
    await expectLedgerBalanced(uninterrupted);
    expect(await image(killed)).toEqual(await image(uninterrupted));

    // The operations the runs queued complete to the same end as well.
    await Promise.all([
      runQueuedOperations(killed, { limit: 1000 }),
      runQueuedOperations(uninterrupted, { limit: 1000 }),
    ]);
    expect(await image(killed)).toEqual(await image(uninterrupted));
  }, 180_000);
});
