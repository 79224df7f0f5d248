import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Db, openPostgres, openSqlite } from '../../src/platform/db/index.js';
import { sha256 } from '../../src/platform/ids.js';
import { cleanEnv, type Running, waitForOutput, watch } from '../helpers/cli.js';
import { TEST_ENGINE, TEST_PG_URL } from '../helpers/db.js';

/**
 * The `billfold` CLI end to end, as real child processes (tsx, as a user runs it), against
 * an SQLite file in a temporary data dir or a fresh PostgreSQL schema selected through
 * `?options=-c search_path=…` in DATABASE_URL. Each process costs ~1.5 s of tsx start-up, so
 * independent commands run in parallel and each run checks several things.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const BIN = join(ROOT, 'bin/billfold.js');
const START = '2021-12-16T10:00:00.000Z';
/** An instant of the Billfold clock started at START by BILLFOLD_CLOCK, `within` ms after it. */
const startedAt = (within = 30_000) =>
  expect.toSatisfy((v: unknown) => {
    const ms = Date.parse(String(v)) - Date.parse(START);
    return ms >= 0 && ms < within;
  }, `an instant less than ${within} ms after ${START}`);
const PROCESS_TIMEOUT = 30_000;
// Several tsx processes per test, CPU-bound at start-up: generous, for a loaded CI machine.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

interface Target {
  readonly dataDir: string;
  readonly env: Record<string, string>;
  readonly schema: string | null;
  destroy(): Promise<void>;
}

async function pgQuery<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: TEST_PG_URL });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** A temporary data dir and, on PostgreSQL, a fresh empty schema (not migrated: the CLI does that). */
async function createTarget(): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'billfold-cli-'));
  if (TEST_ENGINE !== 'postgres') {
    return {
      dataDir,
      env: { BILLFOLD_DATA_DIR: dataDir },
      schema: null,
      async destroy() {
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const schema = `bf_test_${randomBytes(6).toString('hex')}`;
  await pgQuery(`create schema ${schema}`);
  const sep = TEST_PG_URL.includes('?') ? '&' : '?';
  const url = `${TEST_PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    dataDir,
    env: { BILLFOLD_DATA_DIR: dataDir, DATABASE_URL: url },
    schema,
    async destroy() {
      rmSync(dataDir, { recursive: true, force: true });
      await pgQuery(`drop schema if exists ${schema} cascade`);
    },
  };
}

const children = new Set<ChildProcess>();
/** Process groups started detached (`npm start`): killed whole if a test leaves them behind. */
const groups = new Set<number>();

function start(
  args: string[],
  env: Record<string, string>,
  via: 'main' | 'bin' = 'main',
  cwd = ROOT,
): ChildProcess {
  const argv = via === 'main' ? ['--import', 'tsx', MAIN, ...args] : [BIN, ...args];
  const child = spawn(process.execPath, argv, {
    cwd,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

interface Result {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `billfold <args>` to completion. `cwd`: run there through bin/billfold.js, as a user
 * whose shell is in another directory does (`--import tsx` would resolve tsx from there).
 */
function run(
  target: Target,
  args: string[],
  env: Record<string, string> = {},
  opts: { cwd?: string; withoutDataDir?: boolean } = {},
): Promise<Result> {
  const targetEnv: Record<string, string> = { ...target.env };
  if (opts.withoutDataDir) delete targetEnv.BILLFOLD_DATA_DIR;
  const child = start(args, { ...targetEnv, ...env }, opts.cwd ? 'bin' : 'main', opts.cwd);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`billfold ${args.join(' ')} did not finish: ${stdout}${stderr}`));
    }, PROCESS_TIMEOUT);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const ok = (r: Result): Result => {
  expect(r.code, r.stderr).toBe(0);
  // stderr holds at most log lines (the pinned-clock warning), never an error.
  expect(r.stderr).not.toMatch(/^error:/m);
  return r;
};

/** A failed command: non-zero exit and `error: <code>:` on stderr, nothing on stdout. */
const failsWith = (r: Result, code: string | RegExp) => {
  expect(r.code, r.stdout + r.stderr).not.toBe(0);
  expect(r.code).not.toBeNull();
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(typeof code === 'string' ? new RegExp(`^error: ${code}:`, 'm') : code);
};

/** `account show --json`: stdout must be exactly one JSON document, whatever gets logged. */
const showJson = async (target: Target, email: string, env: Record<string, string> = {}) => {
  const r = ok(await run(target, ['account', 'show', '--email', email, '--json'], env));
  return JSON.parse(r.stdout) as Record<string, unknown>;
};

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const group of groups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** The target's database opened directly, to check what a command left there. */
async function withDb<T>(target: Target, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = target.schema
    ? openPostgres(TEST_PG_URL, { schema: target.schema, max: 1 })
    : openSqlite(join(target.dataDir, 'billfold.sqlite'));
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

describe(`billfold CLI (${TEST_ENGINE})`, () => {
  let target: Target;
  // Every command in this block runs with a pinned clock: timestamps are predictable, and the
  // clock warning must go to stderr, never into the command's output.
  const env = { BILLFOLD_CLOCK: '2021-12-16T10:00:00Z' };
  const cli = (...args: string[]) => run(target, args, env);

  beforeAll(async () => {
    target = await createTarget();
  });
  afterAll(async () => {
    await target?.destroy();
  });

  it('refuses to work without a database or on an unmigrated one, creates nothing, and reports bad configuration', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'billfold-cwd-'));
    try {
      const [before, fromElsewhere, version, badConfig, badClock] = await Promise.all([
        cli('account', 'show', '--email', 'nobody@example.com'),
        // A shell in another directory, no BILLFOLD_DATA_DIR: ./data is looked for, not made.
        run(target, ['ledger', 'check'], env, { cwd: elsewhere, withoutDataDir: true }),
        cli('version'),
        run(target, ['ledger', 'check'], { BILLFOLD_PORT: '70000' }),
        run(target, ['migrate'], { BILLFOLD_CLOCK: 'yesterday' }),
      ]);
      if (target.schema) {
        // PostgreSQL: the database is there, not migrated.
        for (const r of [before, fromElsewhere]) {
          failsWith(r, 'database_not_migrated');
          expect(r.stderr).toMatch(/needs \d+ migration\(s\): run `billfold migrate` first/);
        }
      } else {
        failsWith(before, 'database_not_found');
        expect(before.stderr).toContain(join(target.dataDir, 'billfold.sqlite'));
        failsWith(fromElsewhere, 'database_not_found');
        expect(fromElsewhere.stderr).toContain(join(realpathSync(elsewhere), 'data', 'billfold.sqlite'));
      }
      // Neither a database nor a master key was created, here or there.
      expect(readdirSync(target.dataDir)).toEqual([]);
      expect(readdirSync(elsewhere)).toEqual([]);

      expect(ok(version).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
      expect(version.stderr).toBe('');

      for (const [r, variable] of [
        [badConfig, 'BILLFOLD_PORT'],
        [badClock, 'BILLFOLD_CLOCK'],
      ] as const) {
        expect(r.code).toBe(2);
        expect(r.stdout).toBe('');
        expect(r.stderr).toContain('Invalid configuration');
        expect(r.stderr).toContain(`${variable}:`);
      }
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('migrate applies the migrations once, then says the database is up to date', async () => {
    const first = ok(await cli('migrate'));
    expect(first.stdout).toMatch(/^Applied \d+ migration\(s\) to .*: 0001_foundation(, \w+)*$/m);
    // Warnings (the pinned clock) go to stderr, never into the command's output.
    expect(first.stderr).toContain('BILLFOLD_CLOCK is set');
    expect(statSync(join(target.dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
    if (target.schema) {
      const tables = await pgQuery<{ table_name: string }>(
        'select table_name from information_schema.tables where table_schema = $1',
        [target.schema],
      );
      expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['accounts', 'users']));
    } else {
      expect(statSync(join(target.dataDir, 'billfold.sqlite')).isFile()).toBe(true);
    }
    const second = ok(await cli('migrate'));
    expect(second.stdout).toMatch(/is up to date\.$/m);
    expect(second.stdout).not.toContain('Applied');

    // Without its master key the database's secrets could not be opened: a command other than
    // migrate or serve refuses, naming the file, and does not make a new key.
    const key = join(target.dataDir, 'secret.key');
    renameSync(key, `${key}.away`);
    try {
      const noKey = await cli('ledger', 'check');
      failsWith(noKey, 'secret_key_not_found');
      expect(noKey.stderr).toContain(key);
      expect(readdirSync(target.dataDir)).not.toContain('secret.key');
    } finally {
      renameSync(`${key}.away`, key);
    }
  });

  it('creates an admin and accounts; a taken email fails with email_taken; show --json has the balance', async () => {
    const [admin, alice, bob, badAdmin] = await Promise.all([
      cli('admin', 'create', '--email', 'root@example.com', '--password', 'correct horse battery'),
      cli(
        'account',
        'create',
        '--email',
        'Alice@Example.com',
        '--name',
        'Alice Ltd',
        '--password',
        'alice password 1',
      ),
      cli('account', 'create', '--email', 'bob@example.com', '--name', 'Bob', '--currency', 'USD'),
      cli('admin', 'create', '--email', 'x@example.com', '--password', 'short'),
    ]);
    expect(ok(admin).stdout).toMatch(/^Created admin user root@example\.com \(id \d+\)\.$/m);
    expect(ok(alice).stdout).toMatch(
      /^Created account \d+ Alice Ltd <alice@example\.com> in EUR, with a login\.$/m,
    );
    expect(ok(bob).stdout).toMatch(/^Created account \d+ Bob <bob@example\.com> in USD\.$/m);
    failsWith(badAdmin, 'validation_failed');
    expect(badAdmin.stderr).toContain('password');

    const [dupAccount, dupOfAdmin, unknownCurrency, lowerCurrency, aliceView, bobView, missing] =
      await Promise.all([
        cli('account', 'create', '--email', 'alice@example.com', '--name', 'Again'),
        cli(
          'account',
          'create',
          '--email',
          'root@example.com',
          '--name',
          'Root',
          '--password',
          'root password 1',
        ),
        cli('account', 'create', '--email', 'carol@example.com', '--name', 'Carol', '--currency', 'XXX'),
        cli('account', 'create', '--email', 'dave@example.com', '--name', 'Dave', '--currency', 'usd'),
        showJson(target, 'ALICE@example.com', env),
        showJson(target, 'bob@example.com', env),
        cli('account', 'show', '--email', 'carol@example.com', '--json'),
      ]);
    failsWith(dupAccount, 'email_taken');
    failsWith(dupOfAdmin, 'email_taken');
    failsWith(unknownCurrency, 'validation_failed');
    expect(unknownCurrency.stderr).toContain('currency');
    failsWith(lowerCurrency, 'validation_failed');

    expect(aliceView).toMatchObject({
      name: 'Alice Ltd',
      email: 'alice@example.com',
      currency: 'EUR',
      status: 'active',
      balance: '0.00',
      creditLimit: '0.00',
      createdAt: startedAt(),
    });
    expect(bobView).toMatchObject({ currency: 'USD', balance: '0.00' });

    // Nothing was written by the refused commands.
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No account with email carol@example.com');

    // token create: the secret alone on stdout, once; the database keeps only its hash.
    const [token, noUser, noName] = await Promise.all([
      cli('token', 'create', '--email', 'ALICE@example.com'),
      cli('token', 'create', '--email', 'nobody@example.com'),
      cli('token', 'create', '--email', 'alice@example.com', '--name', ' '),
    ]);
    const secret = ok(token).stdout;
    expect(secret).toMatch(/^bf_[A-Za-z0-9_-]{40,}\n$/);
    failsWith(noUser, 'user_not_found');
    expect(noUser.stderr).toContain('nobody@example.com');
    failsWith(noName, 'validation_failed');
    const rows = await withDb(target, (db) =>
      db.kysely
        .selectFrom('api_tokens as t')
        .innerJoin('users as u', 'u.id', 't.user_id')
        .select(['u.email', 't.name', 't.token_hash'])
        .execute(),
    );
    expect(rows).toEqual([{ email: 'alice@example.com', name: 'cli', token_hash: sha256(secret.trim()) }]);
  });

  it('payment add credits the balance once; a repeated reference is payment_exists; bad amounts write nothing', async () => {
    const pay = (amount: string, ref = 'R') =>
      cli(
        'payment',
        'add',
        '--email',
        'alice@example.com',
        '--amount',
        amount,
        '--method',
        'manual',
        '--ref',
        ref,
      );
    const [paid, negative, tooPrecise, notANumber, zero, noAccount] = await Promise.all([
      pay('100.00'),
      pay('-5', 'NEG'),
      pay('1.001', 'PREC'),
      pay('abc', 'ABC'),
      pay('0', 'ZERO'),
      cli(
        'payment',
        'add',
        '--email',
        'nobody@example.com',
        '--amount',
        '1.00',
        '--method',
        'manual',
        '--ref',
        'X',
      ),
    ]);
    expect(ok(paid).stdout).toMatch(
      /^Recorded payment \d+: 100\.00 EUR \(manual R\); balance 100\.00 EUR\.$/m,
    );
    failsWith(negative, 'invalid_amount');
    failsWith(tooPrecise, 'amount_too_precise');
    failsWith(notANumber, 'validation_failed');
    failsWith(zero, 'invalid_amount');
    expect(noAccount.code).toBe(1);
    expect(noAccount.stderr).toContain('No account with email nobody@example.com');

    const [again, otherMethod] = await Promise.all([
      pay('100.00'),
      cli(
        'payment',
        'add',
        '--email',
        'alice@example.com',
        '--amount',
        '0.50',
        '--method',
        'bank',
        '--ref',
        'R',
      ),
    ]);
    failsWith(again, 'payment_exists');
    // The reference is unique per method: the same reference by bank is another payment.
    expect(ok(otherMethod).stdout).toContain('balance 100.50 EUR');

    const [view, text, check] = await Promise.all([
      showJson(target, 'alice@example.com', env),
      cli('account', 'show', '--email', 'alice@example.com'),
      cli('ledger', 'check'),
    ]);
    expect(view.balance).toBe('100.50');
    expect(ok(text).stdout).toMatch(/balance:\s+100\.50 EUR/);
    expect(text.stdout).toMatch(/payment\s+100\.00\s+Payment \(manual\) R/);
    expect(ok(check).stdout).toContain('Ledger OK');
  });

  it('catalog seed-control-panels run twice leaves exactly the six values; a deleted one comes back, edits stay', async () => {
    const six = [
      ['ISPmanager Lite', '3541'],
      ['ISPmanager Business', '4601'],
      ['ISPmanager 6 Lite', '55227'],
      ['ISPmanager 6 Pro', '55228'],
      ['ISPmanager 6 Host', '55229'],
      ['ISPmanager 6 Business', '55230'],
    ];
    /** Every enumeration named "Server Control Panel", with its values in their order. */
    const panels = () =>
      withDb(target, async (db) => {
        const enums = await db.kysely
          .selectFrom('enumerations')
          .select('id')
          .where('name', '=', 'Server Control Panel')
          .execute();
        const values = await db.kysely
          .selectFrom('enumeration_values')
          .select(['enumeration_id', 'name', 'internal_name', 'status'])
          .orderBy('sort_order')
          .orderBy('id')
          .execute();
        return {
          ids: enums.map((e) => Number(e.id)),
          values: values
            .filter((v) => enums.some((e) => Number(e.id) === Number(v.enumeration_id)))
            .map((v) => [v.name, v.internal_name, v.status]),
        };
      });

    const first = ok(await cli('catalog', 'seed-control-panels'));
    const id =
      /^Enumeration (\d+) "Server Control Panel": added 6 value\(s\): 3541, 4601, 55227, 55228, 55229, 55230\.$/m.exec(
        first.stdout,
      )?.[1];
    expect(id, first.stdout).toBeDefined();
    const second = ok(await cli('catalog', 'seed-control-panels'));
    expect(second.stdout).toMatch(
      new RegExp(`^Enumeration ${id} "Server Control Panel" already has all six values\\.$`, 'm'),
    );
    expect(await panels()).toEqual({
      ids: [Number(id)],
      values: six.map(([name, internal]) => [name, internal, 'active']),
    });

    // Staff renamed one value and deleted another: a third run adds back only the missing one.
    await withDb(target, async (db) => {
      await db.kysely
        .updateTable('enumeration_values')
        .set({ name: 'ISPmanager Lite (legacy)' })
        .where('enumeration_id', '=', Number(id))
        .where('internal_name', '=', '3541')
        .execute();
      await db.kysely
        .deleteFrom('enumeration_values')
        .where('enumeration_id', '=', Number(id))
        .where('internal_name', '=', '4601')
        .execute();
    });
    const third = ok(await cli('catalog', 'seed-control-panels'));
    expect(third.stdout).toMatch(
      new RegExp(`^Enumeration ${id} "Server Control Panel": added 1 value\\(s\\): 4601\\.$`, 'm'),
    );
    const after = await panels();
    expect(after.ids).toEqual([Number(id)]);
    expect(after.values.map((v) => v[1])).toEqual(six.map(([, internal]) => internal));
    expect(after.values[0]).toEqual(['ISPmanager Lite (legacy)', '3541', 'active']);
  });

  it('reselling commands: import, sync and reconcile refuse what is not there; report margins prints a table or JSON', async () => {
    const [imp, sync, reconcileAll, reconcileOne, table, json, badGroup] = await Promise.all([
      cli('modules', 'import-tariffs', '999999'),
      cli('services', 'sync', '999999'),
      cli('licenses', 'reconcile'),
      cli('licenses', 'reconcile', '--module', '999999'),
      cli('report', 'margins', '--from', '2021-12-01', '--to', '2021-12-31', '--group-by', 'month'),
      cli('report', 'margins', '--json'),
      cli('report', 'margins', '--group-by', 'year'),
    ]);
    failsWith(imp, 'module_not_found');
    failsWith(sync, 'service_not_found');
    failsWith(reconcileOne, 'module_not_found');
    // No module here can list upstream items (the license-issuer cannot): nothing to reconcile.
    expect(ok(reconcileAll).stdout).toBe('No enabled module can list its upstream items.\n');
    expect(ok(table).stdout).toBe(
      'Margins 2021-12-01 .. 2021-12-31 by month\nmonth  currency  revenue  cost  margin\n',
    );
    expect(JSON.parse(ok(json).stdout)).toEqual({
      from: '2021-12-01',
      to: '2021-12-16',
      groupBy: 'service',
      rows: [],
      totals: [],
    });
    expect(badGroup.code).not.toBe(0);
    expect(badGroup.stderr).toContain('must be one of service, tariff, month');
  });

  it('catalog seed-ispsystem creates the 13 upstream tariffs once, then finds them', async () => {
    const first = JSON.parse(ok(await cli('catalog', 'seed-ispsystem', '--json')).stdout);
    expect(first.tariffs.created).toHaveLength(13);
    expect(first.addons.created).toEqual([55236, 55165, 55164]);
    const second = ok(await cli('catalog', 'seed-ispsystem')).stdout;
    expect(second).toMatch(/^Tariffs: created 0\.$/m);
    expect(second).toMatch(/^Tariffs: found 13: 3541, 4601, 55227, .*, 55161\.$/m);
    expect(second).toMatch(/^Linked to module \d+: 0\.$/m);
  });
});

describe(`billfold serve (${TEST_ENGINE})`, () => {
  let target: Target;
  /** The admin the first start creates (its credentials are printed once). */
  const admin = { email: '', password: '' };
  beforeAll(async () => {
    target = await createTarget();
  });
  afterAll(async () => {
    await target?.destroy();
  });

  type Server = Running;

  function startServer(
    env: Record<string, string>,
    via: 'main' | 'bin' = 'main',
    args: string[] = [],
  ): Server {
    return watch(
      start(['serve', '--host', '127.0.0.1', '--port', '0', ...args], { ...target.env, ...env }, via),
    );
  }

  const waitFor = <T>(server: Server, find: (stdout: string) => T | null | undefined): Promise<T> =>
    waitForOutput(server, find, PROCESS_TIMEOUT);

  const urlOf = (server: Server) =>
    waitFor(server, (out) => /Billfold is running at (http:\/\/127\.0\.0\.1:(\d+))/.exec(out)?.[1]);

  async function stop(server: Server, url: string) {
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.output().stdout).toContain('shutting down');
    // The port is released: nothing is left answering.
    await expect(fetch(`${url}/api/health`)).rejects.toThrow();
  }

  it('first start migrates, prints generated admin credentials once; they log in; SIGTERM stops it', async () => {
    const server = startServer({});
    const url = await urlOf(server);
    expect(url).not.toMatch(/:0$/);
    const [, email, password] = await waitFor(server, (out) =>
      /email:\s+(\S+)\n\s+password:\s+(\S+)\nIt is shown only this once\./.exec(out),
    );
    expect(server.output().stdout.match(/password:/g)).toHaveLength(1);
    admin.email = email!;
    admin.password = password!;

    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; database: string; time: string };
    expect(body).toMatchObject({ status: 'ok', database: TEST_ENGINE });
    expect(Math.abs(Date.parse(body.time) - Date.now())).toBeLessThan(60_000);

    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
    const me = (await login.json()) as { user: { email: string; role: string } };
    expect(me.user).toMatchObject({ email, role: 'admin' });
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);

    const wrong = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: `${password}x` }),
    });
    expect(wrong.status).toBe(401);

    await stop(server, url);
  });

  it('a second start prints no credentials, starts the clock at BILLFOLD_CLOCK and lets it run, refuses a taken port, and stops on SIGTERM through bin/billfold.js', async () => {
    const server = startServer({ BILLFOLD_CLOCK: '2021-12-16T10:00:00Z' }, 'bin');
    const url = await urlOf(server);
    const timeNow = async () => {
      const health = await fetch(`${url}/api/health`);
      expect(health.status).toBe(200);
      return ((await health.json()) as { time: string }).time;
    };
    const first = await timeNow();
    expect(first).toEqual(startedAt());
    await new Promise((r) => setTimeout(r, 50));
    expect(Date.parse(await timeNow())).toBeGreaterThan(Date.parse(first));
    expect(server.output().stdout).toContain('BILLFOLD_CLOCK is set');

    // The README's sign-in works under a clock started in the past: the cookie's lifetime is a
    // Max-Age the browser counts itself, not an Expires date that is already behind it.
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: admin.email, password: admin.password }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/Max-Age=\d+/);
    expect(cookie).not.toMatch(/Expires=/i);

    // A script's token, made by the CLI while the server runs, works on the API.
    const made = await run(target, ['token', 'create', '--email', admin.email, '--name', 'deploy script']);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^bf_[A-Za-z0-9_-]+$/);
    const me = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe(admin.email);
    const tokens = await fetch(`${url}/api/v1/me/tokens`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await tokens.json()) as { items: { name: string }[] }).items.map((t) => t.name)).toEqual([
      'deploy script',
    ]);

    // Another server on the same port fails promptly with a non-zero exit (no lingering pool).
    const port = new URL(url).port;
    const started = Date.now();
    const clash = await run(target, ['serve', '--host', '127.0.0.1', '--port', port]);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toMatch(
      /is already in use: stop the other server or choose a port with --port or BILLFOLD_PORT/,
    );
    expect(Date.now() - started).toBeLessThan(9_000);

    const out = server.output().stdout;
    expect(out).not.toContain('First start');
    expect(out).not.toMatch(/password:/);
    await stop(server, url);
  });

  it('`--starter-catalog` (npm start) gives a database without tariffs the ISPsystem license catalog, once', async () => {
    const catalogOf = async (url: string) => (await fetch(`${url}/api/v1/catalog`)).text();
    const first = startServer({}, 'main', ['--starter-catalog']);
    const url = await urlOf(first);
    await waitFor(first, (out) => /Empty catalog: created (\d+) ISPsystem license tariffs/.exec(out));
    expect(first.output().stdout).toMatch(/created 13 ISPsystem license tariffs/);
    expect(await catalogOf(url)).toContain('ISPmanager');
    await stop(first, url);
    // Tariffs exist now: a second start leaves the catalog alone and says nothing about it.
    const second = startServer({}, 'main', ['--starter-catalog']);
    const url2 = await urlOf(second);
    expect(second.output().stdout).not.toContain('Empty catalog');
    await stop(second, url2);
  });

  it('`npm start` then SIGTERM to npm: the server stops answering and the whole process tree exits', async () => {
    // npm runs the script through a shell; the signal must still reach the server. The npm
    // process leads a process group of its own, so "the tree exited" is "the group is empty".
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: cleanEnv({ ...target.env, BILLFOLD_HOST: '127.0.0.1', BILLFOLD_PORT: '0' }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    groups.add(npm.pid!);
    let stdout = '';
    let stderr = '';
    npm.stdout!.on('data', (d) => {
      stdout += d;
    });
    npm.stderr!.on('data', (d) => {
      stderr += d;
    });
    // 'exit', not 'close': a server left behind would hold the pipes open and 'close' never come.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      npm.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const server: Server = { child: npm, output: () => ({ stdout, stderr }), exited };
    const url = await urlOf(server);
    expect((await fetch(`${url}/api/health`)).status).toBe(200);

    const signalled = Date.now();
    process.kill(npm.pid!, 'SIGTERM');
    const bound = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000));
    expect(await Promise.race([exited, bound])).toEqual({ code: 0, signal: null });
    const groupAlive = () => {
      try {
        process.kill(-npm.pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (groupAlive() && Date.now() - signalled < 15_000) await new Promise((r) => setTimeout(r, 100));
    expect(groupAlive(), `${stdout}\n${stderr}`).toBe(false);
    expect(Date.now() - signalled).toBeLessThan(15_000);
    groups.delete(npm.pid!);
    expect(stdout).toContain('shutting down');
    await expect(fetch(`${url}/api/health`)).rejects.toThrow();
  });
});
