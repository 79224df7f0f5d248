import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, fromDomainError } from '../errors.js';
import { issuesOf, validationError } from '../validation.js';

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'validation_failed' }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .meta({ id: 'Error' });

/** Response schemas for the error statuses a route can answer with. */
export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, ErrorBody]));

export function sendError(reply: FastifyReply, err: AppError): FastifyReply {
  if (err.kind === 'rate_limited' && typeof err.details?.retryAfterSeconds === 'number') {
    reply.header('retry-after', String(err.details.retryAfterSeconds));
  }
  return reply
    .status(err.status)
    .send({ error: { code: err.code, message: err.message, details: err.details ?? {} } });
}

/**
 * Every failure leaves as `{"error":{"code","message","details"}}`. Known errors keep their
 * code; anything unexpected is logged with its stack and answered with a generic 500 that
 * leaks nothing.
 */
export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const known = fromDomainError(err);
  if (known instanceof AppError) return sendError(reply, known);
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = issuesOf({
      issues: err.validation.map((v) => ({
        ...(v.params as Record<string, unknown>),
        code: v.keyword,
        path: v.instancePath.split('/').filter(Boolean),
        message: v.message ?? 'is not valid',
      })),
    });
    return sendError(reply, validationError(issues, err.validationContext));
  }
  if (isResponseSerializationError(err)) {
    request.log.error({ err, cause: err.cause }, 'response does not match its schema');
    return sendError(reply, new AppError('internal', 'internal_error', 'Something went wrong on our side.'));
  }
  if (
    err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    (err instanceof SyntaxError && err.statusCode === 400)
  ) {
    return sendError(reply, new AppError('invalid', 'invalid_json', 'The request body is not valid JSON.'));
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return reply.status(415).send({
      error: { code: 'unsupported_media_type', message: 'Send JSON (application/json).', details: {} },
    });
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply
      .status(413)
      .send({ error: { code: 'body_too_large', message: 'The request body is too large.', details: {} } });
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return reply
      .status(err.statusCode)
      .send({ error: { code: 'bad_request', message: err.message, details: {} } });
  }
  request.log.error({ err }, 'unhandled error');
  return sendError(reply, new AppError('internal', 'internal_error', 'Something went wrong on our side.'));
}
