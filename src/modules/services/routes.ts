import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatAmount } from '../../domain/money.js';
import type { AppContext } from '../../platform/context.js';
import { notFound } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http/errors.js';
import { toId } from '../../platform/ids.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam, IdText, nextBefore, PageQuery, page } from '../accounts/schemas.js';
import { presentPricedRange } from '../catalog/quote.js';
import { PeriodNumber } from '../catalog/schemas.js';
import { AddonValues, QuoteView } from '../orders/schemas.js';
import { rootPasswordOf, setAutoprolong } from './commands.js';
import { deleteService, quoteDeletion } from './deletion.js';
import { cancelOperation, retryOperation } from './engine.js';
import {
  ChargeView,
  HistoryView,
  OperationView,
  presentCharge,
  presentHistory,
  presentOperation,
  presentOperationFor,
  presentService,
  presentTask,
  ServiceView,
  TaskView,
} from './presenters.js';
import { listServices, serviceDetail, serviceHistory } from './queries.js';
import { quoteRenewal, renewService } from './renewal.js';
import { findOperation } from './retention.js';
import { requestServerChange } from './server-actions.js';
import { resumeService, suspendService } from './suspension.js';
import { changeTariff, planTariffChange } from './tariff-change.js';
import { cancelTask, completeTask } from './tasks.js';

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const ServiceDetailView = ServiceView.extend({
  charges: z.array(ChargeView),
  operations: z.array(OperationView),
});
const RenewalQuoteView = QuoteView.extend({ resumes: z.boolean() });
const DeletionQuoteView = z.object({
  serviceId: z.number(),
  allowed: z
    .boolean()
    .meta({ description: 'Whether the caller may delete it (clients only where the product type allows)' }),
  pending: z
    .boolean()
    .meta({ description: 'A deletion is already on its way; deleting again changes nothing' }),
  refundsUnusedDays: z.boolean().meta({ description: 'The product type refunds unused whole days' }),
  unusedDays: z.number().int().meta({ description: 'The whole days refunded (0 when none are)' }),
  refund: z.string().meta({ description: 'What the deletion would credit to the balance now' }),
  currency: z.string(),
});
const TariffChangeInput = z.strictObject({
  tariffId: z.number().int().positive(),
  /** Omitted: the service's addon values carry over to the new tariff's matching addons. */
  addonValues: AddonValues.optional(),
  /** The period to renew with from the next renewal on (default: the current one). */
  period: PeriodNumber.optional(),
});
const TariffChangeView = z.object({
  serviceId: z.number(),
  fromTariffId: z.number(),
  toTariffId: z.number(),
  remainingDays: z.number(),
  fullDays: z.number(),
  oldAmount: z.string(),
  newAmount: z.string(),
  difference: z.string().meta({ description: 'Charged when positive, credited when negative' }),
  addonValues: AddonValues.optional().meta({
    description: 'An addon change (same tariff, other addon values): the service’s addon values after it',
  }),
});

export function registerServiceRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const tags = ['services'];

  app.get(
    '/api/v1/services',
    {
      schema: {
        tags,
        summary:
          'Services, newest first (clients: their own; staff: all, with filters: account, status, tariff, product type, module, expiring between)',
        querystring: PageQuery.extend({
          accountId: IdText.optional(),
          status: z.enum(['ordered', 'processing', 'active', 'suspended', 'deleted']).optional(),
          tariffId: IdText.optional(),
          expiresBefore: Day.optional(),
          productType: z
            .string()
            .max(64)
            .optional()
            .meta({ description: 'A product type code (soft, vds, …)' }),
          moduleId: IdText.optional(),
          expiresFrom: Day.optional().meta({ description: 'Expiring on or after this day' }),
          expiresTo: Day.optional().meta({ description: 'Expiring on or before this day' }),
        }),
        response: {
          200: page(ServiceView),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const rows = await listServices(ctx, requireActor(request), request.query);
      return {
        items: rows.map(presentService),
        nextBefore: nextBefore(rows, request.query.limit),
      };
    },
  );

  app.get(
    '/api/v1/services/:id',
    {
      schema: {
        tags,
        summary: 'One service with what it was charged and its operations',
        params: IdParam,
        response: { 200: ServiceDetailView, ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const actor = requireActor(request);
      const d = await serviceDetail(ctx, actor, request.params.id);
      return {
        ...presentService(d.service),
        charges: d.charges.map((c) => presentCharge(c, d.currency)),
        operations: d.operations.map(presentOperationFor(actor)),
      };
    },
  );

  app.get(
    '/api/v1/services/:id/root-password',
    {
      schema: {
        tags,
        summary:
          "A server's root password, for its owner and staff (kept sealed; never in the service's params)",
        params: IdParam,
        response: { 200: z.object({ password: z.string() }), ...errorResponses(401, 404, 409) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return { password: await rootPasswordOf(ctx, requireActor(request), request.params.id) };
    },
  );

  app.post(
    '/api/v1/services/:id/root-password',
    {
      schema: {
        tags,
        summary:
          "A new root password for a server, for its owner and staff: queued for the server's module (202, the operation); read it with GET once the operation is done. Refused for a suspended, deleted or not yet active server, or a module that cannot (root_password_unsupported)",
        params: IdParam,
        response: { 202: OperationView, ...errorResponses(401, 404, 409) },
      },
    },
    async (request, reply) => {
      const op = await requestServerChange(ctx, requireActor(request), request.params.id, {
        param: 'password',
      });
      return reply.code(202).send(presentOperationFor(requireActor(request))(op));
    },
  );

  app.post(
    '/api/v1/services/:id/reinstall',
    {
      schema: {
        tags,
        summary:
          "Reinstall a server with one of its tariff's OS templates (id or name), with a new root password: queued for the server's module (202, the operation). An OS not offered, or an install the panel fails, ends the operation cancelled with the reason as its lastError. Refused for a suspended, deleted or not yet active server, or a module that cannot (reinstall_unsupported)",
        params: IdParam,
        body: z.strictObject({
          os: z
            .string()
            .trim()
            .min(1)
            .max(200)
            .meta({ description: 'An OS template id or name the tariff offers' }),
        }),
        response: { 202: OperationView, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      const op = await requestServerChange(ctx, requireActor(request), request.params.id, {
        param: 'os',
        value: request.body.os,
      });
      return reply.code(202).send(presentOperationFor(requireActor(request))(op));
    },
  );

  app.post(
    '/api/v1/services/:id/server-ip',
    {
      config: { auth: 'admin' as const },
      schema: {
        tags,
        summary:
          "Staff: the server's address was changed in its panel — the service takes it and its bundled control-panel license moves to it (queued for the server's module, 202). Refused for a suspended, deleted or not yet active server, the address it has (same_ip), or a module that cannot (server_ip_unsupported)",
        params: IdParam,
        body: z.strictObject({ ip: z.string().trim().min(2).max(100).meta({ description: 'IPv4 or IPv6' }) }),
        response: { 202: OperationView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const op = await requestServerChange(ctx, requireActor(request), request.params.id, {
        param: 'ip',
        value: request.body.ip,
      });
      return reply.code(202).send(presentOperationFor(requireActor(request))(op));
    },
  );

  app.get(
    '/api/v1/services/:id/history',
    {
      schema: {
        tags,
        summary: 'Every change of the service: who, why, when',
        params: IdParam,
        response: { 200: z.object({ items: z.array(HistoryView) }), ...errorResponses(401, 404) },
      },
    },
    async (request) => ({
      items: (await serviceHistory(ctx, requireActor(request), request.params.id)).map(presentHistory),
    }),
  );

  app.post(
    '/api/v1/services/:id/renewal-quote',
    {
      schema: {
        tags,
        summary: 'Price preview of a renewal (no side effects)',
        params: IdParam,
        body: z.strictObject({ period: PeriodNumber }),
        response: { 200: RenewalQuoteView, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request) => {
      const plan = await quoteRenewal(ctx, requireActor(request), request.params.id, request.body.period);
      return { ...presentPricedRange(plan.priced), resumes: plan.resumes };
    },
  );

  app.post(
    '/api/v1/services/:id/renew',
    {
      schema: {
        tags,
        summary: 'Renew now, charged from the balance (cut at the tariff end and charged by days)',
        params: IdParam,
        body: z.strictObject({ period: PeriodNumber, idempotencyKey: z.string().min(1).max(200).optional() }),
        response: {
          200: z.object({ service: ServiceView, quote: RenewalQuoteView, replayed: z.boolean() }),
          ...errorResponses(400, 401, 404, 409),
        },
      },
    },
    async (request) => {
      // The caller's key becomes the ledger entry's key only inside a namespace of this service's
      // renewal requests: raw, it could name a key the system itself uses (`order:<next id>` —
      // the next order would then count the renewal charge as its own and be free) or collide
      // with another account's key (its renewal or refund refused as idempotency_key_reused).
      const key = request.body.idempotencyKey;
      const r = await renewService(ctx, requireActor(request), request.params.id, request.body.period, {
        ...(key ? { idempotencyKey: key } : {}),
      });
      return {
        service: presentService(r.service),
        quote: { ...presentPricedRange(r.plan.priced), resumes: r.plan.resumes },
        replayed: r.replayed,
      };
    },
  );

  app.put(
    '/api/v1/services/:id/autoprolong',
    {
      schema: {
        tags,
        summary: 'Turn automatic renewal on (with a period) or off (null)',
        params: IdParam,
        body: z.strictObject({ period: PeriodNumber.nullable() }),
        response: { 200: ServiceView, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request) =>
      presentService(
        await setAutoprolong(ctx, requireActor(request), request.params.id, request.body.period),
      ),
  );

  app.post(
    '/api/v1/services/:id/tariff-change-quote',
    {
      schema: {
        tags,
        summary: 'What changing the tariff would charge or credit',
        params: IdParam,
        body: TariffChangeInput,
        response: { 200: TariffChangeView, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request) =>
      presentTariffChange(
        await planTariffChange(ctx, requireActor(request), request.params.id, request.body.tariffId, {
          addonValues: request.body.addonValues,
          period: request.body.period,
        }),
      ),
  );

  app.post(
    '/api/v1/services/:id/change-tariff',
    {
      config: { auth: 'admin' },
      schema: {
        tags,
        summary:
          'Move the service to another tariff of its product type, or change its addon values on its tariff (a control panel Lite → Pro); the difference is charged or credited at once',
        params: IdParam,
        body: TariffChangeInput,
        response: {
          200: z.object({ service: ServiceView, change: TariffChangeView }),
          ...errorResponses(400, 401, 403, 404, 409),
        },
      },
    },
    async (request) => {
      const r = await changeTariff(ctx, requireActor(request), request.params.id, request.body.tariffId, {
        addonValues: request.body.addonValues,
        period: request.body.period,
      });
      return { service: presentService(r.service), change: presentTariffChange(r.plan) };
    },
  );

  app.post(
    '/api/v1/services/:id/suspend',
    {
      schema: {
        tags,
        summary: 'Suspend (staff: reason admin or abuse; clients: reason client)',
        params: IdParam,
        body: z.strictObject({ reason: z.enum(['admin', 'abuse', 'client']) }),
        response: { 200: ServiceView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      presentService(
        await suspendService(ctx, requireActor(request), request.params.id, request.body.reason),
      ),
  );

  app.post(
    '/api/v1/services/:id/resume',
    {
      schema: {
        tags,
        summary: 'Lift a suspension (an expired service must be renewed instead)',
        params: IdParam,
        response: { 200: ServiceView, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => presentService(await resumeService(ctx, requireActor(request), request.params.id)),
  );

  app.post(
    '/api/v1/services/:id/deletion-quote',
    {
      schema: {
        tags,
        summary:
          'What deleting the service would do now: whether the caller may, and the refund (no side effects)',
        params: IdParam,
        response: { 200: DeletionQuoteView, ...errorResponses(401, 404, 409) },
      },
    },
    async (request) => {
      const q = await quoteDeletion(ctx, requireActor(request), request.params.id);
      return {
        serviceId: toId(q.service.id),
        allowed: q.allowed,
        pending: q.pending,
        refundsUnusedDays: q.refundsUnusedDays,
        unusedDays: q.unusedDays,
        refund: formatAmount(q.refundMinor, q.currency),
        currency: q.currency,
      };
    },
  );

  app.delete(
    '/api/v1/services/:id',
    {
      schema: {
        tags,
        summary:
          'Delete (clients only where the product type allows); unused days refunded where the product type says so',
        params: IdParam,
        response: { 200: ServiceView, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => presentService(await deleteService(ctx, requireActor(request), request.params.id)),
  );

  app.get(
    '/api/v1/operations',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'Operations queue (filter by status, service, whether a staff task is open for it)',
        querystring: PageQuery.extend({
          status: z.enum(['queued', 'running', 'retry_wait', 'done', 'failed', 'cancelled']).optional(),
          serviceId: IdText.optional(),
          openTask: z
            .enum(['true', 'false'])
            .optional()
            .describe('true: only operations with an open staff task; false: only those without one'),
        }),
        response: {
          200: page(OperationView),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      let q = ctx.db.kysely
        .selectFrom('operations')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(request.query.limit);
      if (request.query.status) q = q.where('status', '=', request.query.status);
      if (request.query.serviceId) q = q.where('service_id', '=', request.query.serviceId);
      if (request.query.before) q = q.where('id', '<', request.query.before);
      if (request.query.openTask) {
        const open = request.query.openTask === 'true';
        q = q.where(({ exists, not, selectFrom }) => {
          const task = exists(
            selectFrom('staff_tasks as t')
              .select('t.id')
              .whereRef('t.operation_id', '=', 'operations.id')
              .where('t.status', '=', 'open'),
          );
          return open ? task : not(task);
        });
      }
      const rows = await q.execute();
      return {
        items: rows.map(presentOperation),
        nextBefore: nextBefore(rows, request.query.limit),
      };
    },
  );

  app.get(
    '/api/v1/operations/:id',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'One operation with its attempts, progress and last error (archived ones too)',
        params: IdParam,
        response: { 200: OperationView, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const op = await findOperation(ctx.db.kysely, request.params.id);
      if (!op) throw notFound('operation');
      return presentOperation(op);
    },
  );

  app.post(
    '/api/v1/operations/:id/retry',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'Run a failed or waiting operation again now, with a fresh attempt budget',
        params: IdParam,
        response: { 200: OperationView, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => presentOperation(await retryOperation(ctx, requireActor(request), request.params.id)),
  );

  app.post(
    '/api/v1/operations/:id/cancel',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'Give up on an operation; the service keeps its status',
        params: IdParam,
        response: { 200: OperationView, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => presentOperation(await cancelOperation(ctx, requireActor(request), request.params.id)),
  );

  app.get(
    '/api/v1/tasks',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'Staff tasks: failed operations, and manual steps of manual modules',
        querystring: PageQuery.extend({
          status: z.enum(['open', 'done', 'cancelled']).optional(),
          kind: z.enum(['operation_failed', 'manual_action', 'billing_error']).optional(),
          serviceId: IdText.optional(),
        }),
        response: { 200: page(TaskView), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      let q = ctx.db.kysely
        .selectFrom('staff_tasks')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(request.query.limit);
      if (request.query.status) q = q.where('status', '=', request.query.status);
      if (request.query.kind) q = q.where('kind', '=', request.query.kind);
      if (request.query.serviceId) q = q.where('service_id', '=', request.query.serviceId);
      if (request.query.before) q = q.where('id', '<', request.query.before);
      const rows = await q.execute();
      return { items: rows.map(presentTask), nextBefore: nextBefore(rows, request.query.limit) };
    },
  );

  app.post(
    '/api/v1/tasks/:id/complete',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'Done by hand: the waiting operation completes with the parameters entered (e.g. the IP)',
        params: IdParam,
        body: z.strictObject({ params: z.record(z.string(), z.string().max(255)).optional() }).optional(),
        response: { 200: TaskView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      presentTask(await completeTask(ctx, requireActor(request), request.params.id, request.body ?? {})),
  );

  app.post(
    '/api/v1/tasks/:id/cancel',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operations'],
        summary: "Will not be done: the task's operation is cancelled; the service keeps its status",
        params: IdParam,
        response: { 200: TaskView, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => presentTask(await cancelTask(ctx, requireActor(request), request.params.id)),
  );
}

function presentTariffChange(p: Awaited<ReturnType<typeof planTariffChange>>) {
  const currency = p.newTariff.tariff.currency;
  return {
    serviceId: toId(p.service.id),
    fromTariffId: toId(p.service.tariff_id),
    toTariffId: toId(p.newTariff.tariff.id),
    remainingDays: p.remainingDays,
    fullDays: p.fullDays,
    oldAmount: formatAmount(p.oldAmountMinor, currency),
    newAmount: formatAmount(p.newAmountMinor, currency),
    difference: formatAmount(p.differenceMinor, currency),
    ...(p.addonChange ? { addonValues: p.addonChange.to } : {}),
  };
}
