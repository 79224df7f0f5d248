import type { Temporal } from 'temporal-polyfill';
import { decide } from '../../domain/lifecycle.js';
import { isTariffEnded, TRIAL_PERIOD } from '../../domain/periods.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import {
  inTransaction,
  isUniqueViolation,
  lockRows,
  type OrderItemRow,
  type OrderRow,
  type Tx,
  withSavepoint,
} from '../../platform/db/index.js';
import { AppError, conflict, invalid, notFound } from '../../platform/errors.js';
import { sha256, toId } from '../../platform/ids.js';
import { type Actor, actorLabel, actorUserId, assertAccountVisible, isStaff } from '../accounts/actor.js';
import { lockAccount, postEntry } from '../accounts/ledger.js';
import { loadTariffAggregates, type TariffAggregate } from '../catalog/aggregate.js';
import { type PricedRange, priceRange, validateServiceParams } from '../catalog/quote.js';
import { issueOrderInvoice } from '../invoices/issue.js';
import { queueMail } from '../notify/outbox.js';
import { writeDecision } from '../services/decisions.js';
import { recordCharge, recordHistory, storeLines } from '../services/history.js';
import { bindLicenseIp, ipTaken, licenseFamily, licenseIpHolder } from '../services/license-ips.js';
import { stateOf } from '../services/repository.js';
import type { PlaceOrderInput, QuoteInput } from './schemas.js';

/**
 * Quotes and orders (BILLING.md "Orders and payment"). A quote is free and writes nothing;
 * an order is priced exactly as its quote, then paid now (`payNow`, one transaction with the
 * charge) or left awaiting payment and paid oldest first when money arrives. A paid order
 * creates its services in `processing` and enqueues their `open` operations in the same
 * transaction.
 */
export interface QuotedItem {
  readonly input: QuoteInput & { autoprolong?: number | null | undefined };
  readonly agg: TariffAggregate;
  readonly params: Record<string, string>;
  readonly priced: PricedRange;
}

async function loadTariff(ctx: AppContext, tariffId: number): Promise<TariffAggregate> {
  const [agg] = await loadTariffAggregates(ctx.db.kysely, { ids: [tariffId] });
  if (!agg) throw invalid('tariff_not_found', `There is no tariff ${tariffId}.`, { tariffId });
  return agg;
}

/** Who may order what: clients only active tariffs; staff also hidden ones; nobody archived ones. */
function assertOrderable(agg: TariffAggregate, actor: Actor, today: Temporal.PlainDate) {
  const status = agg.tariff.status;
  if (status === 'archived' || (status === 'hidden' && !isStaff(actor))) {
    throw conflict('tariff_not_orderable', 'This tariff cannot be ordered.', {
      tariffId: toId(agg.tariff.id),
      status,
    });
  }
  if (isTariffEnded(agg.tariff.expires_on, today)) {
    throw conflict('tariff_expired', 'The tariff has ended: it can no longer be ordered or renewed.', {
      tariffId: toId(agg.tariff.id),
      expiresOn: agg.tariff.expires_on,
    });
  }
}

export async function quoteItem(
  ctx: AppContext,
  actor: Actor,
  input: QuoteInput & { autoprolong?: number | null | undefined },
): Promise<QuotedItem> {
  const today = await todayIn(ctx);
  const agg = await loadTariff(ctx, input.tariffId);
  assertOrderable(agg, actor, today);
  if (input.autoprolong !== undefined && input.autoprolong !== null) {
    // A trial service is never renewed (BILLING.md), so it cannot be ordered to renew itself
    // either (PUT autoprolong refuses the same for an existing trial).
    if (input.autoprolong === TRIAL_PERIOD || input.period === TRIAL_PERIOD)
      throw invalid('trial_not_renewable', 'A trial cannot be renewed automatically.', {});
    if (!agg.periods.some((p) => Number(p.period) === input.autoprolong)) {
      throw invalid('period_not_offered', `Period ${input.autoprolong} is not offered by this tariff.`, {
        param: 'autoprolong',
        period: input.autoprolong,
      });
    }
  }
  const params = validateServiceParams(agg, input.params);
  // One live license per address: said before anything is priced (the payment's transaction
  // is what really holds the address, see licenses/ip.ts).
  const family = licenseFamily(agg.productType.code, toId(agg.tariff.id));
  if (family && params.ip && (await licenseIpHolder(ctx.db.kysely, family, params.ip)) !== null)
    throw ipTaken(params.ip);
  const priced = priceRange(agg, input.period, input.addonValues ?? {}, today, { includeSetup: true });
  return { input, agg, params, priced };
}

/** Canonical JSON (sorted keys) of what the order asks for, hashed. */
function fingerprint(accountId: number, input: PlaceOrderInput): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return sha256(JSON.stringify(canonical({ accountId, items: input.items, payNow: input.payNow ?? false })));
}

/** The same key again: the first order, if the request is the same; otherwise a conflict, not a silent mix-up. */
function replay(existing: OrderRow, requestHash: string): { order: OrderRow; replayed: true } {
  if (existing.request_hash !== null && existing.request_hash !== requestHash) {
    throw conflict('idempotency_key_reused', 'This idempotency key was used for a different order.', {
      orderId: toId(existing.id),
    });
  }
  return { order: existing, replayed: true };
}

async function findByKey(ctx: AppContext, accountId: number, key: string): Promise<OrderRow | undefined> {
  return ctx.db.kysely
    .selectFrom('orders')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
}

export async function placeOrder(
  ctx: AppContext,
  actor: Actor,
  input: PlaceOrderInput,
): Promise<{ order: OrderRow; replayed: boolean }> {
  let accountId: number;
  if (actor.type === 'user' && actor.role === 'client') {
    if (input.accountId !== undefined && input.accountId !== actor.accountId) throw notFound('account');
    accountId = actor.accountId;
  } else {
    if (input.accountId === undefined)
      throw invalid('account_required', 'Staff must say which account the order is for (accountId).', {});
    accountId = input.accountId;
  }
  assertAccountVisible(actor, accountId);
  const account = await ctx.db.kysely
    .selectFrom('accounts')
    .selectAll()
    .where('id', '=', accountId)
    .executeTakeFirst();
  if (!account) throw notFound('account');
  if (account.status !== 'active')
    throw conflict('account_not_active', `The account is ${account.status}: it cannot order.`, {
      status: account.status,
    });
  const requestHash = fingerprint(accountId, input);
  if (input.idempotencyKey) {
    const existing = await findByKey(ctx, accountId, input.idempotencyKey);
    if (existing) return replay(existing, requestHash);
  }
  const items: QuotedItem[] = [];
  try {
    for (const item of input.items) items.push(await quoteItem(ctx, actor, item));
  } catch (err) {
    // A twin request with the same key committed since we looked: its address is now taken
    // (by itself). The twin's order is the answer, not ip_taken.
    if (input.idempotencyKey && err instanceof AppError && err.code === 'ip_taken') {
      const existing = await findByKey(ctx, accountId, input.idempotencyKey);
      if (existing) return replay(existing, requestHash);
    }
    throw err;
  }
  // Two licenses of one order cannot share an address either.
  const addresses = new Set<string>();
  for (const item of items) {
    const family = licenseFamily(item.agg.productType.code, toId(item.agg.tariff.id));
    if (!family || !item.params.ip) continue;
    if (addresses.has(`${family}|${item.params.ip}`)) throw ipTaken(item.params.ip);
    addresses.add(`${family}|${item.params.ip}`);
  }
  for (const item of items) {
    if (item.agg.tariff.currency !== account.currency) {
      throw conflict(
        'currency_mismatch',
        `The tariff is priced in ${item.agg.tariff.currency}, the account pays in ${account.currency}.`,
        {
          tariffId: toId(item.agg.tariff.id),
        },
      );
    }
  }
  const total = items.reduce((a, i) => a + i.priced.totalMinor, 0n);
  const now = isoNow(ctx.clock);
  try {
    const order = await inTransaction(ctx.db, async (tx) => {
      const order = await tx
        .insertInto('orders')
        .values({
          account_id: accountId,
          status: 'awaiting_payment',
          currency: account.currency,
          total_minor: total,
          idempotency_key: input.idempotencyKey ?? null,
          request_hash: requestHash,
          placed_by_user_id: actorUserId(actor),
          placed_by: actorLabel(actor),
          created_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      for (const item of items) {
        await tx
          .insertInto('order_items')
          .values({
            order_id: order.id,
            tariff_id: item.agg.tariff.id,
            period: item.input.period,
            addon_values: JSON.stringify(Object.fromEntries(item.priced.order.addonValues)),
            params: JSON.stringify(item.params),
            lines: storeLines(item.priced.order.lines, account.currency),
            amount_minor: item.priced.totalMinor,
            setup_minor: item.priced.setupMinor,
            granted_days: item.priced.cut.grantedDays,
            full_days: item.priced.cut.fullDays,
            autoprolong: item.input.autoprolong ?? null,
          })
          .execute();
      }
      if (input.payNow) return payOrderTx(tx, ctx, actor, order);
      return order;
    });
    return { order, replayed: false };
  } catch (err) {
    if (input.idempotencyKey && isUniqueViolation(err)) {
      const existing = await findByKey(ctx, accountId, input.idempotencyKey);
      if (existing) return replay(existing, requestHash);
    }
    throw err;
  }
}

/**
 * Pays an order inside the caller's transaction: the charge (refused with
 * insufficient_balance, rolling everything back), the services, their `open` operations.
 */
export async function payOrderTx(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  order: OrderRow,
  opts: { deferInvoice?: boolean } = {},
): Promise<OrderRow> {
  const now = isoNow(ctx.clock);
  const orderId = toId(order.id);
  const accountId = toId(order.account_id);
  // The account before the order row: a credit's transaction holds the account when it pays
  // awaiting orders, so every payer takes the two locks in that order.
  await lockAccount(tx, accountId);
  // Claim the order first: of two concurrent payers only one moves it out of awaiting_payment
  // (on PostgreSQL the second waits for the row and then matches nothing). Without the claim,
  // the second would find the charge already posted (idempotency key), take it as its own and
  // create the services a second time.
  const claimed = await tx
    .updateTable('orders')
    .set({ status: 'paid', paid_at: now })
    .where('id', '=', orderId)
    .where('status', '=', 'awaiting_payment')
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) {
    const current = await tx
      .selectFrom('orders')
      .select('status')
      .where('id', '=', orderId)
      .executeTakeFirst();
    throw conflict('order_not_awaiting_payment', `The order is ${current?.status ?? 'gone'}.`, {
      status: current?.status ?? null,
    });
  }
  let ledgerEntryId: bigint | number | null = null;
  if (order.total_minor > 0n) {
    const { entry } = await postEntry(tx, {
      accountId,
      kind: 'charge',
      amountMinor: -order.total_minor,
      description: `Order #${orderId}`,
      idempotencyKey: `order:${orderId}`,
      refType: 'order',
      refId: orderId,
      createdByUserId: actorUserId(actor),
      now,
    });
    ledgerEntryId = entry.id;
  }
  const items = await tx
    .selectFrom('order_items')
    .selectAll()
    .where('order_id', '=', orderId)
    .orderBy('id')
    .execute();
  const today = await todayIn(ctx, tx);
  for (const item of items) await createService(tx, ctx, actor, order, item, ledgerEntryId, today);
  await queueMail(tx, ctx, {
    accountId,
    kind: 'order_paid',
    facts: { orderId, totalMinor: order.total_minor },
    dedupeKey: `order_paid:${orderId}`,
  });
  // The invoice for what was charged, numbered in this transaction (a free order has none);
  // a caller paying several orders issues them itself, after all of them (payAwaitingOrdersTx).
  if (ledgerEntryId !== null && !opts.deferInvoice) await issueOrderInvoice(tx, ctx, order, ledgerEntryId);
  return tx
    .updateTable('orders')
    .set({ ledger_entry_id: ledgerEntryId })
    .where('id', '=', orderId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

async function createService(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  order: OrderRow,
  item: OrderItemRow,
  ledgerEntryId: bigint | number | null,
  today: Temporal.PlainDate,
) {
  const now = isoNow(ctx.clock);
  const tariff = await tx
    .selectFrom('tariffs as t')
    .innerJoin('product_types as p', 'p.id', 't.product_type_id')
    .select(['t.product_type_id', 't.name', 'p.code'])
    .where('t.id', '=', item.tariff_id)
    .executeTakeFirstOrThrow();
  const params = JSON.parse(item.params) as Record<string, string>;
  const service = await tx
    .insertInto('services')
    .values({
      account_id: order.account_id,
      tariff_id: item.tariff_id,
      product_type_id: tariff.product_type_id,
      order_item_id: item.id,
      name: params.licname ?? params.hostname ?? params.ip ?? tariff.name,
      status: 'processing',
      period: Number(item.period),
      autoprolong: item.autoprolong === null ? null : Number(item.autoprolong),
      params: item.params,
      addon_values: item.addon_values,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const serviceId = toId(service.id);
  await tx.updateTable('order_items').set({ service_id: serviceId }).where('id', '=', item.id).execute();
  // The range is known at activation (paid time starts then).
  await recordCharge(tx, ctx, serviceId, {
    kind: 'order',
    period: Number(item.period),
    start: null,
    end: null,
    amountMinor: item.amount_minor,
    lines: item.lines,
    ledgerEntryId,
  });
  await recordHistory(tx, ctx, actor, serviceId, 'ordered', {
    from: null,
    to: 'processing',
    details: { orderId: toId(order.id) },
  });
  const family = licenseFamily(tariff.code, toId(item.tariff_id));
  if (family) await bindLicenseIp(tx, serviceId, family, params.ip ?? null);
  const created = await tx
    .selectFrom('services')
    .selectAll()
    .where('id', '=', serviceId)
    .executeTakeFirstOrThrow();
  const state = stateOf(created, []);
  await writeDecision(tx, ctx, actor, created, decide(state, { type: 'order_paid' }, today), { today });
}

async function loadOrder(ctx: AppContext, actor: Actor, orderId: number): Promise<OrderRow> {
  const order = await ctx.db.kysely
    .selectFrom('orders')
    .selectAll()
    .where('id', '=', orderId)
    .executeTakeFirst();
  if (!order) throw notFound('order');
  assertAccountVisible(actor, toId(order.account_id), 'order');
  return order;
}

/** Pays one awaiting order from the balance now. */
export async function payOrder(ctx: AppContext, actor: Actor, orderId: number): Promise<OrderRow> {
  const order = await loadOrder(ctx, actor, orderId);
  if (order.status !== 'awaiting_payment')
    throw conflict('order_not_awaiting_payment', `The order is ${order.status}.`, { status: order.status });
  try {
    await assertItemsStillOrderable(ctx.db.kysely, order, await todayIn(ctx));
  } catch (err) {
    // A concurrent payer paid it meanwhile (its license now holds the address): say that,
    // not `ip_taken`, which would blame the address for a race on the order.
    const now = await ctx.db.kysely
      .selectFrom('orders')
      .select('status')
      .where('id', '=', orderId)
      .executeTakeFirst();
    if (now && now.status !== 'awaiting_payment')
      throw conflict('order_not_awaiting_payment', `The order is ${now.status}.`, { status: now.status });
    throw err;
  }
  return inTransaction(ctx.db, async (tx) => {
    const fresh = await tx
      .selectFrom('orders')
      .selectAll()
      .where('id', '=', orderId)
      .executeTakeFirstOrThrow();
    if (fresh.status !== 'awaiting_payment')
      throw conflict('order_not_awaiting_payment', `The order is ${fresh.status}.`, { status: fresh.status });
    return payOrderTx(tx, ctx, actor, fresh);
  });
}

/** An awaiting order can still be paid: its tariffs are orderable and its license addresses free. */
async function assertItemsStillOrderable(
  db: Tx | AppContext['db']['kysely'],
  order: OrderRow,
  day: Temporal.PlainDate,
) {
  const items = await db
    .selectFrom('order_items as i')
    .innerJoin('tariffs as t', 't.id', 'i.tariff_id')
    .innerJoin('product_types as p', 'p.id', 't.product_type_id')
    .select(['t.id', 't.status', 't.expires_on', 'p.code', 'i.params'])
    .where('i.order_id', '=', order.id)
    .execute();
  for (const t of items) {
    if (t.status === 'archived')
      throw conflict('tariff_not_orderable', 'A tariff of this order can no longer be ordered.', {
        tariffId: toId(t.id),
      });
    if (isTariffEnded(t.expires_on, day))
      throw conflict('tariff_expired', 'A tariff of this order has ended.', { tariffId: toId(t.id) });
    const family = licenseFamily(t.code, toId(t.id));
    const ip = (JSON.parse(t.params) as Record<string, string>).ip;
    if (family && ip && (await licenseIpHolder(db, family, ip)) !== null) throw ipTaken(ip);
  }
}

export async function cancelOrder(
  ctx: AppContext,
  actor: Actor,
  orderId: number,
  reason = 'cancelled by request',
): Promise<OrderRow> {
  const order = await loadOrder(ctx, actor, orderId);
  if (order.status !== 'awaiting_payment')
    throw conflict('order_not_awaiting_payment', `The order is ${order.status}.`, { status: order.status });
  const cancelled = await ctx.db.kysely
    .updateTable('orders')
    .set({ status: 'cancelled', cancelled_at: isoNow(ctx.clock), cancel_reason: reason })
    .where('id', '=', orderId)
    .where('status', '=', 'awaiting_payment')
    .returningAll()
    .executeTakeFirst();
  if (cancelled) return cancelled;
  // Paid (or cancelled) by a concurrent request since it was read.
  const now = await loadOrder(ctx, actor, orderId);
  throw conflict('order_not_awaiting_payment', `The order is ${now.status}.`, { status: now.status });
}

/**
 * After money arrives, in the transaction that credited it: pays the account's awaiting
 * orders oldest first while the balance (plus credit limit) covers them, and stops at the
 * first it cannot cover (strict order: a later, smaller order never jumps the queue). An
 * order whose tariff has ended or was archived meanwhile is cancelled, not paid.
 */
export async function payAwaitingOrdersTx(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  accountId: number,
): Promise<{ paid: number[]; cancelled: number[] }> {
  const paid: number[] = [];
  const cancelled: number[] = [];
  await lockAccount(tx, accountId);
  const awaiting = await tx
    .selectFrom('orders')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('status', '=', 'awaiting_payment')
    .orderBy('id')
    .$call((q) => lockRows(tx, q))
    .execute();
  if (awaiting.length === 0) return { paid, cancelled };
  const today = await todayIn(ctx, tx);
  const cancel = async (order: OrderRow, err: AppError) => {
    await tx
      .updateTable('orders')
      .set({
        status: 'cancelled',
        cancelled_at: isoNow(ctx.clock),
        cancel_reason: `${err.code}: ${err.message}`,
      })
      .where('id', '=', order.id)
      .execute();
    cancelled.push(toId(order.id));
  };
  const invoices: { order: OrderRow; entryId: number }[] = [];
  for (const order of awaiting) {
    try {
      await assertItemsStillOrderable(tx, order, today);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      await cancel(order, err);
      continue;
    }
    const account = await tx
      .selectFrom('accounts')
      .select(['balance_minor', 'credit_limit_minor'])
      .where('id', '=', accountId)
      .executeTakeFirstOrThrow();
    if (account.balance_minor + account.credit_limit_minor < order.total_minor) break;
    try {
      // In a savepoint: an address a concurrent order took after the check above cancels this
      // order, and never rolls back the credit that is paying it.
      const row = await withSavepoint(tx, 'pay_awaiting_order', () =>
        payOrderTx(tx, ctx, actor, order, { deferInvoice: true }),
      );
      paid.push(toId(order.id));
      if (row.ledger_entry_id !== null) invoices.push({ order, entryId: toId(row.ledger_entry_id) });
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'ip_taken')) throw err;
      await cancel(order, err);
    }
  }
  // The invoices last, in order: the document counter is held from the first one to the commit,
  // so no order's license address may be claimed after it (a payer elsewhere holding that address
  // and waiting for the counter would deadlock with us).
  for (const { order, entryId } of invoices) await issueOrderInvoice(tx, ctx, order, entryId);
  return { paid, cancelled };
}

/** The same in a transaction of its own (the daily run's sweep, the CLI). */
export async function payAwaitingOrders(
  ctx: AppContext,
  actor: Actor,
  accountId: number,
): Promise<{ paid: number[]; cancelled: number[] }> {
  return inTransaction(ctx.db, (tx) => payAwaitingOrdersTx(tx, ctx, actor, accountId));
}
