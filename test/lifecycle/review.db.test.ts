/**
 * Issue 10, what a review of the first fix found (each test failed before its fix): lock order
 * between a payment and a payer, a credit that must not be rolled back by an address taken
 * meanwhile, a license's address family across a tariff change, a deletion refund taken back
 * when the close is cancelled, a failed expiry suspend withdrawn by a renewal, and a staff
 * suspension that sticks.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Temporal } from 'temporal-polyfill';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appHooks } from '../../src/app/hooks.js';
import { recordPayment } from '../../src/modules/accounts/commands.js';
import { runBilling } from '../../src/modules/billing/run.js';
import { payOrder, placeOrder } from '../../src/modules/orders/commands.js';
import { deleteService } from '../../src/modules/services/deletion.js';
import {
  builtinHandler,
  cancelOperation,
  drainOperations,
  OperationError,
  retryOperation,
} from '../../src/modules/services/engine.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { bindLicenseIp } from '../../src/modules/services/license-ips.js';
import { renewService } from '../../src/modules/services/renewal.js';
import { suspendService } from '../../src/modules/services/suspension.js';
import { changeTariff } from '../../src/modules/services/tariff-change.js';
import type { AppContext } from '../../src/platform/context.js';
import { client, licenseTariff, orderLicense, pay, service, staff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { freshIp } from '../helpers/ips.js';

let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext();
});
afterEach(async () => {
  await expectLedgerBalanced(ctx);
  await ctx.testDb.destroy();
});

const pg = TEST_ENGINE === 'postgres';
const latch = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
};

describe('lock order payment (account -> orders) vs payOrder (order -> account)', () => {
  it.runIf(pg)(
    'a manual payOrder and a payment of the same account do not deadlock; the order is paid once',
    async () => {
      const tariff = await licenseTariff(ctx);
      const who = await client(ctx, 'dl@example.com', '100.00');
      const { order } = await placeOrder(ctx, who.actor, {
        items: [{ tariffId: tariff.id, period: 1, params: { ip: freshIp(), licname: 'x' } }],
      });
      expect(order.status).toBe('awaiting_payment');
      const gate = latch();
      const entered = latch();
      // The payment's transaction holds the account row (postEntry) when the hook runs.
      const slow: AppContext = {
        ...ctx,
        hooks: {
          afterCredit: async (tx, c, id) => {
            entered.open();
            await gate.p;
            return appHooks.afterCredit(tx, c, id);
          },
        },
      };
      const payment = recordPayment(slow, staff, who.accountId, {
        amount: '5.00',
        method: 'manual',
        reference: 'dl-1',
      });
      await entered.p;
      const manual = payOrder(ctx, who.actor, Number(order.id)); // locks the order row, then waits for the account
      await sleep(300);
      gate.open(); // the payment now selects awaiting orders FOR NO KEY UPDATE -> waits for payOrder
      const results = await Promise.allSettled([payment, manual]);
      // No deadlock: the payment lands, and the order is paid once — by whichever came first
      // (the other payer is told it is paid already).
      expect(results[0].status).toBe('fulfilled');
      if (results[1].status === 'rejected')
        expect(results[1].reason).toMatchObject({ code: 'order_not_awaiting_payment' });
      const charges = await ctx.db.kysely
        .selectFrom('ledger_entries')
        .select('id')
        .where('account_id', '=', who.accountId)
        .where('kind', '=', 'charge')
        .execute();
      expect(charges).toHaveLength(1);
    },
  );
});

describe('a payment is refused because an awaiting order lost its IP to a concurrent transaction', () => {
  it.runIf(pg)(
    'the money is recorded and the awaiting order cancelled, not the payment rolled back with ip_taken',
    async () => {
      const tariff = await licenseTariff(ctx);
      const ip = freshIp();
      const x = await client(ctx, 'x@example.com');
      const { order } = await placeOrder(ctx, x.actor, {
        items: [{ tariffId: tariff.id, period: 1, params: { ip, licname: 'x' } }],
      });
      const y = await client(ctx, 'y@example.com', '100.00');
      const other = await orderLicense(ctx, y.actor, tariff.id);
      // Another transaction moves Y's license onto `ip` (what changeLicenseIp / a pay_now order does), not committed yet.
      const gate = latch();
      const held = latch();
      const db2 = ctx.testDb.openAnother();
      const holder = db2.kysely.transaction().execute(async (tx) => {
        await bindLicenseIp(tx, other, 'soft', ip);
        held.open();
        await gate.p;
      });
      await held.p;
      const payment = pay(ctx, x.accountId, '10.00'); // assert sees the IP free; the insert waits for the holder
      await sleep(300);
      gate.open();
      await holder;
      await expect(payment).resolves.toBeTruthy();
      const o = await ctx.db.kysely
        .selectFrom('orders')
        .select('status')
        .where('id', '=', order.id)
        .executeTakeFirstOrThrow();
      expect(o.status).toBe('cancelled');
    },
  );
});

describe('tariff change of a per-tariff license family keeps the old family in license_ips', () => {
  it('after softexternal A -> B on an IP, a second B license on that IP is ip_taken and an A one is allowed', async () => {
    const a = await licenseTariff(ctx, { name: 'CloudLinux', productType: 'softexternal' });
    const b = await licenseTariff(ctx, { name: 'KernelCare', productType: 'softexternal' });
    const ip = freshIp();
    const who = await client(ctx, 'fam@example.com', '100.00');
    const id = await orderLicense(ctx, who.actor, a.id, { params: { ip, licname: 'a' } });
    await changeTariff(ctx, staff, id, b.id);
    await runQueuedOperations(ctx);
    expect(Number((await service(ctx, id)).tariff_id)).toBe(b.id);
    const row = await ctx.db.kysely
      .selectFrom('license_ips')
      .selectAll()
      .where('service_id', '=', id)
      .executeTakeFirst();
    expect(row?.family).toBe(`tariff:${b.id}`);
    await expect(
      placeOrder(ctx, who.actor, {
        items: [{ tariffId: b.id, period: 1, params: { ip, licname: 'b2' } }],
        payNow: true,
      }),
    ).rejects.toMatchObject({ code: 'ip_taken' });
  });
});

describe('delete with refund, close cancelled, delete again', () => {
  it('a second delete after a cancelled close is not refused and does not refund twice', async () => {
    await ctx.db.kysely
      .updateTable('product_types')
      .set({ refund_unused_days: 1 })
      .where('code', '=', 'soft')
      .execute();
    const tariff = await licenseTariff(ctx);
    const who = await client(ctx, 'ref@example.com', '10.00');
    const id = await orderLicense(ctx, who.actor, tariff.id);
    await deleteService(ctx, staff, id); // refunds 10.00 at once, before the close ran
    const close = await ctx.db.kysely
      .selectFrom('operations')
      .select('id')
      .where('service_id', '=', id)
      .where('kind', '=', 'close')
      .executeTakeFirstOrThrow();
    await cancelOperation(ctx, staff, Number(close.id));
    expect((await service(ctx, id)).status).toBe('active'); // still running, money already back
    ctx.clock.set('2021-12-20T10:00:00Z');
    await expect(deleteService(ctx, staff, id)).resolves.toBeTruthy();
  });
});

describe('an expiry suspend that failed is not superseded by a renewal; retrying it suspends a paid service upstream', () => {
  it('after renew + staff retry of the failed suspend, a resume follows it (or the retry is refused)', async () => {
    const tariff = await licenseTariff(ctx);
    const who = await client(ctx, 'fail@example.com', '100.00');
    const id = await orderLicense(ctx, who.actor, tariff.id);
    ctx.clock.set('2022-01-16T10:00:00Z');
    await runBilling(ctx, { date: Temporal.PlainDate.from('2022-01-16') });
    await drainOperations(ctx, {
      resolve: (op) =>
        op.kind === 'suspend'
          ? async () => {
              throw new OperationError('upstream_refused', 'no', false);
            }
          : builtinHandler,
    });
    await renewService(ctx, who.actor, id, 1); // paid until 2022-02-16: the failed suspend is withdrawn
    const failed = await ctx.db.kysely
      .selectFrom('operations')
      .select('id')
      .where('service_id', '=', id)
      .where('kind', '=', 'suspend')
      .executeTakeFirstOrThrow();
    const remote: string[] = [];
    let refused = false;
    try {
      await retryOperation(ctx, staff, Number(failed.id));
    } catch {
      refused = true;
    }
    await drainOperations(ctx, {
      resolve: (op) => async () => {
        remote.push(op.kind);
        return {};
      },
    });
    expect((await service(ctx, id)).status).toBe('active');
    // Upstream must not end suspended while Billfold says active and paid:
    if (!refused && remote.includes('suspend'))
      expect(remote.lastIndexOf('resume')).toBeGreaterThan(remote.lastIndexOf('suspend'));
  });
});

describe('a staff abuse suspension is swallowed while an expiry suspend is pending', () => {
  it('suspend(abuse) while the run queued suspend(expired): after the client renews, the service must stay suspended for abuse', async () => {
    const tariff = await licenseTariff(ctx);
    const who = await client(ctx, 'abuse@example.com', '100.00');
    const id = await orderLicense(ctx, who.actor, tariff.id);
    ctx.clock.set('2022-01-16T10:00:00Z');
    await runBilling(ctx, { date: Temporal.PlainDate.from('2022-01-16') });
    await suspendService(ctx, staff, id, 'abuse'); // queued behind the expiry suspend
    await renewService(ctx, who.actor, id, 1); // withdraws the expiry suspend only
    await runQueuedOperations(ctx);
    expect(await service(ctx, id)).toMatchObject({ status: 'suspended', suspend_reason: 'abuse' });
  });
});
