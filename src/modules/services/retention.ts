import { sql } from 'kysely';
import type { AppContext } from '../../platform/context.js';
import { type Conn, inTransaction, lockRows, type OperationRow, type Tx } from '../../platform/db/index.js';

type Reader = Conn | Tx;

const BATCH = 1000;

/** The columns both tables share, in one order. */
export const OPERATION_COLUMNS = [
  'id',
  'service_id',
  'kind',
  'payload',
  'idempotency_key',
  'status',
  'attempts',
  'next_attempt_at',
  'lease_owner',
  'lease_expires_at',
  'last_error',
  'progress',
  'result',
  'created_at',
  'updated_at',
  'completed_at',
] as const;

/**
 * Moves the operations that finished (done or cancelled) more than `retentionDays` ago into
 * `operations_archive`, oldest first, `BATCH` a transaction: each batch is copied and deleted
 * together, so a crash leaves every operation in exactly one table, and a second process
 * running this at once skips the rows the first holds (PostgreSQL) or waits its turn (SQLite).
 * Failed, queued and running operations never move: they are still someone's work.
 *
 * What reads a finished operation after this finds it by id or by service in the archive
 * (`findOperation`, the service's detail); the queue pages list the hot table only.
 */
/** One operation by id, in the hot table or the archive. */
export async function findOperation(db: Reader, id: number): Promise<OperationRow | undefined> {
  return (
    (await db.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst()) ??
    (await db
      .selectFrom('operations_archive')
      .select([...OPERATION_COLUMNS])
      .where('id', '=', id)
      .executeTakeFirst())
  );
}

/** A service's operations, archived ones included, oldest first. */
export async function operationsOfService(db: Reader, serviceId: number): Promise<OperationRow[]> {
  const [archived, hot] = await Promise.all([
    db
      .selectFrom('operations_archive')
      .select([...OPERATION_COLUMNS])
      .where('service_id', '=', serviceId)
      .orderBy('id')
      .execute(),
    db.selectFrom('operations').selectAll().where('service_id', '=', serviceId).orderBy('id').execute(),
  ]);
  return [...archived, ...hot].sort((a, b) => Number(a.id) - Number(b.id));
}

export async function archiveOperations(
  ctx: AppContext,
  opts: { retentionDays?: number; batch?: number } = {},
): Promise<{ archived: number; before: string }> {
  const days = opts.retentionDays ?? ctx.config.operationsRetentionDays;
  const now = ctx.clock.now();
  const before = new Date(now.getTime() - days * 86_400_000).toISOString();
  const archivedAt = now.toISOString();
  const columns = sql.join(OPERATION_COLUMNS.map((c) => sql.ref(c)));
  let archived = 0;
  for (;;) {
    const moved = await inTransaction(ctx.db, async (tx) => {
      const rows = await tx
        .selectFrom('operations')
        .select('id')
        .where('status', 'in', ['done', 'cancelled'])
        .where('updated_at', '<', before)
        .orderBy('id')
        .limit(opts.batch ?? BATCH)
        .$call((q) => lockRows(tx, q, { skipLocked: true }))
        .execute();
      if (rows.length === 0) return 0;
      const ids = rows.map((r) => r.id);
      await sql`insert into operations_archive (${columns}, archived_at)
        select ${columns}, ${archivedAt} from operations where id in (${sql.join(ids)})`.execute(tx);
      await tx.deleteFrom('operations').where('id', 'in', ids).execute();
      return rows.length;
    });
    archived += moved;
    if (moved === 0) break;
  }
  return { archived, before };
}
