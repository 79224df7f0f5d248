/**
 * A stateful fake of DCImanager 6 for tests of the client and the `dedic` processing module
 * (research/vmmanager-dcimanager.md §7.1–7.3, §7.5): platform login with tokens, admin and
 * client users, locations, OS templates, servers with owner, power, ports, IP addresses and
 * their last `operation`, an IPv4 allocation pool, lists with `where`/`orderby`/`limit`.
 *
 * Paths: the documented ones (client.ts PATHS) and the undocumented ones from the client's own
 * route table (DEFAULT_ROUTES, or the `routes` given), under `/api` or not. Long operations (OS
 * install, power) finish on `tick()` or, with `taskDelayMs`, after that delay. Fault knobs: an
 * operation fails, 503 bursts, token expiry, latency, 500s, no free server of a configuration.
 * A call log keeps method, path, query and body, with every password replaced.
 * `node:http` on 127.0.0.1, port 0.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type DciRoutes, DEFAULT_ROUTES, PATHS } from './client.js';

// ------------------------------------------------------------------------------------------ model

export interface FakeUser {
  id: number;
  email: string;
  password: string;
  roles: string[];
  fullName: string;
}

export interface FakeIp {
  id: number;
  address: string;
  family: 'ipv4' | 'ipv6';
  status: 'allocating' | 'active';
}

export interface FakeOperation {
  id: number;
  kind: 'os_install' | 'power_on' | 'power_off';
  status: 'running' | 'ok' | 'failed' | 'canceled';
  statusInfo: string | null;
  /** os_install: the template to set when done. */
  osTemplate?: number;
}

export interface FakeServer {
  id: number;
  name: string;
  domain: string;
  configuration: string;
  locationId: number;
  ownerId: number | null;
  isNew: boolean;
  maintenance: boolean;
  power: 'on' | 'off';
  operation: FakeOperation | null;
  osTemplate: number | null;
  ips: FakeIp[];
  ports: { id: number; adminStatus: 'up' | 'down'; ipmi: boolean }[];
}

export interface FakeCall {
  method: string;
  /** Without the `/api` prefix. */
  path: string;
  query: Record<string, string>;
  /** The JSON body with `password` values replaced by "***". */
  body: unknown;
}

export const ADMIN = Object.freeze({ email: 'admin@dci.example.com', password: 'Dci-Adm1n:secret-pass' });

export class FakeDciState {
  readonly users = new Map<number, FakeUser>();
  readonly locations = new Map<number, { id: number; name: string }>();
  readonly osTemplates = new Map<number, { id: number; name: string; tags: string[] }>();
  readonly servers = new Map<number, FakeServer>();
  /** Free IPv4 addresses of the allocation pool, taken from the front. */
  readonly ipPool: string[] = [];
  /** token → user id */
  readonly tokens = new Map<string, number>();
  readonly calls: FakeCall[] = [];
  nextId = 100;
  lastNotify = 1;

  id(): number {
    return this.nextId++;
  }

  addUser(u: { email: string; password: string; roles?: string[]; fullName?: string }): FakeUser {
    const user = {
      id: this.id(),
      email: u.email,
      password: u.password,
      roles: u.roles ?? ['@user'],
      fullName: u.fullName ?? '',
    };
    this.users.set(user.id, user);
    return user;
  }

  addServer(s: Partial<FakeServer> & { configuration: string; locationId: number }): FakeServer {
    const id = s.id ?? this.id();
    const server: FakeServer = {
      name: `srv-${id}`,
      domain: '',
      ownerId: null,
      isNew: false,
      maintenance: false,
      power: 'on',
      operation: null,
      osTemplate: null,
      ips: [],
      ports: [
        { id: this.id(), adminStatus: 'up', ipmi: false },
        { id: this.id(), adminStatus: 'up', ipmi: true },
      ],
      ...s,
      id,
    };
    this.servers.set(id, server);
    return server;
  }

  /** Gives a server one more address from the pool (an extra IP, as staff would). */
  addIp(serverId: number): FakeIp {
    const s = this.servers.get(serverId);
    const address = this.ipPool.shift();
    if (!s || !address) throw new Error('no such server or no free address');
    const ip: FakeIp = { id: this.id(), address, family: 'ipv4', status: 'active' };
    s.ips.push(ip);
    return ip;
  }

  callsTo(method: string, path: string): FakeCall[] {
    return this.calls.filter((c) => c.method === method && c.path === path);
  }

  isFree(s: FakeServer): boolean {
    return (
      s.ownerId === null &&
      !s.isNew &&
      !s.maintenance &&
      (s.operation === null || s.operation.status === 'ok' || s.operation.status === 'canceled')
    );
  }
}

export class FakeDciFaults {
  /** The next N requests (any path, login included) answer 503 with an HTML page. */
  unavailable = 0;
  /** The next N requests answer 500 with an error JSON. */
  serverErrors = 0;
  /** Each request waits this long before being handled (for client timeouts). */
  latencyMs = 0;
  /**
   * Requests that are carried out at once but answered only `ms` later (a lost answer: the
   * caller times out after the panel acted): `METHOD /path` matched as a regular expression;
   * `onActed` runs once the request was carried out (to arm another fault for what follows).
   */
  readonly actThenDelay: { call: RegExp; ms: number; times: number; onActed?: () => void }[] = [];
  /** The operations to fail, first match first: of `kind` (any when absent), with this message. */
  readonly failTasks: { kind?: FakeOperation['kind']; message: string }[] = [];

  constructor(private readonly state: FakeDciState) {}

  /** Every token is forgotten: the next authenticated call answers 401. */
  expireTokens(): void {
    this.state.tokens.clear();
  }

  /** Makes the next operation (of `kind`) end in `failed` with `message`. */
  failTask(kind?: FakeOperation['kind'], message = 'Operation failed'): void {
    this.failTasks.push(kind ? { kind, message } : { message });
  }

  /** No free server of this configuration is left: staff take every free one. */
  noFreeServer(configuration: string): void {
    const staff = this.state.addUser({
      email: `staff-${this.state.nextId}@dci.example.com`,
      password: 'x',
      roles: ['@admin'],
    });
    for (const s of this.state.servers.values())
      if (s.configuration === configuration && this.state.isFree(s)) s.ownerId = staff.id;
  }
}

// ------------------------------------------------------------------------------------------ where

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly value: unknown = {},
  ) {
    super(message);
  }
}

type Row = Record<string, unknown>;
type Pred = (row: Row) => boolean;

/** `where` as ISPsystem's v6 APIs take it: EQ NE CP GT LT, IS [NOT] null, NOT, AND, OR, (). */
export function parseWhere(text: string): Pred {
  const tokens = text.match(/'(?:[^']|'')*'|\(|\)|[^\s()']+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i]?.toUpperCase();
  const bad = (why: string) => new ApiError(400, 2001, `Invalid where: ${why}`, { where: text });
  const value = (): unknown => {
    const t = tokens[i++];
    if (t === undefined) throw bad('a value is missing');
    if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
    if (/^null$/i.test(t)) return null;
    throw bad(`"${t}" is not a value`);
  };
  const field = (row: Row, path: string): unknown => {
    let v: unknown = row;
    for (const part of path.split('.')) {
      if (typeof v !== 'object' || v === null || !(part in v)) {
        if (v === row) throw bad(`unknown field ${path}`);
        return undefined;
      }
      v = (v as Row)[part];
    }
    return v;
  };
  const same = (a: unknown, b: unknown) =>
    a === null || b === null || a === undefined ? (a ?? null) === b : String(a) === String(b);
  const like = (a: unknown, pattern: unknown) => {
    const re = String(pattern)
      .split('%')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    return new RegExp(`^${re}$`, 'is').test(String(a ?? ''));
  };
  const primary = (): Pred => {
    if (peek() === '(') {
      i++;
      const p = or();
      if (tokens[i++] !== ')') throw bad('unbalanced parentheses');
      return p;
    }
    const name = tokens[i++];
    if (name === undefined || !/^[A-Za-z_][\w.]*$/.test(name)) throw bad('a field is missing');
    const op = tokens[i++]?.toUpperCase();
    if (op === 'IS') {
      const negate = peek() === 'NOT';
      if (negate) i++;
      if (value() !== null) throw bad('IS takes null');
      return (row) => (field(row, name) == null) !== negate;
    }
    const v = value();
    switch (op) {
      case 'EQ':
        return (row) => same(field(row, name), v);
      case 'NE':
        return (row) => !same(field(row, name), v);
      case 'CP':
        return (row) => like(field(row, name), v);
      case 'GT':
        return (row) => Number(field(row, name)) > Number(v);
      case 'LT':
        return (row) => Number(field(row, name)) < Number(v);
      default:
        throw bad(`unknown operator ${op}`);
    }
  };
  const unary = (): Pred => {
    if (peek() === 'NOT') {
      i++;
      const p = unary();
      return (row) => !p(row);
    }
    return primary();
  };
  const and = (): Pred => {
    const parts = [unary()];
    while (peek() === 'AND') {
      i++;
      parts.push(unary());
    }
    return (row) => parts.every((p) => p(row));
  };
  const or = (): Pred => {
    const parts = [and()];
    while (peek() === 'OR') {
      i++;
      parts.push(and());
    }
    return (row) => parts.some((p) => p(row));
  };
  const p = or();
  if (i !== tokens.length) throw bad(`unexpected "${tokens[i]}"`);
  return p;
}

/** `{list, size, last_notify}` of rows after where, orderby and limit. */
function listAnswer(state: FakeDciState, rows: Row[], q: URLSearchParams, probe: Row | null = null) {
  let out = rows;
  const where = q.get('where');
  if (where) {
    const pred = parseWhere(where);
    // Field names are checked against the shape even when there is no row to test.
    if (probe) pred(probe);
    out = out.filter(pred);
  }
  const orderby = q.get('orderby');
  if (orderby) {
    const [f, dir] = orderby.trim().split(/\s+/);
    const sign = dir?.toLowerCase() === 'desc' ? -1 : 1;
    out = [...out].sort((a, b) => {
      const x = a[f!] as string | number;
      const y = b[f!] as string | number;
      return x === y ? 0 : (x ?? '') > (y ?? '') ? sign : -sign;
    });
  }
  const size = out.length;
  const limit = q.get('limit');
  if (limit) {
    const m = /^\s*(\d+)\s*(?:,\s*(\d+))?\s*$/.exec(limit);
    if (!m) throw new ApiError(400, 2001, 'Invalid limit', { limit });
    const [offset, count] = m[2] === undefined ? [0, Number(m[1])] : [Number(m[1]), Number(m[2])];
    out = out.slice(offset, offset + count);
  }
  return { list: out, size, last_notify: state.lastNotify };
}

// ------------------------------------------------------------------------------------------ server

export interface FakeDcimanagerOptions {
  /** Operations finish after this many ms; absent: only on tick(). */
  taskDelayMs?: number;
  /** The same table the client is given. */
  routes?: Partial<DciRoutes>;
  /** Seed the default inventory (locations 1-2, templates, 4 servers, a pool of 4 addresses). Default true. */
  seed?: boolean;
}

export interface FakeDcimanager {
  /** http://127.0.0.1:<port> (the panel's root; `/api` works too). */
  readonly url: string;
  readonly state: FakeDciState;
  readonly faults: FakeDciFaults;
  /** Finishes every running operation; how many. */
  tick(): number;
  close(): Promise<void>;
}

export const CONFIG_A = 'i9-9900K-64Gb-2x1024NVMe';
export const CONFIG_B = 'E-2236-32Gb-2x480SSD';

function seed(state: FakeDciState) {
  state.addUser({ email: ADMIN.email, password: ADMIN.password, roles: ['@admin'], fullName: 'Admin' });
  state.locations.set(1, { id: 1, name: 'Frankfurt' });
  state.locations.set(2, { id: 2, name: 'Amsterdam' });
  state.osTemplates.set(11, { id: 11, name: 'Debian 12', tags: ['linux'] });
  state.osTemplates.set(12, { id: 12, name: 'Ubuntu 24.04', tags: ['linux'] });
  state.addServer({ id: 1, configuration: CONFIG_A, locationId: 1 });
  state.addServer({ id: 2, configuration: CONFIG_A, locationId: 1 });
  state.addServer({ id: 3, configuration: CONFIG_A, locationId: 2 });
  state.addServer({ id: 4, configuration: CONFIG_B, locationId: 1 });
  state.ipPool.push('198.51.100.10', '198.51.100.11', '198.51.100.12', '198.51.100.13');
}

const hide = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(hide)
    : typeof v === 'object' && v !== null
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'password' ? '***' : hide(x)]))
      : v;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startFakeDcimanager(opts: FakeDcimanagerOptions = {}): Promise<FakeDcimanager> {
  const state = new FakeDciState();
  if (opts.seed !== false) seed(state);
  const faults = new FakeDciFaults(state);
  const routes: DciRoutes = { ...DEFAULT_ROUTES, ...opts.routes };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const userWire = (u: FakeUser) => ({
    id: u.id,
    email: u.email,
    full_name: u.fullName,
    roles: u.roles,
    server_count: [...state.servers.values()].filter((s) => s.ownerId === u.id).length,
  });

  const serverWire = (s: FakeServer): Row => {
    const owner = s.ownerId === null ? null : (state.users.get(s.ownerId) ?? null);
    const os = s.osTemplate === null ? null : (state.osTemplates.get(s.osTemplate) ?? null);
    return {
      id: s.id,
      name: s.name,
      domain: s.domain,
      configuration: s.configuration,
      location_id: s.locationId,
      owner: owner?.id ?? null,
      owner_email: owner?.email ?? null,
      is_new: s.isNew,
      maintenance: s.maintenance,
      state: 'active',
      power_status: s.power,
      operation: s.operation && {
        id: s.operation.id,
        status: s.operation.status,
        status_info: s.operation.statusInfo,
        progress_info: [],
      },
      os_template: os,
      ip: s.ips.map((ip) => ({
        id: ip.id,
        name: ip.address,
        domain: s.domain,
        family: ip.family,
        status: ip.status,
        status_info: null,
      })),
      switch_connection: s.ports.map((p) => ({
        id: p.id,
        admin_status: p.adminStatus,
        oper_status: p.adminStatus,
        is_ipmi_connection: p.ipmi,
      })),
    };
  };

  const probeServer = serverWire({
    id: 0,
    name: '',
    domain: '',
    configuration: '',
    locationId: 0,
    ownerId: null,
    isNew: false,
    maintenance: false,
    power: 'on',
    operation: null,
    osTemplate: null,
    ips: [],
    ports: [],
  });

  function finish(s: FakeServer, op: FakeOperation) {
    if (s.operation !== op || op.status !== 'running') return;
    const failure = faults.failTasks.findIndex((f) => f.kind === undefined || f.kind === op.kind);
    if (failure >= 0) {
      op.status = 'failed';
      op.statusInfo = faults.failTasks.splice(failure, 1)[0]!.message;
      if (op.kind === 'os_install')
        for (const ip of s.ips.filter((x) => x.status === 'allocating')) {
          s.ips.splice(s.ips.indexOf(ip), 1);
          state.ipPool.unshift(ip.address);
        }
    } else {
      op.status = 'ok';
      if (op.kind === 'os_install') {
        s.osTemplate = op.osTemplate ?? null;
        for (const ip of s.ips) ip.status = 'active';
      }
      if (op.kind === 'power_on') s.power = 'on';
      if (op.kind === 'power_off') s.power = 'off';
    }
    state.lastNotify++;
  }

  function begin(s: FakeServer, kind: FakeOperation['kind'], extra: Partial<FakeOperation> = {}) {
    if (s.operation?.status === 'running')
      throw new ApiError(400, 4001, `Server ${s.id} is busy with operation ${s.operation.id}`, { id: s.id });
    const op: FakeOperation = { id: state.id(), kind, status: 'running', statusInfo: null, ...extra };
    s.operation = op;
    state.lastNotify++;
    if (opts.taskDelayMs !== undefined) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        finish(s, op);
      }, opts.taskDelayMs);
      timers.add(timer);
    }
    return { id: s.id, task: op.id };
  }

  const serverOr404 = (id: string | undefined) => {
    const s = state.servers.get(Number(id));
    if (!s) throw new ApiError(404, 4004, `Server ${id} not found`, { id });
    return s;
  };

  type Handler = (m: string[], q: URLSearchParams, body: Row) => unknown;
  const table: { method: string; re: RegExp; fn: Handler }[] = [];
  const on = (method: string, path: string, fn: Handler) => {
    const re = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '(\\d+)')}$`);
    table.push({ method, re, fn });
  };

  // Documented.
  on('GET', PATHS.configuration, () => {
    const counts = new Map<string, number>();
    for (const s of state.servers.values())
      counts.set(s.configuration, (counts.get(s.configuration) ?? 0) + (state.isFree(s) ? 1 : 0));
    return { list: [...counts].map(([configuration, n]) => ({ configuration, free_server_count: n })) };
  });
  on('GET', PATHS.server, (_, q) =>
    listAnswer(state, [...state.servers.values()].map(serverWire), q, probeServer),
  );
  on('GET', `${PATHS.server}/{server}`, ([id]) => serverWire(serverOr404(id)));
  on('GET', PATHS.user, (_, q) =>
    listAnswer(state, [...state.users.values()].map(userWire), q, userWire(ADMIN_PROBE)),
  );
  on('POST', PATHS.user, (_, _q, b) => {
    const email = typeof b.email === 'string' ? b.email.trim() : '';
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw new ApiError(400, 2001, 'Invalid email', { field: 'email' });
    if (typeof b.password !== 'string' || b.password.length < 6)
      throw new ApiError(400, 2001, 'The password is too short', { field: 'password' });
    if ([...state.users.values()].some((u) => u.email.toLowerCase() === email.toLowerCase()))
      throw new ApiError(400, 2002, `User ${email} already exists`, { field: 'email' });
    const role = typeof b.role === 'string' ? b.role : '@user';
    const fullName = typeof b.full_name === 'string' ? b.full_name : '';
    return { id: state.addUser({ email, password: b.password, roles: [role], fullName }).id };
  });

  // The table shared with the client.
  on(routes.locations.method, routes.locations.path, (_, q) =>
    listAnswer(state, [...state.locations.values()], q),
  );
  on(routes.osTemplates.method, routes.osTemplates.path, (_, q) =>
    listAnswer(state, [...state.osTemplates.values()], q),
  );
  on(routes.setOwner.method, routes.setOwner.path, ([id], _q, b) => {
    const s = serverOr404(id);
    if ('owner' in b) {
      if (b.owner === null) s.ownerId = null;
      else {
        const user = state.users.get(Number(b.owner));
        if (!user) throw new ApiError(400, 2001, `No user ${String(b.owner)}`, { field: 'owner' });
        s.ownerId = user.id;
      }
    }
    if (typeof b.name === 'string') s.name = b.name;
    if (typeof b.domain === 'string') s.domain = b.domain;
    state.lastNotify++;
    return { id: s.id };
  });
  on(routes.installOs.method, routes.installOs.path, ([id], _q, b) => {
    const s = serverOr404(id);
    const os = state.osTemplates.get(Number(b.os_template));
    if (!os) throw new ApiError(400, 2001, 'Unknown OS template', { field: 'os_template' });
    if (typeof b.password !== 'string' || b.password === '')
      throw new ApiError(400, 2001, 'A password is required', { field: 'password' });
    if (s.operation?.status === 'running')
      throw new ApiError(400, 4001, `Server ${s.id} is busy with operation ${s.operation.id}`, { id: s.id });
    if (!s.ips.some((ip) => ip.family === 'ipv4')) {
      const address = state.ipPool.shift();
      if (!address)
        throw new ApiError(400, 4010, 'No free IP addresses in the allocation pool', { pool: 'public' });
      s.ips.unshift({ id: state.id(), address, family: 'ipv4', status: 'allocating' });
    }
    return begin(s, 'os_install', { osTemplate: os.id });
  });
  const ports =
    (status: 'up' | 'down') =>
    ([id]: string[]) => {
      const s = serverOr404(id);
      for (const p of s.ports) if (!p.ipmi) p.adminStatus = status;
      state.lastNotify++;
      return { id: s.id };
    };
  on(routes.portDown.method, routes.portDown.path, ports('down'));
  on(routes.portUp.method, routes.portUp.path, ports('up'));
  on(routes.powerOn.method, routes.powerOn.path, ([id]) => begin(serverOr404(id), 'power_on'));
  on(routes.powerOff.method, routes.powerOff.path, ([id]) => begin(serverOr404(id), 'power_off'));
  on(routes.deleteIp.method, routes.deleteIp.path, ([id, ipId]) => {
    const s = serverOr404(id);
    const ip = s.ips.find((x) => x.id === Number(ipId));
    if (!ip) throw new ApiError(404, 4004, `IP ${ipId} not found on server ${s.id}`, { id: ipId });
    s.ips.splice(s.ips.indexOf(ip), 1);
    // Back to the pool (DCImanager's "deallocation" pool is this one here).
    if (ip.family === 'ipv4') state.ipPool.push(ip.address);
    state.lastNotify++;
    return {};
  });

  function tokenOf(req: IncomingMessage): string | null {
    const header = req.headers['x-xsrf-token'] ?? req.headers.ses6;
    if (typeof header === 'string' && header !== '') return header;
    const cookie = /(?:^|;\s*)ses6=([^;]+)/.exec(req.headers.cookie ?? '');
    return cookie?.[1] ?? null;
  }

  function json(res: ServerResponse, status: number, body: unknown) {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname.replace(/^\/api(?=\/)/, '').replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const text = method === 'GET' ? '' : await readBody(req);
    let body: Row = {};
    let parsed = true;
    try {
      const v: unknown = text.trim() === '' ? {} : JSON.parse(text);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) body = v as Row;
      else parsed = false;
    } catch {
      parsed = false;
    }
    state.calls.push({ method, path, query: Object.fromEntries(url.searchParams), body: hide(body) });

    if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (res.destroyed) return;
    if (faults.unavailable > 0) {
      faults.unavailable--;
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html><body>The platform is starting, please wait</body></html>');
      return;
    }
    if (faults.serverErrors > 0) {
      faults.serverErrors--;
      return json(res, 500, { error: { code: 1, msg: 'Internal error', value: {} } });
    }
    try {
      if (!['GET', 'POST', 'DELETE'].includes(method)) throw new ApiError(405, 2000, 'Method not allowed');
      if (!parsed) throw new ApiError(400, 2000, 'The body is not a JSON object');
      if (method === 'POST' && path === PATHS.token) {
        const user = [...state.users.values()].find(
          (u) => u.email === body.email && u.password === body.password,
        );
        if (!user) throw new ApiError(400, 3004, 'Invalid email or password');
        const token = randomBytes(12).toString('hex').toUpperCase();
        state.tokens.set(token, user.id);
        return json(res, 201, {
          id: String(user.id),
          token,
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          confirmed: true,
        });
      }
      const route = table
        .map((r) => ({ r, m: r.method === method ? r.re.exec(path) : null }))
        .find((x) => x.m !== null);
      const token = tokenOf(req);
      const userId = token === null ? undefined : state.tokens.get(token);
      if (userId === undefined) throw new ApiError(401, 3001, 'Unauthorized');
      if (!route) throw new ApiError(404, 4004, `No handler for ${method} ${path}`);
      if (!state.users.get(userId)?.roles.includes('@admin')) throw new ApiError(403, 3001, 'Unauthorized');
      const answer = route.r.fn(route.m!.slice(1), url.searchParams, body);
      const late = faults.actThenDelay.find((f) => f.times > 0 && f.call.test(`${method} ${path}`));
      if (late) {
        late.times--;
        late.onActed?.();
        await new Promise((r) => setTimeout(r, late.ms));
      }
      return json(res, 200, answer);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return json(res, err.status, { error: { code: err.code, msg: err.message, value: err.value } });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => json(res, 500, { error: { code: 1, msg: 'Internal error', value: {} } }));
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
    tick() {
      let n = 0;
      for (const s of state.servers.values())
        if (s.operation?.status === 'running') {
          finish(s, s.operation);
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

const ADMIN_PROBE: FakeUser = { id: 0, email: '', password: '', roles: [], fullName: '' };
