import { sql } from 'kysely';
import type { AppContext } from '../../platform/context.js';
import type { AccountRow, LedgerEntryRow, PaymentRow, UserRow } from '../../platform/db/index.js';
import { notFound } from '../../platform/errors.js';
import { type Actor, assertAccountVisible, requireStaff } from './actor.js';

export interface Page {
  readonly limit: number;
  readonly before?: number | undefined;
}

export async function getProvider(ctx: AppContext) {
  return ctx.db.kysely.selectFrom('provider').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
}

export async function getAccount(ctx: AppContext, actor: Actor, id: number): Promise<AccountRow> {
  assertAccountVisible(actor, id);
  const row = await ctx.db.kysely.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('account');
  return row;
}

export async function findAccountByEmail(ctx: AppContext, email: string): Promise<AccountRow | undefined> {
  return ctx.db.kysely
    .selectFrom('accounts')
    .selectAll()
    .where('email', '=', email.trim().toLowerCase())
    .executeTakeFirst();
}

/** Newest first, keyset-paginated by id (`before`), optionally filtered by text and status. */
export async function listAccounts(
  ctx: AppContext,
  actor: Actor,
  q: Page & { q?: string | undefined; status?: AccountRow['status'] | undefined },
): Promise<AccountRow[]> {
  requireStaff(actor);
  let query = ctx.db.kysely.selectFrom('accounts').selectAll().orderBy('id', 'desc').limit(q.limit);
  if (q.before) query = query.where('id', '<', q.before);
  if (q.status) query = query.where('status', '=', q.status);
  if (q.q) {
    const like = `%${q.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) =>
      eb.or([
        eb(sql<string>`lower(name)`, 'like', sql<string>`${like} escape '\\'`),
        eb('email', 'like', sql<string>`${like} escape '\\'`),
      ]),
    );
  }
  return query.execute();
}

export async function listAccountUsers(ctx: AppContext, actor: Actor, accountId: number): Promise<UserRow[]> {
  await getAccount(ctx, actor, accountId);
  return ctx.db.kysely
    .selectFrom('users')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('id')
    .execute();
}

export async function listUsers(
  ctx: AppContext,
  actor: Actor,
  q: Page & { role?: 'admin' | 'client' | undefined },
): Promise<UserRow[]> {
  requireStaff(actor);
  let query = ctx.db.kysely.selectFrom('users').selectAll().orderBy('id', 'desc').limit(q.limit);
  if (q.before) query = query.where('id', '<', q.before);
  if (q.role) query = query.where('role', '=', q.role);
  return query.execute();
}

export async function listLedger(
  ctx: AppContext,
  actor: Actor,
  accountId: number,
  page: Page,
): Promise<LedgerEntryRow[]> {
  await getAccount(ctx, actor, accountId);
  let query = ctx.db.kysely
    .selectFrom('ledger_entries')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('id', 'desc')
    .limit(page.limit);
  if (page.before) query = query.where('id', '<', page.before);
  return query.execute();
}

export async function listPayments(
  ctx: AppContext,
  actor: Actor,
  accountId: number,
  page: Page,
): Promise<PaymentRow[]> {
  await getAccount(ctx, actor, accountId);
  let query = ctx.db.kysely
    .selectFrom('payments')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('id', 'desc')
    .limit(page.limit);
  if (page.before) query = query.where('id', '<', page.before);
  return query.execute();
}

export async function getPayment(ctx: AppContext, actor: Actor, id: number): Promise<PaymentRow> {
  const row = await ctx.db.kysely.selectFrom('payments').selectAll().where('id', '=', id).executeTakeFirst();
  // A client asking for another account's payment learns exactly what it learns for a missing one.
  if (!row) throw notFound('payment');
  assertAccountVisible(actor, Number(row.account_id), 'payment');
  return row;
}

export interface LedgerMismatch {
  readonly accountId: number;
  readonly stored: bigint;
  readonly sumOfEntries: bigint;
  readonly creditLimit: bigint;
}

/**
 * The ledger invariant, checked in the database: for every account the stored balance equals
 * the sum of its entries and is not below −credit limit. Returns the accounts that break it
 * (none, always). Used by tests after every scenario and by `billfold ledger check`.
 */
export async function findLedgerMismatches(ctx: AppContext): Promise<LedgerMismatch[]> {
  const rows = await ctx.db.kysely
    .selectFrom('accounts as a')
    .leftJoin(
      (eb) =>
        eb
          .selectFrom('ledger_entries')
          .select(['account_id', (e) => e.fn.sum<bigint>('amount_minor').as('total')])
          .groupBy('account_id')
          .as('s'),
      (join) => join.onRef('s.account_id', '=', 'a.id'),
    )
    .select(['a.id', 'a.balance_minor', 'a.credit_limit_minor', 's.total'])
    .execute();
  const out: LedgerMismatch[] = [];
  for (const r of rows) {
    // SUM over bigint is numeric on PostgreSQL (returned as text): normalise through BigInt.
    const sum = r.total === null || r.total === undefined ? 0n : BigInt(r.total as unknown as string);
    if (sum !== r.balance_minor || r.balance_minor < -r.credit_limit_minor) {
      out.push({
        accountId: Number(r.id),
        stored: r.balance_minor,
        sumOfEntries: sum,
        creditLimit: r.credit_limit_minor,
      });
    }
  }
  return out;
}
