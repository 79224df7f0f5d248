import { type CompiledQuery, type Insertable, sql } from 'kysely';
import type { Tx } from './connect.js';
import { Placeholder, registerPrepared } from './prepared.js';
import type { Database } from './schema.js';

/**
 * Set-based writes for work done in chunks (the daily run, D-chunked-run): rows are collected
 * while a chunk is decided in memory and sent at the end as multi-row INSERTs and one UPDATE per
 * table and column set, in the chunk's one transaction. Whoever builds a row builds it with the
 * same function a single write uses (`historyRow`, `ledgerEntryRow`, …): the batch only changes
 * how many rows a statement carries, never what a row says.
 *
 * A row may need the id of a row inserted in the same batch (a charge names its ledger entry):
 * the producing row is added with a `Ref` that is filled from `RETURNING`, matched on a unique
 * column (not on the order of the returned rows, which SQLite does not promise), and the
 * dependent row is added as a function evaluated at flush time. Tables whose rows fill refs are
 * written first, the others after, each in the order first used.
 */
export type TableName = keyof Database & string;
type Row<T extends TableName> = Insertable<Database[T]>;

/** An id that exists once the batch has written its row. */
export class Ref {
  #value: number | null = null;
  get value(): number {
    if (this.#value === null) throw new Error('batch ref read before its row was written');
    return this.#value;
  }
  set(v: number): void {
    this.#value = v;
  }
}

interface Pending {
  readonly row: unknown;
  readonly ref?: { ref: Ref; by: string };
  /** A unique column whose clash means "written already": the row is skipped, as a single write's `on conflict do nothing`. */
  readonly ignoreConflictOn?: string;
}

/** Rows a statement carries at most: below SQLite's and PostgreSQL's parameter limits for our widest table. */
const ROWS_PER_STATEMENT = 500;

/**
 * How many rows an INSERT carries: a run of n rows goes as the binary digits of n, largest
 * first (440 = 256 + 128 + 32 + 16 + 8), so a table and column set has at most nine statement
 * shapes, each compiled by Kysely once and kept prepared by the engine (SQLite's statement
 * cache; on PostgreSQL a named prepared statement). A statement of exactly n rows was a new SQL
 * text in nearly every chunk: compiled by Kysely, prepared by SQLite and cached, 0.7 s of a
 * daily run over a million services, and the cache held hundreds of statements of 5 000
 * parameters each.
 */
const INSERT_SIZES = [256, 128, 64, 32, 16, 8, 4, 2, 1] as const;

/** A column value the UPDATE sets: the engines agree on text and NULL, numbers get a cast. */
type UpdateValue = string | number | bigint | null;

function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

export class WriteBatch {
  private readonly inserts = new Map<TableName, Pending[]>();
  private readonly producers = new Set<TableName>();
  /** The unique values the refs of each table are matched on. */
  private readonly refKeys = new Map<TableName, Set<string>>();
  /** table → "col1,col2" → id → values */
  private readonly updates = new Map<TableName, Map<string, Map<number, UpdateValue[]>>>();

  /**
   * Adds a row. With `ref`, the row's id is filled in from the unique column `by`, whose value
   * must be set and not repeated in the batch; with `ignoreConflictOn`, a row whose unique
   * column clashes with one already stored is skipped (it cannot also fill a ref).
   */
  insert<T extends TableName>(
    table: T,
    row: Row<T> | (() => Row<T>),
    opts: { ref?: Ref; by?: keyof Row<T> & string; ignoreConflictOn?: keyof Row<T> & string } = {},
  ): void {
    const list = getOr(this.inserts, table, () => []);
    if (opts.ref) {
      const by = opts.by;
      if (by === undefined || typeof row === 'function')
        throw new Error('a batch ref needs a row and its unique column');
      if (opts.ignoreConflictOn) throw new Error('a row that may be skipped cannot fill a ref');
      const key = (row as Record<string, unknown>)[by];
      if (key === null || key === undefined) throw new Error(`batch insert into ${table}: ${by} is not set`);
      const keys = getOr(this.refKeys, table, () => new Set<string>());
      if (keys.has(String(key))) throw new Error(`batch insert into ${table}: ${by} ${String(key)} twice`);
      keys.add(String(key));
      list.push({ row, ref: { ref: opts.ref, by } });
      this.producers.add(table);
    } else list.push(opts.ignoreConflictOn ? { row, ignoreConflictOn: opts.ignoreConflictOn } : { row });
  }

  /** Whether rows for `table` are waiting (a chunk wakes the workers when it queued work for them). */
  has(table: TableName): boolean {
    return (this.inserts.get(table)?.length ?? 0) > 0;
  }

  /**
   * Sets columns of the row `id` of `table`. Rows setting the same columns go in one statement
   * (`update … from (values …)`); a later update of the same row and columns replaces the
   * earlier one.
   */
  update(table: TableName, id: number, set: Readonly<Record<string, UpdateValue>>): void {
    const columns = Object.keys(set).sort();
    if (columns.length === 0) return;
    const byColumns = getOr(this.updates, table, () => new Map());
    const rows = getOr(byColumns, columns.join(','), () => new Map());
    rows.set(
      id,
      columns.map((c) => set[c]!),
    );
  }

  /** Sends everything, in the caller's transaction. The batch is empty afterwards. */
  async flush(tx: Tx): Promise<void> {
    const order = [
      ...[...this.inserts.keys()].filter((t) => this.producers.has(t)),
      ...[...this.inserts.keys()].filter((t) => !this.producers.has(t)),
    ];
    for (const table of order) {
      const pending = this.inserts.get(table)!;
      for (let i = 0; i < pending.length; i += ROWS_PER_STATEMENT) {
        await insertRows(tx, table, pending.slice(i, i + ROWS_PER_STATEMENT));
      }
    }
    for (const [table, byColumns] of this.updates) {
      for (const [key, rows] of byColumns) {
        const columns = key.split(',');
        const entries = [...rows.entries()];
        for (let i = 0; i < entries.length; i += ROWS_PER_STATEMENT) {
          await updateRows(tx, table, columns, entries.slice(i, i + ROWS_PER_STATEMENT));
        }
      }
    }
    this.inserts.clear();
    this.producers.clear();
    this.refKeys.clear();
    this.updates.clear();
  }
}

/**
 * Compiled INSERTs by shape, per dialect adapter (the SQL differs between engines; a Kysely
 * instance, its transactions and its `withPlugin` copies share one adapter). Billfold's plugins
 * never rewrite a query (the benchmarks' counter only reads results), so a shape compiled
 * through one of them is the same SQL for all.
 */
const SHAPES = new WeakMap<object, Map<string, CompiledQuery>>();

/**
 * The INSERT of `size` rows of `columns` into `table` (with its conflict and RETURNING clauses),
 * compiled once with a placeholder per value, row after row in column order.
 */
function insertShape(
  tx: Tx,
  table: TableName,
  columns: readonly string[],
  size: number,
  ignore: string | undefined,
  by: string | undefined,
): CompiledQuery {
  const adapter = tx.getExecutor().adapter;
  let shapes = SHAPES.get(adapter);
  if (!shapes) {
    shapes = new Map();
    SHAPES.set(adapter, shapes);
  }
  const key = `${table}\u0000${columns.join(',')}\u0000${size}\u0000${ignore ?? ''}\u0000${by ?? ''}`;
  const known = shapes.get(key);
  if (known) return known;
  const rows = Array.from({ length: size }, (_, r) =>
    Object.fromEntries(columns.map((c, i) => [c, new Placeholder(r * columns.length + i)])),
  );
  // biome-ignore lint/suspicious/noExplicitAny: rows of whichever table the batch holds
  let q = tx.insertInto(table).values(rows as any);
  // biome-ignore lint/suspicious/noExplicitAny: the unique column the rows name
  if (ignore !== undefined) q = q.onConflict((oc) => oc.column(ignore as any).doNothing());
  // biome-ignore lint/suspicious/noExplicitAny: the unique column names the row
  const compiled = (by === undefined ? q : q.returning(['id', by as any])).compile() as CompiledQuery;
  // The values must go in as compiled, one placeholder each, in order (the execution passes them as they come).
  if (
    compiled.parameters.length !== size * columns.length ||
    compiled.parameters.some((p, i) => !(p instanceof Placeholder) || p.index !== i)
  )
    throw new Error(`batch insert into ${table}: the compiled statement does not take its values in order`);
  registerPrepared(compiled.sql, `batch_${table}_${size}`);
  shapes.set(key, compiled);
  return compiled;
}

/** The columns a row sets (Kysely leaves out an undefined value, as a single insert does). */
function columnsOf(row: Record<string, unknown>): string[] {
  return Object.keys(row).filter((k) => row[k] !== undefined);
}

/**
 * Writes `pending` in their order: each run of rows setting the same columns as statements of
 * INSERT_SIZES rows, filling the refs from what they return.
 */
async function insertRows(tx: Tx, table: TableName, pending: readonly Pending[]): Promise<void> {
  const rows = pending.map(
    (p) => (typeof p.row === 'function' ? (p.row as () => unknown)() : p.row) as Record<string, unknown>,
  );
  const by = pending.find((p) => p.ref)?.ref?.by;
  const ignore = pending.find((p) => p.ignoreConflictOn)?.ignoreConflictOn;
  let start = 0;
  while (start < rows.length) {
    const columns = columnsOf(rows[start]!);
    const signature = columns.join(',');
    let end = start + 1;
    while (end < rows.length && columnsOf(rows[end]!).join(',') === signature) end++;
    for (let at = start; at < end; ) {
      const size = INSERT_SIZES.find((n) => n <= end - at)!;
      const slice = rows.slice(at, at + size);
      const compiled = insertShape(tx, table, columns, size, ignore, by);
      const parameters: unknown[] = [];
      for (const row of slice) for (const c of columns) parameters.push(row[c]);
      const result = await tx.executeQuery<Record<string, unknown>>({ ...compiled, parameters });
      if (by !== undefined) fillRefs(table, by, pending.slice(at, at + size), slice, result.rows);
      at += size;
    }
    start = end;
  }
}

/** Sets the refs of `pending` (whose rows are `rows`) from the ids RETURNING gave, matched on `by`. */
function fillRefs(
  table: TableName,
  by: string,
  pending: readonly Pending[],
  rows: readonly Record<string, unknown>[],
  returned: readonly Record<string, unknown>[],
): void {
  if (returned.length !== rows.length)
    throw new Error(`batch insert into ${table}: ${rows.length} rows sent, ${returned.length} returned`);
  const ids = new Map(returned.map((r) => [String(r[by]), Number(r.id)]));
  pending.forEach((p, i) => {
    if (!p.ref) return;
    const key = String(rows[i]![p.ref.by]);
    const id = ids.get(key);
    if (id === undefined) throw new Error(`batch insert into ${table}: no id returned for ${key}`);
    p.ref.ref.set(id);
  });
}

/**
 * The SQL type a column's values are cast to (PostgreSQL types a VALUES list of parameters as
 * text): whole numbers as bigint (assigned to an integer column, PostgreSQL casts down), null
 * when every value is null (the column is then set to NULL, whatever its type).
 */
function typeOf(values: readonly UpdateValue[]): string | null {
  const v = values.find((x) => x !== null);
  if (v === undefined) return null;
  return typeof v === 'string' ? 'text' : 'bigint';
}

/**
 * `update t set c = v.column2 … from (values (id, c…), …) as v where t.id = v.column1`: one statement for
 * the rows, each found by its key (SQLite ≥ 3.33 and PostgreSQL alike).
 */
async function updateRows(
  tx: Tx,
  table: TableName,
  columns: readonly string[],
  rows: readonly (readonly [number, UpdateValue[]])[],
): Promise<void> {
  // A VALUES list's columns are column1, column2, … on both engines (SQLite takes no alias list).
  // The `in` list makes SQLite look the rows up by key; without it, it scans the table for the join.
  const types = columns.map((_, ci) => typeOf(rows.map(([, values]) => values[ci]!)));
  const values = rows.map(
    ([id, vs]) => sql`(${sql.join([sql`cast(${id} as bigint)`, ...vs.map((v) => sql`${v}`)])})`,
  );
  const sets = columns.map((c, i) => {
    const type = types[i] ?? null;
    return type === null
      ? sql`${sql.ref(c)} = null`
      : sql`${sql.ref(c)} = cast(${sql.ref(`v.column${i + 2}`)} as ${sql.raw(type)})`;
  });
  await sql`update ${sql.table(table)} set ${sql.join(sets, sql`, `)} from (values ${sql.join(values)}) as v where ${sql.table(table)}.${sql.ref('id')} = ${sql.ref('v.column1')} and ${sql.table(table)}.${sql.ref('id')} in (${sql.join(rows.map(([id]) => id))})`.execute(
    tx,
  );
}
