import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  contextOn,
  createTestContext,
  expectLedgerBalanced,
  type TestContext,
} from '../../../test/helpers/context.js';
import { TEST_ENGINE } from '../../../test/helpers/db.js';
import { isoNow } from '../../platform/clock.js';
import { inTransaction } from '../../platform/db/index.js';
import type { AppError } from '../../platform/errors.js';
import { systemActor } from './actor.js';
import { createAccount, postAdjustment, recordPayment, updateAccount } from './commands.js';
import { postEntry } from './ledger.js';
import { findLedgerMismatches, getAccount } from './queries.js';

const staff = systemActor('test');
let ctx: TestContext;

beforeEach(async () => {
  ctx = await createTestContext();
});
afterEach(async () => {
  await ctx.testDb.destroy();
});

async function newAccount(email = 'client@example.com', creditLimit?: string) {
  const { account } = await createAccount(ctx, staff, {
    name: 'Client',
    email,
    ...(creditLimit ? { creditLimit } : {}),
  });
  return Number(account.id);
}

const charge = (accountId: number, amountMinor: bigint, key?: string) =>
  inTransaction(ctx.db, (tx) =>
    postEntry(tx, {
      accountId,
      kind: 'charge',
      amountMinor: -amountMinor,
      description: 'test charge',
      idempotencyKey: key ?? null,
      now: isoNow(ctx.clock),
    }),
  );

/**
 * Another connection pool on the same database, as a second process would have. On SQLite a
 * process has one connection (better-sqlite3 is synchronous: a second in-process handle would
 * block the event loop waiting for the first), so there the race runs through Kysely's
 * connection mutex instead; cross-process SQLite locking is covered by the worker tests.
 */
const secondConnection = (): TestContext =>
  TEST_ENGINE === 'postgres' ? contextOn(ctx.testDb.openAnother(), ctx.testDb, undefined, ctx.clock) : ctx;

const balanceOf = async (id: number) => (await getAccount(ctx, staff, id)).balance_minor;
const entryCount = async () =>
  Number(
    (
      await ctx.db.kysely
        .selectFrom('ledger_entries')
        .select((e) => e.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('balance ledger (BILLING.md "Money")', () => {
  it('balance = sum of entries: payments credit, charges debit, the stored balance follows', async () => {
    const id = await newAccount();
    await recordPayment(ctx, staff, id, { amount: '100.00', method: 'manual', reference: 'R1' });
    await charge(id, 4_84n);
    await postAdjustment(ctx, staff, id, { amount: '-0.16', description: 'rounding goodwill' });
    expect(await balanceOf(id)).toBe(95_00n);
    const entries = await ctx.db.kysely
      .selectFrom('ledger_entries')
      .selectAll()
      .where('account_id', '=', id)
      .orderBy('id')
      .execute();
    expect(entries.map((e) => [e.kind, e.amount_minor, e.balance_after_minor])).toEqual([
      ['payment', 100_00n, 100_00n],
      ['charge', -4_84n, 95_16n],
      ['adjustment', -16n, 95_00n],
    ]);
    await expectLedgerBalanced(ctx);
  });

  it('a charge below −credit_limit is refused with insufficient_balance and writes nothing', async () => {
    const id = await newAccount('c@example.com', '10.00');
    await recordPayment(ctx, staff, id, { amount: '5.00', method: 'manual', reference: 'R1' });
    const before = await entryCount();
    await expect(charge(id, 15_01n)).rejects.toMatchObject({
      code: 'insufficient_balance',
      details: { available: '15.00' },
    });
    expect(await entryCount()).toBe(before);
    expect(await balanceOf(id)).toBe(5_00n);
    // Exactly up to the limit is allowed.
    await charge(id, 15_00n);
    expect(await balanceOf(id)).toBe(-10_00n);
    await expectLedgerBalanced(ctx);
  });

  it('an idempotency key posts once: the same key returns the first entry, a different use of it is a conflict', async () => {
    const id = await newAccount();
    await recordPayment(ctx, staff, id, { amount: '50.00', method: 'manual', reference: 'R1' });
    const first = await charge(id, 10_00n, 'order:1');
    const again = await charge(id, 10_00n, 'order:1');
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(again.entry.id).toEqual(first.entry.id);
    expect(await balanceOf(id)).toBe(40_00n);
    await expect(charge(id, 11_00n, 'order:1')).rejects.toMatchObject({ code: 'idempotency_key_reused' });
    expect(await balanceOf(id)).toBe(40_00n);
    await expectLedgerBalanced(ctx);
  });

  it('entry signs are enforced: a charge must debit, a payment must credit, nothing is zero', async () => {
    const id = await newAccount();
    const post = (kind: 'charge' | 'payment' | 'refund' | 'adjustment', amountMinor: bigint) =>
      inTransaction(ctx.db, (tx) =>
        postEntry(tx, { accountId: id, kind, amountMinor, description: 'x', now: isoNow(ctx.clock) }),
      );
    for (const [kind, amount] of [
      ['charge', 1n],
      ['payment', -1n],
      ['refund', 0n],
      ['adjustment', 0n],
    ] as const) {
      await expect(post(kind, amount)).rejects.toMatchObject({ code: 'invalid_amount' });
    }
    expect(await entryCount()).toBe(0);
    await expectLedgerBalanced(ctx);
  });

  it('a failure later in the same transaction rolls the entry back with it', async () => {
    const id = await newAccount();
    await recordPayment(ctx, staff, id, { amount: '20.00', method: 'manual', reference: 'R1' });
    await expect(
      inTransaction(ctx.db, async (tx) => {
        await postEntry(tx, {
          accountId: id,
          kind: 'charge',
          amountMinor: -5_00n,
          description: 'x',
          now: isoNow(ctx.clock),
        });
        throw new Error('provisioning decided against it');
      }),
    ).rejects.toThrow('provisioning decided against it');
    expect(await balanceOf(id)).toBe(20_00n);
    await expectLedgerBalanced(ctx);
  });

  it('the database refuses a stored balance below the credit floor even if code tried', async () => {
    const id = await newAccount();
    await expect(
      ctx.db.kysely.updateTable('accounts').set({ balance_minor: -1n }).where('id', '=', id).execute(),
    ).rejects.toThrow();
    expect(await balanceOf(id)).toBe(0n);
  });

  it('the invariant check finds a stored balance that drifted from its entries', async () => {
    const id = await newAccount();
    await recordPayment(ctx, staff, id, { amount: '20.00', method: 'manual', reference: 'R1' });
    await ctx.db.kysely.updateTable('accounts').set({ balance_minor: 19_99n }).where('id', '=', id).execute();
    expect(await findLedgerMismatches(ctx)).toEqual([
      { accountId: id, stored: 19_99n, sumOfEntries: 20_00n, creditLimit: 0n },
    ]);
  });

  it('property: any sequence of payments and charges keeps balance = sum of entries ≥ −credit limit', async () => {
    const id = await newAccount('p@example.com', '3.00');
    let ref = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), fc.bigInt({ min: 1n, max: 5_000n })), {
          minLength: 1,
          maxLength: 12,
        }),
        async (ops) => {
          for (const [isPayment, amount] of ops) {
            const before = await balanceOf(id);
            if (isPayment) {
              ref += 1;
              await recordPayment(ctx, staff, id, {
                amount: (Number(amount) / 100).toFixed(2),
                method: 'manual',
                reference: `P${ref}`,
              });
              expect(await balanceOf(id)).toBe(before + amount);
            } else {
              try {
                await charge(id, amount);
                expect(before - amount).toBeGreaterThanOrEqual(-3_00n);
                expect(await balanceOf(id)).toBe(before - amount);
              } catch (err) {
                expect((err as AppError).code).toBe('insufficient_balance');
                expect(before - amount).toBeLessThan(-3_00n);
                expect(await balanceOf(id)).toBe(before);
              }
            }
          }
          expect(await findLedgerMismatches(ctx)).toEqual([]);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('concurrent charges (two database connections)', () => {
  it('never overdraw an account: of 20 parallel charges of 10.00 on a 100.00 balance exactly 10 succeed', async () => {
    const id = await newAccount();
    await recordPayment(ctx, staff, id, { amount: '100.00', method: 'manual', reference: 'R1' });
    const other = secondConnection();
    const attempts = Array.from({ length: 20 }, (_, i) =>
      inTransaction(i % 2 === 0 ? ctx.db : other.db, (tx) =>
        postEntry(tx, {
          accountId: id,
          kind: 'charge',
          amountMinor: -10_00n,
          description: `c${i}`,
          now: isoNow(ctx.clock),
        }),
      ),
    );
    const results = await Promise.allSettled(attempts);
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected');
    expect(ok).toBe(10);
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'insufficient_balance' });
    expect(await balanceOf(id)).toBe(0n);
    await expectLedgerBalanced(ctx);
  });

  it.runIf(TEST_ENGINE === 'postgres')(
    'PostgreSQL: concurrent transactions on one account serialise on the row lock',
    async () => {
      const id = await newAccount('race@example.com', '0.00');
      await recordPayment(ctx, staff, id, { amount: '30.00', method: 'manual', reference: 'R1' });
      const other = secondConnection();
      // Both transactions have started and hold open connections before either charges.
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const run = (c: TestContext, amount: bigint) =>
        inTransaction(c.db, async (tx) => {
          await tx.selectFrom('provider').select('id').execute();
          await gate;
          return postEntry(tx, {
            accountId: id,
            kind: 'charge',
            amountMinor: -amount,
            description: 'race',
            now: isoNow(c.clock),
          });
        });
      const a = run(ctx, 20_00n);
      const b = run(other, 20_00n);
      release();
      const results = await Promise.allSettled([a, b]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(await balanceOf(id)).toBe(10_00n);
      await expectLedgerBalanced(ctx);
    },
  );
});

describe('payments', () => {
  it('a repeated reference for the same method is payment_exists and credits once', async () => {
    const id = await newAccount();
    const p = await recordPayment(ctx, staff, id, { amount: '25.00', method: 'bank', reference: 'TX-1' });
    await expect(
      recordPayment(ctx, staff, id, { amount: '30.00', method: 'bank', reference: 'TX-1' }),
    ).rejects.toMatchObject({
      code: 'payment_exists',
      details: { paymentId: Number(p.id) },
    });
    await recordPayment(ctx, staff, id, { amount: '1.00', method: 'stripe', reference: 'TX-1' });
    expect(await balanceOf(id)).toBe(26_00n);
    await expectLedgerBalanced(ctx);
  });

  it('the same payment recorded twice at once credits once', async () => {
    const id = await newAccount();
    const other = secondConnection();
    const results = await Promise.allSettled([
      recordPayment(ctx, staff, id, { amount: '10.00', method: 'bank', reference: 'DUP' }),
      recordPayment(other, staff, id, { amount: '10.00', method: 'bank', reference: 'DUP' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: 'payment_exists' });
    expect(await balanceOf(id)).toBe(10_00n);
    await expectLedgerBalanced(ctx);
  });

  it('bad amounts are refused with a code and write nothing', async () => {
    const id = await newAccount();
    for (const [amount, code] of [
      ['-5.00', 'invalid_amount'],
      ['0', 'invalid_amount'],
      ['1.001', 'amount_too_precise'],
      ['100000000000.01', 'amount_too_large'],
    ] as const) {
      await expect(
        recordPayment(ctx, staff, id, { amount, method: 'manual', reference: `R-${amount}` }),
      ).rejects.toMatchObject({ code });
    }
    expect(await entryCount()).toBe(0);
    expect(await ctx.db.kysely.selectFrom('payments').selectAll().execute()).toEqual([]);
  });

  it('amounts follow the account currency exponent (JPY has none, BHD three)', async () => {
    const { account: jpy } = await createAccount(ctx, staff, {
      name: 'JP',
      email: 'jp@example.com',
      currency: 'JPY',
    });
    const { account: bhd } = await createAccount(ctx, staff, {
      name: 'BH',
      email: 'bh@example.com',
      currency: 'BHD',
    });
    await recordPayment(ctx, staff, Number(jpy.id), { amount: '1500', method: 'manual', reference: 'J1' });
    await recordPayment(ctx, staff, Number(bhd.id), { amount: '1.234', method: 'manual', reference: 'B1' });
    await expect(
      recordPayment(ctx, staff, Number(jpy.id), { amount: '1.5', method: 'manual', reference: 'J2' }),
    ).rejects.toMatchObject({
      code: 'amount_too_precise',
    });
    expect(await balanceOf(Number(jpy.id))).toBe(1500n);
    expect(await balanceOf(Number(bhd.id))).toBe(1234n);
    await expectLedgerBalanced(ctx);
  });
});

describe('accounts', () => {
  it('a duplicate email is email_taken and creates nothing', async () => {
    await newAccount('dup@example.com');
    await expect(
      createAccount(ctx, staff, { name: 'Other', email: 'dup@example.com', password: 'long-enough-pw' }),
    ).rejects.toMatchObject({
      code: 'email_taken',
    });
    expect(await ctx.db.kysely.selectFrom('accounts').selectAll().execute()).toHaveLength(1);
    expect(await ctx.db.kysely.selectFrom('users').selectAll().execute()).toHaveLength(0);
  });

  it('the credit limit cannot be lowered below what the account already owes', async () => {
    const id = await newAccount('owe@example.com', '50.00');
    await charge(id, 30_00n);
    await expect(updateAccount(ctx, staff, id, { creditLimit: '20.00' })).rejects.toMatchObject({
      code: 'credit_limit_below_debt',
    });
    const updated = await updateAccount(ctx, staff, id, { creditLimit: '30.00' });
    expect(updated.credit_limit_minor).toBe(30_00n);
    await expectLedgerBalanced(ctx);
  });

  it('clients cannot act as staff', async () => {
    const id = await newAccount();
    const client = { type: 'user', userId: 1, role: 'client', accountId: id } as const;
    await expect(
      recordPayment(ctx, client, id, { amount: '1.00', method: 'manual', reference: 'X' }),
    ).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(getAccount(ctx, client, id + 1)).rejects.toMatchObject({ code: 'account_not_found' });
    expect(await balanceOf(id)).toBe(0n);
  });
});
