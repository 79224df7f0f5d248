import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireActor } from '../../modules/accounts/http-auth.js';
import { IdParam, IdText, nextBefore, PageQuery, page } from '../../modules/accounts/schemas.js';
import type { AppContext } from '../../platform/context.js';
import { errorResponses } from '../../platform/http/errors.js';
import { deletePoolLicense, listBundledLicenses, releaseBundledLicense } from './pool.js';

/** Staff: the control-panel licenses bundled with servers, and the free-license pool (pool.ts). */

const admin = { auth: 'admin' as const };
const State = z.enum(['bound', 'free', 'gone']);

const BundledLicenseView = z.object({
  id: z.number(),
  licenseModuleId: z.number(),
  externalId: z.string().meta({ description: 'The license id at the license server' }),
  pricelist: z.string().meta({ description: 'The upstream tariff, e.g. 55228 (ISPmanager 6 Pro)' }),
  state: State.meta({
    description: 'bound (a server uses it), free (in the pool), gone (deleted or lapsed)',
  }),
  serviceId: z.number().nullable(),
  name: z.string().nullable(),
  ip: z.string().nullable(),
  expiresOn: z.string().nullable(),
  expired: z.boolean(),
  ipChangedOn: z.string().nullable(),
  keyChangedOn: z.string().nullable(),
  usableFrom: z.string().nullable().meta({
    description: 'A free license: the first day a server may take it (IP and key changed over a month ago)',
  }),
  upstreamPrice: z
    .object({
      currency: z.string(),
      prices: z.array(z.object({ period: z.number(), amount: z.string() })),
    })
    .nullable()
    .meta({ description: 'What the license server charges for the tariff (its last tariff import)' }),
});

export function registerLicensePoolRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/api/v1/bundled-licenses',
    {
      config: admin,
      schema: {
        tags: ['modules'],
        summary:
          'Licenses bundled with servers and the free-license pool (filter by license server and state), newest first',
        querystring: PageQuery.extend({ module: IdText.optional(), state: State.optional() }),
        response: { 200: page(BundledLicenseView), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const q = request.query;
      const items = await listBundledLicenses(ctx, requireActor(request), {
        limit: q.limit,
        ...(q.module !== undefined ? { moduleId: q.module } : {}),
        ...(q.state ? { state: q.state } : {}),
        ...(q.before !== undefined ? { before: q.before } : {}),
      });
      return { items, nextBefore: nextBefore(items, q.limit) };
    },
  );

  app.delete(
    '/api/v1/bundled-licenses/:id',
    {
      config: admin,
      schema: {
        tags: ['modules'],
        summary:
          'Delete a free pool license at the license server (it stops costing); a bound one is refused',
        params: IdParam,
        response: { 200: BundledLicenseView, ...errorResponses(401, 403, 404, 409, 503) },
      },
    },
    async (request) => deletePoolLicense(ctx, requireActor(request), request.params.id),
  );

  app.post(
    '/api/v1/bundled-licenses/:id/release',
    {
      config: admin,
      schema: {
        tags: ['modules'],
        summary:
          'Put back in the pool a license still bound to a server that no longer uses it (suspended, free.lic, 0.0.0.0); a live server’s is refused',
        params: IdParam,
        response: { 200: BundledLicenseView, ...errorResponses(401, 403, 404, 409, 503) },
      },
    },
    async (request) => releaseBundledLicense(ctx, requireActor(request), request.params.id),
  );
}
