/** Invoices and receipts: numbered, immutable documents for payments and charges, as JSON and PDF. */
export type { DocumentContent } from './content.js';
export { parseContent } from './content.js';
export { issueOrderInvoice, issueReceipt, issueRenewalInvoice } from './issue.js';
export { type PdfLanguage, renderDocumentPdf } from './pdf.js';
export { documentFileName, presentDocument, presentDocumentSummary } from './presenters.js';
export { getDocument, getDocumentByNumber, listDocuments } from './queries.js';
export { registerInvoiceRoutes } from './routes.js';
