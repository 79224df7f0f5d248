import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import { errorResponses } from '../../platform/http/errors.js';
import { requireActor } from '../accounts/http-auth.js';
import { dashboardReport } from './dashboard.js';
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

const MoneyPointView = z.object({
  key: z.string().meta({ description: 'The day (YYYY-MM-DD) or month (YYYY-MM)' }),
  currency: z.string().meta({ description: 'The currency of the revenue (the accounts that paid)' }),
  revenue: z.string().meta({ description: 'Charged minus credited and refunded' }),
  costs: z.array(z.object({ currency: z.string(), amount: z.string().meta({ description: '4 decimals' }) })),
  margin: z
    .string()
    .nullable()
    .meta({ description: 'Revenue − cost (4 decimals); null when a cost is in another currency' }),
});

export const DashboardView = z.object({
  from: z.string(),
  to: z.string(),
  timeZone: z.string(),
  revenueByDay: z.array(MoneyPointView),
  revenueByMonth: z.array(MoneyPointView).meta({ description: "The 12 months ending with to's month" }),
  servicesByStatus: z.array(
    z.object({ productType: z.string(), productTypeName: z.string(), status: z.string(), count: z.number() }),
  ),
  licensesByTariff: z.array(
    z.object({
      tariffId: z.number(),
      tariffName: z.string(),
      counts: z.record(z.string(), z.number()).meta({ description: 'Live license services by status' }),
    }),
  ),
  failedOperations: z.object({
    count: z.number(),
    latest: z.array(
      z.object({
        id: z.number(),
        serviceId: z.number(),
        serviceName: z.string(),
        kind: z.string(),
        attempts: z.number(),
        lastError: z.unknown(),
        updatedAt: z.string(),
      }),
    ),
  }),
  openTasks: z.object({
    count: z.number(),
    byKind: z.record(z.string(), z.number()),
    latest: z.array(
      z.object({
        id: z.number(),
        kind: z.string(),
        title: z.string(),
        serviceId: z.number().nullable(),
        operationId: z.number().nullable(),
        createdAt: z.string(),
      }),
    ),
  }),
  modules: z.array(
    z.object({
      id: z.number(),
      name: z.string(),
      type: z.string(),
      enabled: z.boolean(),
      reportsBalance: z
        .boolean()
        .meta({ description: 'Its balance can be asked at GET /api/v1/modules/{id}/balance' }),
    }),
  ),
  billingRuns: z.array(
    z.object({
      id: z.number(),
      date: z.string(),
      status: z.string(),
      startedAt: z.string(),
      finishedAt: z.string().nullable(),
      renewed: z.number(),
      renewedAmount: z.string().nullable(),
      suspended: z.number(),
      deleted: z.number(),
      reminders: z.number(),
      errors: z.number(),
    }),
  ),
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
  app.get(
    '/api/v1/reports/dashboard',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['billing'],
        summary:
          'The staff dashboard in one call: revenue, cost and margin per day of the range (default the last 30 days) and per month, services by status, licenses by tariff, failed operations, open tasks, modules, the last billing runs',
        querystring: z.strictObject({
          from: z.string().max(10).optional(),
          to: z.string().max(10).optional(),
        }),
        response: { 200: DashboardView, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => dashboardReport(ctx, requireActor(request), request.query),
  );
}
