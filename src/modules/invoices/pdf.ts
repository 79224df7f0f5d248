import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import type { DocumentContent, DocumentLine, DocumentParty } from './content.js';

/**
 * A document's PDF, drawn from its snapshot alone (never from live rows), so the same document
 * always prints the same. DejaVu Sans (the `dejavu-fonts-ttf` package) covers Latin and
 * Cyrillic: Russian names and addresses print as they are.
 */
const require = createRequire(import.meta.url);
const FONT = require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf');
const FONT_BOLD = require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf');

export type PdfLanguage = 'en' | 'ru';

const LABELS = {
  en: {
    receipt: 'Receipt',
    invoice: 'Invoice',
    no: 'No.',
    date: 'Date',
    seller: 'Seller',
    buyer: 'Buyer',
    taxId: 'Tax ID',
    vatNumber: 'VAT No.',
    account: 'Account',
    description: 'Description',
    period: 'Period',
    qty: 'Qty',
    net: 'Net',
    vat: 'VAT',
    amount: 'Amount',
    totalNet: 'Total without VAT',
    totalVat: 'VAT',
    total: 'Total',
    months: (n: number) => `${n} mo.`,
    trial: 'trial',
    service: 'service',
    order: 'Order',
    payment: 'Payment',
    includesVat: (rate: string) => `Prices include VAT at ${rate} %.`,
    noVat: 'No VAT charged.',
  },
  ru: {
    receipt: 'Квитанция',
    invoice: 'Счёт',
    no: '№',
    date: 'Дата',
    seller: 'Продавец',
    buyer: 'Покупатель',
    taxId: 'ИНН',
    vatNumber: 'Номер плательщика НДС',
    account: 'Лицевой счёт',
    description: 'Наименование',
    period: 'Период',
    qty: 'Кол.',
    net: 'Без НДС',
    vat: 'НДС',
    amount: 'Сумма',
    totalNet: 'Итого без НДС',
    totalVat: 'НДС',
    total: 'Всего',
    months: (n: number) => `${n} мес.`,
    trial: 'пробный',
    service: 'услуга',
    order: 'Заказ',
    payment: 'Платёж',
    includesVat: (rate: string) => `Цены включают НДС ${rate} %.`,
    noVat: 'Без НДС.',
  },
} as const;

type Labels = (typeof LABELS)[PdfLanguage];

function periodText(l: DocumentLine, t: Labels): string {
  if (l.start && l.end) return `${l.start} – ${l.end}`;
  if (l.months !== null) return t.months(l.months);
  return l.serviceId !== null ? t.trial : '';
}

export function renderDocumentPdf(content: DocumentContent, lang: PdfLanguage = 'en'): Promise<Buffer> {
  const t = LABELS[lang];
  const title = `${content.kind === 'receipt' ? t.receipt : t.invoice} ${t.no} ${content.number}`;
  const doc = new PDFDocument({
    size: 'A4',
    margin: 50,
    info: {
      Title: title,
      Author: content.seller.legalName ?? content.seller.name,
      CreationDate: new Date(content.issuedAt),
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.registerFont('body', FONT);
  doc.registerFont('bold', FONT_BOLD);

  const left = doc.page.margins.left;
  const width = doc.page.width - left - doc.page.margins.right;
  doc.font('bold').fontSize(18).text(title, left, 50);
  doc.font('body').fontSize(10).text(`${t.date}: ${content.issuedOn}`);
  doc.moveDown(1);

  const partyLines = (p: DocumentParty) =>
    [
      p.legalName ?? p.name,
      p.address,
      p.taxId ? `${t.taxId}: ${p.taxId}` : null,
      p.vatNumber ? `${t.vatNumber}: ${p.vatNumber}` : null,
    ].filter((x): x is string => Boolean(x));
  const top = doc.y;
  const half = (width - 20) / 2;
  const block = (heading: string, lines: string[], x: number) => {
    doc.font('bold').fontSize(10).text(heading, x, top, { width: half });
    doc.font('body').fontSize(10);
    for (const line of lines) doc.text(line, { width: half });
    return doc.y;
  };
  const sellerEnd = block(t.seller, partyLines(content.seller), left);
  const buyerEnd = block(
    t.buyer,
    [...partyLines(content.buyer), content.buyer.email, `${t.account}: ${content.buyer.accountId}`],
    left + half + 20,
  );
  doc.y = Math.max(sellerEnd, buyerEnd) + 20;

  // The lines: description | period | qty | net | VAT | amount.
  const cols = [
    { key: 'description', w: width - 340, align: 'left' },
    { key: 'period', w: 140, align: 'left' },
    { key: 'qty', w: 35, align: 'right' },
    { key: 'net', w: 55, align: 'right' },
    { key: 'vat', w: 50, align: 'right' },
    { key: 'amount', w: 60, align: 'right' },
  ] as const;
  const row = (cells: readonly string[], font: 'body' | 'bold') => {
    doc.font(font).fontSize(9);
    const y = doc.y;
    let x = left;
    let bottom = y;
    cols.forEach((c, i) => {
      // A gap after every column but the last, which ends flush with the totals below it.
      doc.text(cells[i] ?? '', x, y, { width: i === cols.length - 1 ? c.w : c.w - 6, align: c.align });
      bottom = Math.max(bottom, doc.y);
      x += c.w;
    });
    doc.y = bottom + 4;
    if (doc.y > doc.page.height - 120) doc.addPage();
  };
  row([t.description, t.period, t.qty, t.net, t.vat, t.amount], 'bold');
  doc
    .moveTo(left, doc.y - 2)
    .lineTo(left + width, doc.y - 2)
    .stroke();
  for (const l of content.lines) {
    const what = l.serviceId !== null ? `${l.description} (${t.service} #${l.serviceId})` : l.description;
    row([what, periodText(l, t), String(l.quantity), l.net, l.vat, l.amount], 'body');
  }
  doc
    .moveTo(left, doc.y)
    .lineTo(left + width, doc.y)
    .stroke();
  doc.moveDown(0.5);

  const totals: [string, string][] = [
    [t.totalNet, content.totals.net],
    [content.vatRate === null ? t.totalVat : `${t.totalVat} ${content.vatRate} %`, content.totals.vat],
    [t.total, `${content.totals.total} ${content.currency}`],
  ];
  for (const [label, value] of totals) {
    const y = doc.y;
    doc.font(label === t.total ? 'bold' : 'body').fontSize(10);
    doc.text(label, left + width - 300, y, { width: 180, align: 'right' });
    doc.text(value, left + width - 120, y, { width: 120, align: 'right' });
    doc.moveDown(0.2);
  }
  doc.moveDown(1);
  doc.font('body').fontSize(9);
  doc.text(content.vatRate === null ? t.noVat : t.includesVat(content.vatRate), left, doc.y, { width });
  if (content.payment)
    doc.text(`${t.payment}: ${content.payment.method} ${content.payment.reference}`, { width });
  if (content.orderId !== null) doc.text(`${t.order} #${content.orderId}`, { width });
  doc.end();
  return done;
}
