import { OperationError } from '../services/engine.js';

/** A failed send: the engine's error (`retryable` decides a retry), with the remote status when there was one. */
export class DeliveryError extends OperationError {
  constructor(
    code: string,
    message: string,
    retryable: boolean,
    readonly statusCode?: number,
  ) {
    super(code, message, retryable);
    this.name = 'DeliveryError';
  }
}
