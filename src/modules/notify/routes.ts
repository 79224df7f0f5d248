import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import type { DeliveryAttemptRow, DeliveryRow } from '../../platform/db/index.js';
import { notFound } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http/errors.js';
import { toId } from '../../platform/ids.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam, IdText, nextBefore, PageQuery, page } from '../accounts/schemas.js';
import {
  createWebhook,
  getPreferences,
  getWebhook,
  presentWebhook,
  resetTemplate,
  saveTemplate,
  setPreferences,
  templateView,
  updateWebhook,
} from './commands.js';
import { WEBHOOK_EVENTS } from './events.js';
import { retryDelivery } from './outbox.js';
import { LANGUAGES, MAIL_KINDS, OPTIONAL_KINDS } from './templates.js';

const DELIVERY_STATUSES = ['queued', 'running', 'retry_wait', 'held', 'done', 'failed'] as const;

const LastError = z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable();
const DeliveryView = z.object({
  id: z.number(),
  channel: z.enum(['email', 'webhook']),
  kind: z.string(),
  accountId: z.number().nullable(),
  webhookId: z.number().nullable(),
  notificationId: z.number().nullable(),
  target: z.string().meta({ description: 'The email address or the webhook URL' }),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number(),
  nextAttemptAt: z.string(),
  lastError: LastError,
  createdAt: z.string(),
  sentAt: z.string().nullable(),
});
const AttemptView = z.object({
  attempt: z.number(),
  worker: z.string(),
  outcome: z.enum(['sent', 'held', 'error']),
  statusCode: z.number().nullable(),
  error: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string(),
});

const presentDelivery = (d: DeliveryRow) => ({
  id: toId(d.id),
  channel: d.channel,
  kind: d.kind,
  accountId: d.account_id === null ? null : toId(d.account_id),
  webhookId: d.webhook_id === null ? null : toId(d.webhook_id),
  notificationId: d.notification_id === null ? null : toId(d.notification_id),
  target: d.target,
  status: d.status,
  attempts: Number(d.attempts),
  nextAttemptAt: d.next_attempt_at,
  lastError: d.last_error ? (JSON.parse(d.last_error) as z.infer<typeof LastError>) : null,
  createdAt: d.created_at,
  sentAt: d.sent_at,
});
const presentAttempt = (a: DeliveryAttemptRow) => ({
  attempt: Number(a.attempt),
  worker: a.worker,
  outcome: a.outcome,
  statusCode: a.status_code === null ? null : Number(a.status_code),
  error: a.error,
  startedAt: a.started_at,
  finishedAt: a.finished_at,
});

const Event = z.enum(WEBHOOK_EVENTS);
const WebhookView = z.object({
  id: z.number(),
  url: z.string(),
  events: z.array(z.string()),
  status: z.enum(['active', 'disabled']),
  description: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const TemplateParams = z.strictObject({ kind: z.enum(MAIL_KINDS), language: z.enum(LANGUAGES) });
const TemplateBody = z.strictObject({
  subject: z.string().min(1).max(500),
  text: z.string().min(1).max(20_000),
  html: z.string().min(1).max(50_000),
});
const TemplateView = TemplateBody.extend({
  kind: z.enum(MAIL_KINDS),
  language: z.enum(LANGUAGES),
  overridden: z.boolean(),
  updatedBy: z.string().nullable(),
  updatedAt: z.string().nullable(),
});
const Reminders = z.object(
  Object.fromEntries(OPTIONAL_KINDS.map((k) => [k, z.boolean()])) as {
    renewal_reminder: z.ZodBoolean;
    low_balance: z.ZodBoolean;
  },
);
const PreferencesView = z.object({ language: z.enum(LANGUAGES), reminders: Reminders });

/** Notifications delivered: the outbox (staff), templates (staff), webhooks (staff), my preferences. */
export function registerNotifyRoutes(fastify: FastifyInstance, ctx: AppContext): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/api/v1/deliveries',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'The delivery outbox: mail and webhook calls (filter by status, channel, account)',
        querystring: PageQuery.extend({
          status: z.enum(DELIVERY_STATUSES).optional(),
          channel: z.enum(['email', 'webhook']).optional(),
          accountId: IdText.optional(),
        }),
        response: { 200: page(DeliveryView), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { status, channel, accountId, before, limit } = request.query;
      let q = ctx.db.kysely.selectFrom('deliveries').selectAll().orderBy('id', 'desc').limit(limit);
      if (status) q = q.where('status', '=', status);
      if (channel) q = q.where('channel', '=', channel);
      if (accountId) q = q.where('account_id', '=', accountId);
      if (before) q = q.where('id', '<', before);
      const rows = await q.execute();
      return { items: rows.map(presentDelivery), nextBefore: nextBefore(rows, limit) };
    },
  );

  app.get(
    '/api/v1/deliveries/:id',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'One delivery with its attempts and, for mail, the rendered message',
        params: IdParam,
        response: {
          200: DeliveryView.extend({ payload: z.unknown(), attemptLog: z.array(AttemptView) }),
          ...errorResponses(401, 403, 404),
        },
      },
    },
    async (request) => {
      const d = await ctx.db.kysely
        .selectFrom('deliveries')
        .selectAll()
        .where('id', '=', request.params.id)
        .executeTakeFirst();
      if (!d) throw notFound('delivery');
      const attempts = await ctx.db.kysely
        .selectFrom('delivery_attempts')
        .selectAll()
        .where('delivery_id', '=', d.id)
        .orderBy('id')
        .execute();
      return {
        ...presentDelivery(d),
        // A reset link is for its user only: staff see that it went, not the token.
        payload: d.kind === 'password_reset' ? { redacted: true } : (JSON.parse(d.payload) as unknown),
        attemptLog: attempts.map(presentAttempt),
      };
    },
  );

  app.post(
    '/api/v1/deliveries/:id/retry',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'Send a failed, waiting or held delivery again now, with a fresh attempt budget',
        params: IdParam,
        response: { 200: DeliveryView, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => presentDelivery(await retryDelivery(ctx, requireActor(request), request.params.id)),
  );

  app.get(
    '/api/v1/notification-templates',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'Every mail template in force (built-in or overridden), per kind and language',
        response: { 200: z.object({ items: z.array(TemplateView) }), ...errorResponses(401, 403) },
      },
    },
    async () => {
      const items = [];
      for (const kind of MAIL_KINDS)
        for (const language of LANGUAGES) items.push(await templateView(ctx, kind, language));
      return { items };
    },
  );

  app.put(
    '/api/v1/notification-templates/:kind/:language',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary:
          'Override a template; it is rendered against a sample first (a bad one: template_invalid, nothing saved)',
        params: TemplateParams,
        body: TemplateBody,
        response: { 200: TemplateView, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { kind, language } = request.params;
      await saveTemplate(ctx, requireActor(request), kind, language, request.body);
      return templateView(ctx, kind, language);
    },
  );

  app.delete(
    '/api/v1/notification-templates/:kind/:language',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'Back to the built-in template',
        params: TemplateParams,
        response: { 200: TemplateView, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { kind, language } = request.params;
      await resetTemplate(ctx, requireActor(request), kind, language);
      return templateView(ctx, kind, language);
    },
  );

  app.get(
    '/api/v1/webhooks',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'Webhook endpoints',
        response: { 200: z.object({ items: z.array(WebhookView) }), ...errorResponses(401, 403) },
      },
    },
    async () => ({
      items: (await ctx.db.kysely.selectFrom('webhooks').selectAll().orderBy('id').execute()).map(
        presentWebhook,
      ),
    }),
  );

  app.post(
    '/api/v1/webhooks',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary:
          'Register an endpoint for event kinds; the signing secret is returned once (private and loopback addresses are refused: webhook_url_refused)',
        body: z.strictObject({
          url: z.string().min(1).max(2000),
          events: z.array(Event).min(1),
          secret: z.string().min(16).max(200).optional(),
          description: z.string().max(500).optional(),
        }),
        response: { 201: WebhookView.extend({ secret: z.string() }), ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { row, secret } = await createWebhook(ctx, requireActor(request), request.body);
      return reply.status(201).send({ ...presentWebhook(row), secret });
    },
  );

  app.patch(
    '/api/v1/webhooks/:id',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'Change an endpoint’s events, or disable it (its queued calls then fail)',
        params: IdParam,
        body: z.strictObject({
          events: z.array(Event).min(1).optional(),
          status: z.enum(['active', 'disabled']).optional(),
        }),
        response: { 200: WebhookView, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) =>
      presentWebhook(await updateWebhook(ctx, requireActor(request), request.params.id, request.body)),
  );

  app.get(
    '/api/v1/webhooks/:id/deliveries',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['notifications'],
        summary: 'The calls made to one endpoint, newest first, each with its attempts',
        params: IdParam,
        querystring: PageQuery,
        response: {
          200: page(DeliveryView.extend({ attemptLog: z.array(AttemptView) })),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const hook = await getWebhook(ctx, requireActor(request), request.params.id);
      const { limit, before } = request.query;
      let q = ctx.db.kysely
        .selectFrom('deliveries')
        .selectAll()
        .where('webhook_id', '=', hook.id)
        .orderBy('id', 'desc')
        .limit(limit);
      if (before) q = q.where('id', '<', before);
      const rows = await q.execute();
      const attempts =
        rows.length === 0
          ? []
          : await ctx.db.kysely
              .selectFrom('delivery_attempts')
              .selectAll()
              .where(
                'delivery_id',
                'in',
                rows.map((r) => r.id),
              )
              .orderBy('id')
              .execute();
      return {
        items: rows.map((r) => ({
          ...presentDelivery(r),
          attemptLog: attempts.filter((a) => toId(a.delivery_id) === toId(r.id)).map(presentAttempt),
        })),
        nextBefore: nextBefore(rows, limit),
      };
    },
  );

  app.get(
    '/api/v1/me/notification-preferences',
    {
      schema: {
        tags: ['notifications'],
        summary: 'My mail language and which reminders I get (security and payment mail always goes)',
        response: { 200: PreferencesView, ...errorResponses(401, 403) },
      },
    },
    async (request) => getPreferences(ctx, requireActor(request)),
  );

  app.put(
    '/api/v1/me/notification-preferences',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Set my mail language and turn reminder kinds on or off',
        body: z.strictObject({
          language: z.enum(LANGUAGES).optional(),
          reminders: Reminders.partial().strict().optional(),
        }),
        response: { 200: PreferencesView, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => setPreferences(ctx, requireActor(request), request.body),
  );
}
