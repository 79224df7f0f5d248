import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import { errorResponses } from '../../platform/http/errors.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam, IdText, nextBefore, PageQuery, page } from '../accounts/schemas.js';
import { importTariffs } from './import.js';
import { listFindings, presentFinding, reconcileModule, resolveFinding } from './reconcile.js';
import { syncService } from './sync.js';

/** Reselling through modules: tariff import, reading a service back, reconciliation. Staff only. */

const admin = { auth: 'admin' as const };

const UpstreamPricesView = z.object({
  currency: z.string(),
  prices: z.array(z.object({ period: z.number(), amount: z.string().meta({ example: '7.5000' }) })),
  importedAt: z.string(),
});
const ImportedRef = z.object({ tariffId: z.number(), externalId: z.string(), name: z.string() });
const ImportView = z.object({
  moduleId: z.number(),
  created: z.array(
    ImportedRef.extend({
      productType: z.string(),
      pricesCopied: z.boolean().meta({
        description:
          "Our prices were copied from the upstream's (same currency); else the tariff has none yet",
      }),
    }),
  ),
  updated: z.array(
    ImportedRef.extend({
      costChanged: z.boolean(),
      settingsChanged: z.boolean(),
      before: UpstreamPricesView.nullable(),
      after: UpstreamPricesView,
    }),
  ),
  unchanged: z.number(),
  gone: z.array(ImportedRef).meta({ description: 'Linked tariffs the upstream no longer offers (kept)' }),
});

const Difference = z.object({
  field: z.enum(['missing', 'status', 'expiresOn', 'ip', 'key']),
  local: z.string().nullable(),
  upstream: z.string().nullable(),
});
const RemoteItemView = z.object({
  externalId: z.string(),
  remoteId: z.string().nullable(),
  name: z.string().nullable(),
  status: z.enum(['ordered', 'processing', 'active', 'suspended', 'deleted', 'unknown']),
  expiresOn: z.string().nullable(),
  params: z.record(z.string(), z.string()),
});
const SyncView = z.object({
  serviceId: z.number(),
  moduleId: z.number(),
  upstream: RemoteItemView.nullable(),
  local: z.object({
    status: z.string(),
    expiresOn: z.string().nullable(),
    ip: z.string().nullable(),
    key: z.string().nullable(),
  }),
  differences: z.array(Difference),
  keyUpdated: z.boolean().meta({ description: "The service's key was replaced by the upstream's" }),
});

const ReconcileView = z.object({
  moduleId: z.number(),
  items: z.number(),
  compared: z.number(),
  opened: z.number(),
  seenAgain: z.number(),
  resolved: z.number(),
  open: z.number(),
});

const FindingKind = z.enum(['orphan', 'missing', 'differs']);
const FindingStatus = z.enum(['open', 'resolved', 'dismissed']);
const FindingView = z.object({
  id: z.number(),
  moduleId: z.number(),
  kind: FindingKind,
  serviceId: z.number().nullable(),
  externalId: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  fix: z.object({
    text: z.string(),
    action: z.string().meta({
      description: '`accept_upstream` is carried out by POST …/resolve; `review_*` are done by hand',
    }),
  }),
  status: FindingStatus,
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  resolution: z.string().nullable(),
});

export function registerResellingRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();

  app.post(
    '/api/v1/modules/:id/import-tariffs',
    {
      config: admin,
      schema: {
        tags: ['modules'],
        summary:
          "Import the upstream's tariffs: new ones become hidden local tariffs; known ones get the upstream's prices, never ours",
        params: IdParam,
        response: { 200: ImportView, ...errorResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request) => importTariffs(ctx, requireActor(request), request.params.id),
  );

  app.post(
    '/api/v1/services/:id/sync',
    {
      config: admin,
      schema: {
        tags: ['services'],
        summary:
          "Read a service back from its module's upstream: the differences, and the key taken from the upstream",
        params: IdParam,
        response: { 200: SyncView, ...errorResponses(401, 403, 404, 409, 503) },
      },
    },
    async (request) => syncService(ctx, requireActor(request), request.params.id),
  );

  app.post(
    '/api/v1/modules/:id/reconcile',
    {
      config: admin,
      schema: {
        tags: ['modules'],
        summary: "Compare the module's upstream items with our services and record the findings",
        params: IdParam,
        response: { 200: ReconcileView, ...errorResponses(401, 403, 404, 409, 503) },
      },
    },
    async (request) => reconcileModule(ctx, requireActor(request), request.params.id),
  );

  app.get(
    '/api/v1/reconciliation',
    {
      config: admin,
      schema: {
        tags: ['modules'],
        summary: 'Reconciliation findings, newest first (filter by module, kind, status)',
        querystring: PageQuery.extend({
          module: IdText.optional(),
          kind: FindingKind.optional(),
          status: FindingStatus.optional(),
        }),
        response: { 200: page(FindingView), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const q = request.query;
      const rows = await listFindings(ctx, requireActor(request), {
        limit: q.limit,
        ...(q.module !== undefined ? { moduleId: q.module } : {}),
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(q.before !== undefined ? { before: q.before } : {}),
      });
      return { items: rows.map(presentFinding), nextBefore: nextBefore(rows, q.limit) };
    },
  );

  app.post(
    '/api/v1/reconciliation/:id/resolve',
    {
      config: admin,
      schema: {
        tags: ['modules'],
        summary:
          "Act on an open finding: dismiss it, or accept the upstream's expiry and IP for the service (differs)",
        params: IdParam,
        body: z.strictObject({ action: z.enum(['dismiss', 'accept_upstream']) }),
        response: { 200: FindingView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      presentFinding(
        await resolveFinding(ctx, requireActor(request), request.params.id, request.body.action),
      ),
  );
}
