import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { placeOrder } from '../../src/modules/orders/commands.js';
import { createModule, setTariffModules } from '../../src/modules/provisioning/commands.js';
import { resolveHandler } from '../../src/modules/provisioning/dispatch.js';
import { drainOperations } from '../../src/modules/services/engine.js';
import { COUNTING_MODULE_TYPE, countingModuleType } from '../fixtures/counting-module.js';
import { type CountingServer, startCountingServer } from '../fixtures/counting-server.js';
import { childEnv, children, kill, spawnWorker, until } from '../fixtures/worker-processes.js';
import { client, licenseTariff, service, staff } from '../helpers/billing.js';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../helpers/context.js';

/**
 * Durable multi-step operations survive a worker killed half-way. The `counting-test` plug-in
 * opens a service in three steps (reserve, configure, activate) against a fake upstream that
 * counts side effects. Worker A (a child process) is killed with SIGKILL while the upstream has
 * carried out `configure` but not yet answered; worker B (another child) takes the operation
 * over once A's lease expires, resumes after the saved `reserve`, finds `configure` done
 * upstream, and finishes: every side effect happened exactly once.
 */

const NOW = '2021-11-16T10:00:00Z';
const LEASE_MS = 1_500;

let ctx: TestContext;
let upstream: CountingServer;
beforeEach(async () => {
  ctx = await createTestContext({ now: NOW, file: true, moduleTypes: [countingModuleType] });
  upstream = await startCountingServer();
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => kill(c)));
  await upstream.close();
  try {
    await expectLedgerBalanced(ctx);
  } finally {
    await ctx.testDb.destroy();
  }
});

/** A soft tariff served by a counting-test module on the fake; a client orders and pays one license. */
async function orderedService() {
  const module = await createModule(ctx, staff, {
    name: 'counting upstream',
    type: COUNTING_MODULE_TYPE,
    productTypes: ['soft'],
    params: { url: upstream.url },
  });
  const tariff = await licenseTariff(ctx);
  await setTariffModules(ctx, staff, tariff.id, { modules: [{ moduleId: Number(module.id) }] });
  const { actor } = await client(ctx, 'kill@example.com', '100.00');
  const { order } = await placeOrder(ctx, actor, {
    items: [{ tariffId: tariff.id, period: 1, params: { ip: '203.0.113.40', licname: 'kill-1' } }],
    payNow: true,
  });
  const item = await ctx.db.kysely
    .selectFrom('order_items')
    .select('service_id')
    .where('order_id', '=', order.id)
    .executeTakeFirstOrThrow();
  const serviceId = Number(item.service_id);
  const op = await operationOf(serviceId);
  expect(op).toMatchObject({ kind: 'open', status: 'queued' });
  return { serviceId, operationId: Number(op.id) };
}

const operationOf = (serviceId: number) =>
  ctx.db.kysely
    .selectFrom('operations')
    .selectAll()
    .where('service_id', '=', serviceId)
    .orderBy('id')
    .executeTakeFirstOrThrow();

const progressOf = (p: string | null) => (p ? (JSON.parse(p) as Record<string, unknown>) : {});

describe('a worker killed in the middle of a multi-step operation', () => {
  it('kill -9 a worker process half-way; another worker finishes it; each step’s side effect happened exactly once', async () => {
    const { serviceId, operationId } = await orderedService();
    const key = (step: string) => `${serviceId}:${step}`;
    // Both children run on one timeline: the test's date, moving with real time.
    const env = {
      ...(await childEnv(ctx)),
      WORKER_CHILD_LEASE_MS: String(LEASE_MS),
      WORKER_CHILD_CONCURRENCY: '1',
      WORKER_CHILD_POLL_MS: '25',
      WORKER_CHILD_NOW: NOW,
      WORKER_CHILD_NOW_AT: String(Date.now()),
    };
    const offset = Date.parse(NOW) - Number(env.WORKER_CHILD_NOW_AT);

    // Worker A: the upstream applies `configure` and never answers; A is killed waiting.
    const configureArrived = upstream.hold('configure');
    const a = spawnWorker(env);
    await a.started();
    let arrived = false;
    void configureArrived.then(() => {
      arrived = true;
    });
    await until(
      () => arrived,
      'worker A to call configure',
      30_000,
      () => {
        if (a.proc.exitCode !== null) throw new Error(`worker A exited:\n${a.output()}`);
      },
    );
    expect(upstream.counts()).toEqual({ [key('reserve')]: 1, [key('configure')]: 1 });
    const killed = await kill(a);
    expect(killed.signal, a.output()).toBe('SIGKILL');

    // The operation is still A's: running, A's lease, only `reserve` saved, one attempt.
    const orphan = await operationOf(serviceId);
    expect(orphan).toMatchObject({ id: expect.anything(), status: 'running' });
    expect(Number(orphan.id)).toBe(operationId);
    expect(orphan.lease_owner).toMatch(new RegExp(`^${a.pid}-[0-9a-f]+/0$`));
    expect(Number(orphan.attempts)).toBe(1);
    expect(Object.keys(progressOf(orphan.progress))).toEqual(['reserve']);
    expect(a.runs()).toEqual([]); // A never finished its handler
    const leaseExpiry = Date.parse(orphan.lease_expires_at!);
    expect(leaseExpiry).toBeGreaterThan(Date.parse(NOW));

    // Worker B takes over once A's lease has expired, and finishes.
    const b = spawnWorker(env);
    await b.started();
    await until(
      async () => (await operationOf(serviceId)).status === 'done',
      'worker B to complete the operation',
      45_000,
      () => {
        if (b.proc.exitCode !== null) throw new Error(`worker B exited:\n${b.output()}`);
      },
    );

    // Each side effect exactly once — `configure` was not done again though A never heard back.
    expect(upstream.counts()).toEqual({ [key('reserve')]: 1, [key('configure')]: 1, [key('activate')]: 1 });
    expect(upstream.requests.filter((r) => r.startsWith('POST '))).toEqual([
      `POST ${key('reserve')}`,
      `POST ${key('configure')}`,
      `POST ${key('activate')}`,
    ]);
    // B skipped the saved `reserve` (no request at all), looked before `configure` and `activate`.
    expect(upstream.requests.slice(upstream.requests.indexOf(`POST ${key('configure')}`) + 1)).toEqual([
      `GET ${key('configure')}`,
      `GET ${key('activate')}`,
      `POST ${key('activate')}`,
    ]);

    const done = await operationOf(serviceId);
    expect(done).toMatchObject({ status: 'done', lease_owner: null, lease_expires_at: null });
    expect(Number(done.attempts)).toBe(2);
    const progress = progressOf(done.progress);
    expect(Object.keys(progress).sort()).toEqual(['activate', 'configure', 'reserve']);
    const [bRun] = b.runs();
    expect(b.runs(), b.output()).toHaveLength(1);
    expect(bRun).toMatchObject({ op: operationId, service: serviceId, pid: b.pid, ok: true });
    // B's clock (the shared timeline) was past A's lease when B started the handler.
    expect(bRun!.start + offset).toBeGreaterThan(leaseExpiry);

    // The service is active with what the module learnt from the upstream.
    const s = await service(ctx, serviceId);
    expect(s.status).toBe('active');
    expect(s.activated_on).toBe('2021-11-16');
    expect(s.external_id).toBe(progress.reserve);
    expect(JSON.parse(s.params)).toMatchObject({
      ip: '203.0.113.40',
      licname: 'kill-1',
      panel: progress.configure,
      activation: progress.activate,
    });
    expect(String(progress.configure)).toMatch(new RegExp(`^configure-${serviceId}-`));
    const history = await ctx.db.kysely
      .selectFrom('service_history')
      .select(['event', 'from_status', 'to_status'])
      .where('service_id', '=', serviceId)
      .where('event', 'like', 'operation_%')
      .execute();
    expect(history).toEqual([
      { event: 'operation_open_done', from_status: 'processing', to_status: 'active' },
    ]);

    // A graceful stop: the worker finishes, closes its database, exits 0.
    const stopped = await kill(b, 'SIGTERM');
    expect(stopped, b.output()).toEqual({ code: 0, signal: null });
    expect(b.output()).toContain('stopped\n');
  }, 120_000);

  it('an upstream 503 in the middle: the retry resumes after the saved step and repeats nothing', async () => {
    const { serviceId } = await orderedService();
    const key = (step: string) => `${serviceId}:${step}`;
    upstream.failNext('configure', 503);
    const resolve = resolveHandler(ctx);
    expect(await drainOperations(ctx, { resolve })).toBe(0);
    const waiting = await operationOf(serviceId);
    expect(waiting.status).toBe('retry_wait');
    expect(JSON.parse(waiting.last_error!)).toMatchObject({ code: 'upstream_error', retryable: true });
    expect(Object.keys(progressOf(waiting.progress))).toEqual(['reserve']);
    expect(upstream.counts()).toEqual({ [key('reserve')]: 1 });

    ctx.clock.advance(60 * 60_000);
    expect(await drainOperations(ctx, { resolve })).toBe(1);
    expect(upstream.counts()).toEqual({ [key('reserve')]: 1, [key('configure')]: 1, [key('activate')]: 1 });
    expect(upstream.requests.filter((r) => r.endsWith(':reserve'))).toEqual([
      `GET ${key('reserve')}`,
      `POST ${key('reserve')}`,
    ]);
    expect((await service(ctx, serviceId)).status).toBe('active');
  }, 60_000);
});
