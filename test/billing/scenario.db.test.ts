import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/modules/accounts/actor.js';
import { type RunSummary, runBilling } from '../../src/modules/billing/run.js';
import { createAddon } from '../../src/modules/catalog/commands.js';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { setAutoprolong } from '../../src/modules/services/commands.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { renewService } from '../../src/modules/services/renewal.js';
import { operationsOfService } from '../../src/modules/services/retention.js';
import { balance, client, licenseTariff, pay, service, staff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';
import { freshIp } from '../helpers/ips.js';

/**
 * BILLING.md end to end, Kill Bill style: a small catalog and four clients, and a clock that
 * walks day by day through a simulated year (2021-11-16 … 2022-11-16). Each day: the daily
 * run at 00:30 (BILLING.md "The daily billing run"), the operations it queued completed, then
 * the day's customer events at 10:00, their operations completed, and the ledger invariant
 * checked (BILLING.md "Money": stored balance = sum of entries ≥ −credit limit).
 *
 * Catalog
 * - Lite: monthly 10.00, 12 months 100.00 (explicit), no expiration.
 * - Legacy: monthly 20.00, expires 2022-06-30, addon "Priority support" (boolean) 2.50/month.
 *
 * Clients and what happens to them
 * - alice: one order, two Lite services: S1 12 months (autoprolong 12), S2 monthly (autoprolong 1).
 *   S2 renews itself every month; a year on her balance (30.00) cannot pay S1's 100.00 →
 *   low_balance reminders, renewal_failed twice, S1 suspended at its end.
 * - bob: S3 monthly without autoprolong: reminders 5/3/1/0 days, suspended for non-payment,
 *   pays four days later and renews by hand → renewed from that day, resumed; then autoprolong.
 * - carol: orders without money (awaiting_payment), pays three days later → paid, activated on
 *   Jan 31 (expiresOn clamped to Feb 28), never renews: suspended, deleted 30 days later.
 * - dave: S4 Legacy + addon with autoprolong: renewed in full until the renewal that crosses
 *   the tariff's end, which is cut by days; then tariff_expired (renewal_failed, reminders),
 *   suspended, deleted. S6, ordered ten days before the tariff's end, is cut as well.
 */

const FIRST_DAY = '2021-11-16';
const LAST_DAY = '2022-11-16';
const RUN_TIME = 'T00:30:00Z';
const EVENT_TIME = 'T10:00:00Z';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ now: `${FIRST_DAY}${EVENT_TIME}` });
});
afterAll(async () => {
  await ctx?.testDb.destroy();
});

type Who = 'alice' | 'bob' | 'carol' | 'dave';
type Svc = 'S1' | 'S2' | 'S3' | 'S4' | 'S5' | 'S6';

async function servicesOfOrder(orderId: bigint | number): Promise<number[]> {
  const rows = await ctx.db.kysely
    .selectFrom('order_items')
    .select('service_id')
    .where('order_id', '=', orderId)
    .orderBy('id')
    .execute();
  return rows.map((r) => Number(r.service_id));
}

describe('a simulated year of billing, day by day', () => {
  it('charges, renews, cuts at the tariff end, suspends, resumes, deletes and notifies exactly as BILLING.md says; the ledger balances every day', async () => {
    // ------------------------------------------------------------------ catalog
    const lite = await licenseTariff(ctx, {
      name: 'Lite',
      periods: [1, 12],
      prices: { '1': '10.00', '12': '100.00' },
    });
    const legacy = await licenseTariff(ctx, {
      name: 'Legacy',
      periods: [1],
      prices: { '1': '20.00' },
      expiresOn: '2022-06-30',
    });
    const withAddon = await createAddon(ctx, staff, legacy.id, {
      kind: 'generic',
      label: 'Priority support',
      valueType: 'boolean',
      defaultValue: false,
      prices: { '1': '2.50' },
    });
    const support = String(withAddon.addons[0]!.id);

    const who = new Map<number, Who>();
    const actors = {} as Record<Who, { accountId: number; actor: Actor }>;
    const svc = {} as Record<Svc, number>;
    const label = new Map<number, Svc>();
    const name = (s: Svc, id: number) => {
      svc[s] = id;
      label.set(id, s);
    };
    const newClient = async (w: Who, opening?: string) => {
      actors[w] = await client(ctx, `${w}@example.com`, opening);
      who.set(actors[w].accountId, w);
    };
    let licenses = 0;
    const item = (tariffId: number, extra: Record<string, unknown> = {}) => ({
      tariffId,
      period: 1,
      params: { ip: freshIp(), licname: `lic-${++licenses}` },
      ...extra,
    });
    let carolOrder = 0;

    // ------------------------------------------------------------------ the customers' events (10:00)
    const events: Record<string, () => Promise<void>> = {
      '2021-11-16': async () => {
        await newClient('alice', '250.00');
        const a = await placeOrder(ctx, actors.alice.actor, {
          items: [
            item(lite.id, { period: 12, autoprolong: 12 }),
            item(lite.id, { period: 1, autoprolong: 1 }),
          ],
          payNow: true,
        });
        const [s1, s2] = await servicesOfOrder(a.order.id);
        name('S1', s1!);
        name('S2', s2!);
        await newClient('bob', '10.00');
        const b = await placeOrder(ctx, actors.bob.actor, { items: [item(lite.id)], payNow: true });
        name('S3', (await servicesOfOrder(b.order.id))[0]!);
        await newClient('dave', '200.00');
        const d = await placeOrder(ctx, actors.dave.actor, {
          items: [item(legacy.id, { autoprolong: 1, addonValues: { [support]: true } })],
          payNow: true,
        });
        name('S4', (await servicesOfOrder(d.order.id))[0]!);
      },
      // bob missed his renewal (suspended on 12-16): he pays, renews by hand from today, turns autoprolong on.
      '2021-12-20': async () => {
        await pay(ctx, actors.bob.accountId, '110.00');
        const quote = await renewService(ctx, actors.bob.actor, svc.S3, 1);
        expect(quote.plan.start.toString()).toBe('2021-12-20');
        await setAutoprolong(ctx, actors.bob.actor, svc.S3, 1);
      },
      // carol orders without money: the order waits.
      '2022-01-28': async () => {
        await newClient('carol');
        const c = await placeOrder(ctx, actors.carol.actor, { items: [item(lite.id)] });
        expect(c.order.status).toBe('awaiting_payment');
        carolOrder = Number(c.order.id);
      },
      // carol pays: the waiting order is paid and its service activated today (Jan 31).
      '2022-01-31': async () => {
        // The payment pays the waiting order in its own transaction.
        await pay(ctx, actors.carol.accountId, '20.00');
        const paid = await ctx.db.kysely
          .selectFrom('orders')
          .select('status')
          .where('id', '=', carolOrder)
          .executeTakeFirstOrThrow();
        expect(paid.status).toBe('paid');
        name('S5', (await servicesOfOrder(carolOrder))[0]!);
      },
      // ten days before Legacy ends, dave orders another Legacy service: cut at 2022-06-30.
      '2022-06-20': async () => {
        const d = await placeOrder(ctx, actors.dave.actor, { items: [item(legacy.id)], payNow: true });
        name('S6', (await servicesOfOrder(d.order.id))[0]!);
      },
      // on/after the tariff's end: no order, no renewal, nothing charged.
      '2022-07-01': async () => {
        const before = await balance(ctx, actors.dave.accountId);
        await expect(
          placeOrder(ctx, actors.dave.actor, { items: [item(legacy.id)], payNow: true }),
        ).rejects.toMatchObject({ code: 'tariff_expired' });
        expect(await balance(ctx, actors.dave.accountId)).toBe(before);
      },
      '2022-07-05': async () => {
        const before = await balance(ctx, actors.dave.accountId);
        await expect(renewService(ctx, actors.dave.actor, svc.S4, 1)).rejects.toMatchObject({
          code: 'tariff_expired',
        });
        expect(await balance(ctx, actors.dave.accountId)).toBe(before);
      },
    };

    // ------------------------------------------------------------------ what must hold at the end of key days
    const state = async (s: Svc) => {
      const r = await service(ctx, svc[s]);
      return {
        status: r.status,
        reason: r.suspend_reason,
        suspendedOn: r.suspended_on,
        expiresOn: r.expires_on,
      };
    };
    const active = (expiresOn: string) => ({ status: 'active', reason: null, suspendedOn: null, expiresOn });
    const suspended = (expiresOn: string, on: string) => ({
      status: 'suspended',
      reason: 'expired',
      suspendedOn: on,
      expiresOn,
    });
    const deleted = (expiresOn: string, on: string) => ({
      status: 'deleted',
      reason: null,
      suspendedOn: on,
      expiresOn,
    });
    const checks: Record<string, () => Promise<void>> = {
      '2021-11-16': async () => {
        // Paid time starts at activation (today): 12 months and 1 month from 2021-11-16.
        expect(await state('S1')).toEqual(active('2022-11-16'));
        expect(await state('S2')).toEqual(active('2021-12-16'));
        expect(await state('S3')).toEqual(active('2021-12-16'));
        expect(await state('S4')).toEqual(active('2021-12-16'));
      },
      // Auto-renewal when expiresOn ≤ today + 1: the day before, extended from expiresOn.
      '2021-12-15': async () => {
        expect(await state('S2')).toEqual(active('2022-01-16'));
        expect(await state('S4')).toEqual(active('2022-01-16'));
        expect(await state('S3')).toEqual(active('2021-12-16'));
      },
      '2021-12-16': async () => {
        expect(await state('S3')).toEqual(suspended('2021-12-16', '2021-12-16'));
      },
      '2021-12-19': async () => {
        expect(await state('S3')).toEqual(suspended('2021-12-16', '2021-12-16'));
      },
      // A service suspended for non-payment is extended from today and resumed.
      '2021-12-20': async () => {
        expect(await state('S3')).toEqual(active('2022-01-20'));
        expect(await balance(ctx, actors.bob.accountId)).toBe(100_00n);
      },
      '2022-01-28': async () => {
        const items = await ctx.db.kysely
          .selectFrom('order_items')
          .select('service_id')
          .where('order_id', '=', carolOrder)
          .execute();
        expect(items).toEqual([{ service_id: null }]);
      },
      // Anchored month arithmetic, clamped to month end: Jan 31 + 1 month = Feb 28.
      '2022-01-31': async () => {
        expect(await state('S5')).toEqual(active('2022-02-28'));
        expect((await service(ctx, svc.S5)).activated_on).toBe('2022-01-31');
      },
      '2022-02-28': async () => {
        expect(await state('S5')).toEqual(suspended('2022-02-28', '2022-02-28'));
      },
      // Deleted after 30 days suspended for non-payment (the product type's default delay), not before.
      '2022-03-29': async () => {
        expect(await state('S5')).toEqual(suspended('2022-02-28', '2022-02-28'));
      },
      '2022-03-30': async () => {
        expect(await state('S5')).toEqual(deleted('2022-02-28', '2022-02-28'));
        // Licenses are not refundable (product type default): nothing came back.
        expect(await balance(ctx, actors.carol.accountId)).toBe(10_00n);
      },
      '2022-05-15': async () => {
        // 2022-05-16 + 1 month = 2022-06-16 ≤ 2022-06-30: not cut.
        expect(await state('S4')).toEqual(active('2022-06-16'));
      },
      // The renewal that crosses the tariff's end is cut at it.
      '2022-06-15': async () => {
        expect(await state('S4')).toEqual(active('2022-06-30'));
        const charge = await ctx.db.kysely
          .selectFrom('service_charges')
          .select(['start_on', 'end_on', 'amount_minor', 'lines'])
          .where('service_id', '=', svc.S4)
          .orderBy('id', 'desc')
          .executeTakeFirstOrThrow();
        expect(charge).toMatchObject({ start_on: '2022-06-16', end_on: '2022-06-30', amount_minor: 10_50n });
        // Addons are cut with the same fraction: one rounding per line.
        expect(
          JSON.parse(charge.lines).map((l: { kind: string; amount: string }) => [l.kind, l.amount]),
        ).toEqual([
          ['tariff', '9.33'],
          ['addon', '1.17'],
        ]);
      },
      '2022-06-20': async () => {
        expect(await state('S6')).toEqual(active('2022-06-30'));
      },
      '2022-06-29': async () => {
        // tariff_expired: the renewal failed, nothing charged, the service runs to its end.
        expect(await state('S4')).toEqual(active('2022-06-30'));
      },
      '2022-06-30': async () => {
        expect(await state('S4')).toEqual(suspended('2022-06-30', '2022-06-30'));
        expect(await state('S6')).toEqual(suspended('2022-06-30', '2022-06-30'));
      },
      '2022-07-29': async () => {
        expect(await state('S4')).toEqual(suspended('2022-06-30', '2022-06-30'));
      },
      '2022-07-30': async () => {
        expect(await state('S4')).toEqual(deleted('2022-06-30', '2022-06-30'));
        expect(await state('S6')).toEqual(deleted('2022-06-30', '2022-06-30'));
      },
      '2022-11-15': async () => {
        expect(await state('S1')).toEqual(active('2022-11-16'));
        expect(await state('S2')).toEqual(active('2022-12-16'));
      },
      '2022-11-16': async () => {
        expect(await state('S1')).toEqual(suspended('2022-11-16', '2022-11-16'));
        expect(await state('S2')).toEqual(active('2022-12-16'));
        expect(await state('S3')).toEqual(active('2022-11-20'));
      },
    };

    // ------------------------------------------------------------------ the year, day by day
    const summaries = new Map<string, RunSummary>();
    const last = Temporal.PlainDate.from(LAST_DAY);
    let days = 0;
    for (let day = Temporal.PlainDate.from(FIRST_DAY); Temporal.PlainDate.compare(day, last) <= 0; ) {
      const d = day.toString();
      ctx.clock.set(`${d}${RUN_TIME}`);
      summaries.set(d, await runBilling(ctx, { date: day, listActions: true }));
      await runQueuedOperations(ctx);
      ctx.clock.set(`${d}${EVENT_TIME}`);
      await events[d]?.();
      await runQueuedOperations(ctx);
      await checks[d]?.();
      await expectLedgerBalanced(ctx);
      days++;
      day = day.add({ days: 1 });
    }
    expect(days).toBe(366);
    for (const d of [...Object.keys(events), ...Object.keys(checks)]) expect(summaries.has(d), d).toBe(true);

    // ------------------------------------------------------------------ every ledger entry of the year
    const entries = await ctx.db.kysely
      .selectFrom('ledger_entries')
      .select(['account_id', 'kind', 'amount_minor', 'ref_type', 'ref_id', 'created_at'])
      .orderBy('id')
      .execute();
    const ledger = entries.map((e) => [
      e.created_at.slice(0, 10),
      who.get(Number(e.account_id)),
      e.kind,
      e.amount_minor,
      e.ref_type === 'service' ? label.get(Number(e.ref_id)) : e.ref_type,
    ]);
    const monthly = (from: number, to: number, year: number, day: number, w: Who, s: Svc, amount: bigint) =>
      Array.from({ length: to - from + 1 }, (_, i) => [
        `${year}-${String(from + i).padStart(2, '0')}-${day}`,
        w,
        'charge',
        amount,
        s,
      ]);
    // Chronological; within one run, services in id order (S2 before S4).
    const expected = [
      ['2021-11-16', 'alice', 'payment', 250_00n, 'payment'],
      ['2021-11-16', 'alice', 'charge', -110_00n, 'order'], // S1 100.00 (12 months, explicit price) + S2 10.00
      ['2021-11-16', 'bob', 'payment', 10_00n, 'payment'],
      ['2021-11-16', 'bob', 'charge', -10_00n, 'order'],
      ['2021-11-16', 'dave', 'payment', 200_00n, 'payment'],
      ['2021-11-16', 'dave', 'charge', -22_50n, 'order'], // Legacy 20.00 + Priority support 2.50
      ['2021-12-15', 'alice', 'charge', -10_00n, 'S2'],
      ['2021-12-15', 'dave', 'charge', -22_50n, 'S4'],
      ['2021-12-20', 'bob', 'payment', 110_00n, 'payment'],
      ['2021-12-20', 'bob', 'charge', -10_00n, 'S3'], // manual renewal from today: 2021-12-20 → 2022-01-20
      ['2022-01-15', 'alice', 'charge', -10_00n, 'S2'],
      ['2022-01-15', 'dave', 'charge', -22_50n, 'S4'],
      ['2022-01-19', 'bob', 'charge', -10_00n, 'S3'],
      ['2022-01-31', 'carol', 'payment', 20_00n, 'payment'],
      ['2022-01-31', 'carol', 'charge', -10_00n, 'order'], // the order waiting since 2022-01-28
      ...[2, 3, 4, 5].flatMap((m) => [
        ...monthly(m, m, 2022, 15, 'alice', 'S2', -10_00n),
        ...monthly(m, m, 2022, 15, 'dave', 'S4', -22_50n),
        ...monthly(m, m, 2022, 19, 'bob', 'S3', -10_00n),
      ]),
      ['2022-06-15', 'alice', 'charge', -10_00n, 'S2'],
      // The cut renewal, by hand: from 2022-06-16, the full month ends 2022-07-16 (30 days), the
      // tariff ends 2022-06-30 → 14 days granted of 30:
      //   Legacy 20.00 × 14/30 = 9.333… → 9.33; Priority support 2.50 × 14/30 = 1.1666… → 1.17; total 10.50.
      ['2022-06-15', 'dave', 'charge', -10_50n, 'S4'],
      ['2022-06-19', 'bob', 'charge', -10_00n, 'S3'],
      // The cut order, by hand: 2022-06-20 → 2022-07-20 is 30 days, 10 granted: 20.00 × 10/30 = 6.666… → 6.67.
      ['2022-06-20', 'dave', 'charge', -6_67n, 'order'],
      ...[7, 8, 9, 10].flatMap((m) => [
        ...monthly(m, m, 2022, 15, 'alice', 'S2', -10_00n),
        ...monthly(m, m, 2022, 19, 'bob', 'S3', -10_00n),
      ]),
      // alice's 30.00 pays S2 (10.00) but not S1's 100.00: S1 is not renewed.
      ['2022-11-15', 'alice', 'charge', -10_00n, 'S2'],
    ];
    expect(ledger).toEqual(expected);
    expect({
      alice: await balance(ctx, actors.alice.accountId),
      bob: await balance(ctx, actors.bob.accountId),
      carol: await balance(ctx, actors.carol.accountId),
      dave: await balance(ctx, actors.dave.accountId),
    }).toEqual({
      alice: 20_00n, // 250 − 110 − 12 × 10
      bob: 0n, // 10 − 10 + 110 − 10 − 10 × 10
      carol: 10_00n, // 20 − 10, no refund on deletion
      dave: 25_33n, // 200 − 22.50 − 6 × 22.50 − 10.50 − 6.67
    });

    // ------------------------------------------------------------------ every notification of the year
    const notes = await ctx.db.kysely
      .selectFrom('notifications')
      .select(['account_id', 'service_id', 'kind', 'payload', 'created_at'])
      .orderBy('id')
      .execute();
    const notifications = notes.map((n) => {
      const p = JSON.parse(n.payload) as { daysLeft?: number; reason?: string; needed?: string };
      return [
        n.created_at.slice(0, 10),
        label.get(Number(n.service_id)),
        n.kind,
        p.daysLeft ?? p.reason ?? null,
        ...(p.needed !== undefined ? [p.needed] : []),
      ];
    });
    expect(notifications).toEqual([
      // bob: reminders 5, 3, 1, 0 days before 2021-12-16; suspended on the day (step 2 before step 4).
      ['2021-12-11', 'S3', 'renewal_reminder', 5],
      ['2021-12-13', 'S3', 'renewal_reminder', 3],
      ['2021-12-15', 'S3', 'renewal_reminder', 1],
      ['2021-12-16', 'S3', 'service_suspended', 'expired'],
      ['2021-12-16', 'S3', 'renewal_reminder', 0],
      // carol: the same before 2022-02-28, then deleted after 30 days.
      ['2022-02-23', 'S5', 'renewal_reminder', 5],
      ['2022-02-25', 'S5', 'renewal_reminder', 3],
      ['2022-02-27', 'S5', 'renewal_reminder', 1],
      ['2022-02-28', 'S5', 'service_suspended', 'expired'],
      ['2022-02-28', 'S5', 'renewal_reminder', 0],
      ['2022-03-30', 'S5', 'service_deleted', null],
      // dave: S4 cannot renew past the tariff's end (tariff_expired) → reminders like a
      // non-renewing service, renewal_failed on each due day; S6 never renews.
      ['2022-06-25', 'S4', 'renewal_reminder', 5],
      ['2022-06-25', 'S6', 'renewal_reminder', 5],
      ['2022-06-27', 'S4', 'renewal_reminder', 3],
      ['2022-06-27', 'S6', 'renewal_reminder', 3],
      ['2022-06-29', 'S4', 'renewal_failed', 'tariff_expired'],
      ['2022-06-29', 'S4', 'renewal_reminder', 1],
      ['2022-06-29', 'S6', 'renewal_reminder', 1],
      ['2022-06-30', 'S4', 'renewal_failed', 'tariff_expired'],
      ['2022-06-30', 'S4', 'service_suspended', 'expired'],
      ['2022-06-30', 'S6', 'service_suspended', 'expired'],
      ['2022-06-30', 'S4', 'renewal_reminder', 0],
      ['2022-06-30', 'S6', 'renewal_reminder', 0],
      ['2022-07-30', 'S4', 'service_deleted', null],
      ['2022-07-30', 'S6', 'service_deleted', null],
      // alice: 30.00 left, S1 needs 100.00 → low balance 5, 3, 1, 0 days before; renewal fails
      // on both due days (expiresOn ≤ today + 1); suspended at its end.
      ['2022-11-11', 'S1', 'low_balance', 5, '10000'],
      ['2022-11-13', 'S1', 'low_balance', 3, '10000'],
      ['2022-11-15', 'S1', 'renewal_failed', 'insufficient_balance', '10000'],
      ['2022-11-15', 'S1', 'low_balance', 1, '10000'],
      // bob: balance 0.00 after his last renewal, S3 ends 2022-11-20.
      ['2022-11-15', 'S3', 'low_balance', 5, '1000'],
      ['2022-11-16', 'S1', 'renewal_failed', 'insufficient_balance', '10000'],
      ['2022-11-16', 'S1', 'service_suspended', 'expired'],
      ['2022-11-16', 'S1', 'low_balance', 0, '10000'],
    ]);

    // ------------------------------------------------------------------ the operations each service went through
    // (Those finished more than 90 days ago are in the archive by now: the daily runs moved them.)
    const archived = await ctx.db.kysely.selectFrom('operations_archive').select('id').execute();
    expect(archived.length).toBeGreaterThan(0);
    const opsOf = async (s: Svc) =>
      (await operationsOfService(ctx.db.kysely, svc[s])).map(
        (o) => `${o.kind}${o.status === 'done' ? '' : `:${o.status}`}`,
      );
    const times = (n: number, kind: string) => Array.from({ length: n }, () => kind);
    expect({
      S1: await opsOf('S1'),
      S2: await opsOf('S2'),
      S3: await opsOf('S3'),
      S4: await opsOf('S4'),
      S5: await opsOf('S5'),
      S6: await opsOf('S6'),
    }).toEqual({
      S1: ['open', 'suspend'],
      S2: ['open', ...times(12, 'prolong')],
      S3: ['open', 'suspend', 'prolong', 'resume', ...times(10, 'prolong')],
      S4: ['open', ...times(7, 'prolong'), 'suspend', 'close'],
      S5: ['open', 'suspend', 'close'],
      S6: ['open', 'suspend', 'close'],
    });

    // ------------------------------------------------------------------ a few run summaries
    expect(summaries.get('2022-06-15')).toMatchObject({ renewed: 2, renewedAmount: '20.50', renewFailed: 0 });
    expect(summaries.get('2022-06-30')).toMatchObject({
      renewed: 0,
      renewFailed: 1,
      suspended: 2,
      reminders: 2,
    });
    expect(summaries.get('2022-07-30')).toMatchObject({ deleted: 2 });
    expect(summaries.get('2022-11-15')).toMatchObject({
      renewed: 1,
      renewedAmount: '10.00',
      renewFailed: 1,
      lowBalance: 2,
    });
    expect(summaries.get('2022-11-16')).toMatchObject({ renewFailed: 1, suspended: 1, lowBalance: 1 });
  }, 180_000);
});
