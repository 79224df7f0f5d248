import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import { errorResponses } from '../../platform/http/errors.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam, nextBefore, page } from '../accounts/schemas.js';
import { parseContent } from './content.js';
import { renderDocumentPdf } from './pdf.js';
import { documentFileName, presentDocument, presentDocumentSummary } from './presenters.js';
import { getDocument, listDocuments } from './queries.js';
import { DocumentListQuery, DocumentSummaryView, DocumentView, PdfQuery } from './schemas.js';

export function registerInvoiceRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/api/v1/invoices',
    {
      schema: {
        tags: ['invoices'],
        summary: 'Receipts and invoices, newest first (clients: their own)',
        querystring: DocumentListQuery,
        response: { 200: page(DocumentSummaryView), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const rows = await listDocuments(ctx, requireActor(request), request.query);
      return { items: rows.map(presentDocumentSummary), nextBefore: nextBefore(rows, request.query.limit) };
    },
  );

  app.get(
    '/api/v1/invoices/:id',
    {
      schema: {
        tags: ['invoices'],
        summary: 'One receipt or invoice with its lines and parties as issued (clients: their own)',
        params: IdParam,
        response: { 200: DocumentView, ...errorResponses(401, 404) },
      },
    },
    async (request) => presentDocument(await getDocument(ctx, requireActor(request), request.params.id)),
  );

  app.get(
    '/api/v1/invoices/:id/pdf',
    {
      schema: {
        tags: ['invoices'],
        summary: 'The document as a PDF (clients: their own)',
        params: IdParam,
        querystring: PdfQuery,
        produces: ['application/pdf'],
        response: {
          200: z.any().meta({ description: 'application/pdf', format: 'binary' }),
          ...errorResponses(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const doc = await getDocument(ctx, requireActor(request), request.params.id);
      const pdf = await renderDocumentPdf(parseContent(doc.content), request.query.lang);
      return reply
        .type('application/pdf')
        .header('content-disposition', `attachment; filename="${documentFileName(doc)}"`)
        .header('cache-control', 'private, no-store')
        .send(pdf);
    },
  );
}
