import { type Kysely, Migrator, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, TEST_ENGINE, type TestDb } from '../../../test/helpers/db.js';
import { isCheckViolation, isUniqueViolation, migrateToLatest, migrationStatus } from './index.js';

let t: TestDb;
beforeEach(async () => {
  t = await createTestDb();
});
afterEach(async () => {
  await t.destroy();
});

const now = '2021-12-16T10:00:00.000Z';
const newAccount = (email: string, balance = 0n) =>
  t.db.kysely
    .insertInto('accounts')
    .values({
      name: 'A',
      email,
      currency: 'EUR',
      credit_limit_minor: 0n,
      balance_minor: balance,
      status: 'active',
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();

describe(`database on ${TEST_ENGINE}`, () => {
  it('migrations are versioned and idempotent: a second run applies nothing', async () => {
    expect(await migrateToLatest(t.db)).toEqual([]);
    const status = await migrationStatus(t.db);
    expect(status.length).toBeGreaterThan(0);
    expect(status.every((m) => m.executedAt !== null)).toBe(true);
  });

  it('the provider row exists after migration', async () => {
    const p = await t.db.kysely.selectFrom('provider').selectAll().executeTakeFirstOrThrow();
    expect(p).toMatchObject({ name: 'My hosting', currency: 'EUR' });
  });

  it('ids and money come back as bigint, exact beyond 2^53, and dates as the same ISO text', async () => {
    const big = 9_007_199_254_740_993n; // 2^53 + 1: a JS number would round it
    const a = await newAccount('big@example.com', big);
    expect(typeof a.id).toBe('bigint');
    expect(a.balance_minor).toBe(big);
    expect(a.created_at).toBe(now);
    const read = await t.db.kysely
      .selectFrom('accounts')
      .select(['balance_minor', 'created_at'])
      .where('id', '=', a.id)
      .executeTakeFirstOrThrow();
    expect(read).toEqual({ balance_minor: big, created_at: now });
  });

  it('numeric ids can be chosen explicitly (a selling instance publishes its own tariff ids)', async () => {
    const row = await t.db.kysely
      .insertInto('accounts')
      .values({
        id: 55227,
        name: 'A',
        email: 'id@example.com',
        currency: 'EUR',
        credit_limit_minor: 0n,
        balance_minor: 0n,
        status: 'active',
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(row.id).toBe(55227n);
  });

  it('unique and check violations are recognised on this engine', async () => {
    await newAccount('u@example.com');
    const dup = await newAccount('u@example.com').catch((e: unknown) => e);
    expect(isUniqueViolation(dup)).toBe(true);
    const below = await newAccount('neg@example.com', -1n).catch((e: unknown) => e);
    expect(isCheckViolation(below)).toBe(true);
  });

  it('a failed transaction leaves nothing behind', async () => {
    await expect(
      t.db.kysely.transaction().execute(async (tx) => {
        await tx
          .insertInto('accounts')
          .values({
            name: 'A',
            email: 'tx@example.com',
            currency: 'EUR',
            credit_limit_minor: 0n,
            balance_minor: 0n,
            status: 'active',
            created_at: now,
            updated_at: now,
          })
          .execute();
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await t.db.kysely.selectFrom('accounts').selectAll().execute()).toEqual([]);
  });
});

describe('migrations are all or nothing', () => {
  it('a migration failing half-way leaves no trace of the pending ones (SQLite as PostgreSQL)', async () => {
    const created = (db: Kysely<unknown>, name: string) =>
      sql`create table ${sql.table(name)} (id integer primary key)`.execute(db);
    const migrator = new Migrator({
      db: t.db.kysely,
      provider: {
        getMigrations: async () => ({
          '9001_first': { up: (db: Kysely<unknown>) => created(db, 'bf_first').then(() => undefined) },
          '9002_breaks': {
            up: async (db: Kysely<unknown>) => {
              await created(db, 'bf_half');
              throw new Error('half-way');
            },
          },
        }),
      },
      migrationTableName: 'bf_test_migrations',
      migrationLockTableName: 'bf_test_migrations_lock',
      ...(TEST_ENGINE === 'postgres' ? { migrationTableSchema: await currentSchema() } : {}),
    });
    const { error } = await migrator.migrateToLatest();
    expect(String(error)).toMatch(/half-way/);
    const tables = (await t.db.kysely.introspection.getTables()).map((x) => x.name);
    expect(tables).not.toContain('bf_first');
    expect(tables).not.toContain('bf_half');
  });
});

async function currentSchema(): Promise<string> {
  const { rows } = await sql<{ s: string }>`select current_schema() as s`.execute(t.db.kysely);
  return rows[0]!.s;
}
