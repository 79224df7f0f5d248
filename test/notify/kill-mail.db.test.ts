import { Temporal } from 'temporal-polyfill';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runBilling } from '../../src/modules/billing/run.js';
import { messageIdOf } from '../../src/modules/notify/mail.js';
import { drainDeliveries } from '../../src/modules/notify/outbox.js';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { childEnv, children, kill, spawnWorker, until } from '../fixtures/worker-processes.js';
import { client, licenseTariff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';
import { freshIp } from '../helpers/ips.js';
import { type FakeSmtp, startFakeSmtp, withSmtp } from '../helpers/smtp.js';

/**
 * A worker process killed with SIGKILL while the SMTP server holds a message's DATA (the
 * message is complete on the server's side, the worker never hears "250"): the delivery's lease
 * expires, a second worker sends it again. The guarantee (docs/operations.md "Mail and
 * webhooks"): nothing is lost; a message is sent twice at most once per worker death in that
 * window, and the copy carries the same Message-ID.
 */
const LEASE_MS = 1_000;
let base: TestContext;
let smtp: FakeSmtp;

beforeEach(async () => {
  smtp = await startFakeSmtp();
  base = await createTestContext({ now: '2021-12-16T10:00:00Z', file: true });
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => kill(c)));
  await smtp.close();
  try {
    await expectLedgerBalanced(base);
  } finally {
    await base.testDb.destroy();
  }
});

it('a worker killed mid-delivery loses nothing; the resend has the same Message-ID', async () => {
  const ctx = withSmtp(base, smtp.url);
  const tariff = await licenseTariff(ctx, { prices: { '1': '5.00' } });
  for (let i = 0; i < 4; i++) {
    const c = await client(ctx, `k${i}@example.com`, '5.00');
    await placeOrder(ctx, c.actor, {
      items: [{ tariffId: tariff.id, period: 1, params: { ip: freshIp(), licname: `k${i}` } }],
      payNow: true,
    });
  }
  await runQueuedOperations(ctx);
  // The mail of the payments, orders and services: sent here, not by the workers below.
  await drainDeliveries(ctx);
  const mark = Number(
    (
      await ctx.db.kysely
        .selectFrom('deliveries')
        .select(({ fn }) => fn.max('id').as('id'))
        .executeTakeFirstOrThrow()
    ).id,
  );
  smtp.received.length = 0;
  smtp.dataStarted.length = 0;
  base.clock.set('2022-01-13T06:00:00Z');
  await runBilling(ctx, { date: Temporal.PlainDate.from('2022-01-13') });
  const queued = await ctx.db.kysely
    .selectFrom('deliveries')
    .select(['id'])
    .where('id', '>', mark)
    .orderBy('id')
    .execute();
  expect(queued).toHaveLength(4);
  const expected = queued.map((d) => messageIdOf(ctx, d.id));

  const env = {
    ...(await childEnv(base)),
    WORKER_CHILD_SMTP_URL: smtp.url,
    WORKER_CHILD_LEASE_MS: String(LEASE_MS),
    WORKER_CHILD_NOW: base.clock.now().toISOString(),
    WORKER_CHILD_NOW_AT: String(Date.now()),
  };
  smtp.delayDataMs = 5_000;
  const a = spawnWorker(env);
  await a.started();
  await until(() => smtp.dataStarted.length >= 1, 'worker A to hand a message over', 30_000);
  await kill(a);
  const inFlight = smtp.dataStarted[0]!;
  smtp.delayDataMs = 0;

  const b = spawnWorker(env);
  await b.started();
  await until(
    async () => {
      const rows = await ctx.db.kysely.selectFrom('deliveries').select('status').execute();
      return rows.every((r) => r.status === 'done');
    },
    'worker B to deliver everything',
    30_000,
  );
  // The message A was killed on lands (its DATA was complete): wait for the server's answer.
  await until(
    () => smtp.received.filter((m) => m.messageId === inFlight).length === 2,
    'both copies',
    10_000,
  );
  const ids = smtp.received.map((m) => m.messageId);
  expect(new Set(ids)).toEqual(new Set(expected));
  for (const id of expected) expect(ids.filter((x) => x === id)).toHaveLength(id === inFlight ? 2 : 1);
  const rows = await ctx.db.kysely
    .selectFrom('deliveries')
    .selectAll()
    .where('id', '>', mark)
    .orderBy('id')
    .execute();
  const resent = rows.find((r) => messageIdOf(ctx, r.id) === inFlight)!;
  expect(Number(resent.attempts)).toBe(2);
  expect(rows.filter((r) => r !== resent).every((r) => Number(r.attempts) === 1)).toBe(true);
});
