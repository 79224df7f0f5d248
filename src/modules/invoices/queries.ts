import type { AppContext } from '../../platform/context.js';
import type { DocumentKind, DocumentRow } from '../../platform/db/index.js';
import { notFound } from '../../platform/errors.js';
import { type Actor, assertAccountVisible, isStaff } from '../accounts/actor.js';

export interface DocumentListQuery {
  readonly limit: number;
  readonly before?: number | undefined;
  readonly accountId?: number | undefined;
  readonly kind?: DocumentKind | undefined;
}

/** Documents, newest first: staff see every account's (or one's), a client only its own. */
export async function listDocuments(
  ctx: AppContext,
  actor: Actor,
  q: DocumentListQuery,
): Promise<DocumentRow[]> {
  const own = isStaff(actor) ? q.accountId : actor.type === 'user' ? actor.accountId : undefined;
  // A client naming another account sees nothing of it, as if it did not exist.
  if (!isStaff(actor) && q.accountId !== undefined) assertAccountVisible(actor, q.accountId);
  let query = ctx.db.kysely.selectFrom('documents').selectAll().orderBy('id', 'desc').limit(q.limit);
  if (own !== undefined) query = query.where('account_id', '=', own);
  if (q.kind) query = query.where('kind', '=', q.kind);
  if (q.before) query = query.where('id', '<', q.before);
  return query.execute();
}

/** One document by id (clients: their own; another account's is reported missing). */
export async function getDocument(ctx: AppContext, actor: Actor, id: number): Promise<DocumentRow> {
  const row = await ctx.db.kysely.selectFrom('documents').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('invoice');
  assertAccountVisible(actor, Number(row.account_id), 'invoice');
  return row;
}

/** One document by its number (the single provider's sequence). */
export async function getDocumentByNumber(
  ctx: AppContext,
  actor: Actor,
  number: number,
): Promise<DocumentRow> {
  const row = await ctx.db.kysely
    .selectFrom('documents')
    .selectAll()
    .where('provider_id', '=', 1)
    .where('number', '=', BigInt(number))
    .executeTakeFirst();
  if (!row) throw notFound('invoice', { number });
  assertAccountVisible(actor, Number(row.account_id), 'invoice');
  return row;
}
