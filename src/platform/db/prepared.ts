import type { Compilable, CompiledQuery, DialectAdapter, Kysely, QueryResult, UnknownRow } from 'kysely';
import type { Database } from './schema.js';

/**
 * Queries built and compiled once, executed many times with new parameter values: for the
 * handful of statements a hot path sends on every request (the BILLmanager API's session
 * lookup and license view), where building the query tree and compiling it to SQL cost
 * more CPU than SQLite takes to run it (bench/billmgr.ts, D-billmgr-fast).
 *
 * `build` receives one placeholder per parameter and must use each placeholder as a value
 * only (`where(col, '=', p)`, `sql\`… ${p} …\``), never to decide the query's shape: it runs
 * once per Kysely instance, with placeholders, not with the values of a call. The SQL text
 * is the same object on every call, so the SQLite statement cache finds it without hashing
 * it again, and on PostgreSQL it runs as a named prepared statement (PREPARED_STATEMENTS,
 * connect.ts): parsed and planned once per connection.
 *
 * Plugins see the query once, when it is compiled (transformQuery), and every result
 * (transformResult, with the same queryId each time).
 */
/** A value a statement is compiled with once, standing for the `index`th value of each execution. */
export class Placeholder {
  constructor(readonly index: number) {}
}

/**
 * SQL text → statement name, for the PostgreSQL driver (connect.ts; on SQLite, kept apart from
 * the statement cache's LRU). Bounded: one per prepared query and dialect, and one per insert
 * shape of `WriteBatch` (batch.ts).
 */
export const PREPARED_STATEMENTS = new Map<string, string>();

/** Names `sql` as a prepared statement (once: the first name stays). */
export function registerPrepared(sql: string, name: string): void {
  if (!PREPARED_STATEMENTS.has(sql)) PREPARED_STATEMENTS.set(sql, `bf_${name}_${PREPARED_STATEMENTS.size}`);
}

/**
 * Runs a prepared statement at once on a database whose driver is synchronous (SQLite), or
 * answers undefined when it cannot now (a transaction is open on the connection): the caller
 * then takes the connection the usual way, waiting for it.
 */
export type ImmediateReader = (sql: string, parameters: readonly unknown[]) => UnknownRow[] | undefined;

/**
 * The immediate reader of a database, by its Kysely adapter: one adapter object per opened
 * database, shared by the instances `withPlugin` makes and by its transactions (connect.ts).
 */
const IMMEDIATE_READERS = new WeakMap<DialectAdapter, ImmediateReader>();

export function registerImmediateReader(adapter: DialectAdapter, reader: ImmediateReader): void {
  IMMEDIATE_READERS.set(adapter, reader);
}

export type PreparedQuery<A extends readonly unknown[], R> = (
  db: Kysely<Database>,
  ...args: A
) => Promise<R[]>;

export function prepareQuery<A extends readonly unknown[], R>(
  name: string,
  arity: A['length'],
  build: (db: Kysely<Database>, ...params: A) => Compilable<R>,
): PreparedQuery<A, R> {
  const compiled = new WeakMap<Kysely<Database>, CompiledQuery<R>>();
  const compile = (db: Kysely<Database>): CompiledQuery<R> => {
    const params = Array.from({ length: arity }, (_, i) => new Placeholder(i)) as unknown as A;
    const query = build(db, ...params).compile();
    const used = new Set(query.parameters.filter((p) => p instanceof Placeholder).map((p) => p.index));
    if (used.size !== arity)
      throw new Error(`prepared query ${name}: uses ${used.size} of its ${arity} parameters`);
    registerPrepared(query.sql, name);
    compiled.set(db, query);
    return query;
  };
  return async (db, ...args) => {
    const query = compiled.get(db) ?? compile(db);
    const parameters = query.parameters.map((p) => (p instanceof Placeholder ? args[p.index] : p));
    // What db.executeQuery does, without its layers of async calls (this is the hot path):
    // the query on a connection of the instance (the transaction's, inside one), then each
    // plugin's transformResult in order. Outside a transaction on SQLite, the statement runs
    // at once (ImmediateReader): better-sqlite3 is synchronous, so taking Kysely's connection
    // mutex through its chain of promises is all the waiting would do.
    const executor = db.getExecutor();
    const run: CompiledQuery<R> = { ...query, parameters };
    const immediate = db.isTransaction ? undefined : IMMEDIATE_READERS.get(executor.adapter);
    const rows = immediate?.(run.sql, parameters);
    let result: QueryResult<UnknownRow> = rows
      ? { rows }
      : await executor.provideConnection((connection) => connection.executeQuery<UnknownRow>(run));
    for (const plugin of executor.plugins)
      result = await plugin.transformResult({ result, queryId: run.queryId });
    return result.rows as R[];
  };
}
