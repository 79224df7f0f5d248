/**
 * A stateful fake of a VMmanager 6 panel (research/vmmanager-dcimanager.md §7.1–7.4) for tests
 * of the client and of the VPS processing module: users and accounts, clusters with IPv4
 * addresses to hand out, OS templates, presets, hosts with disks and IPs, and tasks that finish
 * after a configurable delay or on tick(). Fault knobs make it sleep (503), fail tasks, expire
 * tokens, run out of IPs or nodes, answer a status of the test's choosing, or act and answer late.
 *
 * Paths: `/auth/v4/…` and `/vm/v3/…`, also under `/api`. Lists answer `{list, size, last_notify}`
 * and take `where` (EQ NE CP GT LT, IS [NOT] null, NOT AND OR, parentheses, dotted paths),
 * `orderby` and `limit`. `GET /host/{id}` is the reduced object without IPs, as the product's.
 * `node:http` on 127.0.0.1, port 0. The call log keeps no password and no token.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

type Json = Record<string, unknown>;

// ------------------------------------------------------------------------------------------ model

export interface FakeUser {
  id: number;
  email: string;
  password: string;
  /** '@admin' | '@user' | '@advanced_user' */
  roles: string[];
  state: string;
}

export interface FakeCluster {
  id: number;
  name: string;
  virtualization_type: 'kvm' | 'lxd';
  /** Free IPv4 addresses of the cluster's pool, handed out first to last. */
  freeIps: string[];
}

export interface FakeOs {
  id: number;
  name: string;
  os_group: string;
  state: string;
  clusters: number[];
}

export interface FakePreset {
  id: number;
  name: string;
  cpu_number: number;
  ram_mib: number;
  hdd_mib: number;
}

export interface FakeHost {
  id: number;
  name: string;
  /** creating | active | stopped | reinstalling | create_failed */
  state: string;
  cluster: number;
  account: number;
  os: number;
  /** The root password (tests may check it was set; never logged). */
  password: string;
  cpu_number: number;
  ram_mib: number;
  disk: { id: number; disk_mib: number; disk_mib_new: number | null };
  /** Addresses shown (after the task that brought them completes). */
  ip4: string[];
  /** Addresses taken from the pool but not shown yet. */
  pendingIps: string[];
}

export interface FakeTask {
  /** The task list's own id. */
  id: number;
  /** What mutating calls return as `task`. */
  consul_id: number;
  name: string;
  status: 'running' | 'complete' | 'fail';
  output: string;
  host: number | null;
  /** On the fake's clock; null: only tick() finishes it. */
  dueAt: number | null;
  /** Applied on completion. */
  effect: () => void;
  /** Applied on failure. */
  undo: () => void;
}

export interface FakeCall {
  method: string;
  /** Without the `/api` prefix and the query. */
  path: string;
  query: Record<string, string>;
  /** The JSON body with every `password` replaced by `***`. */
  body: unknown;
}

export const DEFAULT_ADMIN: Readonly<{ email: string; password: string }> = Object.freeze({
  email: 'admin@example.com',
  password: 'Adm1n:vm-secret-pass',
});

/** 192.0.2.10 … (TEST-NET-1) */
const addresses = (prefix: string, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}.${from + i}`);

/** The fake's clock: wall time plus what the test advanced. */
export class FakeVmClock {
  #offset = 0;
  now(): number {
    return Date.now() + this.#offset;
  }
  advance(ms: number): void {
    this.#offset += ms;
  }
}

/** Everything the fake knows; tests read and change it directly. */
export class FakeVmState {
  readonly users = new Map<number, FakeUser>();
  readonly clusters = new Map<number, FakeCluster>();
  readonly os = new Map<number, FakeOs>();
  readonly presets = new Map<number, FakePreset>();
  readonly hosts = new Map<number, FakeHost>();
  readonly tasks: FakeTask[] = [];
  /** token → user id and last use (sliding expiry). */
  readonly tokens = new Map<string, { user: number; lastUsed: number }>();
  readonly calls: FakeCall[] = [];
  lastNotify = 1;
  nextUserId = 2;
  nextHostId = 101;
  nextDiskId = 201;
  nextTaskId = 1;
  nextConsulId = 5001;

  constructor(readonly clock: FakeVmClock) {}

  /** The calls to one method and path (path without `/api` and query), to count them. */
  callsOf(method: string, path: string | RegExp): FakeCall[] {
    return this.calls.filter(
      (c) => c.method === method && (typeof path === 'string' ? c.path === path : path.test(c.path)),
    );
  }

  userByEmail(email: string): FakeUser | undefined {
    for (const u of this.users.values()) if (u.email.toLowerCase() === email.toLowerCase()) return u;
    return undefined;
  }

  taskOf(consulId: number): FakeTask | undefined {
    return this.tasks.find((t) => t.consul_id === consulId);
  }
}

// ------------------------------------------------------------------------------------------ faults

export interface HttpFault {
  method?: string;
  /** Path without `/api`; a string is matched exactly. Every path when absent. */
  path?: string | RegExp;
  status: number;
  /** Error code and message of the JSON body; a 503 without them has an empty body. */
  code?: number;
  msg?: string;
  /** Default once. */
  times?: number;
}

export interface SlowFault {
  method?: string;
  path?: string | RegExp;
  /** Act at once, answer after this long (past the client's timeout, say). */
  ms: number;
  times?: number;
}

export class FakeVmFaults {
  /** The next this many requests (login included) answer 503 with an empty body ("waking up"). */
  unavailable = 0;
  /** Every cluster's pool looks empty: creates and IP additions needing an address are refused. */
  noFreeIp = false;
  /** No node can take a new VM: creates are refused. */
  noFreeNode = false;
  readonly http: HttpFault[] = [];
  readonly slow: SlowFault[] = [];
  readonly failing: { name: string; message: string; times: number }[] = [];

  constructor(private readonly state: FakeVmState) {}

  /**
   * The next `times` tasks of this name end in `fail` with `message`. A failing `host_create`
   * leaves the host row (state `create_failed`) and releases its addresses.
   */
  failTask(name: string, message = `Task ${name} failed`, times = 1): void {
    this.failing.push({ name, message, times });
  }

  /** Every token issued so far is forgotten: the next authenticated call answers 401. */
  expireTokens(): void {
    this.state.tokens.clear();
  }

  clear(): void {
    this.unavailable = 0;
    this.noFreeIp = false;
    this.noFreeNode = false;
    this.http.length = 0;
    this.slow.length = 0;
    this.failing.length = 0;
  }

  /** @internal */
  take<F extends HttpFault | SlowFault>(list: F[], method: string, path: string): F | undefined {
    const f = list.find(
      (x) =>
        (x.method === undefined || x.method === method) &&
        (x.path === undefined || (typeof x.path === 'string' ? x.path === path : x.path.test(path))),
    );
    if (!f) return undefined;
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) list.splice(list.indexOf(f), 1);
    return f;
  }

  /** @internal */
  taskFailure(name: string): string | null {
    const f = this.failing.find((x) => x.name === name);
    if (!f) return null;
    if (--f.times <= 0) this.failing.splice(this.failing.indexOf(f), 1);
    return f.message;
  }
}

// ------------------------------------------------------------------------------------------ errors

/** An error answer: HTTP status and `{"error":{"code","msg","value"}}`. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly value: Json = {},
  ) {
    super(message);
  }
}

// The panel's numeric codes are documented only for 3001 (not exposed / unauthorized); the
// others are this fake's own.
const unauthorized = () => new ApiError(401, 1000, 'Session is expired or invalid; log in again');
const forbidden = () => new ApiError(403, 3001, 'Unauthorized');
const notFound = (what: string, id: unknown) => new ApiError(404, 3002, `${what} not found`, { id });
const invalid = (field: string, msg: string) => new ApiError(400, 3003, msg, { field });

// ------------------------------------------------------------------------------------------ where

type Tok = { t: 'lp' | 'rp' } | { t: 'word'; v: string } | { t: 'str'; v: string };

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '(') {
      out.push({ t: 'lp' });
      i++;
    } else if (c === ')') {
      out.push({ t: 'rp' });
      i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw invalid('where', 'Unterminated string in where');
      out.push({ t: 'str', v: s.slice(i + 1, end) });
      i = end + 1;
    } else {
      const m = /^[^\s()']+/.exec(s.slice(i))!;
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

type Pred = (row: Json) => boolean;

const valueAt = (row: Json, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), row);

const text = (v: unknown): string =>
  Array.isArray(v) ? v.map(text).join(',') : v && typeof v === 'object' ? JSON.stringify(v) : String(v);

/** Parses a `where` expression against the fields a list knows. */
export function parseWhere(expr: string, fields: ReadonlySet<string>): Pred {
  const toks = tokenize(expr);
  let pos = 0;
  const peekWord = (w: string) => {
    const t = toks[pos];
    return t?.t === 'word' && t.v.toUpperCase() === w;
  };
  const bad = () => invalid('where', 'Cannot parse where');

  function or(): Pred {
    let left = and();
    while (peekWord('OR')) {
      pos++;
      const l = left;
      const r = and();
      left = (row) => l(row) || r(row);
    }
    return left;
  }
  function and(): Pred {
    let left = unary();
    while (peekWord('AND')) {
      pos++;
      const l = left;
      const r = unary();
      left = (row) => l(row) && r(row);
    }
    return left;
  }
  function unary(): Pred {
    if (peekWord('NOT')) {
      pos++;
      const inner = unary();
      return (row) => !inner(row);
    }
    if (toks[pos]?.t === 'lp') {
      pos++;
      const inner = or();
      if (toks[pos]?.t !== 'rp') throw bad();
      pos++;
      return inner;
    }
    return comparison();
  }
  function comparison(): Pred {
    const f = toks[pos++];
    if (f?.t !== 'word') throw bad();
    const field = f.v;
    if (!fields.has(field.split('.')[0]!)) throw invalid('where', `Unknown field ${field}`);
    const op = toks[pos++];
    if (op?.t !== 'word') throw bad();
    const o = op.v.toUpperCase();
    if (o === 'IS') {
      const not = peekWord('NOT');
      if (not) pos++;
      if (!peekWord('NULL')) throw bad();
      pos++;
      return (row) => (valueAt(row, field) == null) !== not;
    }
    const lit = toks[pos++];
    if (lit?.t !== 'str' && lit?.t !== 'word') throw bad();
    const v = lit.v;
    switch (o) {
      case 'EQ':
        return (row) => text(valueAt(row, field)) === v;
      case 'NE':
        return (row) => text(valueAt(row, field)) !== v;
      case 'CP': {
        const re = new RegExp(
          `^${v
            .split('%')
            .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
          'i',
        );
        return (row) => re.test(text(valueAt(row, field)));
      }
      case 'GT':
        return (row) => Number(valueAt(row, field)) > Number(v);
      case 'LT':
        return (row) => Number(valueAt(row, field)) < Number(v);
      default:
        throw bad();
    }
  }

  const pred = or();
  if (pos !== toks.length) throw bad();
  return pred;
}

// ------------------------------------------------------------------------------------------ server

export interface FakeVmmanagerOptions {
  admin?: { email: string; password: string };
  /** When a task finishes on its own, in ms of the fake's clock after it starts; default 0
   *  (at the next request). null: only tick() finishes tasks. */
  taskDelayMs?: number | null;
  /** Tokens idle this long (fake's clock) are refused; default 60 min. */
  tokenIdleMs?: number;
  /** HTTP status of a refused login; default 400 (not documented). */
  loginFailStatus?: number;
}

export interface FakeVmmanager {
  /** http://127.0.0.1:<port> (the `/api` prefix works too). */
  readonly url: string;
  readonly state: FakeVmState;
  readonly faults: FakeVmFaults;
  readonly clock: FakeVmClock;
  /** Finishes every running task (complete, or fail as the faults say); the number finished. */
  tick(): number;
  close(): Promise<void>;
}

const HOST_FIELDS = new Set([
  'id',
  'name',
  'state',
  'cluster',
  'account',
  'os',
  'os_name',
  'cpu_number',
  'ram_mib',
  'disk',
  'ip4',
  'ip6',
  'domain',
  'comment',
  'node',
  'disabled',
]);
const LIST_FIELDS: Record<string, ReadonlySet<string>> = {
  host: HOST_FIELDS,
  account: new Set(['id', 'email', 'state', 'roles', 'host_count']),
  task: new Set(['id', 'consul_id', 'name', 'status', 'output', 'host']),
  cluster: new Set(['id', 'name', 'virtualization_type', 'state']),
  os: new Set(['id', 'name', 'os_group', 'state', 'clusters', 'repository']),
  preset: new Set(['id', 'name', 'cpu_number', 'ram_mib', 'hdd_mib']),
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function redact(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redact);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'password' ? '***' : redact(x)]));
  return v;
}

const posInt = (body: Json, field: string, min = 1): number => {
  const v = body[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw invalid(field, `Field ${field} must be an integer ≥ ${min}`);
  return v;
};
const nonEmpty = (body: Json, field: string): string => {
  const v = body[field];
  if (typeof v !== 'string' || v.trim() === '') throw invalid(field, `Field ${field} is required`);
  return v;
};

export async function startFakeVmmanager(opts: FakeVmmanagerOptions = {}): Promise<FakeVmmanager> {
  const clock = new FakeVmClock();
  const state = new FakeVmState(clock);
  const faults = new FakeVmFaults(state);
  const taskDelayMs = opts.taskDelayMs === undefined ? 0 : opts.taskDelayMs;
  const tokenIdleMs = opts.tokenIdleMs ?? 60 * 60_000;
  const admin = opts.admin ?? DEFAULT_ADMIN;

  state.users.set(1, {
    id: 1,
    email: admin.email,
    password: admin.password,
    roles: ['@admin'],
    state: 'active',
  });
  state.clusters.set(1, {
    id: 1,
    name: 'Main KVM',
    virtualization_type: 'kvm',
    freeIps: addresses('192.0.2', 10, 8),
  });
  state.clusters.set(2, {
    id: 2,
    name: 'LXD',
    virtualization_type: 'lxd',
    freeIps: addresses('198.51.100', 10, 2),
  });
  for (const os of [
    { id: 1, name: 'Ubuntu 22.04', os_group: 'ubuntu', state: 'active', clusters: [1, 2] },
    { id: 2, name: 'AlmaLinux 9', os_group: 'almalinux', state: 'active', clusters: [1] },
    { id: 3, name: 'Debian 12 LXD', os_group: 'debian', state: 'active', clusters: [2] },
  ])
    state.os.set(os.id, os);
  state.presets.set(1, { id: 1, name: 'Small', cpu_number: 1, ram_mib: 1024, hdd_mib: 10240 });
  state.presets.set(2, { id: 2, name: 'Medium', cpu_number: 2, ram_mib: 4096, hdd_mib: 40960 });

  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  // ---------------------------------------------------------------------------------- tasks

  function finish(t: FakeTask) {
    if (t.status !== 'running') return;
    const failure = faults.taskFailure(t.name);
    if (failure !== null) {
      t.status = 'fail';
      t.output = failure;
      t.undo();
    } else {
      t.status = 'complete';
      t.effect();
    }
    state.lastNotify++;
  }

  function settle() {
    const now = clock.now();
    for (const t of state.tasks) if (t.status === 'running' && t.dueAt !== null && t.dueAt <= now) finish(t);
  }

  function startTask(name: string, host: number | null, effect: () => void, undo: () => void = () => {}) {
    const t: FakeTask = {
      id: state.nextTaskId++,
      consul_id: state.nextConsulId++,
      name,
      status: 'running',
      output: '',
      host,
      dueAt: taskDelayMs === null ? null : clock.now() + taskDelayMs,
      effect,
      undo,
    };
    state.tasks.push(t);
    return t;
  }

  // ---------------------------------------------------------------------------------- views

  const clusterRef = (id: number) => {
    const c = state.clusters.get(id);
    return { id, name: c?.name ?? '', virtualization_type: c?.virtualization_type ?? 'kvm' };
  };

  function hostRow(h: FakeHost): Json {
    const owner = state.users.get(h.account);
    return {
      id: h.id,
      name: h.name,
      state: h.state,
      cluster: clusterRef(h.cluster),
      node: { id: 1, name: 'node1', ip_addr: '10.0.0.1' },
      account: { id: h.account, email: owner?.email ?? '' },
      os: { id: h.os },
      os_name: state.os.get(h.os)?.name ?? '',
      cpu_number: h.cpu_number,
      ram_mib: h.ram_mib,
      disk: { ...h.disk },
      ip4: h.ip4.map((ip) => ({ ip, interface: 'public' })),
      ip6: [],
      domain: `${h.name}.example.net`,
      comment: '',
      disabled: false,
    };
  }

  const accountRow = (u: FakeUser): Json => {
    const hosts = [...state.hosts.values()].filter((h) => h.account === u.id);
    return {
      id: u.id,
      email: u.email,
      state: u.state,
      roles: u.roles,
      host_count: hosts.length,
      host_ids: hosts.map((h) => h.id),
    };
  };

  function listAnswer(kind: string, rows: Json[], query: URLSearchParams): Json {
    let out = rows;
    const where = query.get('where');
    if (where) {
      const pred = parseWhere(where, LIST_FIELDS[kind]!);
      out = out.filter(pred);
    }
    const orderby = query.get('orderby');
    if (orderby) {
      const [field = '', dir = 'asc'] = orderby.trim().split(/\s+/);
      if (!LIST_FIELDS[kind]!.has(field)) throw invalid('orderby', `Unknown field ${field}`);
      const sign = dir.toLowerCase() === 'desc' ? -1 : 1;
      out = [...out].sort((a, b) => {
        const x = a[field];
        const y = b[field];
        return (
          sign * (typeof x === 'number' && typeof y === 'number' ? x - y : text(x).localeCompare(text(y)))
        );
      });
    }
    const size = out.length;
    const limit = query.get('limit');
    if (limit) {
      const m = /^\s*(\d+)\s*(?:,\s*(\d+)\s*)?$/.exec(limit);
      if (!m) throw invalid('limit', 'limit is offset,count or count');
      const [offset, count] = m[2] === undefined ? [0, Number(m[1])] : [Number(m[1]), Number(m[2])];
      out = out.slice(offset, offset + count);
    }
    return { last_notify: state.lastNotify, list: out, size };
  }

  // ---------------------------------------------------------------------------------- actions

  function takeIps(clusterId: number, n: number): string[] {
    const c = state.clusters.get(clusterId)!;
    if (n > 0 && (faults.noFreeIp || c.freeIps.length < n))
      throw new ApiError(400, 3010, 'Not enough free IPv4 addresses in the cluster IP pools', {
        ipv4_number: n,
      });
    return c.freeIps.splice(0, n);
  }

  function releaseIps(clusterId: number, ips: string[]) {
    const c = state.clusters.get(clusterId);
    if (!c) return;
    c.freeIps.push(...ips);
    c.freeIps.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  }

  function hostOr404(id: string): FakeHost {
    const h = state.hosts.get(Number(id));
    if (!h) throw notFound('Host', Number(id));
    return h;
  }

  function createHost(body: Json): Json {
    const name = nonEmpty(body, 'name');
    const clusterId = posInt(body, 'cluster');
    if (!state.clusters.has(clusterId)) throw invalid('cluster', `Cluster ${clusterId} not found`);
    const osId = posInt(body, 'os');
    const os = state.os.get(osId);
    if (!os?.clusters.includes(clusterId))
      throw invalid('os', `OS template ${osId} is not available in cluster ${clusterId}`);
    const password = nonEmpty(body, 'password');
    const accountId = posInt(body, 'account');
    const owner = state.users.get(accountId);
    if (!owner) throw invalid('account', `Account ${accountId} not found`);
    if (owner.roles.includes('@admin')) throw invalid('account', 'Cannot create a VM for an administrator');
    const preset = body.preset === undefined ? null : state.presets.get(posInt(body, 'preset'));
    if (preset === undefined) throw invalid('preset', 'Preset not found');
    const resource = (field: 'cpu_number' | 'ram_mib' | 'hdd_mib') =>
      body[field] === undefined && preset ? preset[field] : posInt(body, field);
    const cpu = resource('cpu_number');
    const ram = resource('ram_mib');
    const hdd = resource('hdd_mib');
    const ipv4 = body.ipv4_number === undefined ? 1 : posInt(body, 'ipv4_number', 0);
    if (faults.noFreeNode) throw new ApiError(400, 3011, 'No suitable node found in the cluster for the VM');
    const ips = takeIps(clusterId, ipv4);
    const h: FakeHost = {
      id: state.nextHostId++,
      name,
      state: 'creating',
      cluster: clusterId,
      account: accountId,
      os: osId,
      password,
      cpu_number: cpu,
      ram_mib: ram,
      disk: { id: state.nextDiskId++, disk_mib: hdd, disk_mib_new: null },
      ip4: [],
      pendingIps: ips,
    };
    state.hosts.set(h.id, h);
    const t = startTask(
      'host_create',
      h.id,
      () => {
        h.state = 'active';
        h.ip4.push(...h.pendingIps);
        h.pendingIps = [];
      },
      () => {
        h.state = 'create_failed';
        releaseIps(h.cluster, h.pendingIps);
        h.pendingIps = [];
      },
    );
    return { id: h.id, task: t.consul_id, recipe_task_list: [], recipe_task: 0, spice_task: 0 };
  }

  function hostAction(h: FakeHost, action: string, body: Json): Json {
    let t: FakeTask;
    switch (action) {
      case 'start':
        t = startTask('host_start', h.id, () => {
          h.state = 'active';
        });
        break;
      case 'stop':
        t = startTask('host_stop', h.id, () => {
          h.state = 'stopped';
        });
        break;
      case 'restart':
        t = startTask('host_start', h.id, () => {
          h.state = 'active';
        });
        return { id: h.id, task: t.consul_id, start_task: t.consul_id };
      case 'resource': {
        const cpu = body.cpu_number === undefined ? h.cpu_number : posInt(body, 'cpu_number');
        const ram = body.ram_mib === undefined ? h.ram_mib : posInt(body, 'ram_mib');
        t = startTask('host_change_params', h.id, () => {
          h.cpu_number = cpu;
          h.ram_mib = ram;
        });
        break;
      }
      case 'ip': {
        const n = posInt(body, 'ipv4_number');
        const ips = takeIps(h.cluster, n);
        h.pendingIps.push(...ips);
        t = startTask(
          'ip_change',
          h.id,
          () => {
            h.ip4.push(...ips);
            h.pendingIps = h.pendingIps.filter((ip) => !ips.includes(ip));
          },
          () => {
            h.pendingIps = h.pendingIps.filter((ip) => !ips.includes(ip));
            releaseIps(h.cluster, ips);
          },
        );
        break;
      }
      case 'reinstall': {
        const osId = posInt(body, 'os');
        const os = state.os.get(osId);
        if (!os?.clusters.includes(h.cluster))
          throw invalid('os', `OS template ${osId} is not available in cluster ${h.cluster}`);
        const password = body.password === undefined ? h.password : nonEmpty(body, 'password');
        const before = h.state;
        h.state = 'reinstalling';
        t = startTask(
          'host_reinstall',
          h.id,
          () => {
            h.state = 'active';
            h.os = osId;
            h.password = password;
          },
          () => {
            h.state = before;
          },
        );
        break;
      }
      case 'password': {
        const password = nonEmpty(body, 'password');
        // The product's task name for this is not documented.
        t = startTask('host_change_password', h.id, () => {
          h.password = password;
        });
        break;
      }
      default:
        throw notFound('Function', action);
    }
    return { id: h.id, task: t.consul_id };
  }

  function deleteHost(h: FakeHost): Json {
    const t = startTask('host_delete', h.id, () => {
      state.hosts.delete(h.id);
      releaseIps(h.cluster, [...h.ip4, ...h.pendingIps]);
    });
    return { id: h.id, task: t.consul_id };
  }

  function growDisk(id: string, body: Json): Json {
    const h = [...state.hosts.values()].find((x) => x.disk.id === Number(id));
    if (!h) throw notFound('Disk', Number(id));
    const size = posInt(body, 'size_mib');
    if (size < h.disk.disk_mib) throw invalid('size_mib', 'The disk size can only be increased');
    h.disk.disk_mib_new = size;
    const t = startTask(
      'disk_resize',
      h.id,
      () => {
        h.disk.disk_mib = size;
        h.disk.disk_mib_new = null;
      },
      () => {
        h.disk.disk_mib_new = null;
      },
    );
    return { id: h.disk.id, task: t.consul_id };
  }

  function createAccount(body: Json): Json {
    const email = nonEmpty(body, 'email');
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw invalid('email', 'Invalid e-mail');
    const password = nonEmpty(body, 'password');
    const role = body.role === undefined ? '@user' : nonEmpty(body, 'role');
    if (!['@user', '@advanced_user', '@admin'].includes(role)) throw invalid('role', `Unknown role ${role}`);
    if (state.userByEmail(email)) throw invalid('email', 'A user with this e-mail already exists');
    const u: FakeUser = { id: state.nextUserId++, email, password, roles: [role], state: 'active' };
    state.users.set(u.id, u);
    return { id: u.id };
  }

  // ---------------------------------------------------------------------------------- routing

  function login(body: Json, status: number): { status: number; body: Json } {
    const email = typeof body.email === 'string' ? body.email : '';
    const u = state.userByEmail(email);
    if (!u || u.password !== body.password || u.state !== 'active')
      throw new ApiError(status, 3004, 'Invalid e-mail or password');
    const token = randomBytes(20).toString('hex');
    state.tokens.set(token, { user: u.id, lastUsed: clock.now() });
    return {
      status: 201,
      body: {
        id: String(u.id),
        token,
        expires_at: new Date(clock.now() + tokenIdleMs).toISOString(),
        confirmed: true,
      },
    };
  }

  function caller(req: IncomingMessage): FakeUser {
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const cookie = /(?:^|;\s*)ses6=([^;]+)/.exec(header('cookie') ?? '')?.[1];
    const token = header('x-xsrf-token') ?? header('ses6') ?? cookie;
    const session = token ? state.tokens.get(token) : undefined;
    if (!token || !session) throw unauthorized();
    if (clock.now() - session.lastUsed > tokenIdleMs) {
      state.tokens.delete(token);
      throw unauthorized();
    }
    session.lastUsed = clock.now();
    const u = state.users.get(session.user);
    if (!u) throw unauthorized();
    return u;
  }

  function route(method: string, path: string, query: URLSearchParams, body: Json, req: IncomingMessage) {
    const ok = (b: Json) => ({ status: 200, body: b });
    if (path === '/auth/v4/public/token') {
      if (method !== 'POST') throw new ApiError(405, 3005, 'Method not allowed');
      return login(body, opts.loginFailStatus ?? 400);
    }
    const user = caller(req);
    if (path === '/auth/v4/whoami' && method === 'GET') return ok(accountRow(user));
    const m = /^\/vm\/v3\/([a-z_]+)(?:\/(\d+))?(?:\/([a-z_]+))?\/?$/.exec(path);
    if (!m) throw notFound('Function', path);
    if (!user.roles.includes('@admin')) throw forbidden();
    const [, kind = '', id, action] = m;
    const list = (rows: Json[]) => ok(listAnswer(kind, rows, query));
    const key = `${method} ${kind}${id ? '/:id' : ''}${action ? `/${action}` : ''}`;
    switch (key) {
      case 'GET cluster':
        return list(
          [...state.clusters.values()].map((c) => ({
            ...clusterRef(c.id),
            state: 'active',
            ippools: [{ id: c.id }],
          })),
        );
      case 'GET os':
        return list(
          [...state.os.values()].map((o) => ({
            id: o.id,
            name: o.name,
            os_group: o.os_group,
            state: o.state,
            repository: 'ISPsystem',
            clusters: o.clusters.map((c) => ({ id: c, name: state.clusters.get(c)?.name ?? '' })),
          })),
        );
      case 'GET preset':
        return list([...state.presets.values()].map((p) => ({ ...p })));
      case 'GET account':
        return list([...state.users.values()].map(accountRow));
      case 'POST account':
        return ok(createAccount(body));
      case 'GET task':
        return list(
          state.tasks.map((t) => ({
            id: t.id,
            consul_id: t.consul_id,
            name: t.name,
            status: t.status,
            output: t.output,
            host: t.host,
          })),
        );
      case 'GET host':
        return list([...state.hosts.values()].map(hostRow));
      case 'POST host':
        return ok(createHost(body));
      case 'GET host/:id': {
        const h = hostOr404(id!);
        // The single-object read: no associated objects (no IPs, cluster, disk).
        return ok({
          id: h.id,
          name: h.name,
          state: h.state,
          cpu_number: h.cpu_number,
          ram_mib: h.ram_mib,
          node: 1,
        });
      }
      case 'DELETE host/:id':
        return ok(deleteHost(hostOr404(id!)));
      case 'POST disk/:id':
        return ok(growDisk(id!, body));
      default:
        if (method === 'POST' && kind === 'host' && id && action)
          return ok(hostAction(hostOr404(id), action, body));
        throw notFound('Function', `${method} ${path}`);
    }
  }

  function send(res: ServerResponse, status: number, body: Json | null) {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === null ? '' : JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    const path = url.pathname.replace(/^\/api(?=\/)/, '');
    let body: Json = {};
    let parsedBody: unknown = null;
    if (raw.trim() !== '') {
      try {
        parsedBody = JSON.parse(raw);
      } catch {
        parsedBody = raw;
      }
    }
    state.calls.push({
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      body: redact(parsedBody),
    });

    if (faults.unavailable > 0) {
      faults.unavailable--;
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('');
      return;
    }
    const forced = faults.take(faults.http, method, path);
    if (forced) {
      if (forced.code === undefined && forced.msg === undefined) send(res, forced.status, null);
      else send(res, forced.status, { error: { code: forced.code ?? 0, msg: forced.msg ?? '', value: {} } });
      return;
    }

    let status: number;
    let answer: Json;
    try {
      if (!['GET', 'POST', 'DELETE'].includes(method)) throw new ApiError(405, 3005, 'Method not allowed');
      if (parsedBody !== null && (typeof parsedBody !== 'object' || Array.isArray(parsedBody)))
        throw invalid('body', 'The body must be a JSON object');
      body = (parsedBody as Json | null) ?? {};
      settle();
      ({ status, body: answer } = route(method, path, url.searchParams, body, req));
      state.lastNotify++;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      status = err.status;
      answer = { error: { code: err.code, msg: err.message, value: err.value } };
    }

    const slow = faults.take(faults.slow, method, path);
    if (slow) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(res, status, answer);
      }, slow.ms);
      timers.add(timer);
      return;
    }
    send(res, status, answer);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 1, msg: 'Internal error', value: {} } }));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    state,
    faults,
    clock,
    tick() {
      let n = 0;
      for (const t of state.tasks)
        if (t.status === 'running') {
          finish(t);
          n++;
        }
      return n;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sockets) s.destroy();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
