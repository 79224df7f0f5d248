import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAmount } from '../../src/domain/money.js';
import { cutAtExpiration, daysBetween, PeriodError, periodEnd } from '../../src/domain/periods.js';
import {
  type AddonForPricing,
  priceOrder,
  prorateOrder,
  type TariffForPricing,
} from '../../src/domain/pricing.js';
import { createAccount, recordPayment } from '../../src/modules/accounts/commands.js';
import { runBilling } from '../../src/modules/billing/run.js';
import { createAddon, createTariff } from '../../src/modules/catalog/commands.js';
import { placeOrder, quoteItem } from '../../src/modules/orders/commands.js';
import { setAutoprolong } from '../../src/modules/services/commands.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { quoteRenewal, renewService } from '../../src/modules/services/renewal.js';
import { balance, service, staff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';
import { freshIp } from '../helpers/ips.js';

/**
 * BILLING.md "Tariff expiration and proration" as properties: for random prices, periods,
 * start dates and caps, the prorated charge `round_half_up(price × granted_days / full_days)`
 * (per line, addons with the same fraction) is between 0 and the full price, monotone in the
 * days granted, and the quote is exactly what the order or renewal then writes to the ledger.
 */

const PERIODS = [1, 3, 6, 12, 24, 36] as const;
const EPOCH = Temporal.PlainDate.from('2000-01-01');
const dateArb = fc.integer({ min: 0, max: 15_000 }).map((d) => EPOCH.add({ days: d })); // 2000 … 2041
const priceArb = fc.bigInt({ min: 0n, max: 10_000_000_00n });

/** round_half_up(a × g / f), written independently of money.ts: ⌊(2ag + f) / 2f⌋ for a, g ≥ 0. */
const halfUp = (a: bigint, g: number, f: number) => (2n * a * BigInt(g) + BigInt(f)) / (2n * BigInt(f));

function tariffFor(period: number, price: bigint, addonPrice: bigint, unitPrice: bigint): TariffForPricing {
  const addons: AddonForPricing[] = [
    {
      id: 1,
      label: 'Support',
      kind: 'generic',
      required: false,
      valueType: 'boolean',
      defaultValue: false,
      prices: new Map([[period, addonPrice]]),
    },
    {
      id: 2,
      label: 'Domains',
      kind: 'generic',
      required: false,
      valueType: 'integer',
      defaultValue: 0,
      unit: 'domains',
      included: 0,
      min: 0,
      max: 1000,
      step: 1,
      prices: new Map([[period, unitPrice]]),
    },
  ];
  return {
    id: 1,
    name: 'T',
    currency: 'EUR',
    periods: new Map([[period, price]]),
    setupFeeMinor: null,
    addons,
  };
}

/** The pure pipeline every quote, order and renewal prices through (catalog/quote.ts priceRange). */
function charge(
  tariff: TariffForPricing,
  period: number,
  values: Record<string, boolean | number>,
  start: Temporal.PlainDate,
  cap: Temporal.PlainDate | null,
) {
  const full = priceOrder(tariff, period, values);
  const cut = cutAtExpiration(start, period, cap);
  const order = cut.cut ? prorateOrder(full, cut.grantedDays, cut.fullDays) : full;
  return { full, cut, order };
}

const caseArb = fc.record({
  period: fc.constantFrom(...PERIODS),
  price: priceArb,
  addonPrice: priceArb,
  unitPrice: fc.bigInt({ min: 0n, max: 100_00n }),
  support: fc.boolean(),
  domains: fc.integer({ min: 0, max: 1000 }),
  start: dateArb,
  capAfter: fc.integer({ min: 1, max: 1200 }),
});

describe('proration at the tariff cap (pure)', () => {
  it('the prorated charge is between 0 and the full price, per line and in total', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const t = tariffFor(c.period, c.price, c.addonPrice, c.unitPrice);
        const { full, order } = charge(
          t,
          c.period,
          { '1': c.support, '2': c.domains },
          c.start,
          c.start.add({ days: c.capAfter }),
        );
        expect(order.totalMinor).toBeGreaterThanOrEqual(0n);
        expect(order.totalMinor).toBeLessThanOrEqual(full.totalMinor);
        for (const [i, line] of order.lines.entries()) {
          expect(line.amountMinor).toBeGreaterThanOrEqual(0n);
          expect(line.amountMinor).toBeLessThanOrEqual(full.lines[i]!.amountMinor);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('one rounding per line, half up: each line is round_half_up(full line × granted_days / full_days) and the total their sum', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const t = tariffFor(c.period, c.price, c.addonPrice, c.unitPrice);
        const cap = c.start.add({ days: c.capAfter });
        const { full, cut, order } = charge(t, c.period, { '1': c.support, '2': c.domains }, c.start, cap);
        const naturalEnd = periodEnd(c.start, c.period);
        expect(cut.fullDays).toBe(daysBetween(c.start, naturalEnd));
        if (Temporal.PlainDate.compare(naturalEnd, cap) <= 0) {
          expect(cut).toMatchObject({ cut: false, end: naturalEnd, grantedDays: cut.fullDays });
          expect(order.totalMinor).toBe(full.totalMinor);
        } else {
          expect(cut).toMatchObject({ cut: true, end: cap, grantedDays: c.capAfter });
          const lines = full.lines.map((l) => halfUp(l.amountMinor, c.capAfter, cut.fullDays));
          expect(order.lines.map((l) => l.amountMinor)).toEqual(lines);
          expect(order.totalMinor).toBe(lines.reduce((a, b) => a + b, 0n));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the prorated charge is monotone in granted days: a later cap never costs less', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 0, max: 400 }), (c, more) => {
        const t = tariffFor(c.period, c.price, c.addonPrice, c.unitPrice);
        const values = { '1': c.support, '2': c.domains };
        const early = charge(t, c.period, values, c.start, c.start.add({ days: c.capAfter }));
        const late = charge(t, c.period, values, c.start, c.start.add({ days: c.capAfter + more }));
        expect(early.cut.grantedDays).toBeLessThanOrEqual(late.cut.grantedDays);
        expect(early.order.totalMinor).toBeLessThanOrEqual(late.order.totalMinor);
        for (const [i, line] of early.order.lines.entries())
          expect(line.amountMinor).toBeLessThanOrEqual(late.order.lines[i]!.amountMinor);
      }),
      { numRuns: 500 },
    );
  });

  it('on or after the cap nothing can be granted: tariff_expired', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PERIODS),
        dateArb,
        fc.integer({ min: 0, max: 400 }),
        (period, cap, late) => {
          expect(() => cutAtExpiration(cap.add({ days: late }), period, cap)).toThrow(PeriodError);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('seed example: start 2021-12-16, 1 month, cap 2021-12-31 → 15 of 31 days, 10.00 → 4.84', () => {
    const { cut, order } = charge(
      tariffFor(1, 10_00n, 0n, 0n),
      1,
      {},
      Temporal.PlainDate.from('2021-12-16'),
      Temporal.PlainDate.from('2021-12-31'),
    );
    expect(cut).toMatchObject({ grantedDays: 15, fullDays: 31, cut: true });
    expect(order.totalMinor).toBe(4_84n);
  });
});

describe('quote = charge (database)', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    await expectLedgerBalanced(ctx);
    await ctx.testDb.destroy();
  });

  let n = 0;
  const dbCaseArb = fc.record({
    period: fc.constantFrom(...PERIODS),
    price: fc.bigInt({ min: 0n, max: 100_000_00n }),
    addonPrice: fc.bigInt({ min: 0n, max: 10_000_00n }),
    unitPrice: fc.bigInt({ min: 0n, max: 10_00n }),
    support: fc.boolean(),
    domains: fc.integer({ min: 0, max: 50 }),
    start: fc
      .integer({ min: 0, max: 3650 })
      .map((d) => Temporal.PlainDate.from('2021-01-01').add({ days: d })),
    // the cap: none, inside the first period, exactly at its end, or inside the renewal's period
    cap: fc.constantFrom('none', 'first', 'at_end', 'second'),
    k: fc.nat(),
    auto: fc.boolean(),
  });

  it('the quote of an order, and of its renewal (manual or by the daily run), is exactly the charge written to the ledger', async () => {
    await fc.assert(
      fc.asyncProperty(dbCaseArb, async (c) => {
        const id = ++n;
        const money = (m: bigint) => formatAmount(m, 'EUR');
        ctx.clock.set(`${c.start.toString()}T10:00:00Z`);
        const fullDays = daysBetween(c.start, periodEnd(c.start, c.period));
        const capAfter = {
          none: null,
          first: 1 + (c.k % (fullDays - 1)),
          at_end: fullDays,
          second: fullDays + 1 + (c.k % (fullDays - 1)),
        }[c.cap];
        const cap = capAfter === null ? null : c.start.add({ days: capAfter });
        const tariff = await createTariff(ctx, staff, {
          name: `Prop ${id}`,
          productType: 'soft',
          periods: [c.period],
          prices: { [String(c.period)]: money(c.price) },
          expiresOn: cap?.toString() ?? null,
        });
        await createAddon(ctx, staff, tariff.id, {
          kind: 'generic',
          label: 'Support',
          valueType: 'boolean',
          defaultValue: false,
          prices: { [String(c.period)]: money(c.addonPrice) },
        });
        const after = await createAddon(ctx, staff, tariff.id, {
          kind: 'generic',
          label: 'Domains',
          valueType: 'integer',
          unit: 'domains',
          defaultValue: 0,
          included: 0,
          min: 0,
          max: 1000,
          step: 1,
          prices: { [String(c.period)]: money(c.unitPrice) },
        });
        const [support, domains] = after.addons.map((a) => String(a.id));
        const { account } = await createAccount(ctx, staff, { name: `p${id}`, email: `p${id}@example.com` });
        const accountId = Number(account.id);
        const full = c.price + c.addonPrice + c.unitPrice * BigInt(c.domains);
        await recordPayment(ctx, staff, accountId, {
          amount: money(2n * full + 1n),
          method: 'manual',
          reference: `prop-${id}`,
        });
        const item = {
          tariffId: tariff.id,
          period: c.period,
          addonValues: { [support!]: c.support, [domains!]: c.domains },
          params: { ip: freshIp(), licname: `prop-${id}` },
        };

        // the order: quote, then the charge
        const quote = await quoteItem(ctx, staff, item);
        const before = await balance(ctx, accountId);
        const { order } = await placeOrder(ctx, staff, { accountId, items: [item], payNow: true });
        expect(before - (await balance(ctx, accountId))).toBe(quote.priced.totalMinor);
        expect(order.total_minor).toBe(quote.priced.totalMinor);
        await runQueuedOperations(ctx);
        const serviceId = Number(
          (
            await ctx.db.kysely
              .selectFrom('order_items')
              .select('service_id')
              .where('order_id', '=', order.id)
              .executeTakeFirstOrThrow()
          ).service_id,
        );
        const s = await service(ctx, serviceId);
        expect(s.expires_on).toBe(quote.priced.cut.end.toString());
        expect(before - (await balance(ctx, accountId))).toBe(quote.priced.totalMinor); // no activation adjustment

        // the renewal, the day before the service ends
        const expiresOn = Temporal.PlainDate.from(s.expires_on!);
        const dayBefore = expiresOn.subtract({ days: 1 });
        ctx.clock.set(`${dayBefore.toString()}T00:30:00Z`);
        const mid = await balance(ctx, accountId);
        const renewable = cap === null || Temporal.PlainDate.compare(expiresOn, cap) < 0;
        if (!renewable) {
          // the order was cut at the cap: the renewal would start on it
          await expect(quoteRenewal(ctx, staff, serviceId, c.period)).rejects.toMatchObject({
            code: 'tariff_expired',
          });
          return;
        }
        const renewal = await quoteRenewal(ctx, staff, serviceId, c.period);
        expect(renewal.start.toString()).toBe(s.expires_on);
        if (c.auto) {
          await setAutoprolong(ctx, staff, serviceId, c.period);
          const run = await runBilling(ctx, { date: dayBefore, listActions: true });
          // (a renewal cut at a near cap may also bring a reminder: the service cannot renew again)
          const mine = run.actions.filter((a) => a.serviceId === serviceId && a.step === 'renew');
          expect(mine).toEqual([
            { serviceId, step: 'renew', outcome: 'renewed', amount: money(renewal.priced.totalMinor) },
          ]);
        } else {
          await renewService(ctx, staff, serviceId, c.period);
        }
        expect(mid - (await balance(ctx, accountId))).toBe(renewal.priced.totalMinor);
        expect((await service(ctx, serviceId)).expires_on).toBe(renewal.priced.cut.end.toString());
        const written = await ctx.db.kysely
          .selectFrom('service_charges')
          .select(['amount_minor', 'start_on', 'end_on'])
          .where('service_id', '=', serviceId)
          .where('kind', '=', 'renewal')
          .executeTakeFirstOrThrow();
        expect(written).toEqual({
          amount_minor: renewal.priced.totalMinor,
          start_on: renewal.start.toString(),
          end_on: renewal.priced.cut.end.toString(),
        });
      }),
      { numRuns: 20 },
    );
  }, 120_000);
});
