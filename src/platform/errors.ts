import { DomainError } from '../domain/errors.js';

/**
 * One error type for the whole application. `code` is a stable snake_case identifier that
 * clients may branch on; `kind` decides the HTTP status; `details` carries structured
 * context (field names, limits) and never secrets.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get status(): number {
    return STATUS[this.kind];
  }
}

/** A pure domain function's refusal as the application's error, same code; anything else unchanged. */
export function fromDomainError(err: unknown): unknown {
  if (err instanceof DomainError) return new AppError(err.kind, err.code, err.message, err.details);
  return err;
}

export const invalid = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError('invalid', code, message, details);
export const notFound = (what: string, details?: Record<string, unknown>) =>
  new AppError('not_found', `${what}_not_found`, `The ${what.replaceAll('_', ' ')} does not exist.`, details);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError('conflict', code, message, details);
export const forbidden = (message = 'You may not do this.') =>
  new AppError('forbidden', 'forbidden', message);
export const unauthenticated = (code = 'unauthenticated', message = 'Sign in first.') =>
  new AppError('unauthenticated', code, message);
