/**
 * The BILLmanager-compatible API over HTTP (issue 6): `soft.edit` (the view of one license) with
 * `authinfo` and with a session, in requests/s and p99 next to a bare Fastify route measured
 * in the same run (the ratio is the figure: it holds on any machine), and `soft.order.param`
 * (skipbasket: charge, service, license key issued inline) in orders/s.
 *
 * Per engine, on a fresh database:
 * 1. a license-issuer module, ISPmanager 6 Lite (55227, 7.50/month) linked to it, one client
 *    account with a password and a payment that covers every order;
 * 2. the real application (`buildHttpApp`) and a bare Fastify instance (no plug-ins, `GET /bare`
 *    answering a constant XML document) listen on 127.0.0.1, port 0, in this process;
 * 3. `func=auth` (argon2) gives a session, which orders the license `soft.edit` views; the first
 *    `soft.edit` with `authinfo` is timed alone (argon2, nothing cached yet);
 * 4. autocannon, in a child process (bench/billmgr-child.ts), loads: the bare route, the bare route
 *    holding the CPU for `BENCH_MGR_WORK_US` µs before it answers (what a fixed amount of work
 *    costs the rate on this machine), `soft.edit` with `authinfo`, `soft.edit` with the session,
 *    the bare route again; each after a warm-up. The CPU time of the server (this process), of
 *    the client (the child) and, on PostgreSQL, of every `postgres` process is taken per load;
 * 5. `BENCH_MGR_ORDERS` orders through `soft.order.param` (authinfo, distinct `remoteid` and IP
 *    address each) from autocannon with `amount` and `BENCH_MGR_ORDER_CONNECTIONS` connections;
 *    then every order must have made one active license with a key, the account must have been
 *    charged once per license and the ledger must balance.
 * The clock is the system clock (see the report section for why).
 */
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildHttpApp } from '../src/app/http.js';
import {
  createAccount,
  findLedgerMismatches,
  recordPayment,
  systemActor,
} from '../src/modules/accounts/index.js';
import { createTariff } from '../src/modules/catalog/commands.js';
import { createModule, setTariffModules } from '../src/modules/provisioning/commands.js';
import { systemClock } from '../src/platform/clock.js';
import type { AppContext } from '../src/platform/context.js';
import type { Logger } from '../src/platform/logger.js';
import type { LoadChildMessage, LoadInput, LoadParentMessage, LoadResult } from './billmgr-child.js';
import type { EngineHandle, EngineName } from './engine.js';
import { QueryCounter } from './query-counter.js';

const staff = systemActor('bench');
const EMAIL = 'reseller@billmgr.bench';
const PASSWORD = 'bench:pass-word';
const PRICE_MINOR = 750n;
export const BARE_XML = '<?xml version="1.0" encoding="UTF-8"?>\n<doc><ok/></doc>\n';

export interface BillmgrOptions {
  /** autocannon connections for the `soft.edit` and bare loads (BENCH_MGR_CONNECTIONS). */
  readonly connections: number;
  /** Measured seconds per load (BENCH_MGR_SECONDS), after `warmupSeconds` of the same load. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Orders placed through `soft.order.param` (BENCH_MGR_ORDERS) per run, one run per connection count. */
  readonly orders: number;
  readonly orderConnections: readonly number[];
  /** A run of orders stops after this many seconds even if not all were answered (BENCH_MGR_ORDER_SECONDS). */
  readonly orderSeconds: number;
  /** CPU the `bare + work` route holds per request, µs (BENCH_MGR_WORK_US). */
  readonly workMicros: number;
}

export type Scenario = 'bare' | 'bare + work' | 'authinfo' | 'session' | 'bare (after)' | 'orders';

export interface LoadRow {
  readonly scenario: Scenario;
  readonly connections: number;
  readonly load: LoadResult;
  /** CPU time of the server process (this one) during the measured load, ms. */
  readonly serverCpuMs: number;
  /** CPU time of every `postgres` process during the measured load, ms (null on SQLite: it is the server's). */
  readonly databaseCpuMs: number | null;
  /** Statements sent through Kysely during the measured load (BEGIN/COMMIT not counted). */
  readonly queries: number;
  readonly statements: { query: string; count: number }[];
  /** Errors the server logged during the load (`billmgr function failed`), by error message. */
  readonly serverErrors: Record<string, number>;
}

export interface BillmgrResult {
  readonly engine: EngineName;
  readonly rows: readonly LoadRow[];
  /** The first `soft.edit` with authinfo (argon2 verify, nothing cached), ms. */
  readonly coldAuthinfoMs: number;
  /** `func=auth` (argon2 verify, session written), ms. */
  readonly loginMs: number;
  /** After the orders: licenses (active, with a key) and debits on the account, ledger mismatches. */
  readonly licenses: number;
  readonly charges: number;
  readonly ledgerMismatches: number;
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

async function call(base: string, params: Record<string, string>, method: 'GET' | 'POST' = 'GET') {
  const res =
    method === 'GET'
      ? await fetch(`${base}/billmgr?${form(params)}`)
      : await fetch(`${base}/billmgr`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form(params),
        });
  const body = await res.text();
  if (res.status !== 200 || body.includes('<error'))
    throw new Error(`billmgr ${params.func}: HTTP ${res.status}: ${body.slice(0, 500)}`);
  return body;
}

async function setUp(ctx: AppContext, orders: number): Promise<number> {
  const issuer = await createModule(ctx, staff, {
    name: 'Billfold licenses',
    type: 'license-issuer',
    productTypes: ['soft'],
    params: {},
  });
  const tariff = await createTariff(ctx, staff, {
    id: 55227,
    name: 'ISPmanager 6 Lite',
    productType: 'soft',
    periods: [1],
    prices: { '1': '7.50' },
  });
  await setTariffModules(ctx, staff, tariff.id, { modules: [{ moduleId: Number(issuer.id) }] });
  const { account } = await createAccount(ctx, staff, {
    name: 'Bench reseller',
    email: EMAIL,
    password: PASSWORD,
  });
  // Every order and the one `soft.edit` views, and 100.00 to spare.
  const minor = BigInt(orders + 1) * PRICE_MINOR + 10_000n;
  await recordPayment(ctx, staff, Number(account.id), {
    amount: `${minor / 100n}.${String(minor % 100n).padStart(2, '0')}`,
    method: 'bank',
    reference: 'bench-billmgr',
  });
  return Number(account.id);
}

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`: 100 on Linux). */
const CLOCK_TICKS = 100;

/**
 * CPU time (user + system) of every process named `postgres` on this machine, ms, by pid: the
 * server of the benchmark's database is local, so this is the database's share of a load
 * (backends, WAL writer, checkpointer; nothing else runs a `postgres` process here). Empty
 * where /proc is absent.
 */
function postgresCpuMs(): Map<string, number> {
  const byPid = new Map<string, number>();
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return byPid;
  }
  for (const pid of pids) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state …: comm may hold spaces, so fields are counted after its last ')'.
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
    const fields = stat.slice(close + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `pid (comm)`.
    byPid.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS);
  }
  return byPid;
}

/**
 * The database's CPU between two samples, ms: each process's growth (a process started
 * meanwhile counts from 0; one that ended meanwhile is not counted, so this may be a little low).
 */
function cpuSince(before: Map<string, number>, after: Map<string, number>): number {
  let ms = 0;
  for (const [pid, t] of after) ms += t - (before.get(pid) ?? 0);
  return ms;
}

/**
 * A bare route that holds the CPU for `micros` µs before it answers: what a fixed amount of
 * work per request does to the rate of this machine (a loop on the monotonic clock, so the time
 * is on the CPU unless the process is descheduled).
 */
export function holdCpu(micros: number): void {
  const end = process.hrtime.bigint() + BigInt(Math.round(micros * 1000));
  while (process.hrtime.bigint() < end);
}

/**
 * BENCH_CPU_PROF: a V8 CPU profile of the server (this process: the load generator is the child)
 * over each measured load, written to that directory as `billmgr-<engine>-<scenario>.cpuprofile`
 * (summarise one with `npx tsx bench/cpuprofile.ts <file>`).
 */
class ServerProfiler {
  readonly #dir = process.env.BENCH_CPU_PROF || undefined;
  #session: Session | null = null;

  async start(): Promise<void> {
    if (!this.#dir) return;
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    // 100 µs between samples (V8's default is 1 ms): a request takes well under a millisecond.
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    this.#session = session;
  }

  async stop(name: string): Promise<void> {
    const session = this.#session;
    if (!this.#dir || !session) return;
    this.#session = null;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    fs.mkdirSync(this.#dir, { recursive: true });
    const file = path.join(this.#dir, `billmgr-${name.replace(/[^a-z0-9]+/gi, '-')}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`  CPU profile of the server: ${file}\n`);
  }
}

const profiler = new ServerProfiler();

/** One autocannon run in a child process; `counters` are reset when its warm-up is over. */
function load(
  input: LoadInput,
  scenario: Scenario,
  counter: QueryCounter,
  errors: ErrorLog,
  engine: EngineName,
): Promise<LoadRow> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./billmgr-child.ts', import.meta.url)),
    [JSON.stringify(input)],
    { execArgv: [...process.execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  let cpu0 = process.cpuUsage();
  let db0 = engine === 'postgres' ? postgresCpuMs() : null;
  return new Promise((resolve, reject) => {
    let settled = false;
    child.on('message', (raw) => {
      const m = raw as LoadChildMessage;
      if (m.type === 'warm') {
        void profiler.start().then(() => {
          counter.reset();
          errors.reset();
          cpu0 = process.cpuUsage();
          db0 = engine === 'postgres' ? postgresCpuMs() : null;
          child.send({ type: 'go' } satisfies LoadParentMessage);
        }, reject);
      } else if (m.type === 'result') {
        const cpu = process.cpuUsage(cpu0);
        const dbCpu = db0 === null ? null : cpuSince(db0, postgresCpuMs());
        const { type: _t, ...result } = m;
        settled = true;
        const queries = counter.total;
        const statements = counter.top(12);
        const serverErrors = { ...errors.byMessage };
        profiler.stop(`${engine}-${scenario}-${input.connections}`).then(() => {
          if (result.errors > 0 || result.timeouts > 0)
            reject(
              new Error(
                `billmgr benchmark (${engine}, ${scenario}): ${result.errors} errors (non-2xx ${result.non2xx}, ` +
                  `wrong answers ${result.mismatches}), ${result.timeouts} timeouts; e.g. ${result.sample ?? '-'}`,
              ),
            );
          else
            resolve({
              scenario,
              connections: input.connections,
              load: result,
              serverCpuMs: (cpu.user + cpu.system) / 1000,
              databaseCpuMs: dbCpu,
              queries,
              statements,
              serverErrors,
            });
        }, reject);
      } else {
        settled = true;
        reject(new Error(`billmgr load generator (${engine}, ${scenario}) failed:\n${m.message}`));
      }
    });
    child.on('exit', (code, signal) => {
      if (!settled)
        reject(
          new Error(`billmgr load generator (${engine}, ${scenario}) ended with ${signal ?? `code ${code}`}`),
        );
    });
  });
}

/**
 * The server's error log, counted by message (a refused order's answer only says "Internal
 * error."). Fastify's own request logging is below this level, as with the silent logger.
 */
class ErrorLog {
  byMessage: Record<string, number> = {};
  readonly logger: Logger = pino(
    { level: 'error' },
    {
      write: (line: string) => {
        const entry = JSON.parse(line) as { msg?: string; err?: { message?: string; code?: string } };
        const key = entry.err?.message
          ? `${entry.err.message}${entry.err.code ? ` (${entry.err.code})` : ''}`
          : (entry.msg ?? '?');
        this.byMessage[key] = (this.byMessage[key] ?? 0) + 1;
      },
    },
  );
  reset() {
    this.byMessage = {};
  }
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

const fmtMs = (n: number) => n.toFixed(2);

export async function billmgrBenchmark(h: EngineHandle, opts: BillmgrOptions): Promise<BillmgrResult> {
  const { engine } = h;
  const counter = new QueryCounter();
  const errors = new ErrorLog();
  const ctx: AppContext = {
    ...h.ctx,
    db: { ...h.ctx.db, kysely: h.ctx.db.kysely.withPlugin(counter) },
    clock: systemClock,
    logger: errors.logger,
  };
  const accountId = await setUp(ctx, opts.orders * opts.orderConnections.length);
  const app = await buildHttpApp(ctx);
  const bare = Fastify();
  bare.get('/bare', async (_request, reply) => reply.type('text/xml; charset=utf-8').send(BARE_XML));
  bare.get('/bare-work', async (_request, reply) => {
    holdCpu(opts.workMicros);
    return reply.type('text/xml; charset=utf-8').send(BARE_XML);
  });
  try {
    const base = await listen(app);
    const bareBase = await listen(bare);
    // fetch's own first use (undici) is not the server's cost.
    await fetch(`${bareBase}/bare`).then((r) => r.text());

    let t0 = performance.now();
    const auth = await call(base, { func: 'auth', username: EMAIL, password: PASSWORD }, 'POST');
    const loginMs = performance.now() - t0;
    const sid = /<auth id="([0-9a-f]+)"/.exec(auth)?.[1];
    if (!sid) throw new Error(`billmgr benchmark: no session in ${auth}`);
    const ordered = await call(
      base,
      {
        auth: sid,
        func: 'soft.order.param',
        pricelist: '55227',
        period: '1',
        ip: '203.0.113.10',
        licname: 'vps-1042',
        skipbasket: 'on',
        sok: 'ok',
      },
      'POST',
    );
    const elid = /<id>(\d+)<\/id>/.exec(ordered)?.[1];
    if (!elid) throw new Error(`billmgr benchmark: the order gave no license id: ${ordered}`);
    const authinfo = `${EMAIL}:${PASSWORD}`;
    // The view shows the key the order issued.
    const expect = '<lickey>';
    await call(base, { auth: sid, func: 'soft.edit', elid });
    t0 = performance.now();
    const cold = await call(base, { authinfo, func: 'soft.edit', elid });
    const coldAuthinfoMs = performance.now() - t0;
    if (!cold.includes(expect)) throw new Error(`billmgr benchmark: soft.edit shows no key: ${cold}`);
    process.stderr.write(
      `  [${engine}] func=auth ${fmtMs(loginMs)} ms, first soft.edit with authinfo ${fmtMs(coldAuthinfoMs)} ms\n`,
    );

    const timed = { connections: opts.connections, seconds: opts.seconds, warmupSeconds: opts.warmupSeconds };
    const rows: LoadRow[] = [];
    const measure = async (scenario: Scenario, input: LoadInput) => {
      const row = await load(input, scenario, counter, errors, engine);
      const l = row.load;
      const refused = Object.values(l.refused).reduce((a, n) => a + n, 0);
      process.stderr.write(
        `  [${engine}] ${scenario}, ${row.connections} connection(s): ${Math.round(l.requests / l.seconds)}/s, ` +
          `p50 ${fmtMs(l.p50)} ms, p99 ${fmtMs(l.p99)} ms, ${(row.queries / (l.requests + refused)).toFixed(1)} ` +
          `queries/request${refused ? `, ${refused} refused: ${JSON.stringify(row.serverErrors)}` : ''}\n`,
      );
      rows.push(row);
    };
    await measure('bare', { ...timed, url: `${bareBase}/bare`, expect: '<ok/>' });
    await measure('bare + work', { ...timed, url: `${bareBase}/bare-work`, expect: '<ok/>' });
    await measure('authinfo', {
      ...timed,
      url: `${base}/billmgr?${form({ authinfo, func: 'soft.edit', elid })}`,
      expect,
    });
    await measure('session', {
      ...timed,
      url: `${base}/billmgr?${form({ auth: sid, func: 'soft.edit', elid })}`,
      expect,
    });
    await measure('bare (after)', { ...timed, url: `${bareBase}/bare`, expect: '<ok/>' });
    for (const [i, connections] of opts.orderConnections.entries()) {
      // Numbers (remote ids, addresses) far apart per run: setupRequest also runs when a connection is set up.
      const first = 1 + i * 1_000_000;
      await measure('orders', {
        url: `${base}/billmgr`,
        connections,
        amount: opts.orders,
        maxSeconds: opts.orderSeconds,
        warmupSeconds: 0,
        expect: '<id>',
        orders: { authinfo, first },
      });
    }
    const orderRows = rows.filter((r) => r.scenario === 'orders');
    for (const r of orderRows) {
      const refused = Object.values(r.load.refused).reduce((a, n) => a + n, 0);
      if (!r.load.stopped && r.load.requests + refused !== opts.orders)
        throw new Error(
          `billmgr benchmark (${engine}): ${r.load.requests} + ${refused} answers to ${opts.orders} orders`,
        );
    }
    // A run cut short leaves requests in flight: let the server finish them.
    if (orderRows.some((r) => r.load.stopped)) await new Promise((r) => setTimeout(r, 3000));

    // Every order made one active license with a key, charged once; the ledger balances.
    const db = h.ctx.db.kysely;
    const licensed = await db
      .selectFrom('services as s')
      .innerJoin('issued_licenses as l', 'l.service_id', 's.id')
      .select((e) => e.fn.countAll<string | number | bigint>().as('n'))
      .where('s.account_id', '=', accountId)
      .where('s.status', '=', 'active')
      .where('l.license_key', 'is not', null)
      .executeTakeFirstOrThrow();
    const services = await db
      .selectFrom('services')
      .select((e) => e.fn.countAll<string | number | bigint>().as('n'))
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    const charges = await db
      .selectFrom('ledger_entries')
      .select([
        (e) => e.fn.countAll<string | number | bigint>().as('n'),
        (e) => e.fn.sum<string | number | bigint>('amount_minor').as('sum'),
      ])
      .where('account_id', '=', accountId)
      .where('amount_minor', '<', 0n)
      .executeTakeFirstOrThrow();
    const mismatches = await findLedgerMismatches(ctx);
    // A refused order rolled back whole: only the placed ones (and the first license) count. A
    // run cut short may have placed up to one order per connection more than it saw answered.
    const answered = 1 + orderRows.reduce((a, r) => a + r.load.requests, 0);
    const slack = orderRows.reduce((a, r) => a + (r.load.stopped ? r.connections : 0), 0);
    const expected = Number(services.n);
    if (Number(licensed.n) !== expected || expected < answered || expected > answered + slack)
      throw new Error(
        `billmgr benchmark (${engine}): ${services.n} services, ${licensed.n} active with a key; ` +
          `${answered} orders answered (${slack} more may have been in flight)`,
      );
    if (Number(charges.n) !== expected || BigInt(charges.sum ?? 0) !== -BigInt(expected) * PRICE_MINOR)
      throw new Error(
        `billmgr benchmark (${engine}): ${charges.n} debits summing to ${charges.sum}; expected ${expected} of ${PRICE_MINOR}`,
      );
    if (mismatches.length > 0)
      throw new Error(`billmgr benchmark (${engine}): ledger out of balance: ${JSON.stringify(mismatches)}`);
    return {
      engine,
      rows,
      coldAuthinfoMs,
      loginMs,
      licenses: Number(licensed.n),
      charges: Number(charges.n),
      ledgerMismatches: mismatches.length,
    };
  } finally {
    await app.close();
    await bare.close();
  }
}
