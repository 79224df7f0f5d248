import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, TEST_ENGINE, type TestDb } from '../../../test/helpers/db.js';
import { Ref, WriteBatch } from './batch.js';
import { inTransaction } from './index.js';

let t: TestDb;
beforeEach(async () => {
  t = await createTestDb();
});
afterEach(async () => {
  await t.destroy();
});

const now = '2021-12-16T10:00:00.000Z';
const account = (email: string) => ({
  name: email,
  email,
  currency: 'EUR',
  credit_limit_minor: 0n,
  balance_minor: 0n,
  status: 'active' as const,
  created_at: now,
  updated_at: now,
});
const entry = (accountId: number, key: string | null, amount: bigint) => ({
  account_id: accountId,
  kind: 'payment' as const,
  amount_minor: amount,
  currency: 'EUR',
  balance_after_minor: amount,
  idempotency_key: key,
  description: 'test',
  created_at: now,
});

describe(`WriteBatch (${TEST_ENGINE})`, () => {
  it('fills refs from the unique column, then writes the rows that name them; updates bigint, integer, text and null columns', async () => {
    const batch = new WriteBatch();
    const refs = [new Ref(), new Ref(), new Ref()];
    for (const [i, ref] of refs.entries())
      batch.insert('accounts', account(`a${i}@example.com`), { ref, by: 'email' });
    // Rows added after, whose ids are read at flush time.
    for (const [i, ref] of refs.entries())
      batch.insert('ledger_entries', () => entry(ref.value, `k${i}`, BigInt(100 * (i + 1))));
    await inTransaction(t.db, (tx) => batch.flush(tx));
    const accounts = await t.db.kysely.selectFrom('accounts').select(['id', 'email']).orderBy('id').execute();
    expect(accounts.map((a) => [Number(a.id), a.email])).toEqual(
      refs.map((r, i) => [r.value, `a${i}@example.com`]),
    );
    const entries = await t.db.kysely
      .selectFrom('ledger_entries')
      .select(['account_id', 'amount_minor'])
      .orderBy('id')
      .execute();
    expect(entries.map((e) => [Number(e.account_id), e.amount_minor])).toEqual(
      refs.map((r, i) => [r.value, BigInt(100 * (i + 1))]),
    );

    // Beyond 2^31 as bigint, a JS number (cast to bigint, assigned to an integer-sized value), text and null.
    const big = 3_000_000_000n;
    batch.update('accounts', refs[0]!.value, {
      balance_minor: big,
      credit_limit_minor: 0n,
      name: 'x',
      tax_id: null,
    });
    batch.update('accounts', refs[1]!.value, {
      balance_minor: 5n,
      credit_limit_minor: 7n,
      name: 'y',
      tax_id: null,
    });
    await inTransaction(t.db, (tx) => batch.flush(tx));
    const after = await t.db.kysely
      .selectFrom('accounts')
      .select(['balance_minor', 'credit_limit_minor', 'name', 'tax_id'])
      .orderBy('id')
      .execute();
    expect(after).toEqual([
      { balance_minor: big, credit_limit_minor: 0n, name: 'x', tax_id: null },
      { balance_minor: 5n, credit_limit_minor: 7n, name: 'y', tax_id: null },
      { balance_minor: 0n, credit_limit_minor: 0n, name: 'a2@example.com', tax_id: null },
    ]);
  });

  it('refuses a ref whose key is unset or repeated, and skips rows whose key was stored already when told to', async () => {
    const batch = new WriteBatch();
    expect(() =>
      batch.insert('ledger_entries', entry(1, null, 1n), { ref: new Ref(), by: 'idempotency_key' }),
    ).toThrow(/not set/);
    batch.insert('accounts', account('same@example.com'), { ref: new Ref(), by: 'email' });
    expect(() =>
      batch.insert('accounts', account('same@example.com'), { ref: new Ref(), by: 'email' }),
    ).toThrow(/twice/);
    await inTransaction(t.db, (tx) => batch.flush(tx));
    const id = Number((await t.db.kysely.selectFrom('accounts').select('id').executeTakeFirstOrThrow()).id);
    batch.insert('ledger_entries', entry(id, 'once', 1n));
    await inTransaction(t.db, (tx) => batch.flush(tx));
    batch.insert('ledger_entries', entry(id, 'once', 1n), { ignoreConflictOn: 'idempotency_key' });
    batch.insert('ledger_entries', entry(id, 'twice', 2n), { ignoreConflictOn: 'idempotency_key' });
    await inTransaction(t.db, (tx) => batch.flush(tx));
    const keys = await t.db.kysely
      .selectFrom('ledger_entries')
      .select('idempotency_key')
      .orderBy('id')
      .execute();
    expect(keys.map((k) => k.idempotency_key)).toEqual(['once', 'twice']);
    // Without it, the clash fails the flush and its transaction writes nothing.
    batch.insert('ledger_entries', entry(id, 'third', 3n));
    batch.insert('ledger_entries', entry(id, 'once', 1n));
    await expect(inTransaction(t.db, (tx) => batch.flush(tx))).rejects.toThrow();
    expect(await t.db.kysely.selectFrom('ledger_entries').select('id').execute()).toHaveLength(2);
  });

  it('writes any number of rows in their order, as statements of fixed sizes, rows with other columns in their own statements', async () => {
    // 600 accounts: a first flush of 500 (256 + 128 + 64 + 32 + 16 + 4) and one of 100 (64 + 32 + 4).
    const batch = new WriteBatch();
    const refs = Array.from({ length: 600 }, () => new Ref());
    refs.forEach((ref, i) => {
      // Every 7th row also sets tax_id: a column set of its own, in the middle of the others.
      const row =
        i % 7 === 3 ? { ...account(`r${i}@example.com`), tax_id: `T${i}` } : account(`r${i}@example.com`);
      batch.insert('accounts', row, { ref, by: 'email' });
    });
    refs.forEach((ref, i) => {
      batch.insert('ledger_entries', () => entry(ref.value, `e${i}`, BigInt(i + 1)));
    });
    await inTransaction(t.db, (tx) => batch.flush(tx));
    const accounts = await t.db.kysely
      .selectFrom('accounts')
      .select(['id', 'email', 'tax_id'])
      .orderBy('id')
      .execute();
    // Inserted in the order added: ids rise with the rows, and every ref has its row's id.
    expect(accounts.map((a) => a.email)).toEqual(refs.map((_, i) => `r${i}@example.com`));
    expect(accounts.map((a) => Number(a.id))).toEqual(refs.map((r) => r.value));
    expect(accounts.map((a) => a.tax_id)).toEqual(refs.map((_, i) => (i % 7 === 3 ? `T${i}` : null)));
    const entries = await t.db.kysely
      .selectFrom('ledger_entries')
      .select(['account_id', 'idempotency_key', 'amount_minor'])
      .orderBy('id')
      .execute();
    expect(entries.map((e) => [Number(e.account_id), e.idempotency_key, e.amount_minor])).toEqual(
      refs.map((r, i) => [r.value, `e${i}`, BigInt(i + 1)]),
    );
  });
});
