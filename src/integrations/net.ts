/**
 * What every remote API client of an integration needs to tell about a failed request
 * (BILLmanager, VMmanager 6, DCImanager 6): whether it timed out, and whether it certainly
 * never reached the other side — so a client can say if a failure is ambiguous (the remote
 * side may have acted) or not.
 */

/** Error codes meaning the request never left: nothing can have been done remotely. */
const NOT_SENT: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Error codes along an error's cause chain (and an AggregateError's members). */
export function causeCodes(err: unknown, depth = 0): string[] {
  if (depth > 5 || typeof err !== 'object' || err === null) return [];
  const out: string[] = [];
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') out.push(e.code);
  out.push(...causeCodes(e.cause, depth + 1));
  if (Array.isArray(e.errors)) for (const member of e.errors) out.push(...causeCodes(member, depth + 1));
  return out;
}

/** The request was given up by its AbortSignal timeout. */
export const isTimeout = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TimeoutError';

/** Every cause of a failed fetch says it never left this machine (refused, no such host, TLS). */
export function neverSent(err: unknown): boolean {
  const codes = causeCodes(err);
  return codes.length > 0 && codes.every((c) => NOT_SENT.has(c));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
