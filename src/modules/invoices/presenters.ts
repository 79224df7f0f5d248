import { formatAmount } from '../../domain/money.js';
import { formatVatRate } from '../../domain/vat.js';
import type { DocumentRow } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { parseContent } from './content.js';

const idOrNull = (v: bigint | number | null) => (v === null ? null : toId(v));

export const presentDocumentSummary = (d: DocumentRow) => ({
  id: toId(d.id),
  number: Number(d.number),
  kind: d.kind,
  accountId: toId(d.account_id),
  issuedOn: d.issued_on,
  currency: d.currency,
  net: formatAmount(d.net_minor, d.currency),
  vat: formatAmount(d.vat_minor, d.currency),
  total: formatAmount(d.total_minor, d.currency),
  vatRate: d.vat_rate_bp === null ? null : formatVatRate(Number(d.vat_rate_bp)),
  paymentId: idOrNull(d.payment_id),
  orderId: idOrNull(d.order_id),
  serviceId: idOrNull(d.service_id),
  ledgerEntryId: toId(d.ledger_entry_id),
  createdAt: d.created_at,
});

/** The whole document: its summary and the snapshot taken when it was issued. */
export const presentDocument = (d: DocumentRow) => {
  const c = parseContent(d.content);
  return {
    ...presentDocumentSummary(d),
    seller: c.seller,
    buyer: c.buyer,
    pricesIncludeVat: c.pricesIncludeVat,
    lines: [...c.lines],
    payment: c.payment,
  };
};

/** The PDF's file name: `receipt-12.pdf`, `invoice-13.pdf`. */
export const documentFileName = (d: DocumentRow) => `${d.kind}-${d.number}.pdf`;
