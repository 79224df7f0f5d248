import { Temporal } from 'temporal-polyfill';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postAdjustment, updateProvider } from '../../src/modules/accounts/commands.js';
import { runBilling } from '../../src/modules/billing/run.js';
import { createTariff, updateEnumerationValue } from '../../src/modules/catalog/commands.js';
import { changeLicenseIp } from '../../src/modules/licenses/commands.js';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { createModule, setTariffModules } from '../../src/modules/provisioning/commands.js';
import { setAutoprolong } from '../../src/modules/services/commands.js';
import { deleteService } from '../../src/modules/services/deletion.js';
import {
  builtinHandler,
  cancelOperation,
  claimNext,
  MAX_ATTEMPTS,
  runClaimed,
} from '../../src/modules/services/engine.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { renewService } from '../../src/modules/services/renewal.js';
import { suspendService } from '../../src/modules/services/suspension.js';
import { changeTariff } from '../../src/modules/services/tariff-change.js';
import { startWorker } from '../../src/modules/services/worker.js';
import { balance, client, licenseTariff, orderLicense, pay, service, staff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';
import { freshIp } from '../helpers/ips.js';

/**
 * Issue 10, case by case: the order in which a service's state changes, its operations land
 * and its row is read. Each describe names the case it proves fixed; all run on SQLite and on
 * PostgreSQL (where `Promise.all` really runs on several connections).
 */
const d = (s: string) => Temporal.PlainDate.from(s);

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext();
});
afterEach(async () => {
  await expectLedgerBalanced(ctx);
  await ctx.testDb.destroy();
});

const ops = (serviceId: number) =>
  ctx.db.kysely
    .selectFrom('operations')
    .select(['id', 'kind', 'status', 'payload', 'result', 'idempotency_key'])
    .where('service_id', '=', serviceId)
    .orderBy('id')
    .execute();
const events = async (serviceId: number) =>
  (
    await ctx.db.kysely
      .selectFrom('service_history')
      .select('event')
      .where('service_id', '=', serviceId)
      .orderBy('id')
      .execute()
  ).map((e) => e.event);
const renewalCharges = (serviceId: number) =>
  ctx.db.kysely
    .selectFrom('service_charges')
    .selectAll()
    .where('service_id', '=', serviceId)
    .where('kind', '=', 'renewal')
    .orderBy('id')
    .execute();

/** A paid monthly license (10.00) ordered 2021-12-16, active until 2022-01-16. */
async function license(
  money = '100.00',
  extra: Parameters<typeof orderLicense>[3] = {},
  opts: { issued?: boolean } = {},
) {
  const tariff = await licenseTariff(ctx);
  if (opts.issued) {
    // Billfold issues the key: the license's IP-change rules apply.
    const issuer = await createModule(ctx, staff, {
      name: `issuer-${tariff.id}`,
      type: 'license-issuer',
      productTypes: ['soft'],
      params: {},
    });
    await setTariffModules(ctx, staff, tariff.id, { modules: [{ moduleId: Number(issuer.id) }] });
  }
  const who = await client(ctx, `c${Math.random().toString(36).slice(2)}@example.com`, money);
  const id = await orderLicense(ctx, who.actor, tariff.id, extra);
  return { ...who, id, tariffId: tariff.id };
}

describe('case 1: a paid renewal is not undone by a stale expiry suspend', () => {
  it('a renewal withdraws the expiry suspend the run queued; the service stays active', async () => {
    const { id, actor } = await license();
    ctx.clock.set('2022-01-16T10:00:00Z');
    await runBilling(ctx, { date: d('2022-01-16') });
    expect((await ops(id)).map((o) => [o.kind, o.status])).toContainEqual(['suspend', 'queued']);
    await renewService(ctx, actor, id, 1);
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({ status: 'active', expires_on: '2022-02-16' });
    const suspend = (await ops(id)).find((o) => o.kind === 'suspend')!;
    expect(suspend.status).toBe('cancelled');
    expect(await events(id)).toContain('operation_suspend_superseded');
  });

  it('a suspend already running when the renewal lands completes as superseded, and a resume follows', async () => {
    const { id, actor } = await license();
    ctx.clock.set('2022-01-16T10:00:00Z');
    await runBilling(ctx, { date: d('2022-01-16') });
    const running = await claimNext(ctx, 'w1');
    expect(running?.kind).toBe('suspend');
    await renewService(ctx, actor, id, 1);
    // The worker finishes the suspend remotely; its completion finds the service paid.
    expect(await runClaimed(ctx, running!, 'w1', builtinHandler)).toBe('done');
    expect(JSON.parse((await ops(id)).find((o) => o.kind === 'suspend')!.result!)).toMatchObject({
      superseded: true,
    });
    expect((await service(ctx, id)).status).toBe('active');
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({ status: 'active', expires_on: '2022-02-16' });
    expect((await ops(id)).map((o) => o.kind)).toEqual(['open', 'suspend', 'prolong', 'resume']);
  });

  it('after the suspend ran, the renewal resumes the service from today', async () => {
    const { id, actor } = await license();
    ctx.clock.set('2022-01-16T10:00:00Z');
    await runBilling(ctx, { date: d('2022-01-16') });
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({ status: 'suspended', suspend_reason: 'expired' });
    ctx.clock.set('2022-01-20T10:00:00Z');
    await renewService(ctx, actor, id, 1);
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({ status: 'active', expires_on: '2022-02-20' });
  });

  it('a renewal reactivates a license its owner suspended (ISPsystem clients rely on it)', async () => {
    const { id, actor } = await license();
    await suspendService(ctx, actor, id, 'client');
    await runQueuedOperations(ctx);
    expect((await service(ctx, id)).suspend_reason).toBe('client');
    await renewService(ctx, actor, id, 1);
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({ status: 'active', expires_on: '2022-02-16' });
  });

  it('a renewal committed while the run walks its suspend list: the run re-decides under the lock and leaves it active', async () => {
    const { id, actor } = await license();
    ctx.clock.set('2022-01-16T10:00:00Z');
    const summary = await runBilling(ctx, {
      date: d('2022-01-16'),
      afterList: async (step, ids) => {
        if (step === 'suspend' && ids.includes(id)) await renewService(ctx, actor, id, 1);
      },
    });
    expect(summary.suspended).toBe(0);
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({ status: 'active', expires_on: '2022-02-16' });
    expect((await ops(id)).some((o) => o.kind === 'suspend')).toBe(false);
  });

  it('a renewal committed while the run walks its delete list: the service is not deleted', async () => {
    const { id, actor } = await license();
    ctx.clock.set('2022-01-16T10:00:00Z');
    await runBilling(ctx, { date: d('2022-01-16') });
    await runQueuedOperations(ctx);
    ctx.clock.set('2022-02-15T10:00:00Z');
    const summary = await runBilling(ctx, {
      date: d('2022-02-15'),
      afterList: async (step, ids) => {
        if (step === 'delete' && ids.includes(id)) await renewService(ctx, actor, id, 1);
      },
    });
    expect(summary.deleted).toBe(0);
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({ status: 'active', expires_on: '2022-03-15' });
  });
});

describe('case 2: concurrent renewals of one service charge exactly what they extend', () => {
  it('20 parallel renewals (periods 1 and 12, with and without keys): every charge buys its own contiguous range', async () => {
    const { id, actor, accountId } = await license('2000.00');
    const before = await balance(ctx, accountId);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        renewService(ctx, actor, id, i % 2 === 0 ? 1 : 12, i % 3 === 0 ? {} : { idempotencyKey: `k-${i}` }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const charges = await renewalCharges(id);
    expect(charges).toHaveLength(20);
    let end = '2022-01-16';
    let total = 0n;
    for (const c of charges) {
      expect(c.start_on).toBe(end);
      end = c.end_on!;
      expect(c.amount_minor).toBe(Number(c.period) === 1 ? 10_00n : 120_00n);
      total += c.amount_minor;
    }
    expect((await service(ctx, id)).expires_on).toBe(end);
    // 10 × 1 month + 10 × 12 months, chained from 2022-01-16.
    expect(end).toBe(d('2022-01-16').add({ months: 130 }).toString());
    expect(before - (await balance(ctx, accountId))).toBe(total);
    expect(total).toBe(10n * 10_00n + 10n * 120_00n);
  });

  it('the same request five times at once (one key) renews once', async () => {
    const { id, actor } = await license();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => renewService(ctx, actor, id, 1, { idempotencyKey: 'same' })),
    );
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await renewalCharges(id)).toHaveLength(1);
    expect((await service(ctx, id)).expires_on).toBe('2022-02-16');
  });

  it('tariff changes back and forth in one instant are each charged and each sent upstream', async () => {
    const { id, accountId, tariffId: lite } = await license();
    const pro = await licenseTariff(ctx, { name: 'Pro', prices: { '1': '20.00' } });
    const before = await balance(ctx, accountId);
    // The clock does not move: Lite → Pro → Lite → Pro share every timestamp.
    for (const to of [pro.id, lite, pro.id]) await changeTariff(ctx, staff, id, to);
    const entries = await ctx.db.kysely
      .selectFrom('ledger_entries')
      .select(['amount_minor', 'idempotency_key'])
      .where('ref_type', '=', 'service')
      .where('ref_id', '=', id)
      .where('kind', 'in', ['charge', 'refund'])
      .where('description', 'like', '%tariff change%')
      .orderBy('id')
      .execute();
    expect(entries).toHaveLength(3);
    expect(new Set(entries.map((e) => e.idempotency_key)).size).toBe(3);
    // Up, down, up again: what the account paid is one step up.
    const [up, down] = [-entries[0]!.amount_minor, -entries[1]!.amount_minor];
    expect(up).toBeGreaterThan(0n);
    expect(down).toBe(-up);
    expect(before - (await balance(ctx, accountId))).toBe(up);
    const setParams = (await ops(id)).filter((o) => o.kind === 'set_param');
    expect(setParams.map((o) => (JSON.parse(o.payload) as { tariffId: number }).tariffId)).toEqual([
      pro.id,
      lite,
      pro.id,
    ]);
    expect(Number((await service(ctx, id)).tariff_id)).toBe(pro.id);
  });

  it('two parallel tariff changes: one is made, the other finds the service on the new tariff; one charge row', async () => {
    const { id } = await license();
    const pro = await licenseTariff(ctx, { name: 'Pro', prices: { '1': '20.00' } });
    const results = await Promise.allSettled([
      changeTariff(ctx, staff, id, pro.id),
      changeTariff(ctx, staff, id, pro.id),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: 'same_tariff' });
    const rows = await ctx.db.kysely
      .selectFrom('service_charges')
      .select('id')
      .where('service_id', '=', id)
      .where('kind', '=', 'tariff_change')
      .execute();
    expect(rows).toHaveLength(1);
  });
  it('parallel changes to two different tariffs: both are made, one after the other, each priced from the tariff the other left', async () => {
    const { id, accountId, tariffId: lite } = await license();
    const pro = await licenseTariff(ctx, { name: 'Pro', prices: { '1': '20.00' } });
    const business = await licenseTariff(ctx, { name: 'Business', prices: { '1': '35.00' } });
    const before = await balance(ctx, accountId);
    // Lite → Pro and Lite → Business at once. Whichever takes the lock second must price its
    // change from the tariff the first one left, not from the Lite both callers saw.
    const results = await Promise.allSettled([
      changeTariff(ctx, staff, id, pro.id),
      changeTariff(ctx, staff, id, business.id),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const setParams = (await ops(id)).filter((o) => o.kind === 'set_param');
    const order = setParams.map((o) => (JSON.parse(o.payload) as { tariffId: number }).tariffId);
    expect([...order].sort()).toEqual([pro.id, business.id].sort());
    const last = order[order.length - 1]!;
    expect(Number((await service(ctx, id)).tariff_id)).toBe(last);
    // Every paid day remains (the clock has not moved): the account paid the step from Lite to
    // the final tariff, 10.00 or 25.00, whatever the path; two charge rows, one per change.
    const paid = before - (await balance(ctx, accountId));
    expect(paid).toBe(last === business.id ? 25_00n : 10_00n);
    const charges = await ctx.db.kysely
      .selectFrom('service_charges')
      .select(['amount_minor'])
      .where('service_id', '=', id)
      .where('kind', '=', 'tariff_change')
      .orderBy('id')
      .execute();
    const price = (t: number) => ({ [lite]: 10_00n, [pro.id]: 20_00n, [business.id]: 35_00n })[t]!;
    expect(charges.map((c) => BigInt(c.amount_minor))).toEqual([
      price(order[0]!) - price(lite),
      price(order[1]!) - price(order[0]!),
    ]);
  });
});

describe('case 3: a cancelled operation does not block its key', () => {
  it('after staff cancel a close, a later delete makes a new close that runs', async () => {
    const { id } = await license();
    await deleteService(ctx, staff, id);
    const close = (await ops(id)).find((o) => o.kind === 'close')!;
    await cancelOperation(ctx, staff, Number(close.id));
    expect((await service(ctx, id)).status).toBe('active');
    await deleteService(ctx, staff, id);
    await runQueuedOperations(ctx);
    expect((await service(ctx, id)).status).toBe('deleted');
    expect((await ops(id)).filter((o) => o.kind === 'close').map((o) => o.status)).toEqual([
      'cancelled',
      'done',
    ]);
  });

  it('after staff cancel the expiry suspend, the next run suspends again, and the unpaid service is later deleted', async () => {
    const { id } = await license();
    ctx.clock.set('2022-01-16T10:00:00Z');
    await runBilling(ctx, { date: d('2022-01-16') });
    const suspend = (await ops(id)).find((o) => o.kind === 'suspend')!;
    await cancelOperation(ctx, staff, Number(suspend.id));
    ctx.clock.set('2022-01-17T10:00:00Z');
    expect((await runBilling(ctx, { date: d('2022-01-17') })).suspended).toBe(1);
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({ status: 'suspended', suspend_reason: 'expired' });
    ctx.clock.set('2022-02-15T10:00:00Z');
    expect((await runBilling(ctx, { date: d('2022-02-15') })).deleted).toBe(1);
    await runQueuedOperations(ctx);
    expect((await service(ctx, id)).status).toBe('deleted');
  });
});

describe('case 4: one live license per IP, held by the database', () => {
  it('30 parallel orders on one IP make one license; the others are ip_taken and charge nothing', async () => {
    const tariff = await licenseTariff(ctx);
    const who = await client(ctx, 'many@example.com', '500.00');
    const ip = freshIp();
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        placeOrder(ctx, who.actor, {
          items: [{ tariffId: tariff.id, period: 1, params: { ip, licname: `l${i}` } }],
          payNow: true,
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ip_taken' });
    const live = await ctx.db.kysely
      .selectFrom('services')
      .select('id')
      .where('status', '<>', 'deleted')
      .execute();
    expect(live).toHaveLength(1);
    expect(await balance(ctx, who.accountId)).toBe(490_00n);
  });

  it('two sequential REST orders on one IP: the second is ip_taken; once the first is deleted the IP is free again', async () => {
    const { id, tariffId, actor } = await license('100.00', { params: { ip: '203.0.113.5', licname: 'a' } });
    const again = {
      items: [{ tariffId, period: 1, params: { ip: '203.0.113.5', licname: 'b' } }],
      payNow: true,
    };
    await expect(placeOrder(ctx, actor, again)).rejects.toMatchObject({ code: 'ip_taken' });
    await deleteService(ctx, staff, id);
    await runQueuedOperations(ctx);
    expect((await placeOrder(ctx, actor, again)).order.status).toBe('paid');
  });

  it('moving a license onto a taken IP is ip_taken and changes nothing', async () => {
    const a = await license('100.00', { params: { ip: '203.0.113.6', licname: 'a' } });
    const b = await orderLicense(ctx, a.actor, a.tariffId, { params: { ip: '203.0.113.7', licname: 'b' } });
    await expect(changeLicenseIp(ctx, a.actor, b, '203.0.113.6')).rejects.toMatchObject({ code: 'ip_taken' });
    expect(JSON.parse((await service(ctx, b)).params).ip).toBe('203.0.113.7');
  });
});

describe('case 5: one unexpected error does not stop billing', () => {
  it('a service whose step throws is recorded with a staff task; the rest renew and the run ends completed', async () => {
    const tariff = await licenseTariff(ctx);
    const who = await client(ctx, 'auto@example.com', '100.00');
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push(await orderLicense(ctx, who.actor, tariff.id, { autoprolong: 1 }));
    // Service 2's stored addon values are unreadable: its renewal throws a plain error.
    await ctx.db.kysely
      .updateTable('services')
      .set({ addon_values: '{broken' })
      .where('id', '=', ids[1]!)
      .execute();
    ctx.clock.set('2022-01-15T10:00:00Z');
    const summary = await runBilling(ctx, { date: d('2022-01-15') });
    // Its renewal fails, and so does pricing its reminder (it expires tomorrow): each step once.
    expect(summary).toMatchObject({ renewed: 2, errors: 2 });
    const run = await ctx.db.kysely.selectFrom('billing_runs').selectAll().executeTakeFirstOrThrow();
    expect(run.status).toBe('completed');
    const tasks = await ctx.db.kysely.selectFrom('staff_tasks').selectAll().orderBy('id').execute();
    expect(tasks.map((t) => [t.kind, t.status, Number(t.service_id), JSON.parse(t.details).step])).toEqual([
      ['billing_error', 'open', ids[1], 'renew'],
      ['billing_error', 'open', ids[1], 'notify'],
    ]);
    const steps = await ctx.db.kysely
      .selectFrom('billing_steps')
      .selectAll()
      .where('service_id', '=', ids[1]!)
      .execute();
    expect(steps.map((s) => s.outcome)).toEqual(['error', 'error']);
    expect((await service(ctx, ids[0]!)).expires_on).toBe('2022-02-16');
    expect((await service(ctx, ids[2]!)).expires_on).toBe('2022-02-16');
    // A rerun of the date does not retry it (no new task).
    await runBilling(ctx, { date: d('2022-01-15') });
    expect(await ctx.db.kysely.selectFrom('staff_tasks').select('id').execute()).toHaveLength(2);
    // Staff close it once dealt with: complete or cancel, nothing else changes.
    const { completeTask, cancelTask } = await import('../../src/modules/services/tasks.js');
    expect(await completeTask(ctx, staff, Number(tasks[0]!.id))).toMatchObject({ status: 'done' });
    expect(await cancelTask(ctx, staff, Number(tasks[1]!.id))).toMatchObject({ status: 'cancelled' });
  });
});

describe("case 6: today is the provider's calendar date", () => {
  it('a Moscow provider ordering at 01:30 local time on 2021-12-16 gets the seed case: 15 of 31 days, 4.84', async () => {
    const tariff = await licenseTariff(ctx, { expiresOn: '2021-12-31' });
    const who = await client(ctx, 'msk@example.com', '100.00');
    ctx.clock.set('2021-12-15T22:30:00Z'); // 01:30 on 2021-12-16 in Moscow, still the 15th in UTC
    const order = () =>
      placeOrder(ctx, who.actor, {
        items: [{ tariffId: tariff.id, period: 1, params: { ip: freshIp(), licname: 'm' } }],
      });
    expect((await order()).order.total_minor).toBe(5_16n); // UTC: 16 of 31 days
    await updateProvider(ctx, staff, { timeZone: 'Europe/Moscow' });
    expect((await order()).order.total_minor).toBe(4_84n);
  });

  it('the once-a-month IP change counts calendar months in the provider zone', async () => {
    await updateProvider(ctx, staff, { timeZone: 'Europe/Moscow' });
    const { id, actor } = await license('100.00', {}, { issued: true });
    ctx.clock.set('2022-01-10T10:00:00Z');
    await changeLicenseIp(ctx, actor, id, freshIp());
    ctx.clock.set('2022-01-31T20:00:00Z'); // 23:00 in Moscow: still January
    await expect(changeLicenseIp(ctx, actor, id, freshIp())).rejects.toMatchObject({
      code: 'ip_change_limit',
    });
    ctx.clock.set('2022-01-31T21:30:00Z'); // 00:30 on February 1 in Moscow
    await changeLicenseIp(ctx, actor, id, freshIp());
  });

  it('an unknown time zone is refused', async () => {
    const { UpdateProviderInput } = await import('../../src/modules/accounts/schemas.js');
    expect(UpdateProviderInput.safeParse({ timeZone: 'Mars/Olympus' }).success).toBe(false);
    expect(UpdateProviderInput.safeParse({ timeZone: 'Europe/Moscow' }).success).toBe(true);
  });
});

describe('case 7: suspended for another reason — renewal start and deletion', () => {
  it('a service suspended by staff and past its expiresOn renews from today and stays suspended', async () => {
    const { id, actor, accountId } = await license();
    await suspendService(ctx, staff, id, 'admin');
    await runQueuedOperations(ctx);
    ctx.clock.set('2022-01-20T10:00:00Z');
    const before = await balance(ctx, accountId);
    const { plan } = await renewService(ctx, actor, id, 1);
    expect(plan.start.toString()).toBe('2022-01-20');
    expect(before - (await balance(ctx, accountId))).toBe(10_00n);
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({
      status: 'suspended',
      suspend_reason: 'admin',
      expires_on: '2022-02-20',
    });
  });

  it('a service its owner suspended is deleted once expiresOn + the delay has passed', async () => {
    const { id, actor } = await license();
    await suspendService(ctx, actor, id, 'client');
    await runQueuedOperations(ctx);
    ctx.clock.set('2022-02-14T10:00:00Z');
    expect((await runBilling(ctx, { date: d('2022-02-14') })).deleted).toBe(0);
    ctx.clock.set('2022-02-15T10:00:00Z');
    expect((await runBilling(ctx, { date: d('2022-02-15') })).deleted).toBe(1);
    await runQueuedOperations(ctx);
    expect((await service(ctx, id)).status).toBe('deleted');
  });
});

describe('case 8: awaiting orders are paid by any credit, in its own transaction', () => {
  const awaiting = async (money?: string) => {
    const tariff = await licenseTariff(ctx);
    const who = await client(ctx, `w${Math.random().toString(36).slice(2)}@example.com`, money);
    const { order } = await placeOrder(ctx, who.actor, {
      items: [{ tariffId: tariff.id, period: 1, params: { ip: freshIp(), licname: 'w' } }],
    });
    return { ...who, orderId: Number(order.id) };
  };
  const statusOf = async (orderId: number) =>
    (
      await ctx.db.kysely
        .selectFrom('orders')
        .select('status')
        .where('id', '=', orderId)
        .executeTakeFirstOrThrow()
    ).status;

  it('a payment pays it before the payment call returns', async () => {
    const w = await awaiting();
    await pay(ctx, w.accountId, '10.00');
    expect(await statusOf(w.orderId)).toBe('paid');
  });

  it('a positive adjustment pays it; a negative one does not try', async () => {
    const w = await awaiting();
    await postAdjustment(ctx, staff, w.accountId, { amount: '10.00', description: 'goodwill' });
    expect(await statusOf(w.orderId)).toBe('paid');
  });

  it('a refund (deletion with unused days refunded) pays it', async () => {
    await ctx.db.kysely
      .updateTable('product_types')
      .set({ refund_unused_days: 1 })
      .where('code', '=', 'soft')
      .execute();
    const tariff = await licenseTariff(ctx);
    const who = await client(ctx, 'refund@example.com', '10.00');
    const lic = await orderLicense(ctx, who.actor, tariff.id); // the balance is 0 now
    const { order } = await placeOrder(ctx, who.actor, {
      items: [{ tariffId: tariff.id, period: 1, params: { ip: freshIp(), licname: 'r' } }],
    });
    expect(await statusOf(Number(order.id))).toBe('awaiting_payment');
    await deleteService(ctx, staff, lic); // refunds the whole unused month (10.00)
    expect(await statusOf(Number(order.id))).toBe('paid');
    expect(await balance(ctx, who.accountId)).toBe(0n);
  });

  it('the daily run pays any left behind (an order placed when the balance already covered it)', async () => {
    const w = await awaiting('10.00');
    expect(await statusOf(w.orderId)).toBe('awaiting_payment');
    const summary = await runBilling(ctx, { date: d('2021-12-16') });
    expect(summary.ordersPaid).toBe(1);
    expect(await statusOf(w.orderId)).toBe('paid');
  });
});

describe('case 9: tariff change keeps what the service has', () => {
  it('the old side is priced with the service’s values even once a value is withdrawn; omitted addon values are carried; a currency mismatch is refused', async () => {
    const { seedControlPanels } = await import('../../src/modules/catalog/seed.js');
    const { createAddon } = await import('../../src/modules/catalog/commands.js');
    const { enumerationId } = await seedControlPanels(ctx);
    const values = await ctx.db.kysely
      .selectFrom('enumeration_values')
      .select(['id', 'internal_name'])
      .where('enumeration_id', '=', enumerationId)
      .execute();
    const pro6 = Number(values.find((v) => v.internal_name === '55228')!.id);
    const vds = async (name: string, price: string) => {
      const t = await createTariff(ctx, staff, {
        name,
        productType: 'vds',
        periods: [1],
        prices: { '1': price },
      });
      await createAddon(ctx, staff, t.id, {
        valueType: 'integer',
        kind: 'ram',
        label: 'RAM',
        unit: 'GB',
        included: 2,
        min: 1,
        max: 16,
        step: 1,
        defaultValue: 2,
        prices: { '1': '1.00' },
      });
      const view = await createAddon(ctx, staff, t.id, {
        valueType: 'enumeration',
        kind: 'control_panel',
        label: 'Control panel',
        enumerationId,
        values: [{ valueId: pro6, prices: { '1': '8.00' } }],
      });
      const addon = (label: string) => view.addons.find((a) => a.label === label)!.id;
      return { id: t.id, ram: addon('RAM'), panel: addon('Control panel') };
    };
    const small = await vds('VDS S', '20.00');
    const big = await vds('VDS L', '40.00');
    const who = await client(ctx, 'vds@example.com', '200.00');
    const { order } = await placeOrder(ctx, who.actor, {
      items: [
        {
          tariffId: small.id,
          period: 1,
          params: { hostname: 'a.example.com', os_template: 'debian-12' },
          addonValues: { [String(small.ram)]: 4, [String(small.panel)]: pro6 },
        },
      ],
      payNow: true,
    });
    await runQueuedOperations(ctx);
    const id = Number(
      (
        await ctx.db.kysely
          .selectFrom('order_items')
          .select('service_id')
          .where('order_id', '=', order.id)
          .executeTakeFirstOrThrow()
      ).service_id,
    );
    // The panel value is withdrawn from sale everywhere: the service keeps it.
    await updateEnumerationValue(ctx, staff, enumerationId, pro6, { status: 'disabled' });
    await updateEnumerationValue(ctx, staff, enumerationId, pro6, { status: 'active' });
    ctx.clock.set('2022-01-01T10:00:00Z');
    const { plan } = await changeTariff(ctx, staff, id, big.id);
    expect(plan.addonValues).toEqual({ [String(big.ram)]: 4, [String(big.panel)]: pro6 });
    expect(JSON.parse((await service(ctx, id)).addon_values)).toEqual({
      [String(big.ram)]: 4,
      [String(big.panel)]: pro6,
    });
    // Old side 20 + 2 GB × 1 + 8 = 30.00, new 40 + 2 + 8 = 50.00, 15 of 31 days remain.
    expect(plan.oldAmountMinor).toBe(14_52n);
    expect(plan.newAmountMinor).toBe(24_19n);

    await ctx.db.kysely.updateTable('tariffs').set({ currency: 'USD' }).where('id', '=', small.id).execute();
    await expect(changeTariff(ctx, staff, id, small.id)).rejects.toMatchObject({ code: 'currency_mismatch' });
  });

  it('the provider currency cannot change once accounts or tariffs use it', async () => {
    await expect(updateProvider(ctx, staff, { currency: 'USD' })).resolves.toMatchObject({ currency: 'USD' });
    await updateProvider(ctx, staff, { currency: 'EUR' });
    await licenseTariff(ctx);
    await expect(updateProvider(ctx, staff, { currency: 'USD' })).rejects.toMatchObject({
      code: 'currency_in_use',
    });
  });
});

describe('case 10: operation completion is fenced; a crashing worker counts attempts; stop wakes every slot', () => {
  it('a worker whose lease was taken over cannot complete the operation', async () => {
    const { id } = await license();
    await suspendService(ctx, staff, id, 'admin');
    const op = (await claimNext(ctx, 'w1'))!;
    // w1's lease expired and w2 took it over.
    await ctx.db.kysely
      .updateTable('operations')
      .set({ lease_owner: 'w2' })
      .where('id', '=', op.id)
      .execute();
    expect(await runClaimed(ctx, op, 'w1', builtinHandler)).toBe('lost');
    expect((await service(ctx, id)).status).toBe('active');
    expect((await ops(id)).find((o) => o.kind === 'suspend')!.status).toBe('running');
  });

  it('an operation reclaimed after its worker died MAX_ATTEMPTS times fails with a staff task', async () => {
    const { id } = await license();
    await suspendService(ctx, staff, id, 'admin');
    const op = (await claimNext(ctx, 'w1'))!;
    await ctx.db.kysely
      .updateTable('operations')
      .set({ attempts: MAX_ATTEMPTS, lease_expires_at: '2021-12-16T09:00:00.000Z' })
      .where('id', '=', op.id)
      .execute();
    expect(await claimNext(ctx, 'w2')).toBeNull();
    const failed = (await ops(id)).find((o) => o.kind === 'suspend')!;
    expect(failed.status).toBe('failed');
    const task = await ctx.db.kysely.selectFrom('staff_tasks').selectAll().executeTakeFirstOrThrow();
    expect(task).toMatchObject({ kind: 'operation_failed', status: 'open' });
    expect(JSON.parse(task.details)).toMatchObject({ code: 'worker_lost' });
    // Its key is free again: asking for the same thing makes a new operation.
    await suspendService(ctx, staff, id, 'admin');
  });

  it('stop() wakes every idle slot, not only the last one to fall asleep', async () => {
    const worker = startWorker(ctx, { concurrency: 3, pollMs: 3_600_000 });
    await new Promise((r) => setTimeout(r, 200));
    const stopped = await Promise.race([
      worker.stop().then(() => 'stopped'),
      new Promise((r) => setTimeout(() => r('still sleeping'), 20_000)),
    ]);
    expect(stopped).toBe('stopped');
  });

  it('autoprolong refuses a service being deleted', async () => {
    const { id, actor } = await license();
    await deleteService(ctx, staff, id);
    await expect(setAutoprolong(ctx, actor, id, 1)).rejects.toMatchObject({ code: 'service_deleted' });
  });
});
