import type { FastifyInstance } from 'fastify';
import { invalidTextError } from '../validation.js';

/**
 * Refuses text no field may hold (INVALID_TEXT_CHAR) in every parsed part of every request —
 * path parameters, query string, body (JSON or the mgr API's form) — after parsing and before
 * validation and the handler, so no route can forget it and nothing is written. Added on the
 * root instance before the routes, it covers them all; an unknown route stays a 404.
 */
export function rejectInvalidText(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    if (request.is404) return;
    const parts: [string, unknown][] = [
      ['params', request.params],
      ['querystring', request.query],
      ['body', request.body],
    ];
    for (const [where, value] of parts) {
      const err = invalidTextError(value, where);
      if (err) throw err;
    }
  });
}
