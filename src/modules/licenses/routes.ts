import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import type { ServiceRow } from '../../platform/db/index.js';
import { conflict } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http/errors.js';
import { toId } from '../../platform/ids.js';
import type { Actor } from '../accounts/actor.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam } from '../accounts/schemas.js';
import { getServiceFor } from '../services/commands.js';
import { changeLicenseIp, findLicense, licenseView, regenerateLicenseKey } from './commands.js';

export const LicenseView = z.object({
  key: z.string().nullable().meta({ description: 'The license key; null once the license is deleted' }),
  ip: z.string().nullable(),
  ipChangedOn: z
    .string()
    .nullable()
    .meta({ description: 'Last IP change that counts toward the monthly limit' }),
  keyChangedOn: z.string().nullable(),
  ipChangeAllowed: z.boolean().meta({ description: 'Whether the IP can be changed this calendar month' }),
});

const tags = ['licenses'];

/**
 * Whether a service is a license Billfold issues: it has a key, or it is served by a module
 * whose type is a license source, or — no module chosen yet — its product type is one a
 * license-source module type serves. Anything else (a VPS, a license another system issues)
 * is refused as `not_a_license` rather than told its key is "still being issued".
 */
async function isBillfoldLicense(ctx: AppContext, service: ServiceRow): Promise<boolean> {
  if (await findLicense(ctx.db.kysely, toId(service.id))) return true;
  if (service.module_id !== null) {
    const module = await ctx.db.kysely
      .selectFrom('processing_modules')
      .select('module_type')
      .where('id', '=', service.module_id)
      .executeTakeFirst();
    return module !== undefined && ctx.plugins.get(module.module_type)?.licenseSource === true;
  }
  const type = await productTypeOf(ctx, service);
  return ctx.plugins.list().some((t) => t.licenseSource === true && t.productTypes.includes(type));
}

const productTypeOf = async (ctx: AppContext, service: ServiceRow): Promise<string> =>
  (
    await ctx.db.kysely
      .selectFrom('product_types')
      .select('code')
      .where('id', '=', service.product_type_id)
      .executeTakeFirstOrThrow()
  ).code;

/** A license Billfold issued, for its owner and staff: the key, a new key, another IP. */
export function registerLicenseRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  /** The caller's service (404 otherwise), refused unless it is a license Billfold issues. */
  const licenseService = async (actor: Actor, id: number): Promise<ServiceRow> => {
    const service = await getServiceFor(ctx, actor, id);
    if (!(await isBillfoldLicense(ctx, service)))
      throw conflict('not_a_license', `Service ${id} is not a license Billfold issues.`, {
        serviceId: id,
        productType: await productTypeOf(ctx, service),
      });
    return service;
  };
  const view = async (actor: Actor, id: number) => {
    const license = await licenseView(ctx, await licenseService(actor, id));
    if (!license)
      throw conflict('license_not_issued', 'No license key has been issued for this service (yet).');
    return license;
  };

  app.get(
    '/api/v1/services/:id/license',
    {
      schema: {
        tags,
        summary: 'The license key issued for a service, with the dates of its last IP and key changes',
        params: IdParam,
        response: { 200: LicenseView, ...errorResponses(401, 404, 409) },
      },
    },
    async (request) => view(requireActor(request), request.params.id),
  );

  app.post(
    '/api/v1/services/:id/license/ip',
    {
      schema: {
        tags,
        summary: 'Move the license to another IPv4 address (once a calendar month; 0.0.0.0 releases it)',
        params: IdParam,
        body: z.strictObject({ ip: z.string().max(45) }),
        response: { 200: LicenseView, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request) => {
      const actor = requireActor(request);
      // The answer is the license's view: refused before anything is written when there is
      // none yet (not_a_license, license_not_issued), not after the address has moved.
      await view(actor, request.params.id);
      await changeLicenseIp(ctx, actor, request.params.id, request.body.ip);
      return view(actor, request.params.id);
    },
  );

  app.post(
    '/api/v1/services/:id/license/key',
    {
      schema: {
        tags,
        summary: 'Issue a new key for the license (the old one stops working)',
        params: IdParam,
        response: { 200: LicenseView, ...errorResponses(401, 404, 409) },
      },
    },
    async (request) => {
      const actor = requireActor(request);
      await licenseService(actor, request.params.id);
      await regenerateLicenseKey(ctx, actor, request.params.id);
      return view(actor, request.params.id);
    },
  );
}
