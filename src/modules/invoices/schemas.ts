import { z } from 'zod';
import { IdText, Money, PageQuery } from '../accounts/schemas.js';

export const DocumentListQuery = PageQuery.extend({
  accountId: IdText.optional().meta({
    description: 'Staff: one account only (clients always see their own)',
  }),
  kind: z.enum(['receipt', 'invoice']).optional(),
});

export const PdfQuery = z.strictObject({
  lang: z.enum(['en', 'ru']).default('en').meta({ description: 'Language of the labels' }),
});

const Party = z.object({
  name: z.string(),
  legalName: z.string().nullable(),
  address: z.string().nullable(),
  taxId: z.string().nullable(),
  vatNumber: z.string().nullable(),
});

export const DocumentLineView = z.object({
  description: z.string(),
  serviceId: z.number().nullable(),
  months: z.number().nullable(),
  start: z.string().nullable(),
  end: z.string().nullable(),
  quantity: z.number(),
  amount: Money.meta({ description: 'What the client pays for the line, VAT included' }),
  net: Money,
  vat: Money,
});

/** A list row: the document without its lines and parties. */
export const DocumentSummaryView = z.object({
  id: z.number(),
  number: z.number().meta({ description: 'Gap-free per provider, receipts and invoices in one sequence' }),
  kind: z.enum(['receipt', 'invoice']),
  accountId: z.number(),
  issuedOn: z.string(),
  currency: z.string(),
  net: Money,
  vat: Money,
  total: Money,
  vatRate: z.string().nullable().meta({ description: 'Percent ("20"); null: no VAT charged' }),
  paymentId: z.number().nullable(),
  orderId: z.number().nullable(),
  serviceId: z.number().nullable(),
  ledgerEntryId: z.number(),
  createdAt: z.string(),
});

export const DocumentView = DocumentSummaryView.extend({
  seller: Party,
  buyer: Party.extend({ accountId: z.number(), email: z.string() }),
  pricesIncludeVat: z.literal(true),
  lines: z.array(DocumentLineView),
  payment: z.object({ id: z.number(), method: z.string(), reference: z.string() }).nullable(),
});
