import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
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

/** A failure as the HTTP layer reports it, before a format writes it. */
export interface HttpFailure {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** A written error answer. */
export interface ErrorAnswer {
  readonly contentType: string;
  readonly body: string;
}

/**
 * A part of the site that answers errors in its own format: the mgr API at /billmgr writes
 * `<doc><error…>` documents, never the REST shape. Its routes answer their own errors; a dialect
 * covers what happens to a request for one of its paths outside them — no route for the
 * method, a body an unmatched route could not parse, what the HTTP parser refuses (431).
 */
export interface ErrorDialect {
  /** Whether requests for this path (without the query string) are answered in this format. */
  claims(path: string): boolean;
  /** The answer; `query` is the raw query string (without `?`), for choices such as `out=`. */
  write(failure: HttpFailure, query: string): ErrorAnswer;
}

const failure = (
  status: number,
  code: string,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
): HttpFailure => ({ status, code, message, details });

const INTERNAL = failure(500, 'internal_error', 'Something went wrong on our side.');

/**
 * What any error thrown while answering a request means: an AppError keeps its code, schema
 * failures are `validation_failed`/`unknown_field`, Fastify's own refusals get stable codes
 * (`invalid_json`, `unsupported_media_type`, `body_too_large`, `invalid_url`, `uri_too_long`,
 * other 4xx `bad_request`); anything unexpected is logged with its stack and becomes a generic
 * 500 that leaks nothing.
 */
export function failureOf(thrown: unknown, request: FastifyRequest): HttpFailure {
  const err = fromDomainError(thrown);
  if (err instanceof AppError) return failure(err.status, err.code, err.message, err.details ?? {});
  const fe = err as FastifyError;
  if (hasZodFastifySchemaValidationErrors(fe)) {
    const issues = issuesOf({
      issues: fe.validation.map((v) => ({
        ...(v.params as Record<string, unknown>),
        code: v.keyword,
        path: v.instancePath.split('/').filter(Boolean),
        message: v.message ?? 'is not valid',
      })),
    });
    return failureOf(validationError(issues, fe.validationContext), request);
  }
  if (isResponseSerializationError(fe)) {
    request.log.error({ err: fe, cause: fe.cause }, 'response does not match its schema');
    return INTERNAL;
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return failure(400, 'invalid_json', 'The request body is not valid JSON.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return failure(415, 'unsupported_media_type', 'Send JSON (application/json).');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return failure(413, 'body_too_large', 'The request body is too large.');
    case 'FST_ERR_BAD_URL':
      return failure(400, 'invalid_url', 'The URL is not valid (a malformed %-escape).');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return failure(414, 'uri_too_long', 'A part of the URL is too long.');
  }
  if (fe instanceof SyntaxError && fe.statusCode === 400)
    return failure(400, 'invalid_json', 'The request body is not valid JSON.');
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
    return failure(fe.statusCode, 'bad_request', fe.message);
  request.log.error({ err }, 'unhandled error');
  return INTERNAL;
}

/** An error of Node's HTTP parser: `rawPacket` holds the bytes it refused (a Buffer). */
type ParserError = Error & { readonly code?: string; readonly rawPacket?: unknown };

/** What Node's HTTP parser refuses before there is a request (Fastify's clientError). */
function clientFailure(err: ParserError): HttpFailure {
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return failure(431, 'headers_too_large', 'The URL or the headers of the request are too large.');
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return failure(408, 'request_timeout', 'The request did not arrive in time.');
  return failure(400, 'bad_request', 'The request is not valid HTTP.');
}

/** `{"error":{"code","message","details"}}`, the REST API's one error shape. */
export function restAnswer(f: HttpFailure): ErrorAnswer {
  return {
    contentType: 'application/json; charset=utf-8',
    body: JSON.stringify({ error: { code: f.code, message: f.message, details: f.details } }),
  };
}

export function sendFailure(reply: FastifyReply, f: HttpFailure, answer: ErrorAnswer): FastifyReply {
  if (f.status === 429 && typeof f.details.retryAfterSeconds === 'number')
    reply.header('retry-after', String(f.details.retryAfterSeconds));
  return reply.status(f.status).header('content-type', answer.contentType).send(answer.body);
}

/**
 * Every error the server answers, in the shape of the part of the site asked: the REST shape by
 * default, a dialect's (ErrorDialect) for its paths. One set of handlers for the four ways
 * Fastify reports a failure: a thrown error (`setErrorHandler`), no route (`setNotFoundHandler`),
 * a URL the router cannot read (`frameworkErrors`), and what Node's parser refuses before
 * Fastify sees a request (`clientErrorHandler`: 431, 408, 400), which Fastify would otherwise
 * answer in its own `{"error","message","statusCode"}` shape.
 */
export function httpErrorHandlers(log: FastifyBaseLogger, dialects: readonly ErrorDialect[] = []) {
  const answer = (f: HttpFailure, url: string): ErrorAnswer => {
    const at = url.indexOf('?');
    const path = at === -1 ? url : url.slice(0, at);
    const dialect = dialects.find((d) => d.claims(path));
    return dialect ? dialect.write(f, at === -1 ? '' : url.slice(at + 1)) : restAnswer(f);
  };

  const errorHandler = (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const f = failureOf(err, request);
    return sendFailure(reply, f, answer(f, request.url));
  };

  const notFoundHandler = (request: FastifyRequest, reply: FastifyReply) => {
    const f = failure(404, 'route_not_found', `No route ${request.method} ${request.url.split('?')[0]}.`);
    return sendFailure(reply, f, answer(f, request.url));
  };

  const clientErrorHandler = (err: ParserError, socket: Socket) => {
    // A reset connection has nobody to answer (as in Fastify's own handler).
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    log.debug({ err }, 'request refused by the HTTP parser');
    const f = clientFailure(err);
    // The request line, when the refused bytes start with it, says which path was asked for.
    const raw = err.rawPacket;
    const head = Buffer.isBuffer(raw) ? raw.toString('latin1', 0, Math.min(raw.length, 65_536)) : '';
    const { contentType, body } = answer(f, /^[A-Z]+ ([^ \r\n]*)/.exec(head)?.[1] ?? '');
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${f.status} ${STATUS_CODES[f.status]}\r\nContent-Type: ${contentType}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };

  return { errorHandler, notFoundHandler, clientErrorHandler, frameworkErrors: errorHandler };
}
