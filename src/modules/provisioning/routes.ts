import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import { errorResponses } from '../../platform/http/errors.js';
import { getProviderCurrency } from '../accounts/commands.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam, nextBefore, PageQuery, page } from '../accounts/schemas.js';
import {
  checkModuleConnection,
  createModule,
  deleteModule,
  getModule,
  listTariffModules,
  moduleBalance,
  presentModule,
  presentModuleType,
  setTariffModules,
  updateModule,
} from './commands.js';
import {
  CheckView,
  CreateModuleInput,
  ModuleTypeView,
  ModuleView,
  TariffModulesInput,
  TariffModuleView,
  UpdateModuleInput,
} from './schemas.js';

const tags = ['modules'];
const admin = { auth: 'admin' as const };

/** Processing modules: types installed, CRUD, connection check, balance, tariff links. Staff only. */
export function registerModuleRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const present = async (row: Parameters<typeof presentModule>[1]) =>
    presentModule(ctx, row, await getProviderCurrency(ctx));

  app.get(
    '/api/v1/module-types',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Module types (plug-ins) installed, with what they support and their parameter schema',
        response: { 200: z.object({ items: z.array(ModuleTypeView) }), ...errorResponses(401, 403) },
      },
    },
    async () => ({ items: ctx.plugins.list().map(presentModuleType) }),
  );

  app.get(
    '/api/v1/modules',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Processing modules (secrets shown only as set/unset)',
        querystring: PageQuery,
        response: { 200: page(ModuleView), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      let q = ctx.db.kysely
        .selectFrom('processing_modules')
        .selectAll()
        .orderBy('id', 'desc')
        .limit(request.query.limit);
      if (request.query.before) q = q.where('id', '<', request.query.before);
      const rows = await q.execute();
      const currency = await getProviderCurrency(ctx);
      return {
        items: rows.map((r) => presentModule(ctx, r, currency)),
        nextBefore: nextBefore(rows, request.query.limit),
      };
    },
  );

  app.post(
    '/api/v1/modules',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Create a processing module; params are checked by the module type',
        body: CreateModuleInput,
        response: { 201: ModuleView, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      reply.code(201);
      return present(await createModule(ctx, requireActor(request), request.body));
    },
  );

  app.get(
    '/api/v1/modules/:id',
    {
      config: admin,
      schema: {
        tags,
        summary: 'One module',
        params: IdParam,
        response: { 200: ModuleView, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => present(await getModule(ctx, request.params.id)),
  );

  app.patch(
    '/api/v1/modules/:id',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Change a module; params are merged (null removes a field or unsets a secret)',
        params: IdParam,
        body: UpdateModuleInput,
        response: { 200: ModuleView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      present(await updateModule(ctx, requireActor(request), request.params.id, request.body)),
  );

  app.delete(
    '/api/v1/modules/:id',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Delete a module nothing depends on',
        params: IdParam,
        response: { 204: z.null(), ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await deleteModule(ctx, requireActor(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/modules/:id/check',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Check the connection (the outcome is also stored on the module)',
        params: IdParam,
        response: { 200: CheckView, ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request) => checkModuleConnection(ctx, requireActor(request), request.params.id),
  );

  app.get(
    '/api/v1/modules/:id/balance',
    {
      config: admin,
      schema: {
        tags,
        summary: 'The upstream balance, and whether it is below the minimum',
        params: IdParam,
        response: {
          200: z.object({
            amount: z.string(),
            currency: z.string(),
            minimum: z.string().nullable(),
            below: z.boolean(),
          }),
          ...errorResponses(401, 403, 404, 409),
        },
      },
    },
    async (request) => moduleBalance(ctx, requireActor(request), request.params.id),
  );

  app.get(
    '/api/v1/tariffs/:id/modules',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Modules serving a tariff, in the order they are tried',
        params: IdParam,
        response: { 200: z.object({ items: z.array(TariffModuleView) }), ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => ({ items: await listTariffModules(ctx.db.kysely, request.params.id) }),
  );

  app.put(
    '/api/v1/tariffs/:id/modules',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Set the modules serving a tariff; the enabled one with the lowest sort opens new services',
        params: IdParam,
        body: TariffModulesInput,
        response: {
          200: z.object({ items: z.array(TariffModuleView) }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => ({
      items: await setTariffModules(ctx, requireActor(request), request.params.id, request.body),
    }),
  );
}
