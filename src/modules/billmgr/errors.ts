import { AppError, fromDomainError } from '../../platform/errors.js';
import { type MgrErrorType, type MgrNode, mgrError } from './protocol.js';

/** An API error as BILLmanager reports it: a type, the field it concerns, the value refused. */
export class MgrFault extends Error {
  constructor(
    readonly type: MgrErrorType,
    message: string,
    readonly object?: string,
    readonly value?: string,
  ) {
    super(message);
    this.name = 'MgrFault';
  }
}

export const missed = (param: string) =>
  new MgrFault('missed', `The parameter "${param}" is required.`, param);
export const badValue = (param: string, value: string | undefined, message?: string) =>
  new MgrFault('value', message ?? `Invalid value of the field "${param}".`, param, value);
/** Unknown ids and other accounts' ids get the same answer: nothing is revealed. */
export const noAccess = () => new MgrFault('access', 'Access denied or no such object.', 'elid');

/** Which request field a core error code is about. */
const FIELD_OF: Record<string, string> = {
  invalid_ip: 'ip',
  ip_change_limit: 'ip',
  ip_taken: 'ip',
  period_not_offered: 'period',
  price_for_period_not_offered: 'period',
  price_missing: 'period',
  invalid_period: 'period',
  trial_not_renewable: 'period',
  tariff_not_renewable: 'pricelist',
  tariff_not_found: 'pricelist',
  tariff_not_orderable: 'pricelist',
  tariff_expired: 'pricelist',
  unknown_addon: 'addon',
  invalid_addon_value: 'addon',
  idempotency_key_reused: 'remoteid',
};

/**
 * Maps an error of the core to BILLmanager's error types: money → `not_enough_money`, a
 * refused sign-in → `auth`, someone else's object → `access`, a bad field → `value` with the
 * field, a state conflict → `exists`; anything unexpected → `error` without details.
 */
export function toMgrFault(thrown: unknown, p: Record<string, string> = {}): MgrFault {
  if (thrown instanceof MgrFault) return thrown;
  const err = fromDomainError(thrown);
  if (err instanceof AppError) {
    if (err.code === 'insufficient_balance')
      return new MgrFault('not_enough_money', 'There is not enough money on the balance.');
    if (err.kind === 'unauthenticated' || err.kind === 'rate_limited')
      return new MgrFault('auth', err.message);
    if (err.kind === 'forbidden') return new MgrFault('access', err.message);
    if (err.kind === 'not_found') return noAccess();
    // The field the core names wins (the same code may be about `period` or `autoprolong`).
    const field =
      (typeof err.details?.param === 'string' ? err.details.param : undefined) ?? FIELD_OF[err.code];
    // The value refused, as the caller sent it.
    const value = field !== undefined ? p[field] : undefined;
    if (err.kind === 'invalid') return new MgrFault('value', err.message, field ?? err.code, value);
    // An address that already has a license "exists", whichever check found it (the early one
    // or the database's, when a concurrent order took it first).
    if (err.kind === 'conflict')
      return new MgrFault(
        field && err.code !== 'ip_taken' ? 'value' : 'exists',
        err.message,
        field ?? err.code,
        value,
      );
  }
  return new MgrFault('error', 'Internal error.');
}

/**
 * A refusal of the HTTP layer on the API's paths — no route for the method (404), an
 * unreadable (415) or too large (413) body, a URL too long (431), a failure outside the
 * functions (500) — as an mgr error: type `error`, object = Billfold's stable code
 * (`body_too_large`…), so a client can branch on it; the HTTP status stays the layer's.
 */
export function transportFault(failure: { status: number; code: string; message: string }): MgrFault {
  const message =
    failure.status === 415
      ? 'Send the parameters in the query string or as a form body (application/x-www-form-urlencoded).'
      : failure.message;
  return new MgrFault('error', message, failure.code);
}

export const faultDoc = (f: MgrFault, lang = 'en'): MgrNode =>
  mgrError({
    type: f.type,
    ...(f.object !== undefined ? { object: f.object } : {}),
    ...(f.value !== undefined ? { value: f.value } : {}),
    msg: f.message,
    lang,
  });
