import type { FastifyInstance } from 'fastify';
import { invalidTextError } from '../validation.js';

/**
 * Refuses text no field may hold (INVALID_TEXT_CHAR) in every parsed part of every request —
 * path parameters, query string, body (JSON or the mgr API's form) — after parsing and before
 * validation and the handler, so no route can forget it and nothing is written. Added on the
 * root instance before the routes, it covers them all; an unknown route stays a 404.
 */
export function rejectInvalidText(app: FastifyInstance): void {
  // A callback hook, not an async one: it never waits, so no promise per request.
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.is404) {
      done();
      return;
    }
    done(
      invalidTextError(request.params, 'params') ??
        invalidTextError(request.query, 'querystring') ??
        invalidTextError(request.body, 'body') ??
        undefined,
    );
  });
}
