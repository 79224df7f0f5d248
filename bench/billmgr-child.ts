/**
 * Child process of the BILLmanager API benchmark: the load generator (autocannon), in a process
 * of its own so that the client's CPU is not taken from the server's event loop. The parent
 * (bench/billmgr.ts) serves; this process warms up, tells the parent (which then resets its
 * counters), waits for `go`, runs the measured load and sends back what it saw.
 *
 * Latency percentiles are computed here from every response's own time (autocannon's
 * `response` event, in fractional milliseconds): autocannon's histogram keeps whole milliseconds,
 * too coarse for a route that answers in a fraction of one.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export interface LoadInput {
  readonly url: string;
  readonly connections: number;
  /** Timed load for this long (GET scenarios)… */
  readonly seconds?: number;
  /** …or exactly this many requests (orders), unless `maxSeconds` pass first. */
  readonly amount?: number;
  readonly maxSeconds?: number;
  /** Load before the measurement, discarded (0: none). */
  readonly warmupSeconds: number;
  /** Every answer must contain this, and no `<error`. */
  readonly expect: string;
  /**
   * Orders: POST `soft.order.param` bodies, numbered from `first`, with this authinfo. A refused
   * order is counted (by message) and left out of the latencies instead of failing the load.
   */
  readonly orders?: { readonly authinfo: string; readonly first: number };
}

export interface LoadResult {
  /** Answers counted (2xx, body as expected). */
  readonly requests: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Connection errors, timeouts, non-2xx answers and answers without the expected text. */
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly mismatches: number;
  /** A wrong answer, for the error message. */
  readonly sample?: string;
  /** Orders: the answers that were not an order (`<msg>` of the error document), by message. */
  readonly refused: Record<string, number>;
  /** CPU time of this (client) process during the measured load, ms. */
  readonly clientCpuMs: number;
  /** Stopped by `maxSeconds` before `amount` answers: requests in flight were not waited for. */
  readonly stopped: boolean;
}

export type LoadParentMessage = { type: 'go' };
export type LoadChildMessage =
  | { type: 'warm' }
  | ({ type: 'result' } & LoadResult)
  | { type: 'error'; message: string };

/** The part of autocannon's API used here (the package ships no types). */
interface AutocannonInstance {
  stop(): void;
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  on(event: 'done', fn: (result: AutocannonResult) => void): void;
}
interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
}
interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AutocannonRequest) => AutocannonRequest;
  onResponse?: (status: number, body: string) => void;
}
type Autocannon = (
  opts: {
    url: string;
    connections: number;
    duration?: number;
    amount?: number;
    timeout?: number;
    verifyBody?: (body: string) => boolean;
    requests?: AutocannonRequest[];
  },
  done?: (err: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** An address 10.a.b.c for order n: distinct for n < 15 million, never .0 or .255. */
export const orderIp = (n: number) =>
  `10.${1 + Math.floor(n / 62_500)}.${Math.floor(n / 250) % 250}.${1 + (n % 250)}`;

export function orderBody(authinfo: string, n: number): string {
  return new URLSearchParams({
    authinfo,
    func: 'soft.order.param',
    pricelist: '55227',
    period: '1',
    ip: orderIp(n),
    remoteid: `bench-${n}`,
    skipbasket: 'on',
    sok: 'ok',
  }).toString();
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

function run(
  input: LoadInput,
  seconds: number | undefined,
  amount: number | undefined,
  maxSeconds?: number,
): Promise<LoadResult> {
  const times: number[] = [];
  let sample: string | undefined;
  const good = (body: string) => body.includes(input.expect) && !body.includes('<error');
  const verifyBody = (body: string) => {
    const ok = good(body);
    if (!ok) sample ??= body.slice(0, 500);
    return ok;
  };
  // Orders: `onResponse` sees each answer just before autocannon's `response` event for it.
  const refused: Record<string, number> = {};
  let lastOk = true;
  let next = input.orders?.first ?? 0;
  const requests: AutocannonRequest[] | undefined = input.orders
    ? [
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          // Called once per request sent (and once per connection when it is set up): every
          // order gets its own remote id and address.
          setupRequest: (req) => ({ ...req, body: orderBody(input.orders!.authinfo, next++) }),
          onResponse: (_status, body) => {
            lastOk = good(body);
            if (!lastOk) {
              const msg = /<msg>([^<]*)<\/msg>/.exec(body)?.[1] ?? body.slice(0, 200);
              refused[msg] = (refused[msg] ?? 0) + 1;
            }
          },
        },
      ]
    : undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let stopped = false;
  let cap: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: input.url,
        connections: input.connections,
        ...(seconds !== undefined ? { duration: seconds } : {}),
        ...(amount !== undefined ? { amount } : {}),
        timeout: 30,
        ...(requests ? { requests } : { verifyBody }),
      },
      (err, r) => {
        clearTimeout(cap);
        if (err) return reject(err);
        const elapsed = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const sorted = times.sort((a, b) => a - b);
        resolve({
          requests: sorted.length - r.mismatches,
          seconds: elapsed,
          p50: percentile(sorted, 50),
          p90: percentile(sorted, 90),
          p99: percentile(sorted, 99),
          max: sorted[sorted.length - 1] ?? NaN,
          errors: r.errors + r.non2xx + r.mismatches,
          timeouts: r.timeouts,
          non2xx: r.non2xx,
          mismatches: r.mismatches,
          ...(sample !== undefined ? { sample } : {}),
          refused,
          clientCpuMs: (cpu.user + cpu.system) / 1000,
          stopped,
        });
      },
    );
    if (maxSeconds !== undefined)
      cap = setTimeout(() => {
        stopped = true;
        instance.stop();
      }, maxSeconds * 1000);
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300 && lastOk) times.push(ms);
      lastOk = true;
    });
  });
}

async function main() {
  const input = JSON.parse(process.argv[2]!) as LoadInput;
  const send = (m: LoadChildMessage) => new Promise<void>((r) => process.send!(m, () => r()));
  if (input.warmupSeconds > 0) await run(input, input.warmupSeconds, undefined);
  const go = new Promise<void>((resolve) =>
    process.on('message', (m: LoadParentMessage) => {
      if (m.type === 'go') resolve();
    }),
  );
  await send({ type: 'warm' });
  await go;
  const result = await run(input, input.seconds, input.amount, input.maxSeconds);
  await send({ type: 'result', ...result });
  process.exit(0);
}

// Only when run as the child (the parent imports this file for its types and helpers).
if (process.send && process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch(async (err) => {
    process.send!({
      type: 'error',
      message: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100);
  });
}
