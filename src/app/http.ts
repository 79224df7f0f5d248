import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { errorCodes, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { registerLicensePoolRoutes } from '../integrations/billmanager/pool-routes.js';
import { registerAccountRoutes, registerAuth, SESSION_COOKIE } from '../modules/accounts/index.js';
import { registerBillingRoutes } from '../modules/billing/index.js';
import { registerReportRoutes } from '../modules/billing/report-routes.js';
import { type BillmgrOptions, mgrErrorDialect, registerBillmgrRoutes } from '../modules/billmgr/routes.js';
import { registerCatalogRoutes } from '../modules/catalog/index.js';
import { registerInvoiceRoutes } from '../modules/invoices/index.js';
import { registerLicenseRoutes } from '../modules/licenses/index.js';
import { registerNotifyRoutes } from '../modules/notify/routes.js';
import { registerOrderRoutes } from '../modules/orders/index.js';
import { registerModuleRoutes } from '../modules/provisioning/index.js';
import { registerResellingRoutes } from '../modules/provisioning/reselling-routes.js';
import { registerServiceRoutes } from '../modules/services/index.js';
import type { AppContext } from '../platform/context.js';
import { httpErrorHandlers } from '../platform/http/errors.js';
import { rejectInvalidText } from '../platform/http/input.js';
import { VERSION } from '../version.js';
import { registerWebApp } from './web.js';

/**
 * The HTTP application: JSON API under /api/v1 (zod schemas validate input, shape output
 * and generate the OpenAPI document at /api/openapi.json, browsable at /api/docs); the web app
 * (web/, built by `npm install`) at `/`.
 */
export async function buildHttpApp(
  ctx: AppContext,
  opts: {
    readonly billmgr?: BillmgrOptions;
    /** The web app's build output (default web/dist): tests point it elsewhere. */
    readonly webDist?: string;
  } = {},
): Promise<FastifyInstance> {
  // Every error leaves in the documented shape, Fastify's and Node's own refusals included;
  // /billmgr's paths answer in mgr documents.
  const errors = httpErrorHandlers(ctx.logger as FastifyBaseLogger, [mgrErrorDialect]);
  const app = Fastify({
    loggerInstance: ctx.logger as FastifyBaseLogger,
    trustProxy: ctx.config.trustProxy,
    bodyLimit: 1_048_576,
    clientErrorHandler: errors.clientErrorHandler,
    frameworkErrors: errors.frameworkErrors,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errors.errorHandler);
  // Unknown paths: the web app's client routes go to the app, the rest is the API's 404.
  app.setNotFoundHandler(await registerWebApp(app, errors.notFoundHandler, opts.webDist));

  await app.register(cookie);
  // The REST API reads JSON only: a form, text or any other body is 415 unsupported_media_type
  // (a form used to be parsed and refused field by field as unknown_field). A request without
  // a body is not refused for its content type, and an unknown route stays a 404.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || request.is404) done(null, undefined);
    else done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
  });
  // An empty body sent with "content-type: application/json" (generic clients do this on DELETE
  // and logout) is no body, not invalid JSON; a route that needs a body still says it is missing.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });
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
    // Emits the schemas that routes reference by id (the shared Error body) under components.
    transformObject: jsonSchemaTransformObject,
  });
  // The browsable docs are public like the document they show; every other route is closed
  // unless it says otherwise, so the docs' routes are marked public here.
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...route.config, auth: 'public' };
    });
    await docs.register(swaggerUi, {
      routePrefix: '/api/docs',
      uiConfig: { docExpansion: 'list', deepLinking: true },
    });
  });

  registerAuth(app, ctx);
  rejectInvalidText(app);

  app.get('/api/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  app.get('/api/health', { config: { auth: 'public' }, schema: { hide: true } }, async () => {
    await ctx.db.kysely.selectFrom('provider').select('id').limit(1).execute();
    return { status: 'ok', version: VERSION, database: ctx.db.kind, time: ctx.clock.now().toISOString() };
  });

  registerAccountRoutes(app, ctx);
  registerCatalogRoutes(app, ctx);
  registerOrderRoutes(app, ctx);
  registerServiceRoutes(app, ctx);
  registerModuleRoutes(app, ctx);
  registerResellingRoutes(app, ctx);
  registerLicensePoolRoutes(app, ctx);
  registerLicenseRoutes(app, ctx);
  registerBillmgrRoutes(app, ctx, opts.billmgr);
  registerBillingRoutes(app, ctx);
  registerReportRoutes(app, ctx);
  registerNotifyRoutes(app, ctx);
  registerInvoiceRoutes(app, ctx);
  return app;
}
