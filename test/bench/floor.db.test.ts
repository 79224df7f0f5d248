import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import { BILLING_DATE, BILLING_NOW } from '../../bench/billing.js';
import { generateBook } from '../../bench/book.js';
import { withEngine } from '../../bench/engine.js';
import { type PgForm, SHADOW_SUFFIX, WriteFloor } from '../../bench/floor.js';
import { runBilling } from '../../src/modules/billing/run.js';
import type { AppContext } from '../../src/platform/context.js';
import { TEST_ENGINE } from '../helpers/db.js';

/**
 * The daily-run benchmark's write floor (bench/floor.ts) on a small book, no timing: what it
 * captures is what the run wrote (checked here apart, from row counts and from the services and
 * accounts read before and after), the replay writes exactly that many rows per table, and
 * nothing of it stays behind (shadow tables, the store).
 */

async function tableNames(ctx: AppContext): Promise<string[]> {
  const rows =
    ctx.db.kind === 'sqlite'
      ? (
          await sql<{
            name: string;
          }>`select name from sqlite_master
            where type = 'table' and name not like 'sqlite_%' order by name`.execute(ctx.db.kysely)
        ).rows
      : (
          await sql<{ name: string }>`select table_name as name from information_schema.tables
             where table_schema = current_schema() order by table_name`.execute(ctx.db.kysely)
        ).rows;
  return rows.map((r) => r.name);
}

async function rowCounts(ctx: AppContext, tables: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of tables) {
    const { rows } = await sql<{ n: bigint | number }>`select count(*) as n from ${sql.table(t)}`.execute(
      ctx.db.kysely,
    );
    out.set(t, Number(rows[0]!.n));
  }
  return out;
}

/** Every column of every row, keyed by id, as text: compared in JavaScript, not by the floor's SQL. */
async function rowsById(ctx: AppContext, table: 'services' | 'accounts'): Promise<Map<string, string>> {
  const rows = await ctx.db.kysely.selectFrom(table).selectAll().execute();
  return new Map(
    rows.map((r) => [String(r.id), JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v))]),
  );
}

function changedRows(before: Map<string, string>, after: Map<string, string>): number {
  let n = 0;
  for (const [id, row] of after) if (before.has(id) && before.get(id) !== row) n++;
  return n;
}

async function floorOfSmallBook(pgForm: PgForm) {
  await withEngine(TEST_ENGINE, BILLING_NOW, async ({ ctx, target }) => {
    const date = Temporal.PlainDate.from(BILLING_DATE);
    await generateBook(ctx, { services: 300, date });
    // Rows the run leaves alone, for writes it does not do (below): deletes, keys of two columns.
    const attempt = (i: number) => ({
      email: `someone-${i}@bench.test`,
      ip: '192.0.2.1',
      outcome: 'failure' as const,
      created_at: BILLING_NOW,
    });
    await ctx.db.kysely
      .insertInto('login_attempts')
      .values([attempt(1), attempt(2), attempt(3)])
      .execute();
    const tables = await tableNames(ctx);
    const countsBefore = await rowCounts(ctx, tables);
    const servicesBefore = await rowsById(ctx, 'services');
    const accountsBefore = await rowsById(ctx, 'accounts');

    const floor = await WriteFloor.open(target, { pgForm });
    let replayed: Awaited<ReturnType<WriteFloor['replay']>>;
    let captured: Awaited<ReturnType<WriteFloor['capture']>>;
    let countsAfterRun: Map<string, number>;
    try {
      await floor.snapshot();
      const summary = await runBilling(ctx, { date });
      expect(summary.renewed).toBeGreaterThan(0);
      // Besides the run's writes, some it never does, so that every path of the floor is taken:
      // two deletes, an insert and updates of rows keyed by two columns.
      await ctx.db.kysely.deleteFrom('login_attempts').where('email', '!=', attempt(2).email).execute();
      const account = await ctx.db.kysely
        .selectFrom('accounts')
        .select('id')
        .limit(1)
        .executeTakeFirstOrThrow();
      await ctx.db.kysely
        .insertInto('notification_opt_outs')
        .values({ account_id: account.id, kind: 'renewal_reminder', created_at: BILLING_NOW })
        .execute();
      await ctx.db.kysely
        .updateTable('tariff_periods')
        .set({ price_minor: 1234n })
        .where('period', '=', 12)
        .execute();
      captured = await floor.capture();
      countsAfterRun = await rowCounts(ctx, tables);
      // What the run changed, seen without the floor.
      const byTable = new Map(captured.map((w) => [w.table, w]));
      for (const t of tables) {
        const w = byTable.get(t);
        expect
          .soft(countsAfterRun.get(t)! - countsBefore.get(t)!, `rows added to ${t}`)
          .toBe((w?.inserted ?? 0) - (w?.deleted ?? 0));
      }
      expect(byTable.get('services')?.updated).toBe(
        changedRows(servicesBefore, await rowsById(ctx, 'services')),
      );
      expect(byTable.get('accounts')?.updated).toBe(
        changedRows(accountsBefore, await rowsById(ctx, 'accounts')),
      );
      for (const t of ['ledger_entries', 'billing_steps', 'service_history', 'notifications', 'billing_runs'])
        expect(byTable.get(t)?.inserted, `rows the run inserted into ${t}`).toBeGreaterThan(0);
      expect(byTable.get('services')!.updated).toBeGreaterThan(0);
      expect(byTable.get('accounts')!.updated).toBeGreaterThan(0);
      expect(byTable.get('login_attempts')).toEqual({
        table: 'login_attempts',
        inserted: 0,
        updated: 0,
        deleted: 2,
      });
      expect(byTable.get('notification_opt_outs')?.inserted).toBe(1);
      expect(byTable.get('tariff_periods')?.updated).toBe(4);

      replayed = await floor.replay();
    } finally {
      await floor.close();
    }

    // The floor wrote, as the database counted, the same rows per table as the run.
    expect(
      replayed.tables.map(({ table, inserted, updated, deleted }) => ({
        table,
        inserted,
        updated,
        deleted,
      })),
    ).toEqual(captured);
    expect(replayed.transactions).toBeGreaterThan(0);
    // Nothing left behind, and the real tables hold what the run left.
    const after = await tableNames(ctx);
    expect(after).toEqual(tables);
    expect(after.filter((t) => t.endsWith(SHADOW_SUFFIX))).toEqual([]);
    expect(await rowCounts(ctx, tables)).toEqual(countsAfterRun);
    if (target.kind === 'sqlite') {
      expect(fs.existsSync(floor.storeLocation)).toBe(false);
      expect(fs.readdirSync(path.dirname(target.file)).filter((f) => f.includes('floor'))).toEqual([]);
    } else {
      const { rows } = await sql<{ n: bigint }>`select count(*) as n from pg_namespace
          where nspname = ${floor.storeLocation}`.execute(ctx.db.kysely);
      expect(Number(rows[0]!.n)).toBe(0);
    }
  });
}

describe(`the daily run's write floor (${TEST_ENGINE})`, () => {
  it('replays exactly the rows the run wrote, and leaves nothing behind', async () => {
    await floorOfSmallBook('multi-row');
  });

  it.runIf(TEST_ENGINE === 'postgres')('does the same with one prepared statement per row', async () => {
    await floorOfSmallBook('per-row');
  });
});
