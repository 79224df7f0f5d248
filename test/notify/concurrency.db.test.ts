import { afterEach, beforeEach, expect, it } from 'vitest';
import { confirmPasswordReset, requestPasswordReset } from '../../src/modules/accounts/password-reset.js';
import { drainDeliveries } from '../../src/modules/notify/outbox.js';
import { client } from '../helpers/billing.js';
import { contextOn, createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { type FakeSmtp, startFakeSmtp, withSmtp } from '../helpers/smtp.js';

/**
 * Under concurrency (on PostgreSQL: real row locks, `SKIP LOCKED`): three workers on their own
 * connections drain one outbox at once and every message goes exactly once; two confirmations
 * of one reset link at once: one sets the password, the other is refused.
 */
let base: TestContext;
let smtp: FakeSmtp;
beforeEach(async () => {
  smtp = await startFakeSmtp();
  base = await createTestContext({ now: '2021-12-16T10:00:00Z' });
});
afterEach(async () => {
  await expectLedgerBalanced(base);
  await base.testDb.destroy();
  await smtp.close();
});

/**
 * PostgreSQL: a connection pool of its own, as another process has. SQLite: one connection per
 * process (a second handle in the same process would block the event loop on the file lock; the
 * cross-process case is kill-mail's), so the workers share it and interleave on it.
 */
const another = () =>
  TEST_ENGINE === 'postgres'
    ? contextOn(base.testDb.openAnother(), base.testDb, undefined, base.clock)
    : base;

it('three workers draining one outbox at once send every message exactly once', async () => {
  const ctx = withSmtp(base, smtp.url);
  for (let i = 0; i < 30; i++) await client(ctx, `c${i}@example.com`, '1.00');
  const queued = await ctx.db.kysely.selectFrom('deliveries').select('id').execute();
  expect(queued).toHaveLength(30);
  const workers = [0, 1, 2].map(() => withSmtp(another(), smtp.url));
  const done = await Promise.all(workers.map((w, n) => drainDeliveries(w, { worker: `w${n}` })));
  expect(done.reduce((a, b) => a + b, 0)).toBe(30);
  const ids = smtp.received.map((m) => m.messageId);
  expect(ids).toHaveLength(30);
  expect(new Set(ids).size).toBe(30);
  const attempts = await ctx.db.kysely.selectFrom('delivery_attempts').select('delivery_id').execute();
  expect(attempts).toHaveLength(30);
});

it('two confirmations of one reset link at once: exactly one sets the password', async () => {
  const ctx = withSmtp(base, smtp.url);
  await client(ctx, 'race@example.com');
  await requestPasswordReset(ctx, 'race@example.com');
  await drainDeliveries(ctx);
  const mail = smtp.received.find((m) => m.kind === 'password_reset')!;
  const token = /token=([A-Za-z0-9_-]{43})/.exec(mail.text)![1]!;
  const other = another();
  const results = await Promise.allSettled([
    confirmPasswordReset(ctx, token, 'first-password-123'),
    confirmPasswordReset(other, token, 'second-password-123'),
  ]);
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  expect(refused.reason).toMatchObject({ code: 'reset_token_invalid' });
});
