import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import { conflict } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http/errors.js';
import type { Actor } from '../accounts/actor.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam } from '../accounts/schemas.js';
import { getServiceFor } from '../services/commands.js';
import { productTypeOf } from '../services/repository.js';
import { changeLicenseIp, licenseView, regenerateLicenseKey } from './commands.js';
import { licenseSourceOf } from './source.js';

const ChangeError = z.object({ code: z.string(), message: z.string(), at: z.string() });

export const LicenseView = z.object({
  source: z.enum(['billfold', 'module']).meta({
    description:
      '`billfold`: Billfold issues the license (IP and key change at once); `module`: a processing module gets it from an upstream (IP and key changes are operations it carries out)',
  }),
  status: z.enum(['ordered', 'processing', 'active', 'suspended', 'deleted']),
  key: z
    .string()
    .nullable()
    .meta({ description: 'The license key; null while the license is being issued and once it is deleted' }),
  ip: z.string().nullable(),
  expiresOn: z.string().nullable(),
  ipChangedOn: z
    .string()
    .nullable()
    .meta({ description: 'Last IP change that counts toward the monthly limit' }),
  keyChangedOn: z.string().nullable(),
  ipChangeAllowed: z
    .boolean()
    .meta({ description: 'Whether the IP can be changed now (the monthly rule, no change already pending)' }),
  nextIpChangeOn: z.string().nullable().meta({
    description: 'The first day the monthly rule allows a counted change (today when it allows one now)',
  }),
  ipChangeRule: z.string().meta({ description: 'The IP rule in a sentence, with where this license stands' }),
  pending: z
    .array(
      z.object({
        kind: z.enum(['ip', 'key']),
        operationId: z.number().int(),
        status: z.enum(['queued', 'running', 'retry_wait']),
        value: z.string().nullable().meta({ description: 'The address asked for; null for a new key' }),
        requestedAt: z.string(),
        lastError: ChangeError.nullable().meta({ description: 'Retrying after this error' }),
      }),
    )
    .meta({ description: 'IP changes and new keys on their way to the upstream' }),
  lastError: z
    .object({
      kind: z.enum(['ip', 'key']),
      operationId: z.number().int(),
      value: z.string().nullable(),
      code: z.string(),
      message: z.string().meta({ description: "The upstream's own message" }),
      at: z.string(),
    })
    .nullable()
    .meta({ description: 'The latest IP change or new key that was refused; nothing changed locally' }),
});

const tags = ['licenses'];

/** A license, for its owner and staff, whoever serves it: the view, a new key, another IP. */
export function registerLicenseRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  /** The caller's service (404 otherwise) and who serves it, refused unless it is a license. */
  const licenseService = async (actor: Actor, id: number) => {
    const service = await getServiceFor(ctx, actor, id);
    const source = await licenseSourceOf(ctx, ctx.db.kysely, service);
    if (source === null)
      throw conflict('not_a_license', `Service ${id} is not a license.`, {
        serviceId: id,
        productType: (await productTypeOf(ctx.db.kysely, service)).code,
      });
    return { service, source };
  };
  const view = async (actor: Actor, id: number) => {
    const { service, source } = await licenseService(actor, id);
    const license = await licenseView(ctx, service, source);
    if (!license)
      throw conflict('license_not_issued', 'No license key has been issued for this service (yet).');
    return license;
  };

  app.get(
    '/api/v1/services/:id/license',
    {
      schema: {
        tags,
        summary:
          'The license of a service, whoever issues it: status, IP, expiry, key, the monthly IP rule explained, changes pending and the last refused one',
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
        summary:
          'Move the license to another IPv4 or IPv6 address (once a calendar month; 0.0.0.0 releases it). A license Billfold issues moves at once (200); one an upstream serves answers 202 with the change pending until the upstream does it (a refusal shows in lastError)',
        params: IdParam,
        body: z.strictObject({ ip: z.string().max(100) }),
        response: { 200: LicenseView, 202: LicenseView, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      const actor = requireActor(request);
      // The answer is the license's view: refused before anything is written when there is
      // none yet (not_a_license, license_not_issued), not after the address has moved.
      await view(actor, request.params.id);
      const r = await changeLicenseIp(ctx, actor, request.params.id, request.body.ip);
      const answer = await view(actor, request.params.id);
      return r.outcome === 'queued' ? reply.code(202).send(answer) : answer;
    },
  );

  app.post(
    '/api/v1/services/:id/license/key',
    {
      schema: {
        tags,
        summary:
          'A new key for the license (the old one stops working). Billfold-issued: at once (200); upstream-served: 202 with the new key pending until the upstream issues it',
        params: IdParam,
        response: { 200: LicenseView, 202: LicenseView, ...errorResponses(401, 404, 409) },
      },
    },
    async (request, reply) => {
      const actor = requireActor(request);
      await view(actor, request.params.id);
      const r = await regenerateLicenseKey(ctx, actor, request.params.id);
      const answer = await view(actor, request.params.id);
      return r.outcome === 'queued' ? reply.code(202).send(answer) : answer;
    },
  );
}
