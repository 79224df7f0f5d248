import {
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  sql,
} from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, TEST_ENGINE, type TestDb } from '../../../test/helpers/db.js';
import { PREPARED_STATEMENTS, prepareQuery } from './prepared.js';
import type { Database } from './schema.js';

let t: TestDb;
beforeEach(async () => {
  t = await createTestDb();
});
afterEach(async () => {
  await t.destroy();
});

const now = '2021-12-16T10:00:00.000Z';
const newAccount = (
  email: string,
  balance: bigint,
  status: 'active' | 'closed' = 'active',
  db: Kysely<Database> = t.db.kysely,
) =>
  db
    .insertInto('accounts')
    .values({
      name: email.split('@')[0]!,
      email,
      currency: 'EUR',
      credit_limit_minor: 0n,
      balance_minor: balance,
      status,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();

/** Accounts of a status with at least `min` on balance; `min` is used twice, in a raw condition too. */
const accountsOver = prepareQuery('test_accounts_over', 2, (db, status: 'active' | 'closed', min: bigint) =>
  db
    .selectFrom('accounts')
    .select(['email', 'balance_minor'])
    .where('status', '=', status)
    .where('balance_minor', '>=', min)
    .where(sql<boolean>`${min} >= 0`)
    .orderBy('email'),
);

class Counter implements KyselyPlugin {
  compiled = 0;
  results = 0;
  transformQuery(args: PluginTransformQueryArgs) {
    this.compiled++;
    return args.node;
  }
  transformResult(args: PluginTransformResultArgs) {
    this.results++;
    return Promise.resolve(args.result);
  }
}

describe(`prepared queries on ${TEST_ENGINE}`, () => {
  it('answer as the query built anew would, for each call’s own values', async () => {
    await newAccount('a@example.com', 100n);
    await newAccount('b@example.com', 500n);
    await newAccount('c@example.com', 900n, 'closed');
    const built = (status: 'active' | 'closed', min: bigint) =>
      t.db.kysely
        .selectFrom('accounts')
        .select(['email', 'balance_minor'])
        .where('status', '=', status)
        .where('balance_minor', '>=', min)
        .orderBy('email')
        .execute();
    for (const [status, min] of [
      ['active', 0n],
      ['active', 200n],
      ['closed', 0n],
      ['closed', 1000n],
      ['active', 500n],
    ] as const) {
      const rows = await accountsOver(t.db.kysely, status, min);
      expect(rows, `${status} ${min}`).toEqual(await built(status, min));
    }
    expect((await accountsOver(t.db.kysely, 'active', 200n)).map((r) => r.email)).toEqual(['b@example.com']);
    // The raw condition got the value too: a negative minimum matches nothing.
    expect(await accountsOver(t.db.kysely, 'active', -1n)).toEqual([]);
  });

  it('compile once per Kysely instance; plugins see every result', async () => {
    await newAccount('a@example.com', 100n);
    const counter = new Counter();
    const db = t.db.kysely.withPlugin(counter);
    for (let i = 0; i < 5; i++) expect(await accountsOver(db, 'active', 0n)).toHaveLength(1);
    expect(counter).toMatchObject({ compiled: 1, results: 5 });
  });

  it('run on the connection they are given: inside a transaction they see its writes', async () => {
    await t.db.kysely.transaction().execute(async (tx) => {
      await newAccount('t@example.com', 5n, 'active', tx);
      expect(await accountsOver(tx, 'active', 0n)).toEqual([{ email: 't@example.com', balance_minor: 5n }]);
      if (TEST_ENGINE === 'postgres') {
        // A named prepared statement of this connection.
        const { rows } = await sql<{ name: string }>`select name from pg_prepared_statements`.execute(tx);
        const sqlText = [...PREPARED_STATEMENTS].find(([, name]) =>
          name.startsWith('bf_test_accounts_over_'),
        );
        expect(sqlText).toBeDefined();
        expect(rows.map((r) => r.name)).toContain(sqlText![1]);
      }
    });
  });

  it('outside a transaction never see another one’s uncommitted rows (SQLite: one connection)', async () => {
    await newAccount('a@example.com', 100n);
    let reads: Promise<{ email: string }[]>[] = [];
    const rolledBack = t.db.kysely.transaction().execute(async (tx) => {
      await newAccount('t@example.com', 5n, 'active', tx);
      // Reads of other requests while this transaction is open, uncommitted, on the connection.
      reads = [
        accountsOver(t.db.kysely, 'active', 0n),
        accountsOver(t.db.kysely.withPlugin(new Counter()), 'active', 0n),
      ];
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('roll back');
    });
    await expect(rolledBack).rejects.toThrow('roll back');
    for (const read of reads) expect((await read).map((r) => r.email)).toEqual(['a@example.com']);
  });

  it('refuse a query that does not use each of its parameters as a value', async () => {
    const shaped = prepareQuery('test_shaped', 1, (db, _email: string) =>
      db.selectFrom('accounts').select('email'),
    );
    await expect(shaped(t.db.kysely, 'a@example.com')).rejects.toThrow(/uses 0 of its 1 parameters/);
  });
});
