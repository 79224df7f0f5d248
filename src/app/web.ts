import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { landingPage } from './landing.js';

/** Where `npm run build:web` (run by `npm install`) writes the web app. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Paths that belong to the APIs: an unknown one there is the API's JSON (or mgr) 404, never the app. */
const API_PREFIXES = ['/api', '/billmgr', '/manager'];

const isApiPath = (url: string): boolean => {
  const p = url.split('?')[0]!;
  return API_PREFIXES.some((prefix) => p === prefix || p.startsWith(`${prefix}/`));
};

/**
 * Serves the web app at `/` from its build output, with the client routes (`/services/12`)
 * answered by its index.html. Without a build, `/` is the landing page saying how to make one,
 * so a checkout that skipped the build still tells the user what to do.
 *
 * Returns the not-found handler to use: it hands the app's routes to the app and everything
 * else (the APIs' paths, missing files) to `apiNotFound`.
 */
export async function registerWebApp(
  app: FastifyInstance,
  apiNotFound: (request: FastifyRequest, reply: FastifyReply) => unknown,
  dist: string = WEB_DIST,
): Promise<(request: FastifyRequest, reply: FastifyReply) => unknown> {
  const built = fs.existsSync(path.join(dist, 'index.html'));
  if (!built) {
    app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
      reply.type('text/html; charset=utf-8').send(landingPage()),
    );
    return apiNotFound;
  }
  await app.register(async (web) => {
    // Like the API docs: the app's files are public, its data comes from the API.
    web.addHook('onRoute', (route) => {
      route.config = { ...route.config, auth: 'public' };
      route.schema = { ...route.schema, hide: true };
    });
    await web.register(fastifyStatic, {
      root: dist,
      prefix: '/',
      // One route per built file, no `/*`: a wildcard would also catch the API's paths that fail
      // to match (a path parameter over its length limit must stay 414 uri_too_long, not a 404).
      wildcard: false,
      // Hashed file names under assets/ never change; index.html must be fetched fresh.
      setHeaders: (reply, file) => {
        reply.header(
          'cache-control',
          file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
  });
  // Read once, like the file routes above: a new build is served after a restart.
  const index = fs.readFileSync(path.join(dist, 'index.html'));
  return (request, reply) => {
    const p = request.url.split('?')[0]!;
    // A client route (no file extension) on GET/HEAD: the app decides what it shows.
    if ((request.method === 'GET' || request.method === 'HEAD') && !isApiPath(p) && !/\.[^/]*$/.test(p))
      return reply.code(200).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(index);
    return apiNotFound(request, reply);
  };
}
