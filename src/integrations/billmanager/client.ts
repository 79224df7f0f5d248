/**
 * The client side of the BILLmanager license API (PROTOCOL.md §1–6): Billfold ordering and
 * managing ISPsystem licenses on a selling BILLmanager (ISPsystem's own, or another Billfold's
 * `/billmgr`) with the provider's reseller account.
 *
 * - Transport: POST `application/x-www-form-urlencoded`, `out=xml` (or json: the same tree,
 *   see xml.ts), `lang`, one AbortSignal timeout per request covering the answer's body too.
 *   Redirects are not followed: the password travels in the body and must not be re-sent to
 *   wherever a Location points.
 * - Session: `func=auth` once, then `auth=<sid>`; concurrent calls share one login in flight;
 *   an `auth` error on a session logs in again once and repeats the call (the upstream refused
 *   it before acting). A session idle for most of the upstream's hour is not reused.
 * - Errors: every failure is a BillmgrError with a stable code and two flags, `retryable`
 *   and `ambiguous` (the upstream may have acted: a timeout, a reset connection or a 5xx after
 *   the request went out — the caller must look before repeating an order or a renewal).
 *   The password never appears in a message: upstream text is scrubbed of it.
 */

import { causeCodes, sleep as defaultSleep, isTimeout, neverSent } from '../net.js';
import {
  attrOf,
  childOf,
  childrenOf,
  type MgrDoc,
  type MgrElement,
  MgrParseError,
  parseMgrJson,
  parseMgrXml,
  textOf,
} from './xml.js';

export { childOf, childrenOf, type MgrDoc, type MgrElement, textOf } from './xml.js';

export type Family = 'soft' | 'softexternal' | 'platform';
export const FAMILIES: readonly Family[] = Object.freeze(['soft', 'softexternal', 'platform']);

export interface BillmgrClientOptions {
  /** e.g. https://api.ispsystem.com/manager/billmgr or http://127.0.0.1:P/billmgr */
  url: string;
  username: string;
  password: string;
  /** Per request, default 30 000. */
  timeoutMs?: number;
  /** Default 'xml'; both yield the same parsed shape. */
  out?: 'xml' | 'json';
  /** Default 'en'. */
  lang?: string;
  /** Default global fetch. */
  fetch?: typeof fetch;
  /** lickey polling interval, default 2000. */
  pollIntervalMs?: number;
  /** lickey polls, default 15. */
  pollAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Stable codes of BillmgrError. */
export type BillmgrErrorCode =
  | 'upstream_auth'
  | 'upstream_access'
  | 'upstream_value'
  | 'upstream_missed'
  | 'upstream_exists'
  | 'upstream_not_enough_money'
  | 'upstream_unknown_func'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'upstream_unreachable'
  | 'upstream_http_5xx'
  | 'upstream_http_4xx'
  | 'upstream_not_billmanager'
  | 'upstream_key_timeout';

export interface BillmgrErrorDetails {
  readonly type?: string | null;
  readonly object?: string | null;
  readonly value?: string | null;
  readonly upstreamMessage?: string | null;
  readonly retryable: boolean;
  readonly ambiguous: boolean;
  /** The function called (never its parameters). */
  readonly func?: string | null;
  /** The HTTP status when the upstream answered with one other than 2xx. */
  readonly status?: number | null;
  readonly cause?: unknown;
}

export class BillmgrError extends Error {
  /** upstream_auth, upstream_value … upstream_key_timeout (BillmgrErrorCode). */
  readonly code: string;
  /** The upstream error's `type` attribute. */
  readonly type: string | null;
  readonly object: string | null;
  readonly value: string | null;
  /** The upstream's `<msg>` text. */
  readonly upstreamMessage: string | null;
  /** timeout, unreachable, 5xx, 429, upstream `error` → true; the refusals → false. */
  readonly retryable: boolean;
  /** The upstream may have acted (timeout after send, reset, 5xx): reconcile before repeating. */
  readonly ambiguous: boolean;
  readonly func: string | null;
  readonly status: number | null;

  constructor(code: BillmgrErrorCode, message: string, details: BillmgrErrorDetails) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = 'BillmgrError';
    this.code = code;
    this.type = details.type ?? null;
    this.object = details.object ?? null;
    this.value = details.value ?? null;
    this.upstreamMessage = details.upstreamMessage ?? null;
    this.retryable = details.retryable;
    this.ambiguous = details.ambiguous;
    this.func = details.func ?? null;
    this.status = details.status ?? null;
  }
}

export interface UpstreamLicense {
  id: string;
  family: Family;
  /** licname, or comment for platform licenses. */
  name: string;
  ip: string | null;
  /** 1 ordered, 2 active, 3 suspended, 4 deleted, 5 processing. */
  status: number | null;
  /** YYYY-MM-DD */
  expiresOn: string | null;
  createdOn: string | null;
  pricelist: string | null;
  period: number | null;
  autoprolong: string | null;
  remoteId: string | null;
  key: string | null;
  ipChangedOn: string | null;
  keyChangedOn: string | null;
  cost: string | null;
}

export interface UpstreamTariff {
  id: string;
  name: string;
  itemType: string;
  currency: string;
  /** period in months (1, 12, …), -100 trial if offered. */
  prices: { period: number; cost: string }[];
  /** The trial's length in days (its period is -100), when one is offered. */
  trialDays: number | null;
  addons: { id: string; name: string }[];
}

export interface OrderInput {
  pricelist: string;
  period: number;
  remoteId: string;
  ip?: string;
  /** licname */
  name?: string;
  /** platform licenses */
  comment?: string;
  /** sent as addon_<id> */
  addons?: Record<string, string | number>;
}

export interface BillmgrClient {
  /** Any function, authenticated (session). */
  call(func: string, params?: Record<string, string>): Promise<MgrDoc>;
  /** Authenticates (func=auth); throws BillmgrError. */
  checkConnection(): Promise<{ user: string }>;
  /** null when the upstream does not tell. */
  balance(): Promise<{ amount: string; currency: string } | null>;
  exportPricelist(opts?: { itemType?: string; pricelist?: string }): Promise<UpstreamTariff[]>;
  listLicenses(family: Family): Promise<UpstreamLicense[]>;
  /**
   * The licenses whose remoteid is `remoteId` (asks the list filtered by remoteid and keeps
   * the rows that say so). Empty when the upstream's list does not show remoteid: the caller
   * then matches by name and IP.
   */
  findByRemoteId(family: Family, remoteId: string): Promise<UpstreamLicense[]>;
  getLicense(family: Family, id: string): Promise<UpstreamLicense>;
  /** `<family>.order.param` … skipbasket=on sok=ok clicked_button=finish autoprolong=null */
  orderLicense(family: Family, input: OrderInput): Promise<{ id: string }>;
  /** Polls `<family>.edit` until lickey is set (bounded: upstream_key_timeout). */
  waitForKey(family: Family, id: string): Promise<UpstreamLicense>;
  editLicense(
    family: Family,
    id: string,
    change: { ip?: string; name?: string; comment?: string; remoteId?: string },
  ): Promise<void>;
  newKey(family: Family, id: string): Promise<UpstreamLicense>;
  suspend(family: Family, id: string): Promise<void>;
  resume(family: Family, id: string): Promise<void>;
  remove(family: Family, id: string): Promise<void>;
  prolongQuote(
    id: string,
  ): Promise<{ expiresOn: string | null; newExpiresOn: string | null; periods: number[] }>;
  prolong(id: string, period: number): Promise<{ newExpiresOn: string | null }>;
  checkIp(family: Family, pricelist: string, period: number, ip: string): Promise<void>;
}

// ----------------------------------------------------------------------------------------- errors

/** Upstream error types with a code of their own; any other type is `upstream_error`. */
const TYPE_CODES: Readonly<Record<string, BillmgrErrorCode>> = {
  auth: 'upstream_auth',
  access: 'upstream_access',
  value: 'upstream_value',
  missed: 'upstream_missed',
  exists: 'upstream_exists',
  not_enough_money: 'upstream_not_enough_money',
  unknown_func: 'upstream_unknown_func',
};

/** Answers larger than this are not license documents. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** The upstream forgets a session after an idle hour; one idle this long is not reused. */
const SESSION_REUSE_MS = 50 * 60_000;

const DATE = /^(\d{4}-\d{2}-\d{2})/;

/** Empty text is "not set". */
const orNull = (text: string | null | undefined): string | null =>
  text === null || text === undefined || text.trim() === '' ? null : text.trim();

const dateOf = (text: string | null): string | null => DATE.exec(text?.trim() ?? '')?.[1] ?? null;

/** A whole number at the start of the text (`12`, `12 months`), or null. */
function intOf(text: string | null): number | null {
  const m = /^\s*(-?\d+)/.exec(text ?? '');
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : null;
}

/** An id the caller hands us goes into `elid`: digits only (a comma would make it a group action). */
function idParam(id: string): string {
  if (!/^\d{1,19}$/.test(id)) throw new RangeError(`Not an upstream id: ${JSON.stringify(id)}`);
  return id;
}

export function licenseOf(family: Family, el: MgrElement): UpstreamLicense {
  const id = orNull(textOf(el, 'id') ?? textOf(el, 'elid'));
  if (id === null) throw new MgrParseError('a license without an id');
  const name =
    family === 'platform'
      ? (textOf(el, 'comment') ?? textOf(el, 'name') ?? '')
      : (textOf(el, 'licname') ?? textOf(el, 'name') ?? '');
  return {
    id,
    family,
    name: name.trim(),
    ip: orNull(textOf(el, 'ip')),
    status: intOf(textOf(el, 'status')),
    expiresOn: dateOf(textOf(el, 'expiredate')),
    createdOn: dateOf(textOf(el, 'createdate')),
    pricelist: orNull(textOf(el, 'pricelist')),
    period: intOf(textOf(el, 'period')),
    autoprolong: orNull(textOf(el, 'autoprolong')),
    remoteId: orNull(textOf(el, 'remoteid')),
    key: orNull(textOf(el, 'lickey')),
    ipChangedOn: dateOf(textOf(el, 'real_ipchange')),
    keyChangedOn: dateOf(textOf(el, 'real_keychange')),
    cost: orNull(textOf(el, 'cost')),
  };
}

/** `<period type="month" length="12" cost="75.0000"/>` → 12; a trial → -100; others are skipped. */
function periodMonths(el: MgrElement): number | null {
  const type = attrOf(el, 'type') ?? 'month';
  const length = intOf(attrOf(el, 'length'));
  if (attrOf(el, 'trial') === 'on') return -100;
  if (length === null) return null;
  if (type === 'month') return length;
  if (type === 'year') return length * 12;
  return null;
}

export function tariffOf(el: MgrElement): UpstreamTariff {
  const price = childOf(el, 'price');
  const prices: { period: number; cost: string }[] = [];
  let trialDays: number | null = null;
  for (const p of price ? childrenOf(price, 'period') : []) {
    const period = periodMonths(p);
    const cost = orNull(attrOf(p, 'cost'));
    if (period !== null && cost !== null) prices.push({ period, cost });
    if (period === -100 && (attrOf(p, 'type') ?? 'day') === 'day') trialDays = intOf(attrOf(p, 'length'));
  }
  return {
    id: orNull(textOf(el, 'id')) ?? '',
    name: (textOf(el, 'name') ?? '').trim(),
    itemType: (textOf(el, 'itemtype') ?? '').trim(),
    currency: (price && attrOf(price, 'currency')) ?? '',
    prices,
    trialDays,
    addons: childrenOf(el, 'addon').map((a) => ({
      id: orNull(textOf(a, 'id')) ?? '',
      name: (textOf(a, 'name') ?? '').trim(),
    })),
  };
}

/** An amount as the upstream writes it (`92.5`, `1 234,50`, `92.50 EUR`) → `{amount, currency?}`. */
function amountOf(text: string | null): { amount: string; currency: string | null } | null {
  if (text === null || text.length > 64) return null;
  const m = /^\s*(-?[\d\s\u00a0]*\d(?:[.,]\d+)?)\s*([A-Z]{3})?\s*$/.exec(text);
  if (!m) return null;
  return { amount: m[1]!.replace(/[\s\u00a0]/g, '').replace(',', '.'), currency: m[2] ?? null };
}

// ----------------------------------------------------------------------------------------- client

export function createBillmgrClient(opts: BillmgrClientOptions): BillmgrClient {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const out = opts.out ?? 'xml';
  const lang = opts.lang ?? 'en';
  const fetchFn = opts.fetch ?? globalThis.fetch;
  const pollIntervalMs = opts.pollIntervalMs ?? 2000;
  const pollAttempts = opts.pollAttempts ?? 15;
  const sleep = opts.sleep ?? defaultSleep;
  const { username, password } = opts;

  let endpoint: URL;
  try {
    endpoint = new URL(opts.url);
  } catch {
    endpoint = new URL('invalid:');
  }
  if (!/^https?:$/.test(endpoint.protocol) || endpoint.username !== '' || endpoint.password !== '') {
    throw new BillmgrError(
      'upstream_not_billmanager',
      'The BILLmanager URL must be http(s)://host/path, without credentials in it.',
      { retryable: false, ambiguous: false },
    );
  }
  const url = endpoint.toString();

  /** Every form of the password that could come back in upstream text, longest first. */
  const secrets = [
    ...new Set([
      password,
      encodeURIComponent(password),
      new URLSearchParams({ p: password }).toString().slice(2),
    ]),
  ]
    .filter((s) => s.length >= 3)
    .sort((a, b) => b.length - a.length);
  const scrub = (text: string | null): string | null => {
    if (text === null) return null;
    let s = text;
    for (const secret of secrets) s = s.split(secret).join('***');
    return s;
  };

  const fail = (code: BillmgrErrorCode, message: string, details: BillmgrErrorDetails): BillmgrError =>
    new BillmgrError(code, scrub(message)!, {
      ...details,
      object: scrub(details.object ?? null),
      value: scrub(details.value ?? null),
      upstreamMessage: scrub(details.upstreamMessage ?? null),
    });

  /** What an `<error>` element says. */
  function errorParts(error: MgrElement) {
    const type = attrOf(error, 'type') ?? 'error';
    const object = orNull(attrOf(error, 'object')) ?? orNull(attrOf(error, 'obj'));
    const value =
      childrenOf(error, 'param').find((p) => attrOf(p, 'name') === 'value')?.text ?? attrOf(error, 'val');
    const upstreamMessage =
      orNull(textOf(error, 'msg')) ?? orNull(textOf(error, 'detail')) ?? orNull(error.text);
    const what = object ? `${type} error on "${object}"` : `${type} error`;
    return {
      type,
      object,
      value,
      upstreamMessage,
      what: upstreamMessage ? `${what}: ${upstreamMessage}` : what,
    };
  }

  /** The BillmgrError an `<error>` answer (HTTP 2xx) stands for. */
  function upstreamError(func: string, error: MgrElement): BillmgrError {
    const { what, ...parts } = errorParts(error);
    const code = TYPE_CODES[parts.type] ?? 'upstream_error';
    return fail(code, `BILLmanager ${func}: ${what}`, {
      ...parts,
      func,
      retryable: code === 'upstream_error',
      ambiguous: false,
    });
  }

  /** An HTTP status other than 2xx, with what its body says when it is an mgr error document. */
  function httpError(
    code: BillmgrErrorCode,
    func: string,
    doc: MgrDoc | null,
    details: { status: number; retryable: boolean; ambiguous: boolean },
  ): BillmgrError {
    const error = doc?.error();
    const { what, ...parts } = error ? errorParts(error) : { what: '' };
    return fail(code, `BILLmanager ${func}: HTTP ${details.status}${what ? `, ${what}` : ''}`, {
      ...parts,
      ...details,
      func,
    });
  }

  /** By what the body is, not only by what was asked: an upstream that ignores `out` still reads. */
  function parse(body: string): MgrDoc {
    return /^[\s\uFEFF]*[{[]/.test(body) ? parseMgrJson(body) : parseMgrXml(body);
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
        throw new MgrParseError(`an answer over ${MAX_ANSWER_BYTES} bytes`);
      }
      chunks.push(value);
    }
    return new TextDecoder('utf-8').decode(Buffer.concat(chunks));
  }

  function transportError(func: string, err: unknown): BillmgrError {
    if (err instanceof BillmgrError) return err;
    if (err instanceof MgrParseError)
      return fail(
        'upstream_not_billmanager',
        `BILLmanager ${func}: the answer is not a BILLmanager document (${err.message})`,
        { func, retryable: false, ambiguous: false },
      );
    if (isTimeout(err))
      return fail('upstream_timeout', `BILLmanager ${func}: no answer within ${timeoutMs} ms`, {
        func,
        retryable: true,
        ambiguous: true,
      });
    const codes = causeCodes(err);
    const notSent = neverSent(err);
    return fail(
      'upstream_unreachable',
      notSent
        ? `BILLmanager ${func}: cannot connect to ${endpoint.host} (${codes[0]})`
        : `BILLmanager ${func}: the connection to ${endpoint.host} failed before an answer${codes[0] ? ` (${codes[0]})` : ''}`,
      { func, retryable: true, ambiguous: !notSent, cause: err },
    );
  }

  /** One request; the answer as a document, or a BillmgrError. */
  async function send(func: string, params: Record<string, string>): Promise<MgrDoc> {
    const form = new URLSearchParams({ func, out, lang });
    for (const [k, v] of Object.entries(params)) if (k !== 'func' && k !== 'out') form.set(k, v);
    let res: Response;
    let body: string;
    try {
      res = await fetchFn(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: out === 'json' ? 'application/json' : 'text/xml, application/xml',
        },
        body: form.toString(),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      body = await readBody(res);
    } catch (err) {
      throw transportError(func, err);
    }
    const status = res.status;
    let doc: MgrDoc | null = null;
    try {
      doc = parse(body);
    } catch (err) {
      if (!(err instanceof MgrParseError)) throw err;
    }
    if (status >= 500)
      throw httpError('upstream_http_5xx', func, doc, { status, retryable: true, ambiguous: true });
    if (status >= 300 && status < 400) {
      const location = res.headers.get('location');
      let where = '';
      try {
        if (location) {
          const to = new URL(location, url);
          where = ` to ${to.origin}${to.pathname}`;
        }
      } catch {}
      throw fail(
        'upstream_not_billmanager',
        `BILLmanager ${func}: HTTP ${status} redirect${where}; set the final URL of the API`,
        { func, status, retryable: false, ambiguous: false },
      );
    }
    if (status === 404 && !doc)
      throw fail('upstream_not_billmanager', `BILLmanager ${func}: HTTP 404, no BILLmanager API at ${url}`, {
        func,
        status,
        retryable: false,
        ambiguous: false,
      });
    if (status >= 400)
      throw httpError('upstream_http_4xx', func, doc, {
        status,
        retryable: status === 429,
        ambiguous: false,
      });
    if (!doc)
      throw fail(
        'upstream_not_billmanager',
        `BILLmanager ${func}: the answer from ${url} is not a BILLmanager document`,
        { func, status, retryable: false, ambiguous: false },
      );
    const error = doc.error();
    if (error) throw upstreamError(func, error);
    return doc;
  }

  // -------------------------------------------------------------------------------------- session

  let sid: string | null = null;
  let lastUsed = 0;
  let loginInFlight: Promise<string> | null = null;

  /** Logs in, or joins the login in flight. `stale` is the session just refused, if any. */
  function login(stale: string | null): Promise<string> {
    if (loginInFlight) return loginInFlight;
    if (stale !== null && sid !== null && sid !== stale) return Promise.resolve(sid);
    const attempt = (async () => {
      const doc = await send('auth', { username, password });
      const auth = doc.child('auth');
      const id = orNull(auth ? (attrOf(auth, 'id') ?? auth.text) : null);
      if (id === null)
        throw fail('upstream_not_billmanager', 'BILLmanager auth: the answer has no session id', {
          func: 'auth',
          retryable: false,
          ambiguous: false,
        });
      sid = id;
      lastUsed = Date.now();
      return id;
    })();
    loginInFlight = attempt;
    const clear = () => {
      if (loginInFlight === attempt) loginInFlight = null;
    };
    attempt.then(clear, clear);
    return attempt;
  }

  async function session(): Promise<string> {
    if (sid !== null && Date.now() - lastUsed < SESSION_REUSE_MS) return sid;
    if (sid !== null) sid = null;
    return login(null);
  }

  async function call(func: string, params: Record<string, string> = {}): Promise<MgrDoc> {
    let current = await session();
    try {
      const doc = await send(func, { ...params, auth: current });
      lastUsed = Date.now();
      return doc;
    } catch (err) {
      if (!(err instanceof BillmgrError) || err.code !== 'upstream_auth') {
        // An answer, even a refusal, kept the session alive.
        if (err instanceof BillmgrError && err.type !== null) lastUsed = Date.now();
        throw err;
      }
      // The session died (expired, or the upstream restarted): the call was refused, not done.
      if (sid === current) sid = null;
      current = await login(current);
      const doc = await send(func, { ...params, auth: current });
      lastUsed = Date.now();
      return doc;
    }
  }

  // -------------------------------------------------------------------------------------- functions

  async function getLicense(family: Family, id: string): Promise<UpstreamLicense> {
    const doc = await call(`${family}.edit`, { elid: idParam(id) });
    try {
      return licenseOf(family, doc.root);
    } catch (err) {
      throw transportError(`${family}.edit`, err);
    }
  }

  async function listLicenses(family: Family, filter: Record<string, string> = {}) {
    const doc = await call(family, filter);
    const rows: UpstreamLicense[] = [];
    for (const elem of doc.elems())
      if (orNull(textOf(elem, 'id')) !== null) rows.push(licenseOf(family, elem));
    return rows;
  }

  /** `expiredate`/`newexpiredate` of a prolong answer, at /doc/x or /doc/doc/x (PROTOCOL.md §4). */
  function prolongDate(doc: MgrDoc, name: string): string | null {
    const inner = doc.child('doc');
    return dateOf(doc.field(name)) ?? (inner ? dateOf(textOf(inner, name)) : null);
  }

  const ok = async (func: string, params: Record<string, string>) => {
    await call(func, params);
  };

  return {
    call,

    async checkConnection() {
      await login(null);
      return { user: username };
    },

    async balance() {
      // whoami: the signed-in user, with `balance` (and `currency`) attributes on BILLmanagers
      // that show it; subaccount: the client's personal accounts with balance and currency.
      const refused = (err: unknown) =>
        err instanceof BillmgrError &&
        ['upstream_unknown_func', 'upstream_access', 'upstream_missed', 'upstream_value'].includes(err.code);
      try {
        const user = (await call('whoami')).child('user');
        const told = user ? amountOf(attrOf(user, 'balance')) : null;
        const currency = told?.currency ?? (user ? orNull(attrOf(user, 'currency')) : null);
        if (told && currency) return { amount: told.amount, currency };
      } catch (err) {
        if (!refused(err)) throw err;
      }
      try {
        for (const elem of (await call('subaccount')).elems()) {
          const told = amountOf(textOf(elem, 'balance'));
          const currency = told?.currency ?? orNull(textOf(elem, 'currency'));
          if (told && currency) return { amount: told.amount, currency };
        }
      } catch (err) {
        if (!refused(err)) throw err;
      }
      return null;
    },

    async exportPricelist(o = {}) {
      const params: Record<string, string> = {};
      if (o.itemType) params.itemtype = o.itemType;
      if (o.pricelist) params.pricelist = o.pricelist;
      const doc = await call('pricelist.export', params);
      return childrenOf(doc.root, 'pricelist')
        .map(tariffOf)
        .filter((t) => t.id !== '');
    },

    listLicenses: (family) => listLicenses(family),

    async findByRemoteId(family, remoteId) {
      const rows = await listLicenses(family, { remoteid: remoteId });
      return rows.filter((l) => l.remoteId === remoteId);
    },

    getLicense,

    async orderLicense(family, input) {
      const func = `${family}.order.param`;
      const params: Record<string, string> = {
        pricelist: input.pricelist,
        period: String(input.period),
        remoteid: input.remoteId,
        autoprolong: 'null',
        skipbasket: 'on',
        sok: 'ok',
        clicked_button: 'finish',
      };
      if (family === 'platform') {
        if (input.comment !== undefined) params.comment = input.comment;
      } else {
        if (input.ip !== undefined) params.ip = input.ip;
        if (input.name !== undefined) params.licname = input.name;
      }
      for (const [addon, value] of Object.entries(input.addons ?? {}))
        params[`addon_${addon}`] = String(value);
      const doc = await call(func, params);
      const id = orNull(doc.field('id'));
      if (id !== null) return { id };
      const billorder = orNull(doc.field('billorder'));
      if (billorder !== null)
        throw fail(
          'upstream_error',
          `BILLmanager ${func}: the order went to the cart (billorder ${billorder}) instead of being paid and activated`,
          { func, retryable: false, ambiguous: false },
        );
      throw fail('upstream_error', `BILLmanager ${func}: the answer names no license id`, {
        func,
        retryable: true,
        ambiguous: true,
      });
    },

    async waitForKey(family, id) {
      for (let attempt = 1; ; attempt++) {
        const license = await getLicense(family, id);
        if (license.key !== null) return license;
        if (attempt >= pollAttempts)
          throw fail(
            'upstream_key_timeout',
            `BILLmanager ${family}.edit: license ${id} has no key after ${pollAttempts} polls`,
            { func: `${family}.edit`, retryable: true, ambiguous: false },
          );
        await sleep(pollIntervalMs);
      }
    },

    async editLicense(family, id, change) {
      const params: Record<string, string> = { elid: idParam(id), sok: 'ok' };
      if (family === 'platform') {
        const comment = change.comment ?? change.name;
        if (comment !== undefined) params.comment = comment;
      } else {
        if (change.ip !== undefined) params.ip = change.ip;
        if (change.name !== undefined) params.licname = change.name;
      }
      if (change.remoteId !== undefined) params.remoteid = change.remoteId;
      await ok(`${family}.edit`, params);
    },

    async newKey(family, id) {
      const doc = await call(`${family}.edit`, { elid: idParam(id), clicked_button: 'newkey', sok: 'ok' });
      // The new key comes back in the object; an upstream that answers <ok/> is asked again.
      if (orNull(doc.field('lickey')) !== null && orNull(doc.field('id')) !== null) {
        return licenseOf(family, doc.root);
      }
      return getLicense(family, id);
    },

    suspend: (family, id) => ok(`${family}.suspend`, { elid: idParam(id) }),
    resume: (family, id) => ok(`${family}.resume`, { elid: idParam(id) }),
    remove: (family, id) => ok(`${family}.delete`, { elid: idParam(id), sok: 'ok' }),

    async prolongQuote(id) {
      const doc = await call('service.prolong', { elid: idParam(id) });
      const slist = childrenOf(doc.root, 'slist').find((s) => attrOf(s, 'name') === 'period');
      const periods = (slist ? childrenOf(slist, 'val') : [])
        .map((v) => intOf(attrOf(v, 'key')))
        .filter((p): p is number => p !== null);
      return {
        expiresOn: prolongDate(doc, 'expiredate'),
        newExpiresOn: prolongDate(doc, 'newexpiredate'),
        periods,
      };
    },

    async prolong(id, period) {
      const doc = await call('service.prolong', { elid: idParam(id), period: String(period), sok: 'ok' });
      return { newExpiresOn: prolongDate(doc, 'newexpiredate') ?? dateOf(doc.field('expiredate')) };
    },

    checkIp: (family, pricelist, period, ip) =>
      ok(`${family}.checkip`, { pricelist, period: String(period), ip }),
  };
}
