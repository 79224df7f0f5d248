/**
 * What an issued document says, frozen at issue time (`documents.content`): the parties, the
 * lines and the totals as they were, so renaming a client or repricing a tariff later never
 * changes a document already issued. Amounts are decimal strings in the document's currency.
 */
export interface DocumentParty {
  readonly name: string;
  readonly legalName: string | null;
  readonly address: string | null;
  readonly taxId: string | null;
  readonly vatNumber: string | null;
}

export interface DocumentLine {
  readonly description: string;
  /** The service the line is for, when there is one. */
  readonly serviceId: number | null;
  /** Months bought (null: not a period line). */
  readonly months: number | null;
  /** The paid range `[start, end)`, when it is known at issue time (renewals). */
  readonly start: string | null;
  readonly end: string | null;
  readonly quantity: number;
  /** Gross: what the client pays for the line (prices include VAT). */
  readonly amount: string;
  readonly net: string;
  readonly vat: string;
}

export interface DocumentContent {
  readonly version: 1;
  readonly kind: 'receipt' | 'invoice';
  readonly number: number;
  readonly issuedOn: string;
  readonly issuedAt: string;
  readonly currency: string;
  readonly seller: DocumentParty;
  readonly buyer: DocumentParty & { readonly accountId: number; readonly email: string };
  /** The VAT rate as a percentage ("20"), null when the seller charges no VAT. */
  readonly vatRate: string | null;
  /** Always true: Billfold's prices include VAT (D-invoices). */
  readonly pricesIncludeVat: true;
  readonly lines: readonly DocumentLine[];
  readonly totals: { readonly net: string; readonly vat: string; readonly total: string };
  /** What the document records: the payment (receipts), the order or renewal (invoices). */
  readonly payment: { readonly id: number; readonly method: string; readonly reference: string } | null;
  readonly orderId: number | null;
  readonly serviceId: number | null;
}

export const parseContent = (json: string): DocumentContent => JSON.parse(json) as DocumentContent;
