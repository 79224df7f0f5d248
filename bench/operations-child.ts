/**
 * Child process of the operations benchmark: one worker process (`startWorker`, one slot, the
 * real dispatch path through `resolveHandler` and the no-op plug-in) on the database the parent
 * prepared. The parent drives it over IPC: `start` starts the worker, `stop` stops it and gets
 * back when this process claimed which operation, its CPU time and the queries it sent.
 */

import { performance } from 'node:perf_hooks';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryId } from 'kysely';
import { resolveHandler } from '../src/modules/provisioning/dispatch.js';
import { startWorker } from '../src/modules/services/worker.js';
import { systemClock } from '../src/platform/clock.js';
import type { AppContext } from '../src/platform/context.js';
import type { OperationRow } from '../src/platform/db/index.js';
import { type DbTarget, openDb } from '../src/platform/db/index.js';
import { benchContext } from './engine.js';
import { benchPlugins } from './operations.js';
import { QueryCounter } from './query-counter.js';

export interface OpsChildInput {
  readonly label: string;
  readonly target: DbTarget;
}

export type OpsParentMessage = { type: 'start'; pollMs: number } | { type: 'stop' } | { type: 'exit' };

export interface OpsSegment {
  /** [operation id, Date.now() right after its claim committed] for each operation this worker claimed. */
  readonly claims: [number, number][];
  /** CPU time of this process (user + system) while the worker ran, ms. */
  readonly cpuMs: number;
  /** Queries sent through Kysely (BEGIN/COMMIT not counted). */
  readonly queries: number;
  /** Time from sending each statement to its result, summed by statement (`select operations`), ms. */
  readonly statementMs: Record<string, number>;
}

/** Sums the time each statement takes (a lock wait inside it included; BEGIN/COMMIT bypass plugins). */
class StatementTimer implements KyselyPlugin {
  readonly ms = new Map<string, number>();
  private readonly pending = new Map<QueryId, { key: string; at: number }>();

  transformQuery(args: PluginTransformQueryArgs) {
    const n = args.node as unknown as { kind: string; from?: unknown; into?: unknown; table?: unknown };
    const target = n.kind === 'InsertQueryNode' ? n.into : n.kind === 'UpdateQueryNode' ? n.table : n.from;
    this.pending.set(args.queryId, {
      key: `${n.kind.replace(/QueryNode$/, '').toLowerCase()} ${tableName(target)}`,
      at: performance.now(),
    });
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs) {
    const p = this.pending.get(args.queryId);
    if (p) {
      this.pending.delete(args.queryId);
      this.ms.set(p.key, (this.ms.get(p.key) ?? 0) + performance.now() - p.at);
    }
    return Promise.resolve(args.result);
  }
}

function tableName(node: unknown): string {
  const n = node as {
    kind?: string;
    table?: { identifier: { name: string } };
    node?: unknown;
    froms?: unknown[];
  };
  if (n?.kind === 'TableNode') return n.table?.identifier.name ?? '?';
  if (n?.kind === 'AliasNode') return tableName(n.node);
  if (n?.kind === 'FromNode') return tableName(n.froms?.[0]);
  return '?';
}

export type OpsChildMessage =
  | { type: 'ready' }
  | { type: 'started' }
  | ({ type: 'stopped' } & OpsSegment)
  | { type: 'error'; message: string };

const input = JSON.parse(process.argv[2] ?? '{}') as OpsChildInput;
const send = (m: OpsChildMessage) => process.send?.(m);

async function main() {
  const db = openDb(input.target);
  const counter = new QueryCounter();
  let timer = new StatementTimer();
  const timed = {
    ...db,
    kysely: db.kysely.withPlugin(counter).withPlugin({
      transformQuery: (a: PluginTransformQueryArgs) => timer.transformQuery(a),
      transformResult: (a: PluginTransformResultArgs) => timer.transformResult(a),
    }),
  };
  const base = benchContext(timed, '2000-01-01T00:00:00Z');
  // The system clock: created_at (written by the parent), next_attempt_at and leases are compared
  // across processes, so every process must read the same, advancing time.
  const ctx: AppContext = { ...base.ctx, clock: systemClock, plugins: benchPlugins() };
  const dispatch = resolveHandler(ctx);
  let claims: [number, number][] = [];
  // startWorker calls `resolve` right after claimNext returns: the claim's commit time.
  const resolve = (op: OperationRow) => {
    claims.push([Number(op.id), Date.now()]);
    return dispatch(op);
  };
  let worker: ReturnType<typeof startWorker> | null = null;
  let cpu = process.cpuUsage();
  const closed = new Promise<void>((resolveClosed) => {
    process.on('message', (raw) => {
      const m = raw as OpsParentMessage;
      void (async () => {
        try {
          if (m.type === 'start') {
            claims = [];
            counter.reset();
            timer = new StatementTimer();
            cpu = process.cpuUsage();
            worker = startWorker(ctx, { concurrency: 1, pollMs: m.pollMs, resolve });
            send({ type: 'started' });
          } else if (m.type === 'stop') {
            await worker?.stop();
            worker = null;
            const used = process.cpuUsage(cpu);
            send({
              type: 'stopped',
              claims,
              cpuMs: (used.user + used.system) / 1000,
              queries: counter.total,
              statementMs: Object.fromEntries(timer.ms),
            });
          } else {
            await worker?.stop();
            await db.close();
            base.dispose();
            resolveClosed();
          }
        } catch (err) {
          send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        }
      })();
    });
  });
  send({ type: 'ready' });
  await closed;
}

main()
  .then(() => process.disconnect?.())
  .catch((err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exitCode = 1;
    process.disconnect?.();
  });
