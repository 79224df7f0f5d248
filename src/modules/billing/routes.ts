import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Temporal } from 'temporal-polyfill';
import { z } from 'zod';
import { PeriodError, parseDate } from '../../domain/periods.js';
import { today as todayIn } from '../../platform/calendar.js';
import type { AppContext } from '../../platform/context.js';
import { invalid } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http/errors.js';
import { toId } from '../../platform/ids.js';
import { isStaff } from '../accounts/actor.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdText, PageQuery } from '../accounts/schemas.js';
import { runQueuedOperations } from '../services/executor.js';
import { runBilling } from './run.js';

const Summary = z.object({
  date: z.string(),
  dryRun: z.boolean(),
  renewed: z.number(),
  renewedAmount: z.string(),
  renewFailed: z.number(),
  suspended: z.number(),
  deleted: z.number(),
  reminders: z.number(),
  lowBalance: z.number(),
  alreadyDone: z.number(),
  ordersPaid: z.number().meta({ description: 'Awaiting orders the balance covered, paid by the run' }),
  errors: z.number().meta({ description: 'Service steps that failed unexpectedly (each is a staff task)' }),
  currency: z.string(),
  reconciliation: z
    .object({
      modules: z.number(),
      opened: z.number(),
      resolved: z.number(),
      failed: z.array(
        z.object({ moduleId: z.number(), name: z.string(), code: z.string(), message: z.string() }),
      ),
    })
    .nullable()
    .meta({ description: "The modules reconciled after today's run (null: not today's run, or a dry run)" }),
  upkeep: z
    .object({
      modules: z.number(),
      counts: z.record(z.string(), z.number()).meta({
        description:
          'What the modules did, by name: renewalsQueued (bundled licenses), lapsed (pool licenses)',
      }),
      failed: z.array(
        z.object({ moduleId: z.number(), name: z.string(), code: z.string(), message: z.string() }),
      ),
    })
    .nullable()
    .meta({
      description: "The modules' daily upkeep after today's run (null: not today's run, or a dry run)",
    }),
  archivedOperations: z.number().nullable().meta({
    description:
      "Finished operations moved to the archive after today's run (older than BILLFOLD_OPERATIONS_RETENTION_DAYS; null: not today's run, a dry run, or it failed)",
  }),
  housekeeping: z
    .object({
      loginAttempts: z.number(),
      loginKeys: z.number(),
      sessions: z.number(),
      mgrSessions: z.number(),
      mgrLoginKeys: z.number(),
      passwordResets: z.number(),
    })
    .nullable()
    .meta({
      description:
        "Rows deleted after today's run: sign-in attempts older than BILLFOLD_LOGIN_ATTEMPTS_RETENTION_DAYS, limit keys with no attempt left, expired web sessions, BILLmanager API sessions idle over an hour, spent one-time login keys, reset links expired over a day ago (null: not today's run, a dry run, or it failed)",
    }),
  actions: z.array(
    z.object({ serviceId: z.number(), step: z.string(), outcome: z.string(), amount: z.string().optional() }),
  ),
});

export function registerBillingRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.post(
    '/api/v1/billing/run',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['billing'],
        summary:
          'Run the daily billing for a date (default today); dryRun shows what it would do and changes nothing',
        body: z.strictObject({ date: z.string().optional(), dryRun: z.boolean().optional() }),
        response: { 200: Summary, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      let date: Temporal.PlainDate;
      const today = await todayIn(ctx);
      try {
        date = request.body.date ? parseDate(request.body.date) : today;
      } catch (err) {
        if (err instanceof PeriodError)
          throw invalid('invalid_date', 'date must be YYYY-MM-DD.', { value: request.body.date });
        throw err;
      }
      // A real run ahead of the calendar would suspend services that are still paid for, mark
      // that day's steps done before it comes, and stop the scheduler (it catches up from the
      // last completed run date) until then. A dry run may look ahead: it changes nothing.
      if (!request.body.dryRun && Temporal.PlainDate.compare(date, today) > 0) {
        throw invalid('date_in_future', 'A billing run cannot be for a day that has not come yet.', {
          date: date.toString(),
          today: today.toString(),
        });
      }
      const summary = await runBilling(ctx, {
        date,
        dryRun: request.body.dryRun ?? false,
        listActions: true,
      });
      if (!summary.dryRun) await runQueuedOperations(ctx);
      return summary;
    },
  );

  app.get(
    '/api/v1/billing/runs',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['billing'],
        summary: 'Past billing runs with their summaries',
        querystring: PageQuery,
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.number(),
                date: z.string(),
                status: z.string(),
                summary: z.unknown(),
                startedAt: z.string(),
                finishedAt: z.string().nullable(),
              }),
            ),
          }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      let q = ctx.db.kysely
        .selectFrom('billing_runs')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(request.query.limit);
      if (request.query.before) q = q.where('id', '<', request.query.before);
      return {
        items: (await q.execute()).map((r) => ({
          id: toId(r.id),
          date: r.run_date,
          status: r.status,
          summary: r.summary ? (JSON.parse(r.summary) as unknown) : null,
          startedAt: r.started_at,
          finishedAt: r.finished_at,
        })),
      };
    },
  );

  app.get(
    '/api/v1/notifications',
    {
      schema: {
        tags: ['billing'],
        summary: 'Notification events (renewal reminders, low balance, suspensions); clients: their own',
        querystring: PageQuery.extend({ accountId: IdText.optional() }),
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.number(),
                accountId: z.number(),
                serviceId: z.number().nullable(),
                kind: z.string(),
                payload: z.unknown(),
                createdAt: z.string(),
              }),
            ),
          }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const actor = requireActor(request);
      let q = ctx.db.kysely
        .selectFrom('notifications')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(request.query.limit);
      if (!isStaff(actor))
        q = q.where('account_id', '=', actor.type === 'user' ? (actor.accountId ?? -1) : -1);
      else if (request.query.accountId) q = q.where('account_id', '=', request.query.accountId);
      if (request.query.before) q = q.where('id', '<', request.query.before);
      return {
        items: (await q.execute()).map((n) => ({
          id: toId(n.id),
          accountId: toId(n.account_id),
          serviceId: n.service_id === null ? null : toId(n.service_id),
          kind: n.kind,
          payload: JSON.parse(n.payload) as unknown,
          createdAt: n.created_at,
        })),
      };
    },
  );
}
