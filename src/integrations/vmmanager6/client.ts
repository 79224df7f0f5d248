import { causeCodes, sleep as defaultSleep, isTimeout, neverSent } from '../net.js';

/**
 * The client side of the VMmanager 6 API (INTEGRATIONS.md, research/vmmanager-dcimanager.md §1–2):
 * what the VPS processing module needs to create, read, power, resize, reinstall and delete
 * virtual machines on an ISPsystem VMmanager 6 panel with an administrator's account.
 *
 * - Transport: JSON over HTTP(S), GET/POST/DELETE only, one AbortSignal timeout per request
 *   covering the answer's body. The configured URL may be the panel's root (`https://vm.example`)
 *   or its `/api` prefix (`https://vm.example/api`), with or without a trailing `/vm/v3`: the
 *   client talks to `<base>/auth/v4/…` and `<base>/vm/v3/…`. Redirects are not followed (the
 *   password travels in a body).
 * - Session: `POST /auth/v4/public/token {email, password}` once, then the token in
 *   `x-xsrf-token` (and cookie `ses6`, as ISPsystem's own examples send); concurrent calls share
 *   one login in flight; a 401 logs in again once and repeats the call (the panel refused it
 *   before acting). A token idle for most of the panel's default hour is not reused.
 * - Errors: every failure is a VmmanagerError with a stable code and two flags, `retryable`
 *   and `ambiguous` (the panel may have acted: a timeout, a reset connection, a 5xx or an
 *   unreadable answer after a POST/DELETE went out — reconcile before repeating, e.g. a create
 *   with findHostsByName). 503 is "platform waking up": `vmmanager_unavailable`, retryable, not
 *   ambiguous; the caller retries with backoff. No password (the admin's, an account's or a root
 *   password this client sent) appears in an error: panel text is scrubbed of them.
 * - Long operations: everything but createHost waits for its task (`GET /vm/v3/task?where=
 *   ((consul_id EQ 'N') AND (name EQ '…'))`) up to `taskTimeoutMs`; createHost returns the host
 *   id and task at once so the caller can store the id before waiting with waitTask.
 */

/** Stable codes of VmmanagerError. */
export type VmmanagerErrorCode =
  /** Login refused, a token refused again right after a fresh login, or no right (403, 3001). */
  | 'vmmanager_auth'
  /** 404: no such host, disk, account… */
  | 'vmmanager_not_found'
  /** 503: the platform is waking up (or down for maintenance); nothing was done. Retry later. */
  | 'vmmanager_unavailable'
  /** No answer within timeoutMs. */
  | 'vmmanager_timeout'
  /** The connection failed (refused, reset, DNS). */
  | 'vmmanager_unreachable'
  /** Another 5xx. */
  | 'vmmanager_http_5xx'
  /** A 4xx refusal with the panel's error (validation, a shrinking disk, a busy host…). */
  | 'vmmanager_refused'
  /** The cluster has no free IPv4 address for the VM (a refusal). */
  | 'vmmanager_no_free_ip'
  /** No node of the cluster can take the VM (a refusal). */
  | 'vmmanager_no_free_server'
  /** A task ended in `fail`; `upstreamMessage` is the task's message. */
  | 'vmmanager_task_failed'
  /** A task did not end within taskTimeoutMs; it may still finish. */
  | 'vmmanager_task_timeout'
  /** An answer that is not JSON or lacks what it must carry. */
  | 'vmmanager_invalid_answer';

export interface VmmanagerErrorDetails {
  readonly retryable: boolean;
  readonly ambiguous: boolean;
  /** The method and path called (no query, no body), e.g. `POST /vm/v3/host`. */
  readonly op?: string | null;
  readonly status?: number | null;
  /** The panel's `error.code`. */
  readonly upstreamCode?: number | null;
  /** The panel's `error.msg`, or a failed task's message (scrubbed). */
  readonly upstreamMessage?: string | null;
  /** The task concerned (task errors). */
  readonly taskId?: number | null;
  readonly taskName?: string | null;
  readonly cause?: unknown;
}

export class VmmanagerError extends Error {
  readonly code: VmmanagerErrorCode;
  /** Repeating the same call later may succeed. */
  readonly retryable: boolean;
  /** The panel may have acted: look (e.g. findHostsByName) before repeating a POST/DELETE. */
  readonly ambiguous: boolean;
  readonly op: string | null;
  readonly status: number | null;
  readonly upstreamCode: number | null;
  readonly upstreamMessage: string | null;
  readonly taskId: number | null;
  readonly taskName: string | null;

  constructor(code: VmmanagerErrorCode, message: string, details: VmmanagerErrorDetails) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'VmmanagerError';
    this.code = code;
    this.retryable = details.retryable;
    this.ambiguous = details.ambiguous;
    this.op = details.op ?? null;
    this.status = details.status ?? null;
    this.upstreamCode = details.upstreamCode ?? null;
    this.upstreamMessage = details.upstreamMessage ?? null;
    this.taskId = details.taskId ?? null;
    this.taskName = details.taskName ?? null;
  }
}

export interface VmmanagerClientOptions {
  /** e.g. https://vm.example.com, https://vm.example.com/api, http://127.0.0.1:P/api/vm/v3 */
  url: string;
  /** The administrator's e-mail (VMmanager logs in by e-mail). */
  email: string;
  password: string;
  /** Per request, default 30 000. */
  timeoutMs?: number;
  /** Default global fetch. */
  fetch?: typeof fetch;
  /** Default setTimeout-based. */
  sleep?: (ms: number) => Promise<void>;
  /** Between task polls, default 3000. */
  taskPollMs?: number;
  /** A task's wait is cut after ceil(taskTimeoutMs / taskPollMs) polls; default 15 min. */
  taskTimeoutMs?: number;
}

export interface VmCluster {
  id: number;
  name: string;
  /** kvm | lxd */
  virtualizationType: string | null;
}

export interface VmOsTemplate {
  id: number;
  name: string;
  group: string | null;
  state: string | null;
}

export interface VmPreset {
  id: number;
  name: string;
  cpu: number | null;
  ramMib: number | null;
  hddMib: number | null;
}

export interface VmAccount {
  id: number;
  email: string;
  roles: string[];
  state: string | null;
}

export interface VmHost {
  id: number;
  name: string;
  /** creating | active | stopped | … as the panel says. */
  state: string;
  /** From the list's `ip4[].ip` (the single-object read has no IPs). */
  ipv4: string[];
  ipv6: string[];
  clusterId: number | null;
  accountId: number | null;
  osId: number | null;
  /** The OS template's name as the list shows it (`os_name`). */
  osName: string | null;
  cpu: number | null;
  ramMib: number | null;
  /** The main disk (growDisk takes its id). */
  diskId: number | null;
  diskMib: number | null;
}

export interface VmTask {
  /** What mutating calls return as `task` and waitTask takes. */
  consulId: number;
  name: string;
  /** running | complete | fail … as the panel says. */
  status: string;
}

export interface CreateHostInput {
  name: string;
  clusterId: number;
  osId: number;
  /** The root password (never logged, scrubbed from errors). */
  password: string;
  cpu: number;
  ramMib: number;
  hddMib: number;
  ipv4Number: number;
  accountId: number;
  /** A preset; the explicit resources are sent too and win (as BILLmanager does). */
  presetId?: number;
}

export interface VmmanagerClient {
  /** Logs in and lists clusters: the module's "check connection". */
  checkConnection(): Promise<{ clusters: VmCluster[] }>;
  listClusters(): Promise<VmCluster[]>;
  /** The OS templates whose `clusters[]` name this cluster. */
  listOsTemplates(clusterId: number): Promise<VmOsTemplate[]>;
  listPresets(): Promise<VmPreset[]>;
  /** The account with this e-mail, or null. */
  findAccount(email: string): Promise<VmAccount | null>;
  /** A new account of role `@user`. */
  createAccount(input: { email: string; password: string }): Promise<{ id: number }>;
  /**
   * `POST /vm/v3/host`; does not wait: store hostId, then waitTask(taskId, 'host_create').
   * On an ambiguous error the host may exist: findHostsByName(name) before creating again.
   */
  createHost(input: CreateHostInput): Promise<{ hostId: number; taskId: number }>;
  /**
   * Polls the task until `complete` (resolves) or `fail` (vmmanager_task_failed), at most
   * ceil(taskTimeoutMs / taskPollMs) times (vmmanager_task_timeout). Without a name the task is
   * matched by consul id alone. Retryable errors of a poll (503, timeout) count as a poll.
   */
  waitTask(taskId: number, name?: string): Promise<void>;
  /** Read through the list (`where=(id EQ 'N')`) so IPs are included; vmmanager_not_found if none. */
  getHost(hostId: number): Promise<VmHost>;
  findHostsByName(name: string): Promise<VmHost[]>;
  /** Stop and wait `host_stop`. */
  stopHost(hostId: number): Promise<void>;
  /** Start and wait `host_start`. */
  startHost(hostId: number): Promise<void>;
  /** Delete and wait `host_delete`; a host already gone (404) resolves too. */
  deleteHost(hostId: number): Promise<void>;
  /** `POST /host/{id}/resource` and wait `host_change_params`. */
  changeResources(hostId: number, resources: { cpu: number; ramMib: number }): Promise<void>;
  /** `POST /disk/{id} {size_mib}` and wait `disk_resize` (grow only: the panel refuses smaller). */
  growDisk(diskId: number, mib: number): Promise<void>;
  /** `POST /host/{id}/ip {ipv4_number: n}` (a delta, n > 0) and wait `ip_change`. */
  addIpv4(hostId: number, n: number): Promise<void>;
  /** `POST /host/{id}/reinstall {os, password}` and wait `host_reinstall`. */
  reinstall(hostId: number, input: { osId: number; password: string }): Promise<void>;
  /**
   * `POST /host/{id}/reinstall` without waiting: store the task, then waitTask(taskId,
   * 'host_reinstall'). On an ambiguous error the reinstall may have started: look at
   * hostTasks(hostId, 'host_reinstall') before starting another.
   */
  startReinstall(hostId: number, input: { osId: number; password: string }): Promise<{ taskId: number }>;
  /** The host's tasks of this name (`where` on `host` and `name`), oldest first. */
  hostTasks(hostId: number, name: string): Promise<VmTask[]>;
  /** `POST /host/{id}/password`; waits for the task when the panel returns one. */
  setPassword(hostId: number, password: string): Promise<void>;
}

// ----------------------------------------------------------------------------------------- helpers

const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** The panel forgets a token after an idle hour by default; one idle this long is not reused. */
const SESSION_REUSE_MS = 50 * 60_000;

/** Panel refusals that mean "no free IPv4" / "no node can take it" (the texts are not documented). */
const NO_FREE_IP =
  /\bip(v4)?\b.*\b(no|not enough|free|available|exhausted|run out)\b|\b(no|not enough) (free )?ip/i;
const NO_FREE_NODE =
  /\b(no|not enough)\b.*\b(node|server|resources?)\b|\b(node|server)\b.*\b(not found|unavailable|suitable)\b/i;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An id as the panel writes it (number or digit string) → number, else null. */
function idOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return null;
}
const numOf = (v: unknown): number | null =>
  typeof v === 'number' && Number.isFinite(v)
    ? v
    : typeof v === 'string' && /^\d+$/.test(v)
      ? Number(v)
      : null;
const strOf = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const nestedId = (v: unknown): number | null => (isObject(v) ? idOf(v.id) : idOf(v));

/** An id the caller hands us goes into a path: a non-negative safe integer. */
function idParam(id: number): string {
  if (!Number.isSafeInteger(id) || id < 0) throw new RangeError(`Not a VMmanager id: ${String(id)}`);
  return String(id);
}

/** A value in a `where`: quoted; a quote or control character cannot be written safely. */
function whereValue(v: string | number): string {
  const s = String(v);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/['\\\u0000-\u001f]/.test(s)) throw new RangeError(`Cannot filter on ${JSON.stringify(s)}`);
  return `'${s}'`;
}

/** `((a EQ 'x') AND (b EQ 'y'))`, or `(a EQ 'x')` for one condition. */
export function whereEq(conditions: [string, string | number][]): string {
  const parts = conditions.map(([field, v]) => `(${field} EQ ${whereValue(v)})`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`;
}

/** Spaces as `+`, and `(`, `)`, `'` left as they are (as ISPsystem's own module sends them). */
const encodeQueryValue = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');

function hostOf(row: Json): VmHost {
  const id = idOf(row.id);
  if (id === null) throw new TypeError('a host without an id');
  const ips = (list: unknown) =>
    Array.isArray(list)
      ? list
          .map((x) => (isObject(x) ? (strOf(x.ip) ?? strOf(x.ip_addr)) : strOf(x)))
          .filter((x): x is string => x !== null && x !== '')
      : [];
  const disk = isObject(row.disk) ? row.disk : null;
  return {
    id,
    name: strOf(row.name) ?? '',
    state: strOf(row.state) ?? '',
    ipv4: ips(row.ip4),
    ipv6: ips(row.ip6),
    clusterId: nestedId(row.cluster),
    accountId: nestedId(row.account),
    osId: nestedId(row.os),
    osName: strOf(row.os_name),
    cpu: numOf(row.cpu_number),
    ramMib: numOf(row.ram_mib),
    diskId: disk ? idOf(disk.id) : null,
    diskMib: disk ? numOf(disk.disk_mib) : null,
  };
}

// ----------------------------------------------------------------------------------------- client

export function createClient(opts: VmmanagerClientOptions): VmmanagerClient {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const sleep = opts.sleep ?? defaultSleep;
  const taskPollMs = opts.taskPollMs ?? 3000;
  const taskTimeoutMs = opts.taskTimeoutMs ?? 15 * 60_000;
  const taskPolls = Math.max(1, Math.ceil(taskTimeoutMs / Math.max(1, taskPollMs)));
  const { email, password } = opts;

  let endpoint: URL;
  try {
    endpoint = new URL(opts.url);
  } catch {
    endpoint = new URL('invalid:');
  }
  if (!/^https?:$/.test(endpoint.protocol) || endpoint.username !== '' || endpoint.password !== '') {
    throw new VmmanagerError(
      'vmmanager_invalid_answer',
      'The VMmanager URL must be http(s)://host[/api], without credentials in it.',
      { retryable: false, ambiguous: false },
    );
  }
  const prefix = endpoint.pathname.replace(/\/+$/, '').replace(/\/(vm\/v3|auth\/v4)$/, '');
  const base = `${endpoint.origin}${prefix}`;
  const host = endpoint.host;

  /** Every form of a secret that could come back in panel text, longest first. */
  const formsOf = (secret: string) =>
    [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)].filter((s) => s.length >= 3);
  /**
   * Passwords this client sent lately (accounts', root passwords): a task's message read by a
   * later waitTask may echo one, so they are scrubbed from every error, not only their call's.
   */
  const sent: string[] = [];
  const remember = (secrets: string[]) => {
    for (const secret of secrets) {
      if (sent.includes(secret)) continue;
      sent.push(secret);
      if (sent.length > 256) sent.shift();
    }
  };
  const scrub = (text: string | null): string | null => {
    if (text === null) return null;
    const forms = [...new Set([password, ...sent].flatMap(formsOf))].sort((a, b) => b.length - a.length);
    let s = text;
    for (const form of forms) s = s.split(form).join('***');
    return s;
  };

  interface Req {
    method: 'GET' | 'POST' | 'DELETE';
    /** Under base, e.g. `/vm/v3/host`. */
    path: string;
    query?: Record<string, string>;
    body?: Json;
    /** Passwords in this request's body besides the admin's (remembered for scrubbing). */
    secrets?: string[];
  }

  const opOf = (req: Req) => `${req.method} ${req.path}`;

  function fail(
    req: Req | null,
    code: VmmanagerErrorCode,
    message: string,
    details: VmmanagerErrorDetails,
  ): VmmanagerError {
    return new VmmanagerError(code, scrub(message)!, {
      ...details,
      op: details.op ?? (req ? opOf(req) : null),
      upstreamMessage: scrub(details.upstreamMessage ?? null),
    });
  }

  async function readBody(res: Response): Promise<string> {
    if (!res.body) return '';
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > MAX_ANSWER_BYTES) {
        await reader.cancel().catch(() => {});
        throw new SyntaxError(`an answer over ${MAX_ANSWER_BYTES} bytes`);
      }
      chunks.push(value);
    }
    return new TextDecoder('utf-8').decode(Buffer.concat(chunks));
  }

  function transportError(req: Req, err: unknown): VmmanagerError {
    const acts = req.method !== 'GET';
    if (isTimeout(err))
      return fail(req, 'vmmanager_timeout', `VMmanager ${opOf(req)}: no answer within ${timeoutMs} ms`, {
        retryable: true,
        ambiguous: acts,
      });
    const codes = causeCodes(err);
    const notSent = neverSent(err);
    return fail(
      req,
      'vmmanager_unreachable',
      notSent
        ? `VMmanager ${opOf(req)}: cannot connect to ${host} (${codes[0]})`
        : `VMmanager ${opOf(req)}: the connection to ${host} failed before an answer${codes[0] ? ` (${codes[0]})` : ''}`,
      { retryable: true, ambiguous: acts && !notSent, cause: err },
    );
  }

  /** One request with this token (or none): the parsed JSON object, or a VmmanagerError. */
  async function send(req: Req, token: string | null): Promise<{ status: number; json: Json }> {
    if (req.secrets) remember(req.secrets);
    const qs = Object.entries(req.query ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeQueryValue(v)}`)
      .join('&');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== null) {
      headers['x-xsrf-token'] = token;
      headers.cookie = `ses6=${token}`;
    }
    if (req.method === 'POST') headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetchFn(`${base}${req.path}${qs ? `?${qs}` : ''}`, {
        method: req.method,
        headers,
        ...(req.method === 'POST' ? { body: JSON.stringify(req.body ?? {}) } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await readBody(res);
    } catch (err) {
      throw transportError(req, err);
    }
    const status = res.status;
    let json: Json | null = null;
    try {
      const parsed: unknown = text.trim() === '' ? null : JSON.parse(text);
      json = isObject(parsed) ? parsed : null;
    } catch {}
    const error = json && isObject(json.error) ? json.error : null;
    const upstreamCode = error ? numOf(error.code) : null;
    const upstreamMessage = error ? strOf(error.msg) : null;
    const says = upstreamMessage ? `: ${upstreamMessage}` : '';
    const op = opOf(req);
    const acts = req.method !== 'GET';
    const details = { status, upstreamCode, upstreamMessage };
    if (status === 503)
      throw fail(
        req,
        'vmmanager_unavailable',
        `VMmanager ${op}: HTTP 503, the platform is waking up${says}`,
        {
          ...details,
          retryable: true,
          ambiguous: false,
        },
      );
    if (status >= 500)
      throw fail(req, 'vmmanager_http_5xx', `VMmanager ${op}: HTTP ${status}${says}`, {
        ...details,
        retryable: true,
        ambiguous: acts,
      });
    if (status >= 300 && status < 400)
      throw fail(
        req,
        'vmmanager_invalid_answer',
        `VMmanager ${op}: HTTP ${status} redirect; set the panel's URL`,
        {
          ...details,
          retryable: false,
          ambiguous: false,
        },
      );
    if (status === 401)
      throw fail(req, 'vmmanager_auth', `VMmanager ${op}: HTTP 401${says}`, {
        ...details,
        retryable: false,
        ambiguous: false,
      });
    if (status === 403 || upstreamCode === 3001)
      throw fail(req, 'vmmanager_auth', `VMmanager ${op}: HTTP ${status}, not allowed${says}`, {
        ...details,
        retryable: false,
        ambiguous: false,
      });
    if (status === 404)
      throw fail(req, 'vmmanager_not_found', `VMmanager ${op}: HTTP 404, not found${says}`, {
        ...details,
        retryable: false,
        ambiguous: false,
      });
    if (status >= 400 || error) {
      const m = upstreamMessage ?? '';
      const code: VmmanagerErrorCode = NO_FREE_IP.test(m)
        ? 'vmmanager_no_free_ip'
        : NO_FREE_NODE.test(m)
          ? 'vmmanager_no_free_server'
          : 'vmmanager_refused';
      throw fail(req, code, `VMmanager ${op}: HTTP ${status}, refused${says}`, {
        ...details,
        retryable: status === 429,
        ambiguous: false,
      });
    }
    if (!json)
      throw fail(
        req,
        'vmmanager_invalid_answer',
        `VMmanager ${op}: HTTP ${status}, the answer is not a JSON object`,
        {
          status,
          retryable: false,
          ambiguous: acts,
        },
      );
    return { status, json };
  }

  // -------------------------------------------------------------------------------------- session

  let token: string | null = null;
  let lastUsed = 0;
  let loginInFlight: Promise<string> | null = null;

  const LOGIN: Req = { method: 'POST', path: '/auth/v4/public/token' };

  /** Logs in, or joins the login in flight. `stale` is the token just refused, if any. */
  function login(stale: string | null): Promise<string> {
    if (loginInFlight) return loginInFlight;
    if (stale !== null && token !== null && token !== stale) return Promise.resolve(token);
    const attempt = (async () => {
      let json: Json;
      try {
        ({ json } = await send({ ...LOGIN, body: { email, password } }, null));
      } catch (err) {
        // Wrong e-mail or password: whatever 4xx the panel chooses for it.
        if (
          err instanceof VmmanagerError &&
          [
            'vmmanager_refused',
            'vmmanager_not_found',
            'vmmanager_no_free_ip',
            'vmmanager_no_free_server',
          ].includes(err.code)
        )
          throw fail(
            LOGIN,
            'vmmanager_auth',
            `VMmanager login refused for ${email}${err.upstreamMessage ? `: ${err.upstreamMessage}` : ''}`,
            {
              status: err.status,
              upstreamCode: err.upstreamCode,
              upstreamMessage: err.upstreamMessage,
              retryable: false,
              ambiguous: false,
            },
          );
        if (err instanceof VmmanagerError && err.ambiguous)
          // Logging in changes nothing worth reconciling.
          throw new VmmanagerError(err.code, err.message, { ...err, ambiguous: false });
        throw err;
      }
      const t = strOf(json.token);
      if (t === null || t === '')
        throw fail(LOGIN, 'vmmanager_invalid_answer', 'VMmanager login: the answer has no token', {
          retryable: false,
          ambiguous: false,
        });
      token = t;
      lastUsed = Date.now();
      return t;
    })();
    loginInFlight = attempt;
    const clear = () => {
      if (loginInFlight === attempt) loginInFlight = null;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  async function current(): Promise<string> {
    if (token !== null && Date.now() - lastUsed < SESSION_REUSE_MS) return token;
    token = null;
    return login(null);
  }

  /** An authenticated request; a 401 logs in again once and repeats it. */
  async function call(req: Req): Promise<Json> {
    let used = await current();
    try {
      const { json } = await send(req, used);
      lastUsed = Date.now();
      return json;
    } catch (err) {
      if (!(err instanceof VmmanagerError) || err.status !== 401) {
        if (err instanceof VmmanagerError && err.status !== null) lastUsed = Date.now();
        throw err;
      }
      if (token === used) token = null;
      used = await login(used);
      const { json } = await send(req, used);
      lastUsed = Date.now();
      return json;
    }
  }

  /** A list answer's rows. */
  async function list(path: string, query: Record<string, string> = {}): Promise<Json[]> {
    const req: Req = { method: 'GET', path, query };
    const json = await call(req);
    if (!Array.isArray(json.list))
      throw fail(req, 'vmmanager_invalid_answer', `VMmanager GET ${path}: the answer has no list`, {
        retryable: false,
        ambiguous: false,
      });
    return json.list.filter(isObject);
  }

  function invalid(req: Req, what: string): VmmanagerError {
    return fail(req, 'vmmanager_invalid_answer', `VMmanager ${opOf(req)}: ${what}`, {
      retryable: false,
      ambiguous: req.method !== 'GET',
    });
  }

  /** A POST/DELETE that starts a task: its consul id (`task`), or null when the answer has none. */
  async function startTask(req: Req): Promise<number | null> {
    const json = await call(req);
    return idOf(json.task);
  }

  async function waitTask(taskId: number, name?: string): Promise<void> {
    const conditions: [string, string | number][] = [['consul_id', idParam(taskId)]];
    if (name !== undefined) conditions.push(['name', name]);
    const where = whereEq(conditions);
    const req: Req = { method: 'GET', path: '/vm/v3/task' };
    let last: VmmanagerError | null = null;
    for (let poll = 1; ; poll++) {
      let rows: Json[] | null = null;
      try {
        rows = await list('/vm/v3/task', { where });
      } catch (err) {
        if (!(err instanceof VmmanagerError) || !err.retryable) throw err;
        last = err;
      }
      const row = rows?.find((r) => idOf(r.consul_id) === taskId && (name === undefined || r.name === name));
      const status = row ? strOf(row.status) : null;
      if (status === 'complete') return;
      if (status === 'fail') {
        const message =
          strOf(row!.output) ?? strOf(row!.error) ?? strOf(row!.msg) ?? strOf(row!.defer_reason) ?? null;
        throw fail(
          req,
          'vmmanager_task_failed',
          `VMmanager task ${name ?? ''}${name ? ' ' : ''}#${taskId} failed${message ? `: ${message}` : ''}`,
          { upstreamMessage: message, taskId, taskName: name ?? null, retryable: false, ambiguous: false },
        );
      }
      if (poll >= taskPolls)
        throw fail(
          req,
          'vmmanager_task_timeout',
          `VMmanager task ${name ?? ''}${name ? ' ' : ''}#${taskId} not finished after ${taskPolls} polls (${status ?? last?.code ?? 'not listed'})`,
          { taskId, taskName: name ?? null, retryable: true, ambiguous: true },
        );
      await sleep(taskPollMs);
    }
  }

  /** A POST/DELETE whose task is waited for by name. */
  async function act(req: Req, taskName: string): Promise<void> {
    const task = await startTask(req);
    if (task === null) throw invalid(req, 'the answer names no task');
    await waitTask(task, taskName);
  }

  async function listClusters(): Promise<VmCluster[]> {
    return (await list('/vm/v3/cluster')).flatMap((r) => {
      const id = idOf(r.id);
      return id === null
        ? []
        : [{ id, name: strOf(r.name) ?? '', virtualizationType: strOf(r.virtualization_type) }];
    });
  }

  const hostPath = (hostId: number, tail = '') => `/vm/v3/host/${idParam(hostId)}${tail}`;

  async function startReinstall(hostId: number, input: { osId: number; password: string }) {
    const req: Req = {
      method: 'POST',
      path: hostPath(hostId, '/reinstall'),
      body: { os: input.osId, password: input.password },
      secrets: [input.password],
    };
    const taskId = await startTask(req);
    if (taskId === null) throw invalid(req, 'the answer names no task');
    return { taskId };
  }

  return {
    async checkConnection() {
      return { clusters: await listClusters() };
    },

    listClusters,

    async listOsTemplates(clusterId) {
      return (await list('/vm/v3/os')).flatMap((r) => {
        const id = idOf(r.id);
        const clusters = Array.isArray(r.clusters) ? r.clusters.map(nestedId) : [];
        if (id === null || !clusters.includes(clusterId)) return [];
        return [{ id, name: strOf(r.name) ?? '', group: strOf(r.os_group), state: strOf(r.state) }];
      });
    },

    async listPresets() {
      return (await list('/vm/v3/preset')).flatMap((r) => {
        const id = idOf(r.id);
        return id === null
          ? []
          : [
              {
                id,
                name: strOf(r.name) ?? '',
                cpu: numOf(r.cpu_number),
                ramMib: numOf(r.ram_mib),
                hddMib: numOf(r.hdd_mib),
              },
            ];
      });
    },

    async findAccount(accountEmail) {
      const rows = await list('/vm/v3/account', { where: whereEq([['email', accountEmail]]) });
      const row = rows.find((r) => strOf(r.email)?.toLowerCase() === accountEmail.toLowerCase());
      if (!row) return null;
      const id = idOf(row.id);
      if (id === null) throw invalid({ method: 'GET', path: '/vm/v3/account' }, 'an account without an id');
      return {
        id,
        email: strOf(row.email) ?? accountEmail,
        roles: Array.isArray(row.roles) ? row.roles.filter((x): x is string => typeof x === 'string') : [],
        state: strOf(row.state),
      };
    },

    async createAccount(input) {
      const req: Req = {
        method: 'POST',
        path: '/vm/v3/account',
        body: { email: input.email, password: input.password, role: '@user' },
        secrets: [input.password],
      };
      const id = idOf((await call(req)).id);
      if (id === null) throw invalid(req, 'the answer names no account id');
      return { id };
    },

    async createHost(input) {
      const body: Json = {
        name: input.name,
        cluster: input.clusterId,
        os: input.osId,
        password: input.password,
        cpu_number: input.cpu,
        ram_mib: input.ramMib,
        hdd_mib: input.hddMib,
        ipv4_number: input.ipv4Number,
        account: input.accountId,
      };
      if (input.presetId !== undefined) body.preset = input.presetId;
      const req: Req = { method: 'POST', path: '/vm/v3/host', body, secrets: [input.password] };
      const json = await call(req);
      const hostId = idOf(json.id);
      const taskId = idOf(json.task);
      if (hostId === null || taskId === null) throw invalid(req, 'the answer names no host id or task');
      return { hostId, taskId };
    },

    waitTask,

    async getHost(hostId) {
      const req: Req = { method: 'GET', path: '/vm/v3/host' };
      const rows = await list('/vm/v3/host', { where: whereEq([['id', idParam(hostId)]]) });
      const row = rows.find((r) => idOf(r.id) === hostId);
      if (!row)
        throw fail(req, 'vmmanager_not_found', `VMmanager host ${hostId} not found`, {
          retryable: false,
          ambiguous: false,
        });
      return hostOf(row);
    },

    async findHostsByName(name) {
      const rows = await list('/vm/v3/host', { where: whereEq([['name', name]]) });
      return rows.filter((r) => r.name === name && idOf(r.id) !== null).map(hostOf);
    },

    stopHost: (hostId) => act({ method: 'POST', path: hostPath(hostId, '/stop'), body: {} }, 'host_stop'),
    startHost: (hostId) => act({ method: 'POST', path: hostPath(hostId, '/start'), body: {} }, 'host_start'),

    async deleteHost(hostId) {
      try {
        await act({ method: 'DELETE', path: hostPath(hostId) }, 'host_delete');
      } catch (err) {
        if (err instanceof VmmanagerError && err.code === 'vmmanager_not_found' && err.taskId === null)
          return;
        throw err;
      }
    },

    changeResources: (hostId, r) =>
      act(
        {
          method: 'POST',
          path: hostPath(hostId, '/resource'),
          body: { cpu_number: r.cpu, ram_mib: r.ramMib },
        },
        'host_change_params',
      ),

    growDisk: (diskId, mib) =>
      act({ method: 'POST', path: `/vm/v3/disk/${idParam(diskId)}`, body: { size_mib: mib } }, 'disk_resize'),

    async addIpv4(hostId, n) {
      if (!Number.isSafeInteger(n) || n <= 0)
        throw new RangeError(`addIpv4 takes a positive count, not ${n}`);
      await act({ method: 'POST', path: hostPath(hostId, '/ip'), body: { ipv4_number: n } }, 'ip_change');
    },

    startReinstall,

    async reinstall(hostId, input) {
      const { taskId } = await startReinstall(hostId, input);
      await waitTask(taskId, 'host_reinstall');
    },

    async hostTasks(hostId, name) {
      const rows = await list('/vm/v3/task', {
        where: whereEq([
          ['host', idParam(hostId)],
          ['name', name],
        ]),
      });
      return rows
        .flatMap((r) => {
          const consulId = idOf(r.consul_id);
          return consulId === null || r.name !== name || nestedId(r.host) !== hostId
            ? []
            : [{ consulId, name, status: strOf(r.status) ?? '' }];
        })
        .sort((a, b) => a.consulId - b.consulId);
    },

    async setPassword(hostId, rootPassword) {
      const req: Req = {
        method: 'POST',
        path: hostPath(hostId, '/password'),
        body: { password: rootPassword },
        secrets: [rootPassword],
      };
      const task = await startTask(req);
      // The task's name is not documented: wait on its consul id alone.
      if (task !== null) await waitTask(task);
    },
  };
}
