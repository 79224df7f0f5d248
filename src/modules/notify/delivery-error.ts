/**
 * A failed send: `retryable` decides a retry (like the engine's `OperationError`), with the
 * remote status when there was one. Not a subclass of `OperationError`: the engine imports the
 * outbox's callers, and a class extended at load time would make the import cycle matter.
 */
export class DeliveryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}
