import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import { errorResponses } from '../../platform/http/errors.js';
import { requireActor } from '../accounts/http-auth.js';
import { marginReport } from './margins.js';

const MarginRowView = z.object({
  key: z
    .string()
    .meta({ description: 'The service id, tariff id or month (YYYY-MM) of the row; "total" in totals' }),
  serviceId: z.number().nullable(),
  serviceName: z.string().nullable(),
  tariffId: z.number().nullable(),
  tariffName: z.string().nullable(),
  month: z.string().nullable(),
  currency: z.string().meta({ description: 'The currency of the revenue (the accounts that paid)' }),
  revenue: z.string().meta({ description: 'Charged minus credited and refunded' }),
  costs: z.array(
    z.object({
      currency: z.string(),
      amount: z.string().meta({ example: '7.5000', description: '4 decimals' }),
    }),
  ),
  margin: z
    .string()
    .nullable()
    .meta({ description: 'Revenue − cost (4 decimals); null when a cost is in another currency' }),
});

export const MarginReportView = z.object({
  from: z.string(),
  to: z.string(),
  groupBy: z.enum(['service', 'tariff', 'month']),
  rows: z.array(MarginRowView),
  totals: z.array(MarginRowView),
});

export function registerReportRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/api/v1/reports/margins',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['billing'],
        summary:
          'Revenue against upstream cost per service, tariff or month over a date range (default: this month so far)',
        querystring: z.strictObject({
          from: z.string().max(10).optional(),
          to: z.string().max(10).optional(),
          groupBy: z.enum(['service', 'tariff', 'month']).optional(),
        }),
        response: { 200: MarginReportView, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => marginReport(ctx, requireActor(request), request.query),
  );
}
