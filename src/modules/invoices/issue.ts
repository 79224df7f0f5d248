import type { Insertable } from 'kysely';
import { formatAmount, parseAmount } from '../../domain/money.js';
import { formatVatRate, splitVat, totalOf, type VatSplit } from '../../domain/vat.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import {
  type AccountRow,
  type Database,
  type DocumentKind,
  type DocumentRow,
  lockRows,
  type OrderRow,
  type PaymentRow,
  type ProviderRow,
  type Tx,
} from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import type { DocumentContent, DocumentLine, DocumentParty } from './content.js';

/** The single provider of an installation (`provider.id = 1`). */
const PROVIDER_ID = 1;

interface LineDraft {
  readonly description: string;
  readonly serviceId: number | null;
  readonly months: number | null;
  readonly start: string | null;
  readonly end: string | null;
  readonly quantity: number;
  readonly amountMinor: bigint;
}

export interface DocumentDraft {
  readonly kind: DocumentKind;
  readonly accountId: number;
  readonly ledgerEntryId: bigint | number;
  readonly currency: string;
  readonly lines: readonly LineDraft[];
  readonly payment?: PaymentRow;
  readonly orderId?: number;
  readonly serviceId?: number;
}

const party = (row: {
  name: string;
  legal_name: string | null;
  legal_address: string | null;
  tax_id: string | null;
  vat_number: string | null;
}): DocumentParty => ({
  name: row.name,
  legalName: row.legal_name,
  address: row.legal_address,
  taxId: row.tax_id,
  vatNumber: row.vat_number,
});

/**
 * Issues a document inside the transaction that records its payment or charge. The counter
 * row is locked (PostgreSQL: FOR NO KEY UPDATE; SQLite: the write transaction) and moved on
 * in that same transaction, so numbers are consecutive in commit order, and a transaction
 * that rolls back takes its number back with it: no gaps, no duplicates. Every issuer takes
 * the account lock (postEntry) before the counter, so the two are always taken in one order.
 */
async function issueDocument(tx: Tx, ctx: AppContext, draft: DocumentDraft): Promise<DocumentRow> {
  // One document per ledger entry: an entry replayed by its idempotency key keeps its document.
  const existing = await tx
    .selectFrom('documents')
    .selectAll()
    .where('ledger_entry_id', '=', draft.ledgerEntryId)
    .executeTakeFirst();
  if (existing) return existing;
  const number = await takeDocumentNumbers(tx, 1);

  const provider = await tx
    .selectFrom('provider')
    .selectAll()
    .where('id', '=', PROVIDER_ID)
    .executeTakeFirstOrThrow();
  const account = await tx
    .selectFrom('accounts')
    .selectAll()
    .where('id', '=', draft.accountId)
    .executeTakeFirstOrThrow();
  const issuedOn = (await todayIn(ctx, tx)).toString();
  return tx
    .insertInto('documents')
    .values(documentRow(draft, { provider, account, number, issuedOn, now: isoNow(ctx.clock) }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * A document's row, its content frozen: the seller and buyer as they are now, the lines with
 * their VAT, the totals. `number` is the counter's, taken by the caller in the same transaction.
 */
export function documentRow(
  draft: DocumentDraft,
  at: { provider: ProviderRow; account: AccountRow; number: bigint; issuedOn: string; now: string },
): Insertable<Database['documents']> {
  const { provider, account, number, issuedOn, now } = at;
  const rateBp = provider.vat_rate_bp === null ? null : Number(provider.vat_rate_bp);
  const fmt = (minor: bigint) => formatAmount(minor, draft.currency);
  const splits: VatSplit[] = draft.lines.map((l) => splitVat(l.amountMinor, rateBp));
  const totals = totalOf(splits);
  const lines: DocumentLine[] = draft.lines.map((l, i) => ({
    description: l.description,
    serviceId: l.serviceId,
    months: l.months,
    start: l.start,
    end: l.end,
    quantity: l.quantity,
    amount: fmt(splits[i]!.grossMinor),
    net: fmt(splits[i]!.netMinor),
    vat: fmt(splits[i]!.vatMinor),
  }));
  const content: DocumentContent = {
    version: 1,
    kind: draft.kind,
    number: Number(number),
    issuedOn,
    issuedAt: now,
    currency: draft.currency,
    seller: party(provider),
    buyer: { ...party(account), accountId: toId(account.id), email: account.email },
    vatRate: rateBp === null ? null : formatVatRate(rateBp),
    pricesIncludeVat: true,
    lines,
    totals: { net: fmt(totals.netMinor), vat: fmt(totals.vatMinor), total: fmt(totals.grossMinor) },
    payment: draft.payment
      ? { id: toId(draft.payment.id), method: draft.payment.method, reference: draft.payment.external_ref }
      : null,
    orderId: draft.orderId ?? null,
    serviceId: draft.serviceId ?? null,
  };
  return {
    provider_id: PROVIDER_ID,
    number,
    kind: draft.kind,
    account_id: draft.accountId,
    ledger_entry_id: draft.ledgerEntryId,
    payment_id: draft.payment ? draft.payment.id : null,
    order_id: draft.orderId ?? null,
    service_id: draft.serviceId ?? null,
    currency: draft.currency,
    net_minor: totals.netMinor,
    vat_minor: totals.vatMinor,
    total_minor: totals.grossMinor,
    vat_rate_bp: rateBp,
    issued_on: issuedOn,
    content: JSON.stringify(content),
    created_at: now,
  };
}

/** A receipt for money received, issued in the payment's transaction. */
export async function issueReceipt(tx: Tx, ctx: AppContext, payment: PaymentRow): Promise<DocumentRow> {
  return issueDocument(tx, ctx, {
    kind: 'receipt',
    accountId: toId(payment.account_id),
    ledgerEntryId: payment.ledger_entry_id,
    currency: payment.currency,
    payment,
    lines: [
      {
        description: `Payment (${payment.method}) ${payment.external_ref}`,
        serviceId: null,
        months: null,
        start: null,
        end: null,
        quantity: 1,
        amountMinor: payment.amount_minor,
      },
    ],
  });
}

/** Priced lines as stored with an order item or a charge (`storeLines`). */
interface StoredLine {
  readonly label: string;
  readonly quantity: number;
  readonly amount: string;
}

function linesOf(
  stored: string,
  currency: string,
  at: { serviceId: number | null; months: number | null; start: string | null; end: string | null },
): LineDraft[] {
  return (JSON.parse(stored) as StoredLine[]).map((l) => ({
    description: l.label,
    serviceId: at.serviceId,
    months: at.months,
    start: at.start,
    end: at.end,
    quantity: l.quantity,
    amountMinor: parseAmount(l.amount, currency, { allowNegative: true }),
  }));
}

/** Months of a period, null for a trial (period −100). */
const monthsOf = (period: number): number | null => (period > 0 ? period : null);

/**
 * An invoice for a paid order: its items' priced lines (tariff, setup fee, addons) for the
 * period each service bought, issued in the transaction that charged it. Free orders have no
 * charge and no invoice. The range starts at activation, so it is not known yet: the lines
 * carry the months bought.
 */
export async function issueOrderInvoice(
  tx: Tx,
  ctx: AppContext,
  order: OrderRow,
  ledgerEntryId: bigint | number,
): Promise<DocumentRow> {
  const items = await tx
    .selectFrom('order_items')
    .selectAll()
    .where('order_id', '=', order.id)
    .orderBy('id')
    .execute();
  const lines = items.flatMap((item) =>
    linesOf(item.lines, order.currency, {
      serviceId: item.service_id === null ? null : toId(item.service_id),
      months: monthsOf(Number(item.period)),
      start: null,
      end: null,
    }),
  );
  return issueDocument(tx, ctx, {
    kind: 'invoice',
    accountId: toId(order.account_id),
    ledgerEntryId,
    currency: order.currency,
    lines,
    orderId: toId(order.id),
  });
}

export interface RenewalInvoice {
  accountId: number;
  serviceId: number;
  period: number;
  start: string;
  end: string;
  currency: string;
  lines: string;
  ledgerEntryId: bigint | number;
}

/** A renewal's invoice as a draft: the charge's lines for the range it bought. */
export function renewalInvoiceDraft(renewal: RenewalInvoice): DocumentDraft {
  return {
    kind: 'invoice',
    accountId: renewal.accountId,
    ledgerEntryId: renewal.ledgerEntryId,
    currency: renewal.currency,
    serviceId: renewal.serviceId,
    lines: linesOf(renewal.lines, renewal.currency, {
      serviceId: renewal.serviceId,
      months: monthsOf(renewal.period),
      start: renewal.start,
      end: renewal.end,
    }),
  };
}

/** An invoice for a renewal, issued in the transaction that charged it. */
export async function issueRenewalInvoice(
  tx: Tx,
  ctx: AppContext,
  renewal: RenewalInvoice,
): Promise<DocumentRow> {
  return issueDocument(tx, ctx, renewalInvoiceDraft(renewal));
}

export interface ChangeInvoice {
  accountId: number;
  serviceId: number;
  currency: string;
  /** What the line says: the change, from what to what, for how many of the period's days. */
  description: string;
  /** The rest of the paid range the change applies to, `[start, end)`. */
  start: string;
  end: string | null;
  amountMinor: bigint;
  ledgerEntryId: bigint | number;
}

/**
 * An invoice for what a tariff or addon change charged (an upgrade): one line, the difference
 * for the rest of the paid range, issued in the transaction that charged it. A change that
 * credits (a downgrade) gets no document: credit notes are not built yet.
 */
export async function issueChangeInvoice(
  tx: Tx,
  ctx: AppContext,
  change: ChangeInvoice,
): Promise<DocumentRow> {
  return issueDocument(tx, ctx, {
    kind: 'invoice',
    accountId: change.accountId,
    ledgerEntryId: change.ledgerEntryId,
    currency: change.currency,
    serviceId: change.serviceId,
    lines: [
      {
        description: change.description,
        serviceId: change.serviceId,
        months: null,
        start: change.start,
        end: change.end,
        quantity: 1,
        amountMinor: change.amountMinor,
      },
    ],
  });
}

/**
 * Takes `count` consecutive numbers from the counter (locked until the transaction ends, as a
 * single issue takes one): the first of them.
 */
export async function takeDocumentNumbers(tx: Tx, count: number): Promise<bigint> {
  const counter = await tx
    .selectFrom('document_counters')
    .select('next_number')
    .where('provider_id', '=', PROVIDER_ID)
    .$call((q) => lockRows(tx, q))
    .executeTakeFirstOrThrow();
  await tx
    .updateTable('document_counters')
    .set({ next_number: counter.next_number + BigInt(count) })
    .where('provider_id', '=', PROVIDER_ID)
    .execute();
  return counter.next_number;
}
