/**
 * The operations engine with a no-op plug-in: how many operations W worker processes carry out
 * per second, and how long an operation waits between its enqueue and its claim when the
 * workers idle-poll as `serve` does.
 *
 * Per engine and worker count, on a fresh database:
 * 1. N services (`BENCH_OPS`) on a tariff linked to one module of the `noop-bench` type, in
 *    `processing` (bulk inserts; one account, no money moves);
 * 2. throughput, `open`: one `open` per service enqueued (`enqueueOperation`, one transaction
 *    each) while no worker runs, then W worker processes start; wall time from the start
 *    message to the last `completed_at`. The dispatch chooses the module through the tariff
 *    link and records it on the service; completion activates the service;
 * 3. throughput, `prolong`: the same again with one `prolong` per service (module already
 *    recorded, nothing to change on the service: the engine's fixed cost);
 * 4. latency: W workers idle-poll (`BENCH_OPS_POLL_MS`, 500 as in `serve`) while one producer
 *    enqueues `prolong`s one at a time at `BENCH_OPS_RATE` per second for `BENCH_OPS_SECONDS`;
 *    enqueue → claim is the claim's commit (seen by the worker) minus `created_at`.
 * Every process uses the system clock (see the report section for why).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { z } from 'zod';
import { BUILTIN_MODULE_TYPES } from '../src/integrations/index.js';
import { systemActor } from '../src/modules/accounts/index.js';
import { createTariff } from '../src/modules/catalog/commands.js';
import { createModule, setTariffModules } from '../src/modules/provisioning/commands.js';
import { resolveHandler } from '../src/modules/provisioning/dispatch.js';
import { defineModuleType } from '../src/modules/provisioning/plugin.js';
import { createPluginRegistry, type PluginRegistry } from '../src/modules/provisioning/registry.js';
import { enqueueOperation } from '../src/modules/services/operations.js';
import { startWorker } from '../src/modules/services/worker.js';
import { isoNow, systemClock } from '../src/platform/clock.js';
import type { AppContext } from '../src/platform/context.js';
import { inTransaction, type OperationKind } from '../src/platform/db/index.js';
import type { EngineHandle, EngineName } from './engine.js';
import type { OpsChildInput, OpsChildMessage, OpsParentMessage, OpsSegment } from './operations-child.js';

const staff = systemActor('bench');
const BATCH = 1000;

/** A plug-in that does nothing, at once: what is measured is the engine and the dispatch. */
export const noopModuleType = defineModuleType({
  type: 'noop-bench',
  title: 'No-op (benchmark)',
  productTypes: ['soft', 'vds'],
  configSchema: z.object({ label: z.string().max(100).optional() }).strict(),
  secretFields: [],
  features: ['open', 'close', 'suspend', 'resume', 'prolong', 'setParam'],
  open: async () => ({}),
  close: async () => ({}),
  suspend: async () => ({}),
  resume: async () => ({}),
  prolong: async () => ({}),
  setParam: async () => ({}),
});

export const benchPlugins = (): PluginRegistry =>
  createPluginRegistry([...BUILTIN_MODULE_TYPES, noopModuleType]);

export interface OperationsOptions {
  readonly ops: number;
  readonly workers: readonly number[];
  readonly rate: number;
  readonly seconds: number;
  readonly pollMs: number;
}

export interface ThroughputResult {
  readonly kind: OperationKind;
  readonly ops: number;
  /** One producer, one transaction per operation, before the workers start. */
  readonly enqueueSeconds: number;
  /** Start message to the last completed_at. */
  readonly seconds: number;
  /** Operations each worker process claimed. */
  readonly perWorker: number[];
  /** CPU of the worker processes (sum), ms. */
  readonly workerCpuMs: number;
  readonly queries: number;
  /** Statement time summed over the worker processes, by statement, ms. */
  readonly statementMs: Record<string, number>;
}

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface LatencyResult {
  readonly ops: number;
  readonly rate: number;
  readonly pollMs: number;
  /** Enqueue (created_at) → claim committed, ms. */
  readonly claim: Percentiles;
  /** Enqueue (created_at) → completed_at, ms. */
  readonly done: Percentiles;
  /** How far behind its schedule the producer enqueued, at worst, ms. */
  readonly producerLagMs: number;
}

export interface OperationsResult {
  readonly engine: EngineName;
  readonly workers: number;
  readonly throughput: readonly ThroughputResult[];
  /** Workers in other processes than the producer (woken by NOTIFY on PostgreSQL; polling on SQLite). */
  readonly latency: LatencyResult;
  /** One worker in the producer's own process (woken in-process on both engines). */
  readonly latencyLocal: LatencyResult;
}

/** What the latency scenario drives: worker processes, or one worker in this process. */
interface LatencyWorkers {
  start(pollMs: number): Promise<unknown>;
  stop(): Promise<readonly Pick<OpsSegment, 'claims'>[]>;
  check(): void;
}

/** `startWorker` in the producer's own process, recording each claim as the children do. */
class LocalWorker implements LatencyWorkers {
  private worker: ReturnType<typeof startWorker> | null = null;
  private claims: [number, number][] = [];
  constructor(private readonly ctx: AppContext) {}
  async start(pollMs: number) {
    const dispatch = resolveHandler(this.ctx);
    this.claims = [];
    this.worker = startWorker(this.ctx, {
      concurrency: 1,
      pollMs,
      resolve: (op) => {
        this.claims.push([Number(op.id), Date.now()]);
        return dispatch(op);
      },
    });
  }
  async stop() {
    await this.worker?.stop();
    this.worker = null;
    return [{ claims: this.claims }];
  }
  check() {}
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export function percentiles(values: readonly number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
  return { p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] ?? NaN };
}

/** W worker processes on the benchmark's database, driven over IPC. */
class Workers {
  private readonly children: ChildProcess[] = [];
  private readonly waiting = new Map<ChildProcess, (m: OpsChildMessage) => void>();
  private failure: Error | null = null;

  constructor(engine: EngineName, input: OpsChildInput, count: number) {
    for (let i = 0; i < count; i++) {
      const child = fork(
        fileURLToPath(new URL('./operations-child.ts', import.meta.url)),
        [JSON.stringify({ ...input, label: `${input.label}#${i}` })],
        { execArgv: [...process.execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      child.on('message', (raw) => {
        const m = raw as OpsChildMessage;
        if (m.type === 'error')
          this.failure = new Error(`operations worker (${engine}) failed:\n${m.message}`);
        const w = this.waiting.get(child);
        if (w) {
          this.waiting.delete(child);
          w(m);
        }
      });
      child.on('exit', (code, signal) => {
        if (code !== 0 && !this.failure)
          this.failure = new Error(`operations worker (${engine}) ended with ${signal ?? `code ${code}`}`);
        const w = this.waiting.get(child);
        if (w) {
          this.waiting.delete(child);
          w({ type: 'error', message: this.failure?.message ?? 'exited' });
        }
      });
      this.children.push(child);
    }
  }

  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Sends `msg` to every child and waits for each one's reply of type `reply`. */
  private async all<T extends OpsChildMessage['type']>(
    msg: OpsParentMessage | null,
    reply: T,
  ): Promise<Extract<OpsChildMessage, { type: T }>[]> {
    const replies = this.children.map(
      (c) =>
        new Promise<OpsChildMessage>((resolve) => {
          this.waiting.set(c, resolve);
          if (msg) c.send(msg);
        }),
    );
    const got = await Promise.all(replies);
    this.check();
    for (const m of got)
      if (m.type !== reply) throw new Error(`operations worker: expected ${reply}, got ${m.type}`);
    return got as Extract<OpsChildMessage, { type: T }>[];
  }

  ready() {
    return this.all(null, 'ready');
  }
  start(pollMs: number) {
    return this.all({ type: 'start', pollMs }, 'started');
  }
  async stop(): Promise<OpsSegment[]> {
    return this.all({ type: 'stop' }, 'stopped');
  }
  async close(): Promise<void> {
    const exited = this.children.map(
      (c) =>
        new Promise<void>((r) =>
          c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()),
        ),
    );
    for (const c of this.children) if (c.connected) c.send({ type: 'exit' } satisfies OpsParentMessage);
    await Promise.race([Promise.all(exited), sleep(10_000)]);
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill();
  }
}

export async function setUp(ctx: AppContext, services: number): Promise<number[]> {
  const tariff = await createTariff(ctx, staff, {
    name: 'Bench license',
    productType: 'soft',
    periods: [1],
    prices: { '1': '10.00' },
  });
  const module = await createModule(ctx, staff, {
    name: 'No-op module',
    type: noopModuleType.type,
    productTypes: ['soft'],
    params: { label: 'bench' },
  });
  await setTariffModules(ctx, staff, tariff.id, { modules: [{ moduleId: Number(module.id) }] });
  const db = ctx.db.kysely;
  const now = isoNow(ctx.clock);
  const account = await db
    .insertInto('accounts')
    .values({
      name: 'Bench operations client',
      email: 'operations@bench.test',
      currency: 'EUR',
      credit_limit_minor: 0n,
      balance_minor: 0n,
      status: 'active',
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const type = await db
    .selectFrom('tariffs')
    .select('product_type_id')
    .where('id', '=', tariff.id)
    .executeTakeFirstOrThrow();
  const rows = Array.from({ length: services }, (_, i) => ({
    account_id: account.id,
    tariff_id: tariff.id,
    product_type_id: type.product_type_id,
    name: `noop-${i}`,
    status: 'processing' as const,
    period: 1,
    params: JSON.stringify({ licname: `noop-${i}` }),
    addon_values: '{}',
    created_at: now,
    updated_at: now,
  }));
  await inTransaction(ctx.db, async (tx) => {
    for (let i = 0; i < rows.length; i += BATCH)
      await tx
        .insertInto('services')
        .values(rows.slice(i, i + BATCH))
        .execute();
  });
  const ids = (await db.selectFrom('services').select('id').orderBy('id').execute()).map((s) => Number(s.id));
  await sql`analyze`.execute(db);
  return ids;
}

const enqueue = (ctx: AppContext, serviceId: number, kind: OperationKind, key: string) =>
  inTransaction(ctx.db, (tx) => enqueueOperation(tx, ctx, serviceId, kind, {}, key));

async function counts(ctx: AppContext) {
  const rows = await ctx.db.kysely
    .selectFrom('operations')
    .select(['status', (e) => e.fn.countAll<bigint>().as('n')])
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])) as Record<string, number>;
}

/** Waits until `target` operations are done; fails on a failed or retrying one, or 60 s without progress. */
async function waitDone(ctx: AppContext, workers: { check(): void }, target: number, engine: EngineName) {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    workers.check();
    const c = await counts(ctx);
    const done = c.done ?? 0;
    if ((c.failed ?? 0) + (c.retry_wait ?? 0) > 0) {
      const bad = await ctx.db.kysely
        .selectFrom('operations')
        .select(['id', 'status', 'last_error'])
        .where('status', 'in', ['failed', 'retry_wait'])
        .limit(3)
        .execute();
      throw new Error(`operations benchmark (${engine}): operations did not succeed: ${JSON.stringify(bad)}`);
    }
    if (done >= target) return;
    if (done !== last) {
      last = done;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 60_000) {
      throw new Error(
        `operations benchmark (${engine}): stuck at ${done}/${target} done: ${JSON.stringify(c)}`,
      );
    }
    await sleep(20);
  }
}

async function throughput(
  ctx: AppContext,
  workers: Workers,
  engine: EngineName,
  services: readonly number[],
  kind: OperationKind,
  pollMs: number,
): Promise<ThroughputResult> {
  const before = (await counts(ctx)).done ?? 0;
  const t0 = performance.now();
  for (const id of services) await enqueue(ctx, id, kind, `bench-${kind}:${id}`);
  const enqueueSeconds = (performance.now() - t0) / 1000;
  // Planner statistics that know the queue is full (a fresh table's say "empty": see the notes).
  await sql`analyze`.execute(ctx.db.kysely);
  const startedAt = Date.now();
  await workers.start(pollMs);
  await waitDone(ctx, workers, before + services.length, engine);
  const segments = await workers.stop();
  const last = await ctx.db.kysely
    .selectFrom('operations')
    .select((e) => e.fn.max('completed_at').as('at'))
    .where('kind', '=', kind)
    .executeTakeFirstOrThrow();
  return {
    kind,
    ops: services.length,
    enqueueSeconds,
    seconds: (Date.parse(String(last.at)) - startedAt) / 1000,
    perWorker: segments.map((s) => s.claims.length),
    workerCpuMs: segments.reduce((a, s) => a + s.cpuMs, 0),
    queries: segments.reduce((a, s) => a + s.queries, 0),
    statementMs: segments.reduce<Record<string, number>>((acc, s) => {
      for (const [k, v] of Object.entries(s.statementMs)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {}),
  };
}

async function latency(
  ctx: AppContext,
  workers: LatencyWorkers,
  engine: EngineName,
  services: readonly number[],
  opts: OperationsOptions,
  label: string,
): Promise<LatencyResult> {
  const before = (await counts(ctx)).done ?? 0;
  await sql`analyze`.execute(ctx.db.kysely);
  await workers.start(opts.pollMs);
  // Let the workers fall into their idle poll, each at its own phase.
  await sleep(opts.pollMs + 200);
  const n = Math.min(services.length, Math.round(opts.rate * opts.seconds));
  const interval = 1000 / opts.rate;
  const ids: number[] = [];
  let lag = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + i * interval;
    await sleep(due - performance.now());
    lag = Math.max(lag, performance.now() - due);
    const op = await enqueue(ctx, services[i]!, 'prolong', `bench-latency-${label}:${services[i]}`);
    ids.push(Number(op.id));
    workers.check();
  }
  await waitDone(ctx, workers, before + n, engine);
  const segments = await workers.stop();
  const claimed = new Map(segments.flatMap((s) => s.claims));
  const rows = await ctx.db.kysely
    .selectFrom('operations')
    .select(['id', 'created_at', 'completed_at'])
    .where('id', 'in', ids)
    .execute();
  const claim: number[] = [];
  const done: number[] = [];
  for (const r of rows) {
    const created = Date.parse(r.created_at);
    const at = claimed.get(Number(r.id));
    if (at === undefined)
      throw new Error(`operations benchmark (${engine}): operation ${r.id} was never claimed`);
    claim.push(at - created);
    done.push(Date.parse(String(r.completed_at)) - created);
  }
  return {
    ops: n,
    rate: opts.rate,
    pollMs: opts.pollMs,
    claim: percentiles(claim),
    done: percentiles(done),
    producerLagMs: lag,
  };
}

export async function operationsBenchmark(
  h: EngineHandle,
  workerCount: number,
  opts: OperationsOptions,
): Promise<OperationsResult> {
  const { engine } = h;
  const ctx: AppContext = { ...h.ctx, clock: systemClock, plugins: benchPlugins() };
  const services = await setUp(ctx, opts.ops);
  const workers = new Workers(engine, { label: engine, target: h.target }, workerCount);
  try {
    await workers.ready();
    const results: ThroughputResult[] = [];
    for (const kind of ['open', 'prolong'] as const) {
      const r = await throughput(ctx, workers, engine, services, kind, opts.pollMs);
      process.stderr.write(
        `  [${engine}, ${workerCount} worker(s)] ${kind}: ${r.ops} in ${r.seconds.toFixed(2)} s = ` +
          `${Math.round(r.ops / r.seconds)}/s (per worker ${r.perWorker.join('/')})\n`,
      );
      results.push(r);
    }
    const lat = await latency(ctx, workers, engine, services, opts, 'processes');
    const latLocal = await latency(ctx, new LocalWorker(ctx), engine, services, opts, 'local');
    for (const [where, l] of [
      ['other processes', lat],
      ['same process', latLocal],
    ] as const)
      process.stderr.write(
        `  [${engine}, ${workerCount} worker(s)] enqueue→claim, ${where}: p50 ${l.claim.p50} p95 ${l.claim.p95} ` +
          `p99 ${l.claim.p99} ms\n`,
      );
    const active = await ctx.db.kysely
      .selectFrom('services')
      .select((e) => e.fn.countAll<bigint>().as('n'))
      .where('status', '=', 'active')
      .where('module_id', 'is not', null)
      .executeTakeFirstOrThrow();
    if (Number(active.n) !== services.length)
      throw new Error(`operations benchmark (${engine}): ${active.n}/${services.length} services opened`);
    return { engine, workers: workerCount, throughput: results, latency: lat, latencyLocal: latLocal };
  } finally {
    await workers.close();
  }
}
