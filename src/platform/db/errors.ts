/** Recognises a unique-constraint violation on either engine, so commands can map it to a 409. */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** A CHECK constraint refused the row: for the ledger, the balance floor caught a bug. */
export function isCheckViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return code === '23514' || code === 'SQLITE_CONSTRAINT_CHECK';
}
