import type { Insertable } from 'kysely';
import { formatAmount } from '../../domain/money.js';
import {
  type Database,
  type LedgerEntryRow,
  type LedgerKind,
  lockRows,
  type Tx,
} from '../../platform/db/index.js';
import { AppError, conflict, invalid, notFound } from '../../platform/errors.js';

export interface PostEntryInput {
  readonly accountId: number;
  readonly kind: LedgerKind;
  /** Signed minor units: credits positive, debits negative. */
  readonly amountMinor: bigint;
  readonly description: string;
  /** Same key again → the entry already written is returned, nothing is posted twice. */
  readonly idempotencyKey?: string | null;
  readonly refType?: string | null;
  readonly refId?: number | null;
  readonly createdByUserId?: number | null;
  readonly now: string;
}

export interface PostedEntry {
  readonly entry: LedgerEntryRow;
  /** True when the idempotency key had been used already and nothing new was written. */
  readonly replayed: boolean;
}

const SIGN_RULE: Record<LedgerKind, (a: bigint) => boolean> = {
  payment: (a) => a > 0n,
  refund: (a) => a > 0n,
  charge: (a) => a < 0n,
  adjustment: (a) => a !== 0n,
};

/**
 * The one way money moves. Inside the caller's transaction: lock the account row, check the
 * credit floor, append the entry and move the stored balance by the same amount, so the
 * stored balance always equals the sum of entries. On PostgreSQL the row lock (FOR UPDATE)
 * serialises concurrent charges on one account; on SQLite the write transaction does.
 */
/**
 * Locks an account's row for the rest of the transaction (PostgreSQL; SQLite's write
 * transaction already serialises). Whoever pays orders takes it before any order row, the
 * order a credit's own transaction takes them in, so a payment and a payer never deadlock.
 */
export async function lockAccount(tx: Tx, accountId: number): Promise<void> {
  await tx
    .selectFrom('accounts')
    .select('id')
    .where('id', '=', accountId)
    .$call((q) => lockRows(tx, q))
    .executeTakeFirst();
}

function assertSign(input: PostEntryInput): void {
  if (!SIGN_RULE[input.kind](input.amountMinor)) {
    throw invalid('invalid_amount', `A ${input.kind} entry cannot have amount ${input.amountMinor}.`, {
      kind: input.kind,
    });
  }
}

/** What an account's row must say for an entry to be checked against it (locked by the caller). */
export interface LedgerAccount {
  readonly balance_minor: bigint;
  readonly credit_limit_minor: bigint;
  readonly currency: string;
}

/**
 * The rules of one entry against the account as it is: the sign its kind allows, and the
 * credit floor a debit must not cross. The row to append and the balance after it; the caller
 * writes both (one entry now, or a chunk's entries at once, D-chunked-run).
 */
export function ledgerEntryRow(
  account: LedgerAccount,
  input: PostEntryInput,
): { row: Insertable<Database['ledger_entries']>; balanceAfter: bigint } {
  assertSign(input);
  const balanceAfter = account.balance_minor + input.amountMinor;
  if (input.amountMinor < 0n && balanceAfter < -account.credit_limit_minor) {
    const available = account.balance_minor + account.credit_limit_minor;
    throw new AppError('conflict', 'insufficient_balance', 'The balance is not enough for this charge.', {
      required: formatAmount(-input.amountMinor, account.currency),
      available: formatAmount(available < 0n ? 0n : available, account.currency),
      currency: account.currency,
    });
  }
  return {
    balanceAfter,
    row: {
      account_id: input.accountId,
      kind: input.kind,
      amount_minor: input.amountMinor,
      currency: account.currency,
      balance_after_minor: balanceAfter,
      idempotency_key: input.idempotencyKey ?? null,
      description: input.description,
      ref_type: input.refType ?? null,
      ref_id: input.refId ?? null,
      created_by_user_id: input.createdByUserId ?? null,
      created_at: input.now,
    },
  };
}

export async function postEntry(tx: Tx, input: PostEntryInput): Promise<PostedEntry> {
  assertSign(input);
  const account = await tx
    .selectFrom('accounts')
    .select(['id', 'balance_minor', 'credit_limit_minor', 'currency'])
    .where('id', '=', input.accountId)
    .$call((q) => lockRows(tx, q))
    .executeTakeFirst();
  if (!account) throw notFound('account');

  if (input.idempotencyKey) {
    const existing = await tx
      .selectFrom('ledger_entries')
      .selectAll()
      .where('idempotency_key', '=', input.idempotencyKey)
      .executeTakeFirst();
    if (existing) {
      const same =
        Number(existing.account_id) === input.accountId &&
        existing.kind === input.kind &&
        existing.amount_minor === input.amountMinor;
      if (!same) {
        throw conflict('idempotency_key_reused', 'This idempotency key was used for a different entry.', {
          idempotencyKey: input.idempotencyKey,
        });
      }
      return { entry: existing, replayed: true };
    }
  }

  const { row, balanceAfter } = ledgerEntryRow(account, input);
  const entry = await tx.insertInto('ledger_entries').values(row).returningAll().executeTakeFirstOrThrow();
  await tx
    .updateTable('accounts')
    .set({ balance_minor: balanceAfter, updated_at: input.now })
    .where('id', '=', input.accountId)
    .execute();
  return { entry, replayed: false };
}
