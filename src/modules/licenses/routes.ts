import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import { conflict } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http/errors.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam } from '../accounts/schemas.js';
import { getServiceFor } from '../services/commands.js';
import { changeLicenseIp, licenseView, regenerateLicenseKey } from './commands.js';

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

/** A license Billfold issued, for its owner and staff: the key, a new key, another IP. */
export function registerLicenseRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const view = async (actor: Parameters<typeof getServiceFor>[1], id: number) => {
    const license = await licenseView(ctx, await getServiceFor(ctx, actor, id));
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
      await getServiceFor(ctx, actor, request.params.id);
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
      await getServiceFor(ctx, actor, request.params.id);
      await regenerateLicenseKey(ctx, actor, request.params.id);
      return view(actor, request.params.id);
    },
  );
}
