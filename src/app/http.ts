import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { registerAccountRoutes, registerAuth, SESSION_COOKIE } from '../modules/accounts/index.js';
import type { AppContext } from '../platform/context.js';
import { errorHandler } from '../platform/http/errors.js';
import { VERSION } from '../version.js';
import { landingPage } from './landing.js';

/**
 * The HTTP application: JSON API under /api/v1 (zod schemas validate input, shape output
 * and generate the OpenAPI document at /api/openapi.json, browsable at /api/docs).
 */
export async function buildHttpApp(ctx: AppContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger as FastifyBaseLogger,
    trustProxy: ctx.config.trustProxy,
    bodyLimit: 1_048_576,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'route_not_found',
        message: `No route ${request.method} ${request.url.split('?')[0]}.`,
        details: {},
      },
    }),
  );

  await app.register(cookie);
  await app.register(formbody);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Billfold API',
        version: VERSION,
        description:
          'Billing and provisioning for hosting providers. Authenticate with a session cookie (POST /api/v1/auth/login; ' +
          'send the returned csrfToken as x-csrf-token on state-changing requests) or an API token (Authorization: Bearer bf_…). ' +
          'Errors are {"error":{"code","message","details"}} with stable snake_case codes. Amounts are decimal strings.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'API token created at POST /api/v1/me/tokens',
          },
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true },
  });

  registerAuth(app, ctx);

  app.get('/api/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  app.get('/api/health', { config: { auth: 'public' }, schema: { hide: true } }, async () => {
    await ctx.db.kysely.selectFrom('provider').select('id').limit(1).execute();
    return { status: 'ok', version: VERSION, database: ctx.db.kind, time: ctx.clock.now().toISOString() };
  });
  app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(landingPage()),
  );

  registerAccountRoutes(app, ctx);
  return app;
}
