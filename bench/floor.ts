/**
 * The raw write floor of the daily run: exactly the rows the run wrote, written again by the
 * simplest batched SQL on the same engine and database, so the run's time can be read as a
 * multiple of what its writes alone cost.
 *
 * 1. `snapshot()` before the run copies every table into a store of its own (SQLite: an attached
 *    database file; PostgreSQL: a schema of its own), with a unique index on its primary key.
 * 2. `capture()` after the run diffs every table against its copy by primary key: rows whose key
 *    is new (inserted), rows whose columns differ (updated: the after-image and which columns
 *    changed) and keys gone (deleted: the before-image). The three sets are copied into the store.
 *    A row the run wrote several times counts once, with its final content.
 * 3. `replay()` writes them again, 1 000 rows a transaction, reading each chunk from the store
 *    outside the timed part: inserted rows into shadow tables made with the table's own DDL, indexes
 *    and foreign keys (`<table>_floor`, dropped afterwards); updated rows on the real table, only
 *    the changed columns, with the values they already have (checked first); deleted rows from the
 *    shadow table, where their before-images were put beforehand (not timed).
 *    - SQLite: better-sqlite3 on its own connection with the application's pragmas, a prepared
 *      statement per row kind, `BEGIN IMMEDIATE` as the application's transactions.
 *    - PostgreSQL: `pg` directly, multi-row parameterised statements of up to 1 000 rows (named,
 *      so the full-size ones are parsed once): `INSERT … VALUES (…), (…)`, `UPDATE … FROM (VALUES …)`,
 *      `DELETE … WHERE (key) IN (VALUES …)`; or, with `pgForm: 'per-row'`, one named prepared
 *      statement executed per row inside the same 1 000-row transactions.
 * 4. `close()` drops the shadow tables and the store.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { type DbTarget, SQLITE_PRAGMAS } from '../src/platform/db/index.js';
import type { EngineName } from './engine.js';

export const FLOOR_BATCH = 1000;
/** Shadow tables are named `<table><SHADOW_SUFFIX>`. */
export const SHADOW_SUFFIX = '_floor';

export type PgForm = 'multi-row' | 'per-row';

/** What the run wrote to one table (a row written several times counts once). */
export interface TableWrites {
  readonly table: string;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
}

export interface FloorResult {
  readonly engine: EngineName;
  /** How the rows were written (for the report). */
  readonly form: string;
  /** Time inside the write transactions, summed (reading the captured rows is not in it). */
  readonly seconds: number;
  readonly transactions: number;
  /** Rows the floor wrote per table, as the database counted them (changes / rowCount). */
  readonly tables: readonly (TableWrites & { seconds: number })[];
}

interface Table {
  readonly name: string;
  readonly columns: readonly string[];
  /** PostgreSQL type of each column (casts in VALUES lists); empty on SQLite. */
  readonly types: readonly string[];
  readonly key: readonly string[];
}

type Row = unknown[];

const q = (id: string) => `"${id.replace(/"/g, '""')}"`;

/** The engine-specific half. Statements that take no rows go through `exec`/`query`. */
interface Driver {
  readonly engine: EngineName;
  /** The store's namespace, as it prefixes a table name (`"ns".`). */
  readonly store: string;
  /** Where the store lives: the attached file (SQLite) or the schema's name (PostgreSQL). */
  readonly storeLocation: string;
  exec(text: string): Promise<void>;
  query(text: string, params?: unknown[]): Promise<Row[]>;
  tables(): Promise<Table[]>;
  /** A unique index on `columns` of the store's table `table`. */
  storeIndex(table: string, columns: readonly string[]): Promise<void>;
  /** `a` differs from `b`, nulls compared as values. */
  distinct(a: string, b: string): string;
  /** The changed-column bit of column `i`. */
  bit(cond: string, i: number): string;
  /** A shadow table of `t` with its DDL, indexes and foreign keys. */
  createShadow(t: Table, shadow: string): Promise<void>;
  /** Runs `fn` in one write transaction and returns its wall time, seconds. */
  transaction(fn: () => Promise<void>): Promise<number>;
  insert(table: string, t: Table, rows: Row[]): Promise<number>;
  /** Rows: key values then the changed columns' values. */
  update(t: Table, columns: readonly string[], rows: Row[]): Promise<number>;
  delete(table: string, t: Table, keys: Row[]): Promise<number>;
  readonly form: string;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- SQLite

class SqliteDriver implements Driver {
  readonly engine = 'sqlite' as const;
  readonly store = q('floor_store');
  readonly form = 'better-sqlite3, a prepared statement per row, 1 000 rows a transaction';
  readonly #db: SqliteDatabase.Database;
  readonly #storeFile: string;
  get storeLocation() {
    return this.#storeFile;
  }
  readonly #statements = new Map<string, SqliteDatabase.Statement>();

  constructor(file: string) {
    if (file === ':memory:') throw new Error('the write floor needs a SQLite file');
    this.#db = new SqliteDatabase(file);
    // The application's pragmas.
    for (const p of SQLITE_PRAGMAS) this.#db.pragma(p);
    this.#db.defaultSafeIntegers(true);
    this.#storeFile = `${file}.floor-store-${randomBytes(4).toString('hex')}`;
    this.#db.prepare('attach database ? as floor_store').run(this.#storeFile);
    // The store is scratch: no journal, no syncs.
    this.#db.pragma('floor_store.journal_mode = OFF');
    this.#db.pragma('floor_store.synchronous = OFF');
  }

  #prepare(text: string): SqliteDatabase.Statement {
    let s = this.#statements.get(text);
    if (!s) {
      s = this.#db.prepare(text);
      this.#statements.set(text, s);
    }
    return s;
  }

  async exec(text: string) {
    this.#db.exec(text);
  }

  async query(text: string, params: unknown[] = []) {
    return this.#db
      .prepare(text)
      .raw(true)
      .all(...params) as Row[];
  }

  async tables(): Promise<Table[]> {
    const names = this.#db
      .prepare(
        "select name from main.sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\' order by name",
      )
      .pluck()
      .all() as string[];
    return names.map((name) => {
      const info = this.#db.prepare(`select name, pk from pragma_table_info(?)`).all(name) as {
        name: string;
        pk: bigint;
      }[];
      const key = info
        .filter((c) => c.pk > 0n)
        .sort((a, b) => Number(a.pk - b.pk))
        .map((c) => c.name);
      if (key.length === 0) throw new Error(`the write floor needs a primary key on ${name}`);
      return { name, columns: info.map((c) => c.name), types: [], key };
    });
  }

  async storeIndex(table: string, columns: readonly string[]) {
    this.#db.exec(
      `create unique index ${this.store}.${q(`${table}_key`)} on ${q(table)} (${columns.map(q).join(', ')})`,
    );
  }

  distinct(a: string, b: string) {
    return `${a} is not ${b}`;
  }

  bit(cond: string, i: number) {
    return `((${cond}) << ${i})`;
  }

  async createShadow(t: Table, shadow: string) {
    const rows = this.#db
      .prepare(
        "select type, name, sql from main.sqlite_master where tbl_name = ? and sql is not null and type in ('table', 'index') order by type desc",
      )
      .all(t.name) as { type: string; name: string; sql: string }[];
    for (const r of rows) {
      if (r.type === 'table') {
        const ddl = r.sql.replace(/^CREATE TABLE\s+("[^"]+"|\w+)/i, `CREATE TABLE ${q(shadow)}`);
        if (ddl === r.sql) throw new Error(`cannot rename the DDL of ${t.name}: ${r.sql}`);
        this.#db.exec(ddl);
      } else {
        const ddl = r.sql.replace(
          /^CREATE (UNIQUE )?INDEX\s+("[^"]+"|\w+)\s+on\s+("[^"]+"|\w+)/i,
          (_m, unique: string | undefined) =>
            `CREATE ${unique ?? ''}INDEX ${q(`${r.name}${SHADOW_SUFFIX}`)} on ${q(shadow)}`,
        );
        if (ddl === r.sql) throw new Error(`cannot rename the index ${r.name}: ${r.sql}`);
        this.#db.exec(ddl);
      }
    }
  }

  async transaction(fn: () => Promise<void>) {
    const t0 = performance.now();
    this.#prepare('begin immediate').run();
    try {
      await fn();
      this.#prepare('commit').run();
    } catch (err) {
      if (this.#db.inTransaction) this.#prepare('rollback').run();
      throw err;
    }
    return (performance.now() - t0) / 1000;
  }

  async insert(table: string, t: Table, rows: Row[]) {
    const s = this.#prepare(
      `insert into ${q(table)} (${t.columns.map(q).join(', ')}) values (${t.columns.map(() => '?').join(', ')})`,
    );
    let n = 0;
    for (const r of rows) n += s.run(...r).changes;
    return n;
  }

  async update(t: Table, columns: readonly string[], rows: Row[]) {
    const s = this.#prepare(
      `update ${q(t.name)} set ${columns.map((c) => `${q(c)} = ?`).join(', ')} where ${t.key.map((k) => `${q(k)} = ?`).join(' and ')}`,
    );
    const k = t.key.length;
    let n = 0;
    for (const r of rows) n += s.run(...r.slice(k), ...r.slice(0, k)).changes;
    return n;
  }

  async delete(table: string, t: Table, keys: Row[]) {
    const s = this.#prepare(`delete from ${q(table)} where ${t.key.map((k) => `${q(k)} = ?`).join(' and ')}`);
    let n = 0;
    for (const r of keys) n += s.run(...r).changes;
    return n;
  }

  async close() {
    this.#statements.clear();
    if (this.#db.inTransaction) this.#db.exec('rollback');
    this.#db.exec('detach database floor_store');
    this.#db.close();
    fs.rmSync(this.#storeFile, { force: true });
  }
}

// ---------------------------------------------------------------- PostgreSQL

/** Every value comes back as the text PostgreSQL sent, and goes back as such. */
const textTypes = { getTypeParser: () => (v: string) => v };

class PostgresDriver implements Driver {
  readonly engine = 'postgres' as const;
  readonly store: string;
  readonly storeLocation: string;
  readonly form: string;
  readonly #client: pg.Client;
  readonly #pgForm: PgForm;
  readonly #named = new Map<string, string>();

  private constructor(client: pg.Client, store: string, pgForm: PgForm) {
    this.#client = client;
    this.store = q(store);
    this.storeLocation = store;
    this.#pgForm = pgForm;
    this.form =
      pgForm === 'multi-row'
        ? '`pg`, multi-row parameterised statements of up to 1 000 rows (named prepared statements), one transaction each: ' +
          'the faster form here (`BENCH_FLOOR_PG=per-row` measures one prepared statement per row instead)'
        : '`pg`, one named prepared statement executed per row, 1 000 rows a transaction (`BENCH_FLOOR_PG=per-row`; ' +
          'multi-row statements, the default, are faster)';
  }

  static async open(url: string, schema: string | undefined, pgForm: PgForm): Promise<PostgresDriver> {
    const client = new pg.Client({
      connectionString: url,
      types: textTypes as unknown as pg.CustomTypesConfig,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    await client.connect();
    const store = `floor_store_${randomBytes(4).toString('hex')}`;
    await client.query(`create schema ${q(store)}`);
    return new PostgresDriver(client, store, pgForm);
  }

  /** A statement name per text: PostgreSQL parses and plans a named statement once per connection. */
  #name(text: string): string {
    let n = this.#named.get(text);
    if (!n) {
      n = `floor_${this.#named.size}`;
      this.#named.set(text, n);
    }
    return n;
  }

  async #run(text: string, values: unknown[], named: boolean): Promise<number> {
    const r = await this.#client.query(named ? { name: this.#name(text), text, values } : { text, values });
    return r.rowCount ?? 0;
  }

  async exec(text: string) {
    await this.#client.query(text);
  }

  async query(text: string, params: unknown[] = []) {
    return (await this.#client.query({ text, values: params, rowMode: 'array' })).rows as Row[];
  }

  async tables(): Promise<Table[]> {
    const names = (
      await this.query(
        "select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name",
      )
    ).map((r) => r[0] as string);
    const out: Table[] = [];
    for (const name of names) {
      const cols = await this.query(
        'select attname, format_type(atttypid, atttypmod) from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped order by attnum',
        [q(name)],
      );
      const key = await this.query(
        `select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
         where i.indrelid = $1::regclass and i.indisprimary order by array_position(i.indkey::int2[], a.attnum)`,
        [q(name)],
      );
      if (key.length === 0) throw new Error(`the write floor needs a primary key on ${name}`);
      out.push({
        name,
        columns: cols.map((c) => c[0] as string),
        types: cols.map((c) => c[1] as string),
        key: key.map((k) => k[0] as string),
      });
    }
    return out;
  }

  async storeIndex(table: string, columns: readonly string[]) {
    await this.exec(
      `create unique index ${q(`${table}_key`)} on ${this.store}.${q(table)} (${columns.map(q).join(', ')})`,
    );
  }

  distinct(a: string, b: string) {
    return `${a} is distinct from ${b}`;
  }

  bit(cond: string, i: number) {
    return `((${cond})::int::bigint << ${i})`;
  }

  async createShadow(t: Table, shadow: string) {
    await this.exec(`create table ${q(shadow)} (like ${q(t.name)} including all)`);
    const fks = await this.query(
      "select conname, pg_get_constraintdef(oid) from pg_constraint where conrelid = $1::regclass and contype = 'f' order by conname",
      [q(t.name)],
    );
    for (const [i, [, def]] of fks.entries())
      await this.exec(`alter table ${q(shadow)} add constraint ${q(`${shadow}_fk${i}`)} ${def as string}`);
  }

  async transaction(fn: () => Promise<void>) {
    const t0 = performance.now();
    await this.#client.query('begin');
    try {
      await fn();
      await this.#client.query('commit');
    } catch (err) {
      await this.#client.query('rollback');
      throw err;
    }
    return (performance.now() - t0) / 1000;
  }

  /** Rows per multi-row statement: 1 000, fewer if the parameters would pass PostgreSQL's 65 535. */
  #chunks(rows: Row[], width: number): Row[][] {
    const per = Math.max(1, Math.min(FLOOR_BATCH, Math.floor(65535 / width)));
    const out: Row[][] = [];
    for (let i = 0; i < rows.length; i += per) out.push(rows.slice(i, i + per));
    return out;
  }

  #values(rows: Row[], casts: readonly string[] | null): string {
    let p = 0;
    return rows
      .map((r) => `(${r.map((_v, i) => `$${++p}${casts ? `::${casts[i]}` : ''}`).join(', ')})`)
      .join(', ');
  }

  async insert(table: string, t: Table, rows: Row[]) {
    const head = `insert into ${q(table)} (${t.columns.map(q).join(', ')}) values `;
    let n = 0;
    if (this.#pgForm === 'per-row') {
      const text = head + this.#values([[...t.columns]], null);
      for (const r of rows) n += await this.#run(text, r, true);
      return n;
    }
    for (const c of this.#chunks(rows, t.columns.length))
      n += await this.#run(head + this.#values(c, null), c.flat(), c.length === FLOOR_BATCH);
    return n;
  }

  async update(t: Table, columns: readonly string[], rows: Row[]) {
    const typeOf = (c: string) => t.types[t.columns.indexOf(c)]!;
    if (this.#pgForm === 'per-row') {
      const k = t.key.length;
      const text = `update ${q(t.name)} set ${columns.map((c, i) => `${q(c)} = $${i + 1}`).join(', ')} where ${t.key
        .map((key, i) => `${q(key)} = $${columns.length + i + 1}`)
        .join(' and ')}`;
      let n = 0;
      for (const r of rows) n += await this.#run(text, [...r.slice(k), ...r.slice(0, k)], true);
      return n;
    }
    const all = [...t.key, ...columns];
    const casts = all.map(typeOf);
    let n = 0;
    for (const c of this.#chunks(rows, all.length)) {
      const text = `update ${q(t.name)} as t set ${columns.map((col) => `${q(col)} = v.${q(col)}`).join(', ')} from (values ${this.#values(
        c,
        casts,
      )}) as v (${all.map(q).join(', ')}) where ${t.key.map((k) => `t.${q(k)} = v.${q(k)}`).join(' and ')}`;
      n += await this.#run(text, c.flat(), c.length === FLOOR_BATCH);
    }
    return n;
  }

  async delete(table: string, t: Table, keys: Row[]) {
    const casts = t.key.map((k) => t.types[t.columns.indexOf(k)]!);
    const cols = `(${t.key.map(q).join(', ')})`;
    let n = 0;
    if (this.#pgForm === 'per-row') {
      const text = `delete from ${q(table)} where ${t.key.map((k, i) => `${q(k)} = $${i + 1}`).join(' and ')}`;
      for (const r of keys) n += await this.#run(text, r, true);
      return n;
    }
    for (const c of this.#chunks(keys, t.key.length))
      n += await this.#run(
        `delete from ${q(table)} where ${cols} in (values ${this.#values(c, casts)})`,
        c.flat(),
        c.length === FLOOR_BATCH,
      );
    return n;
  }

  async close() {
    try {
      await this.#client.query(`drop schema if exists ${this.store} cascade`);
    } finally {
      await this.#client.end();
    }
  }
}

// ---------------------------------------------------------------- the floor

export interface FloorOptions {
  /** PostgreSQL only: multi-row statements (default) or one prepared statement per row. */
  readonly pgForm?: PgForm;
}

export class WriteFloor {
  readonly #d: Driver;
  #tables: Table[] = [];
  #writes: TableWrites[] | null = null;
  readonly #shadows: string[] = [];

  private constructor(d: Driver) {
    this.#d = d;
  }

  static async open(target: DbTarget, opts: FloorOptions = {}): Promise<WriteFloor> {
    const d =
      target.kind === 'sqlite'
        ? new SqliteDriver(target.file)
        : await PostgresDriver.open(target.url, target.schema, opts.pgForm ?? 'multi-row');
    return new WriteFloor(d);
  }

  get form(): string {
    return this.#d.form;
  }

  /** Where the snapshot and the captured rows live (gone after `close()`). */
  get storeLocation(): string {
    return this.#d.storeLocation;
  }

  #s(name: string) {
    return `${this.#d.store}.${q(name)}`;
  }

  /** Copies every table (shadow tables of an earlier floor aside) into the store. */
  async snapshot(): Promise<void> {
    this.#tables = (await this.#d.tables()).filter((t) => !t.name.endsWith(SHADOW_SUFFIX));
    for (const t of this.#tables) {
      await this.#d.exec(`create table ${this.#s(`s_${t.name}`)} as select * from ${q(t.name)}`);
      await this.#d.storeIndex(`s_${t.name}`, t.key);
    }
  }

  /** Diffs every table against its copy and keeps the run's writes in the store. */
  async capture(): Promise<TableWrites[]> {
    if (this.#tables.length === 0) throw new Error('capture() before snapshot()');
    const out: TableWrites[] = [];
    const d = this.#d;
    for (const t of this.#tables) {
      const s = this.#s(`s_${t.name}`);
      const on = t.key.map((k) => `s.${q(k)} = t.${q(k)}`).join(' and ');
      const order = t.key.map((k) => `t.${q(k)}`).join(', ');
      const cols = t.columns.map((c) => `t.${q(c)}`).join(', ');
      const changed = t.columns.map((c) => d.distinct(`t.${q(c)}`, `s.${q(c)}`));
      const mask = t.columns.map((_c, i) => d.bit(changed[i]!, i)).join(' + ');
      await d.exec(
        `create table ${this.#s(`i_${t.name}`)} as select row_number() over (order by ${order}) as __n, ${cols}
         from ${q(t.name)} t where not exists (select 1 from ${s} s where ${on})`,
      );
      await d.exec(
        `create table ${this.#s(`u_${t.name}`)} as select row_number() over (order by ${order}) as __n, ${mask} as __mask, ${cols}
         from ${q(t.name)} t join ${s} s on ${on} where ${changed.join(' or ')}`,
      );
      await d.exec(
        `create table ${this.#s(`d_${t.name}`)} as select row_number() over (order by ${order}) as __n, ${cols}
         from ${s} t where not exists (select 1 from ${q(t.name)} s where ${on})`,
      );
      const count = async (name: string) =>
        Number((await d.query(`select count(*) from ${this.#s(name)}`))[0]![0]);
      const w = {
        table: t.name,
        inserted: await count(`i_${t.name}`),
        updated: await count(`u_${t.name}`),
        deleted: await count(`d_${t.name}`),
      };
      for (const [kind, n] of [
        ['i', w.inserted],
        ['u', w.updated],
        ['d', w.deleted],
      ] as const)
        if (n === 0) await d.exec(`drop table ${this.#s(`${kind}_${t.name}`)}`);
        else await d.storeIndex(`${kind}_${t.name}`, ['__n']);
      await d.exec(`drop table ${s}`);
      if (w.inserted + w.updated + w.deleted > 0) out.push(w);
    }
    this.#writes = out;
    return out;
  }

  /** Chunks of captured rows, read outside any timed transaction. */
  async *#chunks(name: string, select: string, total: number): AsyncGenerator<Row[]> {
    for (let from = 1; from <= total; from += FLOOR_BATCH)
      yield await this.#d.query(
        `select ${select} from ${this.#s(name)} where __n between ${from} and ${from + FLOOR_BATCH - 1} order by __n`,
      );
  }

  /** Writes the captured rows again; see the file comment. */
  async replay(): Promise<FloorResult> {
    const writes = this.#writes;
    if (!writes) throw new Error('replay() before capture()');
    const d = this.#d;
    const byName = new Map(this.#tables.map((t) => [t.name, t]));
    const cols = (t: Table) => t.columns.map(q).join(', ');
    // Untimed preparation: shadow tables, the deleted rows' before-images, and the check that
    // the updated rows still hold the values the run left (the floor must change nothing).
    for (const w of writes) {
      const t = byName.get(w.table)!;
      if (w.inserted + w.deleted > 0) {
        const shadow = `${t.name}${SHADOW_SUFFIX}`;
        await d.createShadow(t, shadow);
        this.#shadows.push(shadow);
        for await (const rows of this.#chunks(`d_${t.name}`, cols(t), w.deleted))
          await d.transaction(async () => {
            await d.insert(shadow, t, rows);
          });
      }
      if (w.updated > 0) {
        const keyOn = t.key.map((k) => `u.${q(k)} = t.${q(k)}`).join(' and ');
        const changedSince = t.columns
          .map((c, i) => `((u.__mask >> ${i}) & 1 = 1 and ${d.distinct(`u.${q(c)}`, `t.${q(c)}`)})`)
          .join(' or ');
        const [[n]] = (await d.query(
          `select count(*) from ${this.#s(`u_${t.name}`)} u left join ${q(t.name)} t on ${keyOn} where t.${q(t.key[0]!)} is null or ${changedSince}`,
        )) as [[unknown]];
        if (Number(n) !== 0)
          throw new Error(
            `write floor: ${n} rows of ${t.name} changed after the run; the floor would rewrite them`,
          );
      }
    }

    const result: (TableWrites & { seconds: number })[] = [];
    let transactions = 0;
    for (const w of writes) {
      const t = byName.get(w.table)!;
      const shadow = `${t.name}${SHADOW_SUFFIX}`;
      let seconds = 0;
      let inserted = 0;
      let updated = 0;
      let deleted = 0;
      for await (const rows of this.#chunks(`i_${t.name}`, cols(t), w.inserted)) {
        seconds += await d.transaction(async () => {
          inserted += await d.insert(shadow, t, rows);
        });
        transactions++;
      }
      const keySelect = t.key.map(q).join(', ');
      for await (const rows of this.#chunks(`u_${t.name}`, `__mask, ${keySelect}, ${cols(t)}`, w.updated)) {
        // One statement per set of changed columns.
        const groups = new Map<string, { columns: string[]; rows: Row[] }>();
        for (const r of rows) {
          const mask = BigInt(r[0] as bigint | string | number);
          const changed = t.columns.filter((_c, i) => ((mask >> BigInt(i)) & 1n) === 1n);
          const sig = changed.join(',');
          let g = groups.get(sig);
          if (!g) {
            g = { columns: changed, rows: [] };
            groups.set(sig, g);
          }
          const key = r.slice(1, 1 + t.key.length);
          const values = r.slice(1 + t.key.length);
          g.rows.push([...key, ...changed.map((c) => values[t.columns.indexOf(c)])]);
        }
        seconds += await d.transaction(async () => {
          for (const g of groups.values()) updated += await d.update(t, g.columns, g.rows);
        });
        transactions++;
      }
      for await (const rows of this.#chunks(`d_${t.name}`, keySelect, w.deleted)) {
        seconds += await d.transaction(async () => {
          deleted += await d.delete(shadow, t, rows);
        });
        transactions++;
      }
      result.push({ table: t.name, inserted, updated, deleted, seconds });
    }
    return {
      engine: d.engine,
      form: d.form,
      seconds: result.reduce((a, r) => a + r.seconds, 0),
      transactions,
      tables: result,
    };
  }

  /** Drops the shadow tables and the store; the connection closes. */
  async close(): Promise<void> {
    try {
      for (const s of this.#shadows.splice(0)) await this.#d.exec(`drop table if exists ${q(s)}`);
    } finally {
      await this.#d.close();
    }
  }
}
