import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../platform/context.js';
import { AppError, unauthenticated } from '../../platform/errors.js';
import { API_TOKEN_PREFIX } from '../../platform/ids.js';
import type { Actor } from './actor.js';
import { csrfMatches, resolveApiToken, resolveSession } from './auth.js';

export const SESSION_COOKIE = 'bf_session';
export const CSRF_HEADER = 'x-csrf-token';

/** Who may call a route. Routes say it in `config.auth`; the default is a signed-in user. */
export type RouteAuth = 'public' | 'user' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    actor: Actor | null;
    authVia: 'cookie' | 'bearer' | null;
    csrfToken: string | null;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Reads the actor from a Bearer token or the session cookie, then enforces the route's `auth`. */
export function registerAuth(app: FastifyInstance, ctx: AppContext): void {
  app.decorateRequest('actor', null);
  app.decorateRequest('authVia', null);
  app.decorateRequest('csrfToken', null);

  // onRequest: who is calling is settled before the body is read, so an anonymous caller
  // gets 401 rather than a parse or validation error, and its body is never parsed. A callback
  // hook: a request without credentials (every BILLmanager API call, a public page) is decided
  // at once, without a promise; one with a token or a session cookie waits for its lookup.
  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
    if (request.headers.authorization === undefined && !request.cookies[SESSION_COOKIE]) {
      done(refusal(request));
      return;
    }
    identify(ctx, request).then(() => done(refusal(request)), done);
  });
}

/** The caller of a request that carries a Bearer token or a session cookie, on the request. */
async function identify(ctx: AppContext, request: FastifyRequest): Promise<void> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]?.startsWith(API_TOKEN_PREFIX))
      throw unauthenticated('invalid_token', 'The API token is not valid.');
    const actor = await resolveApiToken(ctx, match[1]);
    if (!actor) throw unauthenticated('invalid_token', 'The API token is not valid or was revoked.');
    request.actor = actor;
    request.authVia = 'bearer';
  } else {
    const cookie = request.cookies[SESSION_COOKIE];
    if (cookie) {
      const session = await resolveSession(ctx, cookie);
      if (session) {
        request.actor = session.actor;
        request.authVia = 'cookie';
        request.csrfToken = session.csrfToken;
      }
    }
  }
}

/** What the route's `auth` says to the caller identified (or not): undefined when it may go on. */
function refusal(request: FastifyRequest): Error | undefined {
  // No route matched: the not-found handler answers 404 `route_not_found` to anyone.
  const need: RouteAuth = request.is404 ? 'public' : (request.routeOptions.config.auth ?? 'user');
  if (need === 'public') return undefined;
  if (!request.actor) return unauthenticated();
  if (request.authVia === 'cookie' && UNSAFE.has(request.method)) {
    try {
      assertCsrf(request);
    } catch (err) {
      return err as Error;
    }
  }
  if (need === 'admin' && !(request.actor.type === 'user' && request.actor.role === 'admin')) {
    return new AppError('forbidden', 'forbidden', 'Only staff may do this.');
  }
  return undefined;
}

/**
 * A cookie is sent by the browser on its own; a state change made with it must also prove it
 * came from our page by echoing the session's CSRF token in a header. The hook applies this to
 * every unsafe request of a non-public route; a public route that changes the session itself
 * (logout) calls it when the request came with a live session cookie.
 */
export function assertCsrf(request: FastifyRequest): void {
  const given = request.headers[CSRF_HEADER];
  if (!csrfMatches(request.csrfToken ?? '', typeof given === 'string' ? given : undefined)) {
    throw new AppError(
      'forbidden',
      'csrf_token_invalid',
      `Send the session's CSRF token in the ${CSRF_HEADER} header.`,
    );
  }
}

export function requireActor(request: FastifyRequest): Actor {
  if (!request.actor) throw unauthenticated();
  return request.actor;
}
