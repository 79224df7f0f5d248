import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  Kysely,
  PostgresDialect,
  type SchemaMetadata,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  sql,
  type TableMetadata,
  type Transaction,
  type UnknownRow,
} from 'kysely';
import pg from 'pg';
import { type ImmediateReader, PREPARED_STATEMENTS, registerImmediateReader } from './prepared.js';
import type { Database } from './schema.js';
import { postgresSignals, type Signals, sqliteSignals } from './signals.js';

export type DbKind = 'sqlite' | 'postgres';
export type Tx = Transaction<Database>;
export type Conn = Kysely<Database>;

/** A database handle: the Kysely instance plus which engine it talks to. */
export interface Db {
  readonly kind: DbKind;
  readonly kysely: Kysely<Database>;
  /** Post-commit wake-ups between processes (PostgreSQL) or within this one (SQLite). */
  readonly signals: Signals;
  close(): Promise<void>;
}

export type DbTarget =
  | { kind: 'sqlite'; file: string }
  | { kind: 'postgres'; url: string; schema?: string; max?: number };

/**
 * SQLite transactions start with BEGIN IMMEDIATE: the write lock is taken up front, so two
 * processes on one file queue on busy_timeout instead of failing with SQLITE_BUSY when a
 * reader tries to upgrade to a writer half-way through.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * SQLite changes its schema inside transactions, but Kysely's adapter says it cannot, so its
 * Migrator would run migrations bare: a migration failing half-way (a table rebuild between its
 * drop and its rename) would leave the database neither before nor after it, and unmigratable.
 * Saying it can makes the Migrator apply the pending migrations in one transaction, as on
 * PostgreSQL: all of them or none.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
    this.#config = config;
  }
  override createDriver() {
    return new ImmediateSqliteDriver(this.#config);
  }
  override createAdapter() {
    return new TransactionalDdlSqliteAdapter();
  }
}

/**
 * Kysely's SQLite driver prepares every statement again on every query (23 % of the CPU of
 * the daily-run benchmark). Prepared statements are reusable and the connection is used by
 * one query at a time (Kysely's mutex), so the most recent 500 are kept by their SQL text.
 * SQLite recompiles a cached statement by itself if the schema changes.
 */
function withStatementCache(db: SqliteDatabase.Database, max = 500): SqliteDatabase.Database {
  const cache = new Map<string, SqliteDatabase.Statement>();
  // Prepared statements (PREPARED_STATEMENTS: prepareQuery's, run on every request of a hot
  // path, and WriteBatch's insert shapes; a bounded set) are kept apart and never evicted, so a
  // hit is one lookup, not the LRU's delete and set.
  const pinned = new Map<string, SqliteDatabase.Statement>();
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const kept = pinned.get(source);
    if (kept) return kept;
    const hit = cache.get(source);
    if (hit) {
      // Least recently used goes first: move this one to the end.
      cache.delete(source);
      cache.set(source, hit);
      return hit;
    }
    if (PREPARED_STATEMENTS.has(source)) {
      const stmt = rowsWithoutNames(prepare(source));
      pinned.set(source, stmt);
      return stmt;
    }
    const stmt = prepare(source);
    cache.set(source, stmt);
    if (cache.size > max) cache.delete(cache.keys().next().value as string);
    return stmt;
  }) as typeof db.prepare;
  return db;
}

/**
 * better-sqlite3 makes each row an object by looking every column name up in V8's string
 * table, row after row: for the prepared queries of hot paths (prepared.ts: 25 columns in the
 * BILLmanager license view) that cost as much as SQLite running the statement. Their rows are
 * read as arrays and made objects by a function made once per statement, whose object literal
 * names the columns (JSON string literals of the names the statement reports). The same rows
 * (names, values, value types) as `all` without it; the statement is raw only during the call.
 */
function rowsWithoutNames(stmt: SqliteDatabase.Statement): SqliteDatabase.Statement {
  if (!stmt.reader) return stmt;
  const names = stmt.columns().map((c) => c.name);
  // A name twice would be one key of the literal, `__proto__` its prototype: keep better-sqlite3's rows.
  if (new Set(names).size !== names.length || names.includes('__proto__')) return stmt;
  const toObject = new Function(
    'v',
    `return {${names.map((name, i) => `${JSON.stringify(name)}: v[${i}]`).join(', ')}};`,
  ) as (values: unknown[]) => Record<string, unknown>;
  const all = stmt.all;
  stmt.all = ((...params: unknown[]) => {
    stmt.raw(true);
    let rows: unknown[][];
    try {
      rows = all.apply(stmt, params) as unknown[][];
    } finally {
      stmt.raw(false);
    }
    const objects: Record<string, unknown>[] = new Array(rows.length);
    for (let r = 0; r < rows.length; r++) objects[r] = toObject(rows[r]!);
    return objects;
  }) as typeof stmt.all;
  return stmt;
}

/**
 * prepareQuery's statements (prepared.ts) run at once on the connection unless a transaction is
 * open on it: then the read waits for the connection through Kysely, as any query does, and
 * never sees the open transaction's uncommitted rows. Without a transaction, a query holding
 * Kysely's mutex has yet to run or has already run its one synchronous statement, so reading
 * before it is the order two concurrent requests could have had anyway. A statement iterating
 * (`stream`) keeps the connection busy: better-sqlite3 refuses another statement then, and the
 * read waits too.
 */
function immediateReader(sqlite: SqliteDatabase.Database): ImmediateReader {
  return (source, parameters) => {
    if (sqlite.inTransaction) return undefined;
    const stmt = sqlite.prepare(source);
    if (!stmt.reader) return undefined;
    try {
      return stmt.all(parameters as unknown[]) as UnknownRow[];
    } catch (err) {
      if (err instanceof TypeError && /busy executing a query/.test(err.message)) return undefined;
      throw err;
    }
  };
}

/**
 * Every SQLite connection's settings: WAL (readers never wait for the writer), foreign keys,
 * 10 s of waiting for another process's write lock, fsync at checkpoints only, a 64 MiB page
 * cache — the default 2 MiB re-reads index pages from the OS on every chunk of a daily run
 * over a million services — and a checkpoint once the WAL holds 16 384 pages (64 MiB) rather
 * than SQLite's 1 000: a chunk of the daily run writes thousands of pages, so with the default
 * nearly every commit checkpointed (copying back, and syncing, pages the next chunk writes
 * again): 3.0 of a 15.5 s run over a million services were commits, 1.7 with this.
 */
export const SQLITE_PRAGMAS = [
  'journal_mode = WAL',
  'foreign_keys = ON',
  'busy_timeout = 10000',
  'synchronous = NORMAL',
  'cache_size = -65536',
  'wal_autocheckpoint = 16384',
] as const;

export function openSqlite(file: string): Db {
  const fresh = file !== ':memory:' && !fs.existsSync(file);
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // Customers' data: readable by Billfold's user only (SQLite gives its -wal/-shm files the same mode).
  if (fresh) fs.chmodSync(file, 0o600);
  for (const p of SQLITE_PRAGMAS) sqlite.pragma(p);
  // Every integer comes back as bigint: money must never pass through a JS number.
  sqlite.defaultSafeIntegers(true);
  const kysely = new Kysely<Database>({
    dialect: new ImmediateSqliteDialect({ database: withStatementCache(sqlite) }),
  });
  registerImmediateReader(kysely.getExecutor().adapter, immediateReader(sqlite));
  return { kind: 'sqlite', kysely, signals: sqliteSignals(file), close: () => kysely.destroy() };
}

/** int8 (bigint, count(*), sum of bigint) → BigInt; numeric stays text. */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (v: string) => BigInt(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/**
 * Kysely's PostgreSQL introspector lists the tables of *every* schema (and calls
 * pg_get_serial_sequence on each column). Its Migrator uses that to decide whether
 * `kysely_migration` exists, so a second schema in the same database (parallel test schemas,
 * another application) makes it skip creating its own tables and fail with "relation does not
 * exist", and a schema dropped meanwhile fails the query with "schema does not exist". Billfold
 * lives in the connection's current schema (search_path), so that is all this one looks at.
 */
class CurrentSchemaIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<unknown>) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<{ name: string }>`select nspname as name from pg_catalog.pg_namespace`.execute(
      this.db,
    );
    return rows.map((r) => ({ name: r.name }));
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ schema: string; name: string; type: string }>`
      select table_schema as schema, table_name as name, table_type as type
      from information_schema.tables where table_schema = current_schema()`.execute(this.db);
    return rows.map((r) => ({ schema: r.schema, name: r.name, isView: r.type === 'VIEW', columns: [] }));
  }

  async getMetadata() {
    return { tables: await this.getTables() };
  }
}

class BillfoldPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db);
  }
}

/**
 * The statements of prepareQuery (prepared.ts) go as named prepared statements: PostgreSQL
 * parses and plans each once per connection instead of on every call (node-postgres keeps
 * the names it prepared per connection). Kysely calls `client.query(sql, parameters)`; any
 * other SQL, and every other form of call, is passed on unchanged.
 */
function namePreparedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    const [text, values] = args;
    const name = args.length === 2 && typeof text === 'string' ? PREPARED_STATEMENTS.get(text) : undefined;
    return name === undefined ? query(...args) : query({ name, text, values });
  }) as typeof client.query;
}

export function openPostgres(url: string, opts: { schema?: string; max?: number } = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    types: pgTypes as pg.CustomTypesConfig,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  pool.on('connect', namePreparedStatements);
  const kysely = new Kysely<Database>({ dialect: new BillfoldPostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    kysely,
    signals: postgresSignals(url, opts.schema),
    close: () => kysely.destroy(),
  };
}

export function openDb(target: DbTarget): Db {
  return target.kind === 'sqlite'
    ? openSqlite(target.file)
    : openPostgres(target.url, {
        ...(target.schema ? { schema: target.schema } : {}),
        ...(target.max ? { max: target.max } : {}),
      });
}
