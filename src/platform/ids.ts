import { hash, randomBytes } from 'node:crypto';

/**
 * Identifiers: business objects get numeric ids from the database (the BILLmanager API
 * addresses them by numeric `elid`); secrets handed to people (session ids, API tokens,
 * CSRF tokens) are random 256-bit values made here. Only their SHA-256 is stored.
 */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** One-shot `crypto.hash`: no Hash object per call (every session and authinfo request hashes one). */
export const sha256 = (value: string): string => hash('sha256', value, 'hex');

/** API tokens carry a recognisable prefix so secret scanners and people can spot them. */
export const API_TOKEN_PREFIX = 'bf_';
export const newApiToken = (): string => `${API_TOKEN_PREFIX}${randomToken(32)}`;

/** Row ids come back from the drivers as bigint; they are far below 2^53, so number is exact. */
export const toId = (value: bigint | number | string): number => {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`Id out of range: ${String(value)}`);
  return n;
};
