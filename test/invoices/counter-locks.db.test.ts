/**
 * A payment that pays two awaiting orders must not hold the document counter while a later
 * order's createService waits on a license address: a transaction that holds that address and
 * then issues a document (another pay-now order: bindLicenseIp in createService, then
 * issueOrderInvoice) would wait for the counter — a deadlock on PostgreSQL (found in review).
 * The invoices of the orders a payment pays are issued after all of them (payAwaitingOrdersTx).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { bindLicenseIp } from '../../src/modules/services/license-ips.js';
import { lockRows } from '../../src/platform/db/index.js';
import { client, licenseTariff, orderLicense, pay } from '../helpers/billing.js';
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

const latch = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
};

it.runIf(TEST_ENGINE === 'postgres')(
  'a payment paying two awaiting license orders does not deadlock with an issuer holding the second address',
  async () => {
    const tariff = await licenseTariff(ctx);
    const ip2 = freshIp();
    const x = await client(ctx, 'x@example.com');
    for (const ip of [freshIp(), ip2])
      await placeOrder(ctx, x.actor, {
        items: [{ tariffId: tariff.id, period: 1, params: { ip, licname: 'x' } }],
      });
    const y = await client(ctx, 'y@example.com', '100.00');
    const other = await orderLicense(ctx, y.actor, tariff.id);
    const held = latch();
    const db2 = ctx.testDb.openAnother();
    // What Y's payOrderTx does on another connection: createService binds the address, then
    // issueOrderInvoice locks the counter (issueDocument's first statement).
    const holder = db2.kysely.transaction().execute(async (tx) => {
      await bindLicenseIp(tx, other, 'soft', ip2);
      held.open();
      await sleep(500); // X's payment: invoice for order 1 (counter), then order 2 waits on ip2
      await tx
        .selectFrom('document_counters')
        .select('next_number')
        .where('provider_id', '=', 1)
        .$call((q) => lockRows(tx, q))
        .executeTakeFirstOrThrow();
    });
    await held.p;
    const payment = pay(ctx, x.accountId, '30.00');
    const results = await Promise.allSettled([payment, holder]);
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(errors).toEqual([]);
    // The first order is paid and invoiced; the second lost its address and is cancelled.
    const orders = await ctx.db.kysely
      .selectFrom('orders')
      .select(['status', 'cancel_reason'])
      .where('account_id', '=', x.accountId)
      .orderBy('id')
      .execute();
    expect(orders.map((o) => o.status)).toEqual(['paid', 'cancelled']);
    expect(orders[1]!.cancel_reason).toMatch(/^ip_taken/);
    const kinds = await ctx.db.kysely
      .selectFrom('documents')
      .select(['kind', 'account_id'])
      .where('account_id', '=', x.accountId)
      .orderBy('number')
      .execute();
    expect(kinds.map((d) => d.kind)).toEqual(['invoice', 'receipt']);
  },
  20_000,
);
