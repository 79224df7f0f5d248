import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import { errorResponses } from '../../platform/http/errors.js';
import { toId } from '../../platform/ids.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam, IdText } from '../accounts/schemas.js';
import { tariffProblems } from '../provisioning/panel-config.js';
import {
  addEnumerationValue,
  createAddon,
  createEnumeration,
  createProductType,
  createTariff,
  deleteAddon,
  deleteEnumeration,
  deleteEnumerationValue,
  replaceAddon,
  updateEnumeration,
  updateEnumerationValue,
  updateProductType,
  updateTariff,
} from './commands.js';
import { presentEnumeration, presentEnumerationValue, presentProductType } from './presenters.js';
import {
  getEnumeration,
  getProductType,
  getTariff,
  listEnumerations,
  listProductTypes,
  listTariffs,
  publicCatalog,
  tariffHistory,
} from './queries.js';
import {
  AddonInput,
  CatalogView,
  CreateEnumerationInput,
  CreateProductTypeInput,
  CreateTariffInput,
  EnumerationValueInput,
  EnumerationValueView,
  EnumerationView,
  ProductTypeCode,
  ProductTypeView,
  TariffHistoryView,
  TariffProblemView,
  TariffStatus,
  TariffView,
  UpdateEnumerationInput,
  UpdateEnumerationValueInput,
  UpdateProductTypeInput,
  UpdateTariffInput,
} from './schemas.js';

const ValueParams = z.strictObject({ id: IdText, valueId: IdText });
const AddonParams = z.strictObject({ id: IdText, addonId: IdText });
const CodeParam = z.strictObject({ code: ProductTypeCode });
const admin = { auth: 'admin' as const };

export function registerCatalogRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/api/v1/catalog',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['catalog'],
        summary:
          'What a client can order now: active, unexpired tariffs with prices per period and addon options',
        querystring: z.strictObject({ productType: ProductTypeCode.optional() }),
        response: { 200: CatalogView, ...errorResponses(400) },
      },
    },
    async (request) => publicCatalog(ctx, request.query),
  );

  // ---------- product types ----------
  app.get(
    '/api/v1/product-types',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Product types and their lifecycle policy',
        response: { 200: z.object({ items: z.array(ProductTypeView) }), ...errorResponses(401, 403) },
      },
    },
    async () => ({ items: (await listProductTypes(ctx)).map(presentProductType) }),
  );
  app.get(
    '/api/v1/product-types/:code',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'One product type',
        params: CodeParam,
        response: { 200: ProductTypeView, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => presentProductType(await getProductType(ctx, request.params.code)),
  );
  app.post(
    '/api/v1/product-types',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Create a product type',
        body: CreateProductTypeInput,
        response: { 201: ProductTypeView, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(presentProductType(await createProductType(ctx, requireActor(request), request.body))),
  );
  app.patch(
    '/api/v1/product-types/:code',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Change a product type’s name, lifecycle policy or service parameters',
        params: CodeParam,
        body: UpdateProductTypeInput,
        response: { 200: ProductTypeView, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) =>
      presentProductType(
        await updateProductType(ctx, requireActor(request), request.params.code, request.body),
      ),
  );

  // ---------- enumerations ----------
  app.get(
    '/api/v1/enumerations',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Enumerations with their values',
        response: { 200: z.object({ items: z.array(EnumerationView) }), ...errorResponses(401, 403) },
      },
    },
    async (request) => ({
      items: (await listEnumerations(ctx, requireActor(request))).map((e) =>
        presentEnumeration(e.enumeration, e.values),
      ),
    }),
  );
  app.post(
    '/api/v1/enumerations',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Create an enumeration, optionally with values',
        body: CreateEnumerationInput,
        response: { 201: EnumerationView, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const e = await createEnumeration(ctx, requireActor(request), request.body);
      return reply.status(201).send(presentEnumeration(e.enumeration, e.values));
    },
  );
  app.get(
    '/api/v1/enumerations/:id',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'One enumeration with its values',
        params: IdParam,
        response: { 200: EnumerationView, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const e = await getEnumeration(ctx, requireActor(request), request.params.id);
      return presentEnumeration(e.enumeration, e.values);
    },
  );
  app.patch(
    '/api/v1/enumerations/:id',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Rename an enumeration',
        params: IdParam,
        body: UpdateEnumerationInput,
        response: { 200: EnumerationView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      await updateEnumeration(ctx, requireActor(request), request.params.id, request.body);
      const e = await getEnumeration(ctx, requireActor(request), request.params.id);
      return presentEnumeration(e.enumeration, e.values);
    },
  );
  app.delete(
    '/api/v1/enumerations/:id',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Delete an enumeration no addon links to',
        params: IdParam,
        response: { 204: z.null(), ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await deleteEnumeration(ctx, requireActor(request), request.params.id);
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/api/v1/enumerations/:id/values',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Add a value (internal name unique within the enumeration)',
        params: IdParam,
        body: EnumerationValueInput,
        response: { 201: EnumerationValueView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          presentEnumerationValue(
            await addEnumerationValue(ctx, requireActor(request), request.params.id, request.body),
          ),
        ),
  );
  app.patch(
    '/api/v1/enumerations/:id/values/:valueId',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Rename, reorder, disable or enable a value',
        params: ValueParams,
        body: UpdateEnumerationValueInput,
        response: { 200: EnumerationValueView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      presentEnumerationValue(
        await updateEnumerationValue(
          ctx,
          requireActor(request),
          request.params.id,
          request.params.valueId,
          request.body,
        ),
      ),
  );
  app.delete(
    '/api/v1/enumerations/:id/values/:valueId',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Delete a value that no tariff or service uses (disable it otherwise)',
        params: ValueParams,
        response: { 204: z.null(), ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await deleteEnumerationValue(ctx, requireActor(request), request.params.id, request.params.valueId);
      return reply.status(204).send(null);
    },
  );

  // ---------- tariffs ----------
  app.get(
    '/api/v1/tariffs',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'All tariff plans with prices and addons',
        querystring: z.strictObject({
          productType: ProductTypeCode.optional(),
          status: TariffStatus.optional(),
        }),
        response: { 200: z.object({ items: z.array(TariffView) }), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => ({ items: await listTariffs(ctx, requireActor(request), request.query) }),
  );
  app.post(
    '/api/v1/tariffs',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Create a tariff plan (optionally with a chosen numeric id)',
        body: CreateTariffInput,
        response: { 201: TariffView, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createTariff(ctx, requireActor(request), request.body)),
  );
  app.get(
    '/api/v1/tariffs/:id',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'One tariff plan',
        params: IdParam,
        response: { 200: TariffView, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => getTariff(ctx, requireActor(request), request.params.id),
  );
  app.patch(
    '/api/v1/tariffs/:id',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary:
          'Change a tariff: name, status (active/hidden/archived), periods, prices, setup fee, expiration date',
        params: IdParam,
        body: UpdateTariffInput,
        response: { 200: TariffView, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => updateTariff(ctx, requireActor(request), request.params.id, request.body),
  );
  app.get(
    '/api/v1/tariffs/:id/history',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Who changed what and when (before/after of every change)',
        params: IdParam,
        response: { 200: z.object({ items: z.array(TariffHistoryView) }), ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => ({
      items: (await tariffHistory(ctx, requireActor(request), request.params.id)).map((h) => ({
        id: toId(h.id),
        change: h.change,
        before: h.before_json ? (JSON.parse(h.before_json) as unknown) : null,
        after: h.after_json ? (JSON.parse(h.after_json) as unknown) : null,
        actor: { userId: h.actor_user_id === null ? null : toId(h.actor_user_id), label: h.actor_label },
        createdAt: h.created_at,
      })),
    }),
  );
  app.get(
    '/api/v1/tariffs/:id/problems',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary:
          'What is wrong with the tariff’s control-panel configuration (prices missing, panels the license server does not sell, no license server)',
        params: IdParam,
        response: { 200: z.object({ items: z.array(TariffProblemView) }), ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => ({ items: await tariffProblems(ctx, requireActor(request), request.params.id) }),
  );
  app.post(
    '/api/v1/tariffs/:id/addons',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Add an addon (boolean, integer or enumeration) to a tariff',
        params: IdParam,
        body: AddonInput,
        response: { 201: TariffView, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createAddon(ctx, requireActor(request), request.params.id, request.body)),
  );
  app.put(
    '/api/v1/tariffs/:id/addons/:addonId',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Replace an addon’s configuration (its value type stays)',
        params: AddonParams,
        body: AddonInput,
        response: { 200: TariffView, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) =>
      replaceAddon(ctx, requireActor(request), request.params.id, request.params.addonId, request.body),
  );
  app.delete(
    '/api/v1/tariffs/:id/addons/:addonId',
    {
      config: admin,
      schema: {
        tags: ['catalog'],
        summary: 'Remove an addon from a tariff',
        params: AddonParams,
        response: { 200: TariffView, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => deleteAddon(ctx, requireActor(request), request.params.id, request.params.addonId),
  );
}
