import { formatAmount, MoneyError, parseAmount } from '../../domain/money.js';
import { parseVatRate } from '../../domain/vat.js';
import { forgetTimeZone } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import {
  type AccountRow,
  inTransaction,
  isUniqueViolation,
  lockRows,
  type PaymentRow,
  type Tx,
  type UserRow,
} from '../../platform/db/index.js';
import { AppError, conflict, invalid, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { issueReceipt } from '../invoices/issue.js';
import { queueEvent } from '../notify/events.js';
import { queueMail } from '../notify/outbox.js';
import { type Actor, actorUserId, assertAccountVisible, requireStaff } from './actor.js';
import { postEntry } from './ledger.js';
import { hashPassword } from './passwords.js';
import type {
  AdjustmentInput,
  CreateAccountInput,
  CreateUserInput,
  RecordPaymentInput,
  UpdateAccountInput,
  UpdateProviderInput,
} from './schemas.js';
import { signOutUser } from './sign-out.js';

/** A single amount may not exceed 10^13 minor units: far above any real payment, far below int8. */
const MAX_AMOUNT_MINOR = 10n ** 13n;

/** Parses a decimal string in `currency`, mapping money errors to 400s with stable codes. */
export function amountIn(
  text: string,
  currency: string,
  field: string,
  opts: { allowNegative?: boolean; allowZero?: boolean } = {},
): bigint {
  let minor: bigint;
  try {
    minor = parseAmount(text, currency, { allowNegative: opts.allowNegative ?? false });
  } catch (err) {
    if (err instanceof MoneyError)
      throw invalid(err.code, `${field}: ${err.message}`, { field, value: text, currency });
    throw err;
  }
  if (minor === 0n && !opts.allowZero)
    throw invalid('invalid_amount', `${field} must not be zero.`, { field, value: text });
  if (minor > MAX_AMOUNT_MINOR || minor < -MAX_AMOUNT_MINOR) {
    throw invalid('amount_too_large', `${field} is larger than any single amount Billfold accepts.`, {
      field,
      value: text,
    });
  }
  return minor;
}

/** The legal-details columns an update names (undefined: unchanged; null: cleared). */
function legalDetailsUpdate(input: {
  legalName?: string | null | undefined;
  legalAddress?: string | null | undefined;
  taxId?: string | null | undefined;
  vatNumber?: string | null | undefined;
}) {
  return {
    ...(input.legalName !== undefined ? { legal_name: input.legalName } : {}),
    ...(input.legalAddress !== undefined ? { legal_address: input.legalAddress } : {}),
    ...(input.taxId !== undefined ? { tax_id: input.taxId } : {}),
    ...(input.vatNumber !== undefined ? { vat_number: input.vatNumber } : {}),
  };
}

async function loadAccount(ctx: AppContext, id: number): Promise<AccountRow> {
  const row = await ctx.db.kysely.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('account');
  return row;
}

export async function getProviderCurrency(ctx: AppContext): Promise<string> {
  const p = await ctx.db.kysely
    .selectFrom('provider')
    .select('currency')
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return p.currency;
}

/** Creates a client account, and its first user when a password is given, in one transaction. */
export async function createAccount(
  ctx: AppContext,
  actor: Actor,
  input: CreateAccountInput,
): Promise<{ account: AccountRow; user: UserRow | null }> {
  requireStaff(actor);
  const currency = input.currency ?? (await getProviderCurrency(ctx));
  const creditLimit = input.creditLimit
    ? amountIn(input.creditLimit, currency, 'creditLimit', { allowZero: true })
    : 0n;
  return insertAccount(ctx, { name: input.name, email: input.email, currency, creditLimit }, input.password);
}

/**
 * The account row and, when a password is given, its first client user, in one transaction:
 * for staff (`createAccount`) and for sign-up. An email already used by an account or a user
 * is 409 `email_taken` (the unique indexes decide, so two at once cannot both have it).
 */
export async function insertAccount(
  ctx: AppContext,
  account: { name: string; email: string; currency: string; creditLimit: bigint },
  password: string | undefined,
): Promise<{ account: AccountRow; user: UserRow | null }> {
  const passwordHash = password ? await hashPassword(password) : null;
  const now = isoNow(ctx.clock);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      const row = await tx
        .insertInto('accounts')
        .values({
          name: account.name,
          email: account.email,
          currency: account.currency,
          credit_limit_minor: account.creditLimit,
          balance_minor: 0n,
          status: 'active',
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const user = passwordHash
        ? await tx
            .insertInto('users')
            .values({
              email: account.email,
              password_hash: passwordHash,
              role: 'client',
              account_id: row.id,
              status: 'active',
              created_at: now,
              updated_at: now,
            })
            .returningAll()
            .executeTakeFirstOrThrow()
        : null;
      return { account: row, user };
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict('email_taken', 'An account or user with this email already exists.', {
        email: account.email,
      });
    throw err;
  }
}

export async function updateAccount(
  ctx: AppContext,
  actor: Actor,
  id: number,
  input: UpdateAccountInput,
): Promise<AccountRow> {
  requireStaff(actor);
  const current = await loadAccount(ctx, id);
  const creditLimit =
    input.creditLimit !== undefined
      ? amountIn(input.creditLimit, current.currency, 'creditLimit', { allowZero: true })
      : undefined;
  return inTransaction(ctx.db, async (tx) => {
    if (creditLimit !== undefined) {
      // Lowering the limit below what is already used would break the ledger floor.
      const locked = await tx
        .selectFrom('accounts')
        .select('balance_minor')
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      if (locked.balance_minor < -creditLimit) {
        throw conflict('credit_limit_below_debt', 'The account already owes more than this credit limit.', {
          balance: locked.balance_minor.toString(),
        });
      }
    }
    return tx
      .updateTable('accounts')
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.status !== undefined ? { status: input.status } : {}),
        ...(creditLimit !== undefined ? { credit_limit_minor: creditLimit } : {}),
        ...legalDetailsUpdate(input),
        updated_at: isoNow(ctx.clock),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

async function insertUser(
  ctx: AppContext,
  role: 'admin' | 'client',
  accountId: number | null,
  input: CreateUserInput,
): Promise<UserRow> {
  const passwordHash = await hashPassword(input.password);
  const now = isoNow(ctx.clock);
  try {
    return await ctx.db.kysely
      .insertInto('users')
      .values({
        email: input.email,
        password_hash: passwordHash,
        role,
        account_id: accountId,
        status: 'active',
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict('email_taken', 'A user with this email already exists.', { email: input.email });
    throw err;
  }
}

export async function createAdminUser(
  ctx: AppContext,
  actor: Actor,
  input: CreateUserInput,
): Promise<UserRow> {
  requireStaff(actor);
  return insertUser(ctx, 'admin', null, input);
}

export async function createClientUser(
  ctx: AppContext,
  actor: Actor,
  accountId: number,
  input: CreateUserInput,
): Promise<UserRow> {
  requireStaff(actor);
  await loadAccount(ctx, accountId);
  return insertUser(ctx, 'client', accountId, input);
}

export async function setUserStatus(
  ctx: AppContext,
  actor: Actor,
  userId: number,
  status: 'active' | 'disabled',
): Promise<UserRow> {
  requireStaff(actor);
  if (actor.type === 'user' && actor.userId === userId && status === 'disabled') {
    throw conflict('cannot_disable_self', 'You cannot disable your own user.');
  }
  return inTransaction(ctx.db, async (tx) => {
    const user = await tx
      .updateTable('users')
      .set({ status, updated_at: isoNow(ctx.clock) })
      .where('id', '=', userId)
      .returningAll()
      .executeTakeFirst();
    if (!user) throw notFound('user');
    // A disabled user is signed out everywhere at once.
    if (status === 'disabled') await signOutUser(tx, userId, { tokens: true, now: isoNow(ctx.clock) });
    return user;
  });
}

/**
 * Staff rename the provider, set its time zone, legal details and VAT rate, or change its currency — the last only while
 * no account or tariff uses the current one (their amounts are in it; changing it would
 * silently re-denominate them).
 */
export async function updateProvider(ctx: AppContext, actor: Actor, input: UpdateProviderInput) {
  requireStaff(actor);
  const updated = await inTransaction(ctx.db, async (tx) => {
    const current = await tx
      .selectFrom('provider')
      .selectAll()
      .where('id', '=', 1)
      .$call((q) => lockRows(tx, q))
      .executeTakeFirstOrThrow();
    if (input.currency !== undefined && input.currency !== current.currency) {
      const [account, tariff] = await Promise.all([
        tx
          .selectFrom('accounts')
          .select('id')
          .where('currency', '=', current.currency)
          .limit(1)
          .executeTakeFirst(),
        tx
          .selectFrom('tariffs')
          .select('id')
          .where('currency', '=', current.currency)
          .limit(1)
          .executeTakeFirst(),
      ]);
      if (account || tariff)
        throw conflict(
          'currency_in_use',
          `Accounts or tariffs are priced in ${current.currency}: it cannot change.`,
          {
            currency: current.currency,
            ...(account ? { accountId: Number(account.id) } : {}),
            ...(tariff ? { tariffId: Number(tariff.id) } : {}),
          },
        );
    }
    return tx
      .updateTable('provider')
      .set({
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.currency !== undefined ? { currency: input.currency } : {}),
        ...(input.timeZone !== undefined ? { time_zone: input.timeZone } : {}),
        ...(input.signupEnabled !== undefined ? { signup: input.signupEnabled ? 'open' : 'closed' } : {}),
        ...legalDetailsUpdate(input),
        ...(input.vatRate !== undefined
          ? { vat_rate_bp: input.vatRate === null ? null : parseVatRate(input.vatRate) }
          : {}),
        updated_at: isoNow(ctx.clock),
      })
      .where('id', '=', 1)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
  forgetTimeZone(ctx.db);
  return updated;
}

/** A payment recorded: its webhook event and the client's mail, in the payment's transaction. */
async function tellPayment(tx: Tx, ctx: AppContext, payment: PaymentRow) {
  const accountId = toId(payment.account_id);
  const { balance_minor } = await tx
    .selectFrom('accounts')
    .select('balance_minor')
    .where('id', '=', accountId)
    .executeTakeFirstOrThrow();
  await queueEvent(tx, ctx, 'payment.recorded', String(toId(payment.id)), {
    paymentId: toId(payment.id),
    accountId,
    amount: formatAmount(payment.amount_minor, payment.currency),
    currency: payment.currency,
    method: payment.method,
    reference: payment.external_ref,
  });
  await queueMail(tx, ctx, {
    accountId,
    kind: 'payment_received',
    facts: { amountMinor: payment.amount_minor, balanceMinor: balance_minor, receivedAt: payment.created_at },
    dedupeKey: `payment_received:${toId(payment.id)}`,
  });
}

/**
 * Staff record money received. The external reference is unique per method, so a bank
 * statement imported twice, or a double click, credits once: the second attempt gets
 * 409 `payment_exists` naming the payment already recorded.
 */
export async function recordPayment(
  ctx: AppContext,
  actor: Actor,
  accountId: number,
  input: RecordPaymentInput,
): Promise<PaymentRow> {
  requireStaff(actor);
  const account = await loadAccount(ctx, accountId);
  const amount = amountIn(input.amount, account.currency, 'amount');
  const now = isoNow(ctx.clock);
  const existing = async () =>
    ctx.db.kysely
      .selectFrom('payments')
      .select(['id', 'account_id'])
      .where('method', '=', input.method)
      .where('external_ref', '=', input.reference)
      .executeTakeFirst();
  const duplicate = (p: { id: bigint | number; account_id: bigint | number }) =>
    conflict(
      'payment_exists',
      `A ${input.method} payment with reference ${input.reference} is already recorded.`,
      {
        paymentId: Number(p.id),
        accountId: Number(p.account_id),
      },
    );
  const before = await existing();
  if (before) throw duplicate(before);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      const { entry } = await postEntry(tx, {
        accountId,
        kind: 'payment',
        amountMinor: amount,
        description: `Payment (${input.method}) ${input.reference}`,
        idempotencyKey: `payment:${input.method}:${input.reference}`,
        createdByUserId: actorUserId(actor),
        now,
      });
      const payment = await tx
        .insertInto('payments')
        .values({
          account_id: accountId,
          amount_minor: amount,
          currency: account.currency,
          method: input.method,
          external_ref: input.reference,
          note: input.note ?? null,
          ledger_entry_id: entry.id,
          recorded_by_user_id: actorUserId(actor),
          created_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await tx
        .updateTable('ledger_entries')
        .set({ ref_type: 'payment', ref_id: payment.id })
        .where('id', '=', entry.id)
        .execute();
      await ctx.hooks.afterCredit(tx, ctx, accountId);
      await tellPayment(tx, ctx, payment);
      // Numbered in this transaction (a payment that rolls back takes its number back), and
      // last: the counter is the last lock the transaction takes, after the orders it paid
      // (whose invoices come first) have taken theirs, so it is held as briefly as it can be.
      await issueReceipt(tx, ctx, payment);
      return payment;
    });
  } catch (err) {
    // A concurrent twin won the race: its unique key refused ours, and our transaction rolled back.
    if (isUniqueViolation(err) || (err instanceof AppError && err.code === 'idempotency_key_reused')) {
      const twin = await existing();
      if (twin) throw duplicate(twin);
    }
    throw err;
  }
}

/** A signed correction by staff, with a reason that shows on the client's statement. */
export async function postAdjustment(
  ctx: AppContext,
  actor: Actor,
  accountId: number,
  input: AdjustmentInput,
) {
  requireStaff(actor);
  assertAccountVisible(actor, accountId);
  const account = await loadAccount(ctx, accountId);
  const amount = amountIn(input.amount, account.currency, 'amount', { allowNegative: true });
  return inTransaction(ctx.db, async (tx) => {
    const posted = await postEntry(tx, {
      accountId,
      kind: 'adjustment',
      amountMinor: amount,
      description: input.description,
      idempotencyKey: input.idempotencyKey ? `adjustment:${input.idempotencyKey}` : null,
      createdByUserId: actorUserId(actor),
      now: isoNow(ctx.clock),
    });
    if (amount > 0n && !posted.replayed) await ctx.hooks.afterCredit(tx, ctx, accountId);
    return posted;
  });
}
