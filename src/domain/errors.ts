/**
 * The one error class of the pure domain: a stable snake_case `code` callers may branch on,
 * a human message, structured details, and whether the input was wrong (`invalid`), the
 * state does not allow it (`conflict`) or the caller may not (`forbidden`). The application
 * turns it into its `AppError` with the same code (platform/errors.ts `fromDomainError`).
 */
export type DomainErrorKind = 'invalid' | 'conflict' | 'forbidden';

export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly kind: DomainErrorKind = 'invalid',
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
