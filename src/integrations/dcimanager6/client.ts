import { causeCodes, sleep as defaultSleep, isTimeout, neverSent } from '../net.js';

/**
 * The client of DCImanager 6 (ISPsystem's dedicated-server panel), for the `dedic` processing
 * module (INTEGRATIONS.md "DCImanager 6 module"; details in research/vmmanager-dcimanager.md §1, §4).
 *
 * - Transport: JSON over HTTP(S), GET/POST/DELETE only; `<url>/auth/v4/...` and `<url>/dci/v3/...`
 *   where `url` is the panel's root, with or without `/api` (both layouts exist in the wild).
 *   One AbortSignal timeout per request, covering the body. Redirects are not followed.
 * - Session: `POST /auth/v4/public/token {email, password}` once; the token goes as header
 *   `x-xsrf-token` and cookie `ses6` (plus `isp-box-instance: true`, as ISPsystem's examples send).
 *   Concurrent calls share one login in flight; a 401 logs in again once and repeats the call.
 * - Errors: every failure is a DcimanagerError with a stable `code` and two flags: `retryable`
 *   (try again later: 503 "waking up", timeouts, 5xx) and `ambiguous` (the panel may have acted: a
 *   timeout or 5xx after a POST/DELETE went out — look before repeating). The client does not
 *   retry 503s itself: the operation queue that calls it retries with its own backoff.
 *   No password (the admin's, an account's or a server's root password) appears in a message.
 * - Long operations (OS install, power) run as the server's `operation {id, status, status_info}`;
 *   `waitTask` polls the server until that operation is `ok` (or failed/canceled), bounded.
 *
 * DCImanager's paths for owner, OS install, ports, power, IP removal, locations and OS templates are
 * not in the public docs: they are the one table DEFAULT_ROUTES, replaceable through `routes`
 * (the fake server follows the same table).
 */

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

/** A path template under the panel root; `{server}` and `{ip}` are replaced by ids. */
export interface DciRoute {
  method: HttpMethod;
  path: string;
}

/**
 * The undocumented calls, in one place. Bodies (fixed): setOwner `{owner: <user id>|null}`,
 * installOs `{os_template: <id>, password}`, the others `{}`. Long ones answer `{id, task}`
 * where `task` is the id the server's `operation` then carries.
 */
export interface DciRoutes {
  locations: DciRoute;
  osTemplates: DciRoute;
  setOwner: DciRoute;
  installOs: DciRoute;
  portDown: DciRoute;
  portUp: DciRoute;
  powerOn: DciRoute;
  powerOff: DciRoute;
  deleteIp: DciRoute;
}

export const DEFAULT_ROUTES: Readonly<DciRoutes> = Object.freeze({
  locations: { method: 'GET', path: '/dci/v3/location' },
  osTemplates: { method: 'GET', path: '/dci/v3/os_template' },
  // An edit is a POST to the object's URL on ISPsystem's v6 APIs (VMmanager's POST /host/{id}).
  setOwner: { method: 'POST', path: '/dci/v3/server/{server}' },
  installOs: { method: 'POST', path: '/dci/v3/server/{server}/os_install' },
  portDown: { method: 'POST', path: '/dci/v3/server/{server}/port_down' },
  portUp: { method: 'POST', path: '/dci/v3/server/{server}/port_up' },
  // power_reset is seen in production scripts; power_on/power_off by analogy.
  powerOn: { method: 'POST', path: '/dci/v3/server/{server}/power_on' },
  powerOff: { method: 'POST', path: '/dci/v3/server/{server}/power_off' },
  deleteIp: { method: 'DELETE', path: '/dci/v3/server/{server}/ip/{ip}' },
} satisfies DciRoutes);

/** The documented calls. */
export const PATHS = Object.freeze({
  token: '/auth/v4/public/token',
  server: '/dci/v3/server',
  configuration: '/dci/v3/server/configuration',
  user: '/dci/v3/user',
});

export interface DcimanagerClientOptions {
  /** The panel's root: https://host or https://host/api (a trailing /dci/v3 is dropped). */
  url: string;
  /** An admin's e-mail (the login name is always the e-mail). */
  email: string;
  password: string;
  /** Per request, default 30 000. */
  timeoutMs?: number;
  /** Default global fetch. */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Between polls of an operation, default 10 000. */
  taskPollMs?: number;
  /** How long waitTask waits (counted in polls: taskTimeoutMs / taskPollMs), default 2 h. */
  taskTimeoutMs?: number;
  /** Replaces entries of DEFAULT_ROUTES. */
  routes?: Partial<DciRoutes>;
}

export type DcimanagerErrorCode =
  | 'dcimanager_auth'
  | 'dcimanager_not_found'
  | 'dcimanager_unavailable'
  | 'dcimanager_timeout'
  | 'dcimanager_unreachable'
  | 'dcimanager_http_5xx'
  | 'dcimanager_refused'
  | 'dcimanager_task_failed'
  | 'dcimanager_task_timeout'
  | 'dcimanager_no_free_server'
  | 'dcimanager_no_free_ip'
  | 'dcimanager_invalid_answer';

export interface DcimanagerErrorDetails {
  retryable: boolean;
  ambiguous: boolean;
  /** HTTP status when the panel answered with one. */
  status?: number | null;
  /** The panel's `error.code` / `error.msg`, or a failed operation's `status_info`. */
  upstreamCode?: number | null;
  upstreamMessage?: string | null;
  /** `METHOD /path` (ids, never a body). */
  call?: string | null;
  cause?: unknown;
}

export class DcimanagerError extends Error {
  readonly code: DcimanagerErrorCode;
  readonly retryable: boolean;
  readonly ambiguous: boolean;
  readonly status: number | null;
  readonly upstreamCode: number | null;
  readonly upstreamMessage: string | null;
  readonly call: string | null;

  constructor(code: DcimanagerErrorCode, message: string, d: DcimanagerErrorDetails) {
    super(message, d.cause !== undefined ? { cause: d.cause } : undefined);
    this.name = 'DcimanagerError';
    this.code = code;
    this.retryable = d.retryable;
    this.ambiguous = d.ambiguous;
    this.status = d.status ?? null;
    this.upstreamCode = d.upstreamCode ?? null;
    this.upstreamMessage = d.upstreamMessage ?? null;
    this.call = d.call ?? null;
  }
}

export interface DciLocation {
  id: number;
  name: string;
}

export interface DciOsTemplate {
  id: number;
  name: string;
  tags: string[];
}

export interface DciAccount {
  id: number;
  email: string;
  roles: string[];
}

export interface DciIp {
  id: number;
  address: string;
  family: 'ipv4' | 'ipv6';
  status: string | null;
}

export interface DciOperation {
  id: number;
  status: string;
  info: string | null;
}

export interface DciServer {
  id: number;
  name: string;
  domain: string | null;
  configuration: string;
  locationId: number | null;
  /** null: no owner. */
  owner: { id: number | null; email: string | null } | null;
  power: 'on' | 'off' | 'unknown';
  /** Addresses, the server's main one first. */
  ipv4: string[];
  ips: DciIp[];
  /** Not diagnosed yet (DCImanager's `is_new`). */
  isNew: boolean;
  maintenance: boolean;
  /** The last operation, or null when none ran. */
  operation: DciOperation | null;
  osTemplate: { id: number; name: string } | null;
  /** Switch ports (IPMI ones included, flagged). */
  ports: { id: number; adminStatus: string; ipmi: boolean }[];
}

export type DciTaskKind = 'os_install' | 'power_on' | 'power_off';

/** A long operation on a server, to wait for with waitTask. */
export interface DciTask {
  serverId: number;
  /** The id the server's `operation` carries. */
  id: number;
  kind: DciTaskKind;
}

export interface DcimanagerClient {
  /** Logs in and lists locations; the locations seen. */
  checkConnection(): Promise<{ locations: DciLocation[] }>;
  listLocations(): Promise<DciLocation[]>;
  listOsTemplates(): Promise<DciOsTemplate[]>;
  /** `GET /server/configuration`: free servers per configuration string. */
  listConfigurations(): Promise<{ configuration: string; freeServers: number }[]>;
  /**
   * Free servers of a configuration in a location, lowest id first: no owner, diagnosed
   * (not `is_new`), last operation ok or canceled (or none), not in maintenance.
   */
  findFreeServers(q: { configuration: string; locationId: number }): Promise<DciServer[]>;
  /**
   * Takes the first free server that is still free after setting `ownerId` as its owner (another
   * biller may win a race: then the next one). dcimanager_no_free_server when none is left.
   */
  claimFreeServer(q: { configuration: string; locationId: number; ownerId: number }): Promise<DciServer>;
  /**
   * The servers an account owns, lowest id first (optionally of one configuration and location):
   * what a module looks at after a claim whose answer was lost, before claiming again.
   */
  findServersOf(q: { ownerId: number; configuration?: string; locationId?: number }): Promise<DciServer[]>;
  findAccount(email: string): Promise<DciAccount | null>;
  /** `POST /user` role `@user`; the new id. */
  createAccount(a: { email: string; password: string; fullName?: string }): Promise<{ id: number }>;
  setOwner(serverId: number, accountId: number | null): Promise<void>;
  installOs(serverId: number, o: { osId: number; password: string }): Promise<DciTask>;
  /**
   * Polls the server until the task's operation ends: the server as it then is. Throws
   * dcimanager_task_failed (the operation's message), dcimanager_task_timeout, and for an OS
   * install that left the server without an IPv4 address, dcimanager_no_free_ip.
   */
  waitTask(task: DciTask): Promise<DciServer>;
  /** Read through the list filtered on id (a by-id read may omit associated objects). */
  getServer(serverId: number): Promise<DciServer>;
  /** Switch ports down (suspend) / up (resume); power untouched. */
  portDown(serverId: number): Promise<void>;
  portUp(serverId: number): Promise<void>;
  /** Start the power operation and wait for it. */
  powerOff(serverId: number): Promise<void>;
  powerOn(serverId: number): Promise<void>;
  /** Removes every IP address but the main (first) IPv4; the addresses removed. */
  freeExtraIps(serverId: number): Promise<string[]>;
}

// ------------------------------------------------------------------------------------------ helpers

/** What the panel says when its allocation pool is empty (wording unknown: matched loosely). */
const NO_FREE_IP = /(no|not enough)\s+(free\s+)?ip|ip\b.*\b(pool|range)\b.*\b(empty|exhausted|no free)/i;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A `where` string value: quoted, quotes doubled away. */
const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

function idOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function checkId(what: string, id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`Not a DCImanager ${what} id: ${id}`);
  return id;
}

// ------------------------------------------------------------------------------------------ parsing

class BadAnswer extends Error {}

function listOf(body: unknown): Json[] {
  if (!isObject(body) || !Array.isArray(body.list)) throw new BadAnswer('no "list" in the answer');
  return body.list.filter(isObject);
}

function rolesOf(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((r): r is string => typeof r === 'string');
  // The documented example writes them as one string: "[@user]".
  if (typeof v === 'string')
    return v
      .replace(/[[\]\s]/g, '')
      .split(',')
      .filter(Boolean);
  return [];
}

export function serverOf(o: Json): DciServer {
  const id = idOf(o.id);
  if (id === null) throw new BadAnswer('a server without an id');
  const ips: DciIp[] = [];
  for (const ip of Array.isArray(o.ip) ? o.ip.filter(isObject) : []) {
    const ipId = idOf(ip.id);
    const address = str(ip.name) ?? str(ip.ip_addr) ?? str(ip.ip);
    if (ipId === null || address === null) continue;
    const family = ip.family === 'ipv6' || address.includes(':') ? 'ipv6' : 'ipv4';
    ips.push({ id: ipId, address, family, status: str(ip.status) });
  }
  const op = isObject(o.operation) ? o.operation : null;
  const opId = op ? idOf(op.id) : null;
  const ownerId = isObject(o.owner) ? idOf(o.owner.id) : idOf(o.owner);
  const ownerEmail = str(o.owner_email) ?? (isObject(o.owner) ? str(o.owner.email) : null);
  const os = isObject(o.os_template) ? o.os_template : null;
  const osId = os ? idOf(os.id) : null;
  const power = o.power_status === 'on' || o.power_status === 'off' ? o.power_status : 'unknown';
  return {
    id,
    name: str(o.name) ?? '',
    domain: str(o.domain),
    configuration: str(o.configuration) ?? '',
    locationId: idOf(o.location_id) ?? (isObject(o.location) ? idOf(o.location.id) : null),
    owner: ownerId === null && ownerEmail === null ? null : { id: ownerId, email: ownerEmail },
    power,
    ipv4: ips.filter((i) => i.family === 'ipv4').map((i) => i.address),
    ips,
    isNew: o.is_new === true,
    maintenance: o.maintenance === true || o.maintenance_mode === true,
    operation:
      op && opId !== null
        ? { id: opId, status: str(op.status) ?? 'unknown', info: str(op.status_info) }
        : null,
    osTemplate: os && osId !== null ? { id: osId, name: str(os.name) ?? '' } : null,
    ports: (Array.isArray(o.switch_connection) ? o.switch_connection.filter(isObject) : [])
      .map((c) => ({
        id: idOf(c.id) ?? 0,
        adminStatus: str(c.admin_status) ?? 'unknown',
        ipmi: c.is_ipmi_connection === true,
      }))
      .filter((c) => c.id > 0),
  };
}

/** The free-server rule of DCImanager's billing integration (no owner checked by the caller's filter). */
export function isFree(s: DciServer): boolean {
  return (
    s.owner === null &&
    !s.isNew &&
    !s.maintenance &&
    s.configuration !== '' &&
    (s.operation === null || s.operation.status === 'ok' || s.operation.status === 'canceled')
  );
}

const OP_DONE = new Set(['ok', 'complete', 'completed', 'done']);
const OP_FAILED = new Set(['fail', 'failed', 'error', 'canceled', 'cancelled']);

// ------------------------------------------------------------------------------------------ client

export function createClient(opts: DcimanagerClientOptions): DcimanagerClient {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const sleep = opts.sleep ?? defaultSleep;
  const taskPollMs = opts.taskPollMs ?? 10_000;
  const taskPolls = Math.max(1, Math.ceil((opts.taskTimeoutMs ?? 2 * 3600_000) / taskPollMs));
  const routes: DciRoutes = { ...DEFAULT_ROUTES, ...opts.routes };
  const { email, password } = opts;

  let root: URL;
  try {
    root = new URL(opts.url);
  } catch {
    root = new URL('invalid:');
  }
  if (!/^https?:$/.test(root.protocol) || root.username !== '' || root.password !== '')
    throw new DcimanagerError(
      'dcimanager_invalid_answer',
      'The DCImanager URL must be http(s)://host[/api].',
      {
        retryable: false,
        ambiguous: false,
      },
    );
  const base = `${root.origin}${root.pathname.replace(/\/+$/, '').replace(/\/dci\/v3$/, '')}`;

  /** Every password this client has handled; none may show in an error. */
  const secrets = new Set<string>();
  const remember = (s: string) => {
    if (s.length >= 3) {
      secrets.add(s);
      secrets.add(JSON.stringify(s).slice(1, -1));
      secrets.add(encodeURIComponent(s));
    }
  };
  remember(password);
  const scrub = (text: string | null): string | null => {
    if (text === null) return null;
    let s = text;
    for (const secret of [...secrets].sort((a, b) => b.length - a.length)) s = s.split(secret).join('***');
    return s;
  };
  const fail = (code: DcimanagerErrorCode, message: string, d: DcimanagerErrorDetails) =>
    new DcimanagerError(code, scrub(message)!, { ...d, upstreamMessage: scrub(d.upstreamMessage ?? null) });

  const fill = (path: string, ids: Record<string, number>) =>
    path.replace(/\{(\w+)\}/g, (_, k: string) => {
      const v = ids[k];
      if (v === undefined) throw new RangeError(`No value for {${k}} in ${path}`);
      return String(v);
    });

  interface Req {
    method: HttpMethod;
    path: string;
    query?: Record<string, string>;
    body?: unknown;
  }

  /** One request: the parsed JSON answer of a 2xx, or a DcimanagerError. */
  async function send(req: Req, token: string | null): Promise<{ status: number; body: unknown }> {
    const call = `${req.method} ${req.path}`;
    let url = base + req.path;
    if (req.query && Object.keys(req.query).length > 0) url += `?${new URLSearchParams(req.query)}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== null) {
      headers['x-xsrf-token'] = token;
      headers.cookie = `ses6=${token}`;
      headers['isp-box-instance'] = 'true';
    }
    if (req.method !== 'GET') headers['content-type'] = 'application/json';
    const mutating = req.method !== 'GET';
    let res: Response;
    let text: string;
    try {
      res = await fetchFn(url, {
        method: req.method,
        headers,
        body: req.method === 'GET' ? undefined : JSON.stringify(req.body ?? {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      if (isTimeout(err))
        throw fail('dcimanager_timeout', `DCImanager ${call}: no answer within ${timeoutMs} ms`, {
          call,
          retryable: true,
          ambiguous: mutating,
        });
      const codes = causeCodes(err);
      const notSent = neverSent(err);
      throw fail(
        'dcimanager_unreachable',
        `DCImanager ${call}: ${notSent ? 'cannot connect to' : 'the connection failed with'} ${root.host}${codes[0] ? ` (${codes[0]})` : ''}`,
        { call, retryable: true, ambiguous: mutating && !notSent, cause: err },
      );
    }
    let body: unknown = null;
    let parsed = false;
    try {
      body = text.trim() === '' ? null : JSON.parse(text);
      parsed = true;
    } catch {}
    const status = res.status;
    const error = isObject(body) && isObject(body.error) ? body.error : null;
    const upstreamCode = error ? idOf(error.code) : null;
    const upstreamMessage = error ? str(error.msg) : null;
    const said = upstreamMessage ? `: ${upstreamMessage}` : '';
    const d = { call, status, upstreamCode, upstreamMessage };
    if (status === 503)
      throw fail('dcimanager_unavailable', `DCImanager ${call}: HTTP 503, the platform is waking up`, {
        ...d,
        retryable: true,
        ambiguous: false,
      });
    if (status >= 500)
      throw fail('dcimanager_http_5xx', `DCImanager ${call}: HTTP ${status}${said}`, {
        ...d,
        retryable: true,
        ambiguous: mutating,
      });
    if (status === 401 || status === 403)
      throw fail('dcimanager_auth', `DCImanager ${call}: HTTP ${status}${said}`, {
        ...d,
        retryable: false,
        ambiguous: false,
      });
    if (status === 404)
      throw fail('dcimanager_not_found', `DCImanager ${call}: HTTP 404${said}`, {
        ...d,
        retryable: false,
        ambiguous: false,
      });
    if (status >= 300) {
      const noIp = upstreamMessage !== null && NO_FREE_IP.test(upstreamMessage);
      throw fail(
        noIp ? 'dcimanager_no_free_ip' : status < 400 ? 'dcimanager_invalid_answer' : 'dcimanager_refused',
        `DCImanager ${call}: HTTP ${status}${said}`,
        { ...d, retryable: false, ambiguous: false },
      );
    }
    if (!parsed || error)
      throw fail(
        'dcimanager_invalid_answer',
        `DCImanager ${call}: HTTP ${status}, not a JSON answer${said}`,
        {
          ...d,
          retryable: false,
          ambiguous: false,
        },
      );
    return { status, body };
  }

  // ------------------------------------------------------------------------------------ session

  let token: string | null = null;
  let loginInFlight: Promise<string> | null = null;

  function login(stale: string | null): Promise<string> {
    if (loginInFlight) return loginInFlight;
    if (stale !== null && token !== null && token !== stale) return Promise.resolve(token);
    const attempt = (async () => {
      let answer: { body: unknown };
      try {
        answer = await send({ method: 'POST', path: PATHS.token, body: { email, password } }, null);
      } catch (err) {
        if (
          err instanceof DcimanagerError &&
          (err.code === 'dcimanager_refused' || err.code === 'dcimanager_not_found')
        )
          throw fail('dcimanager_auth', `DCImanager login refused for ${email}: ${err.message}`, {
            status: err.status,
            upstreamCode: err.upstreamCode,
            upstreamMessage: err.upstreamMessage,
            call: err.call,
            retryable: false,
            ambiguous: false,
          });
        throw err;
      }
      const t = isObject(answer.body) ? str(answer.body.token) : null;
      if (t === null)
        throw fail('dcimanager_invalid_answer', 'DCImanager login: the answer has no token', {
          call: `POST ${PATHS.token}`,
          retryable: false,
          ambiguous: false,
        });
      token = t;
      return t;
    })();
    loginInFlight = attempt;
    const clear = () => {
      if (loginInFlight === attempt) loginInFlight = null;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  async function call(req: Req): Promise<unknown> {
    let current = token ?? (await login(null));
    try {
      return (await send(req, current)).body;
    } catch (err) {
      if (!(err instanceof DcimanagerError) || err.code !== 'dcimanager_auth' || err.status !== 401)
        throw err;
      // The token expired (idle) or the panel restarted: the call was refused, not done.
      if (token === current) token = null;
      current = await login(current);
      return (await send(req, current)).body;
    }
  }

  const invalid = (req: string, err: unknown) =>
    err instanceof BadAnswer
      ? fail('dcimanager_invalid_answer', `DCImanager ${req}: ${err.message}`, {
          call: req,
          retryable: false,
          ambiguous: false,
        })
      : err;

  async function list(path: string, query: Record<string, string> = {}): Promise<Json[]> {
    const body = await call({ method: 'GET', path, query });
    try {
      return listOf(body);
    } catch (err) {
      throw invalid(`GET ${path}`, err);
    }
  }

  async function route(name: keyof DciRoutes, ids: Record<string, number>, body?: unknown) {
    const r = routes[name];
    return call({
      method: r.method,
      path: fill(r.path, ids),
      body: r.method === 'GET' ? undefined : (body ?? {}),
    });
  }

  async function servers(where: string): Promise<DciServer[]> {
    const rows = await list(PATHS.server, { where, orderby: 'id asc' });
    try {
      return rows.map(serverOf);
    } catch (err) {
      throw invalid(`GET ${PATHS.server}`, err);
    }
  }

  async function getServer(serverId: number): Promise<DciServer> {
    const found = await servers(`(id EQ ${checkId('server', serverId)})`);
    const s = found.find((x) => x.id === serverId);
    if (!s)
      throw fail('dcimanager_not_found', `DCImanager: no server ${serverId}`, {
        call: `GET ${PATHS.server}`,
        retryable: false,
        ambiguous: false,
      });
    return s;
  }

  /** Starts a long operation: the `task` of the answer, else the server's current operation. */
  async function start(
    name: 'installOs' | 'powerOn' | 'powerOff',
    serverId: number,
    kind: DciTaskKind,
    body?: unknown,
  ) {
    const answer = await route(name, { server: checkId('server', serverId) }, body);
    const id = isObject(answer)
      ? (idOf(answer.task) ?? (isObject(answer.operation) ? idOf(answer.operation.id) : null))
      : null;
    if (id !== null) return { serverId, id, kind };
    const op = (await getServer(serverId)).operation;
    if (op === null)
      throw fail('dcimanager_invalid_answer', `DCImanager ${routes[name].path}: no operation started`, {
        call: `${routes[name].method} ${routes[name].path}`,
        retryable: false,
        ambiguous: true,
      });
    return { serverId, id: op.id, kind };
  }

  async function waitTask(task: DciTask): Promise<DciServer> {
    let transient = 0;
    for (let poll = 1; ; poll++) {
      let s: DciServer | null = null;
      try {
        s = await getServer(task.serverId);
        transient = 0;
      } catch (err) {
        // A read cannot have acted: a panel waking up or slow is waited out, a few times in a row.
        if (!(err instanceof DcimanagerError) || !err.retryable || ++transient > 3) throw err;
      }
      const op = s?.operation ?? null;
      if (s && op && op.id === task.id) {
        if (OP_DONE.has(op.status)) {
          if (task.kind === 'os_install' && s.ipv4.length === 0)
            throw fail(
              'dcimanager_no_free_ip',
              `DCImanager: server ${s.id} has no IPv4 address after the OS install`,
              {
                retryable: false,
                ambiguous: false,
              },
            );
          return s;
        }
        if (OP_FAILED.has(op.status))
          throw fail(
            'dcimanager_task_failed',
            `DCImanager: ${task.kind} on server ${s.id} ${op.status}${op.info ? `: ${op.info}` : ''}`,
            { upstreamMessage: op.info, retryable: false, ambiguous: false },
          );
      } else if (s && op && op.id > task.id) {
        throw fail(
          'dcimanager_task_failed',
          `DCImanager: ${task.kind} on server ${s.id} was superseded by operation ${op.id}`,
          { retryable: false, ambiguous: true },
        );
      }
      if (poll >= taskPolls)
        throw fail(
          'dcimanager_task_timeout',
          `DCImanager: ${task.kind} on server ${task.serverId} not finished after ${poll} polls`,
          { retryable: true, ambiguous: true },
        );
      await sleep(taskPollMs);
    }
  }

  async function listLocations(): Promise<DciLocation[]> {
    const rows = await list(routes.locations.path);
    return rows.flatMap((r) => {
      const id = idOf(r.id);
      return id === null ? [] : [{ id, name: str(r.name) ?? '' }];
    });
  }

  async function findFreeServers(q: { configuration: string; locationId: number }) {
    const where =
      `(owner_email IS null) AND (is_new EQ false) AND (location_id EQ ${checkId('location', q.locationId)})` +
      ` AND (configuration EQ ${quote(q.configuration)})`;
    // The filter narrows; the rule is checked here too (a panel may ignore parts of `where`).
    return (await servers(where)).filter(
      (s) => isFree(s) && s.configuration === q.configuration && s.locationId === q.locationId,
    );
  }

  async function setOwner(serverId: number, accountId: number | null) {
    await route(
      'setOwner',
      { server: checkId('server', serverId) },
      { owner: accountId === null ? null : checkId('account', accountId) },
    );
  }

  async function powerAndWait(name: 'powerOn' | 'powerOff', serverId: number) {
    await waitTask(await start(name, serverId, name === 'powerOn' ? 'power_on' : 'power_off'));
  }

  return {
    async checkConnection() {
      await login(null);
      return { locations: await listLocations() };
    },

    listLocations,

    async listOsTemplates() {
      const rows = await list(routes.osTemplates.path);
      return rows.flatMap((r) => {
        const id = idOf(r.id);
        const tags = Array.isArray(r.tags) ? r.tags.filter((t): t is string => typeof t === 'string') : [];
        return id === null ? [] : [{ id, name: str(r.name) ?? '', tags }];
      });
    },

    async listConfigurations() {
      const rows = await list(PATHS.configuration);
      return rows.flatMap((r) => {
        const configuration = str(r.configuration);
        const n = idOf(r.free_server_count) ?? 0;
        return configuration === null ? [] : [{ configuration, freeServers: n }];
      });
    },

    findFreeServers,

    async claimFreeServer(q) {
      for (const candidate of await findFreeServers(q)) {
        await setOwner(candidate.id, q.ownerId);
        const s = await getServer(candidate.id);
        if (s.owner?.id === q.ownerId) return s;
      }
      throw fail(
        'dcimanager_no_free_server',
        `DCImanager: no free server of configuration "${q.configuration}" in location ${q.locationId}`,
        { retryable: true, ambiguous: false },
      );
    },

    async findServersOf(q) {
      let where = `(owner EQ ${checkId('account', q.ownerId)})`;
      if (q.locationId !== undefined) where += ` AND (location_id EQ ${checkId('location', q.locationId)})`;
      if (q.configuration !== undefined) where += ` AND (configuration EQ ${quote(q.configuration)})`;
      return (await servers(where)).filter(
        (s) =>
          s.owner?.id === q.ownerId &&
          (q.configuration === undefined || s.configuration === q.configuration) &&
          (q.locationId === undefined || s.locationId === q.locationId),
      );
    },

    async findAccount(accountEmail) {
      const rows = await list(PATHS.user, { where: `(email EQ ${quote(accountEmail)})` });
      for (const r of rows) {
        const id = idOf(r.id);
        const e = str(r.email);
        if (id !== null && e !== null && e.toLowerCase() === accountEmail.toLowerCase())
          return { id, email: e, roles: rolesOf(r.roles ?? r.role) };
      }
      return null;
    },

    async createAccount(a) {
      remember(a.password);
      const body = await call({
        method: 'POST',
        path: PATHS.user,
        body: {
          email: a.email,
          full_name: a.fullName ?? a.email,
          password: a.password,
          phone_number: '',
          role: '@user',
        },
      });
      const id = isObject(body) ? idOf(body.id) : null;
      if (id === null)
        throw fail('dcimanager_invalid_answer', `DCImanager POST ${PATHS.user}: no id in the answer`, {
          call: `POST ${PATHS.user}`,
          retryable: false,
          ambiguous: true,
        });
      return { id };
    },

    setOwner,

    async installOs(serverId, o) {
      remember(o.password);
      return start('installOs', serverId, 'os_install', {
        os_template: checkId('OS template', o.osId),
        password: o.password,
      });
    },

    waitTask,
    getServer,

    async portDown(serverId) {
      await route('portDown', { server: checkId('server', serverId) });
    },
    async portUp(serverId) {
      await route('portUp', { server: checkId('server', serverId) });
    },

    powerOff: (serverId) => powerAndWait('powerOff', serverId),
    powerOn: (serverId) => powerAndWait('powerOn', serverId),

    async freeExtraIps(serverId) {
      const s = await getServer(serverId);
      const main = s.ips.find((i) => i.family === 'ipv4');
      const freed: string[] = [];
      for (const ip of s.ips) {
        if (ip === main) continue;
        try {
          await route('deleteIp', { server: s.id, ip: ip.id });
        } catch (err) {
          // Gone already (a repeated close): what we wanted.
          if (!(err instanceof DcimanagerError) || err.code !== 'dcimanager_not_found') throw err;
        }
        freed.push(ip.address);
      }
      return freed;
    },
  };
}
