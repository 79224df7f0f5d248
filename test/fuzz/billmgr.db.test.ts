import { parse as parseQuery } from 'node:querystring';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { FAMILIES, type Family } from '../../src/modules/billmgr/licenses.js';
import { MGR_FUNCS, MGR_PATHS } from '../../src/modules/billmgr/routes.js';
import { addNodesAddon, openSeller, orderLicense, PASSWORD } from '../billmgr/setup.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { createClient, type WireResponse, wireRequest } from '../helpers/http.js';
import {
  FUZZ_RUNS,
  formOf,
  fuzzAddress,
  fuzzParams,
  junkKey,
  junkString,
  preview,
  rawTail,
  SNAKE_CASE,
} from './junk.js';
import { firstDifference, fuzzState } from './state.js';
import { parseXml, type XmlElement } from './xml.js';

/**
 * The BILLmanager-compatible API under fuzz (issue 11): every `func` the dispatcher knows (and
 * none, and unknown ones), as a client, as staff, by session, with wrong credentials and with
 * none; GET, POST forms, POST bodies with other content types or none at all (over a real
 * socket, as Guzzle-based clients send them), at each of the API's paths; junk, missing,
 * empty and repeated values in every parameter the function reads; `out` in each format and
 * in none. Every answer: no 5xx (the HTTP layer's own refusals are 4xx mgr documents), a
 * well-formed document in the format asked for, never the "Internal error." that stands for
 * a 500, and an error answer changed nothing (fuzzState before and after).
 */

const s = await openSeller();
afterAll(async () => {
  await s.t.close();
});
const { licenses, victim, session } = await prepare();
/** The state the last request left; the next error answer must leave it so. */
let state = await fuzzState(s.t.ctx);

async function prepare() {
  await addNodesAddon(s);
  // Licenses of each family, two of them the client's (group actions), one another account's.
  const order = async (authinfo: string, family: Family, params: Record<string, string>) =>
    String(await orderLicense(s, authinfo, params, family));
  const a = s.alpha.authinfo;
  const licenses: Record<Family, string[]> = {
    soft: [
      await order(a, 'soft', { ip: '203.0.113.10', remoteid: 'r-1' }),
      await order(a, 'soft', { ip: '203.0.113.11', pricelist: '55228' }),
      await order(s.bravo.authinfo, 'soft', { ip: '203.0.113.13' }),
    ],
    softexternal: [
      await order(a, 'softexternal', { pricelist: '9203', ip: '203.0.113.12' }),
      await order(a, 'softexternal', { pricelist: '9203', ip: '203.0.113.14' }),
    ],
    platform: [
      await order(a, 'platform', { pricelist: '55163', comment: 'node-1' }),
      await order(a, 'platform', { pricelist: '55163', comment: 'node-2' }),
    ],
  };
  // Wrong passwords go to this user only: five of them block an email, and the callers' own
  // emails must stay usable.
  const victim = 'carol@example.com';
  await createClient(s.t.ctx, victim, { password: PASSWORD });
  const res = await s.t.app.inject({
    method: 'POST',
    url: '/billmgr',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: formOf([
      ['func', 'auth'],
      ['username', 'alpha@example.com'],
      ['password', PASSWORD],
      ['out', 'json'],
    ]),
  });
  const sid = (res.json() as { doc: { auth: { $id: string } } }).doc.auth.$id;
  expect(sid).toMatch(/^[0-9a-f]{32}$/);
  return { licenses, victim, session: sid };
}

/** The parameters each function reads (besides func, out, lang, authinfo and auth). */
function readsOf(func: string): readonly string[] {
  switch (func) {
    case 'auth':
      return ['username', 'password', 'key', 'checkcookie'];
    case 'session.newkey':
      return ['username', 'key'];
    case 'pricelist.export':
      return ['pricelist', 'onlyavailable', 'itemtype'];
    case 'service.prolong':
      return ['elid', 'period', 'sok'];
    case 'service.changepricelist':
      return ['elid', 'pricelist', 'period', 'sok'];
    case 'whoami':
      return [];
  }
  const family = /^(softexternal|soft|platform)(?:\.|$)/.exec(func);
  const action = family ? func.slice(family[0].length) : func;
  if (!family) throw new Error(`the fuzz suite does not know what ${func} reads: add it to readsOf`);
  switch (action) {
    case '':
      return ['remoteid', 'pricelist', 'elid', 'ip'];
    case 'order.param':
      return [
        'pricelist',
        'period',
        'ip',
        'licname',
        'comment',
        'remoteid',
        'skipbasket',
        'sok',
        'clicked_button',
        'autoprolong',
        'addon_55165',
        'addon_1',
      ];
    case 'edit':
      return ['elid', 'sok', 'clicked_button', 'ip', 'licname', 'comment', 'remoteid'];
    case 'checkip':
      return ['pricelist', 'period', 'ip'];
    case 'suspend':
    case 'resume':
    case 'delete':
      return ['elid', 'sok'];
  }
  throw new Error(`the fuzz suite does not know what ${func} reads: add it to readsOf`);
}

/** Values that fit a parameter (a request may then succeed and change the shop: allowed). */
function plausible(name: string, func: string | null): fc.Arbitrary<string> {
  switch (name) {
    case 'elid': {
      const all = Object.values(licenses).flat();
      const family = FAMILIES.find((f) => func?.startsWith(`${f}.`));
      const group = (ids: string[]) => fc.subarray(ids, { minLength: 2 }).map((g) => g.join(', '));
      return fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(...all) },
        // A group: mostly of the function's own family, so that it gets past the owner check.
        { weight: 2, arbitrary: group(family ? licenses[family] : all) },
        { weight: 1, arbitrary: group(all) },
      );
    }
    case 'pricelist':
      return fc.constantFrom('55227', '55228', '55239', '3541', '55163', '9203');
    case 'period':
      return fc.constantFrom('1', '12', '-100', '3');
    case 'ip':
      return fc.integer({ min: 20, max: 254 }).map((n) => `203.0.113.${n}`);
    case 'licname':
    case 'comment':
      return fc.constantFrom('vps-1', 'node-2');
    case 'remoteid':
      return fc.constantFrom('r-1', 'r-2', '');
    case 'skipbasket':
    case 'onlyavailable':
      return fc.constantFrom('on', 'off');
    case 'sok':
      return fc.constantFrom('ok', 'ok', '');
    case 'clicked_button':
      return fc.constantFrom('finish', 'newkey');
    case 'autoprolong':
      return fc.constantFrom('1', '12', 'null', 'off', 'on');
    case 'addon_55165':
    case 'addon_1':
      return fc.constantFrom('1', '2', 'on', 'off');
    case 'itemtype':
      return fc.constantFrom('soft', 'platform', 'addition');
    case 'username':
      // A client may make a login key for itself; sign-in guesses go to the victim only.
      return func === 'session.newkey'
        ? fc.constantFrom(victim, 'nobody@example.com', 'alpha@example.com')
        : fc.constantFrom(victim, 'nobody@example.com');
    case 'password':
      return fc.constantFrom(PASSWORD, 'wrong-password');
    case 'key':
      return fc.constantFrom('k'.repeat(16), 'a-login-key-0123456789', 'short');
    case 'checkcookie':
      return fc.constant('no');
    case 'lang':
      return fc.constantFrom('en', 'ru');
    default:
      return fc.constant('1');
  }
}

/**
 * A parameter: missing or plausible; when it is what this request breaks, junk, empty or
 * repeated (the last value counts) as well.
 */
function param(name: string, func: string | null, broken: boolean): fc.Arbitrary<[string, string][]> {
  const fits = plausible(name, func);
  const one = (v: string): [string, string][] => [[name, v]];
  if (!broken)
    return fc.oneof(
      { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
      { weight: 3, arbitrary: fits.map(one) },
    );
  const value = fc.oneof(fits, junkString);
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
    { weight: 4, arbitrary: junkString.map(one) },
    { weight: 1, arbitrary: fc.constant(one('')) },
    {
      weight: 2,
      arbitrary: fc
        .array(value, { minLength: 2, maxLength: 3 })
        .map((vs) => vs.map((v): [string, string] => [name, v])),
    },
  );
}

const OUTS = ['xml', 'json', 'sjson', 'bjson'] as const;
/** `out`: one of the formats, none, or garbage (which means xml), maybe repeated. */
const outParam: fc.Arbitrary<[string, string][]> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...OUTS).map((o): [string, string][] => [['out', o]]) },
  { weight: 2, arbitrary: fc.constant<[string, string][]>([]) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('garbage', 'XML', 'JSON', ' json', '', 'json\u0000', 'xml;json')
      .map((o): [string, string][] => [['out', o]]),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...OUTS), fc.constantFrom(...OUTS))
      .map(([a, b]): [string, string][] => [
        ['out', a],
        ['out', b],
      ]),
  },
);

/** Who calls: a client, staff, a client's session, no one, or someone with wrong credentials. */
type Who = 'client' | 'staff' | 'session' | 'none' | 'junk';

function credentials(who: Who): fc.Arbitrary<[string, string][]> {
  switch (who) {
    case 'client':
      return fc.constant([['authinfo', s.alpha.authinfo]]);
    case 'staff':
      return fc.constant([['authinfo', s.admin.authinfo]]);
    case 'session':
      return fc.constant([['auth', session]]);
    case 'none':
      return fc.constant([]);
    case 'junk':
      return fc.oneof(
        junkString.map((v): [string, string][] => [['authinfo', v]]),
        junkString.map((v): [string, string][] => [['authinfo', `${victim}:${v}`]]),
        junkString.map((v): [string, string][] => [['auth', v]]),
        fc.constant<[string, string][]>([
          ['authinfo', s.alpha.authinfo],
          ['authinfo', `${victim}:wrong`],
        ]),
      );
  }
}

/** How the parameters travel. */
type Transport =
  | { readonly kind: 'get' }
  | { readonly kind: 'post'; readonly contentType: string; readonly split: boolean }
  | { readonly kind: 'wire' }
  | { readonly kind: 'other'; readonly method: 'PUT' | 'DELETE' | 'PATCH' };

const FORM = 'application/x-www-form-urlencoded';
const transport: fc.Arbitrary<Transport> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Transport>({ kind: 'get' }) },
  {
    weight: 8,
    arbitrary: fc
      .record({
        contentType: fc.oneof(
          { weight: 6, arbitrary: fc.constant(FORM) },
          {
            weight: 3,
            arbitrary: fc.constantFrom(
              `${FORM}; charset=windows-1251`,
              'text/plain',
              'application/octet-stream',
              'application/xml',
              'multipart/form-data; boundary=x',
              'application/json',
            ),
          },
        ),
        split: fc.boolean(),
      })
      .map((r): Transport => ({ kind: 'post', ...r })),
  },
  { weight: 2, arbitrary: fc.constant<Transport>({ kind: 'wire' }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('PUT', 'DELETE', 'PATCH')
      .map((method): Transport => ({ kind: 'other', method })),
  },
);

interface MgrRequest {
  readonly func: string;
  readonly who: Who;
  readonly path: string;
  readonly transport: Transport;
  /** Every parameter in the order sent; with `split`, the first half goes in the query string. */
  readonly pairs: readonly (readonly [string, string])[];
  readonly tail: string | null;
  readonly address: string;
}

function requestFor(func: string | null): fc.Arbitrary<MgrRequest> {
  const funcPairs: fc.Arbitrary<[string, string][]> =
    func === null
      ? fc.oneof(
          fc.constant<[string, string][]>([]),
          junkString.map((f): [string, string][] => [['func', f]]),
          fc
            .constantFrom('soft.nothing', 'SOFT', 'soft.', '.', 'session', 'user', 'logout')
            .map((f): [string, string][] => [['func', f]]),
        )
      : fc.oneof(
          { weight: 9, arbitrary: fc.constant<[string, string][]>([['func', func]]) },
          // Repeated: the last value counts.
          {
            weight: 1,
            arbitrary: fc.constantFrom(...MGR_FUNCS, 'junk').map((other): [string, string][] => [
              ['func', other],
              ['func', func],
            ]),
          },
        );
  const reads = func === null ? ['elid', 'pricelist'] : readsOf(func);
  // Wrong passwords and wire requests never meet: both would come from one address (127.0.0.1),
  // and wrong passwords are counted per address.
  const who = fc.constantFrom<Who>('client', 'client', 'client', 'staff', 'staff', 'session', 'none', 'junk');
  // What this request breaks: one parameter (the others plausible or missing), or all of them.
  const focus = fc.constantFrom<string | null>(...reads, 'lang', 'unknown', null);
  return fc
    .tuple(focus, fc.nat(9))
    .chain(([target, dice]) => {
      const breaks = (name: string) => name === target || dice === 0;
      return fc.record({
        who,
        func: funcPairs,
        params: fc.tuple(...reads.map((name) => param(name, func, breaks(name)))),
        common: fc.tuple(outParam, param('lang', func, breaks('lang'))),
        unknown: breaks('unknown')
          ? fc.array(fc.tuple(junkKey, junkString), { minLength: 1, maxLength: 2 })
          : fc.constant([]),
        tail: fc.option(rawTail, { freq: 8 }),
        path: fc.constantFrom(...MGR_PATHS),
        transport,
        address: fuzzAddress,
      });
    })
    .chain((r) =>
      credentials(r.who).map((creds): MgrRequest => {
        const guessing = r.who === 'junk' || func === 'auth';
        return {
          func: func ?? '(none or unknown)',
          who: r.who,
          path: r.path,
          transport: guessing && r.transport.kind === 'wire' ? { kind: 'get' } : r.transport,
          pairs: [...creds, ...r.func, ...r.params.flat(), ...r.common.flat(), ...r.unknown],
          tail: r.tail,
          address: guessing ? r.address : '127.0.0.1',
        };
      }),
    );
}

const withTail = (text: string, tail: string | null) => (tail ? `${text}${tail}` : text);

/** The query string and the body as sent (with `split`, the first half of the pairs in the query). */
function partsOf(r: MgrRequest): { query: string; body: string | null } {
  const t = r.transport;
  if (t.kind === 'get') return { query: withTail(formOf(r.pairs), r.tail), body: null };
  if (t.kind === 'other') return { query: formOf(r.pairs), body: null };
  const half = t.kind === 'post' && t.split ? Math.floor(r.pairs.length / 2) : 0;
  return { query: formOf(r.pairs.slice(0, half)), body: withTail(formOf(r.pairs.slice(half)), r.tail) };
}

async function send(r: MgrRequest): Promise<WireResponse | LightMyRequestResponse> {
  const { query, body } = partsOf(r);
  const url = query ? `${r.path}?${query}` : r.path;
  const t = r.transport;
  if (t.kind === 'wire') return wireRequest(s.t.app, { method: 'POST', path: url, body: body ?? '' });
  if (t.kind === 'get' || t.kind === 'other')
    return s.t.app.inject({ method: t.kind === 'get' ? 'GET' : t.method, url, remoteAddress: r.address });
  return s.t.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': t.contentType },
    payload: body ?? '',
    remoteAddress: r.address,
  });
}

/** The `out` a successful call is answered in: the last one sent, the body's over the query's. */
function outOf(r: MgrRequest): string {
  const { query, body } = partsOf(r);
  const last = (text: string | null) => {
    const v = text === null ? undefined : parseQuery(text).out;
    return Array.isArray(v) ? v.at(-1) : v;
  };
  const out = last(body) ?? last(query);
  return (OUTS as readonly string[]).includes(out ?? '') ? out! : 'xml';
}

function describeRequest(r: MgrRequest): string {
  const how =
    r.transport.kind === 'post'
      ? `POST (${r.transport.contentType}${r.transport.split ? ', split' : ''})`
      : r.transport.kind === 'other'
        ? r.transport.method
        : r.transport.kind.toUpperCase();
  const params = r.pairs.map(([k, v]) => `${preview(k, 40)}=${preview(v, 80)}`).join(' ');
  return `${how} ${r.path} as ${r.who} from ${r.address}: ${params}${r.tail ? ` + raw ${preview(r.tail)}` : ''}`;
}

/** An answer's error, if it is one: its type, object and message, in any format. */
interface MgrError {
  readonly type: string;
  readonly object: string;
  readonly msg: string;
}

type JsonObject = { [k: string]: unknown };
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
/** json/sjson text of an element (`{"$":"…"}`, or `[{"$":"…"}]` under sjson). */
const textOf = (v: unknown): string => {
  const one = Array.isArray(v) ? v[0] : v;
  return isObject(one) && typeof one.$ === 'string' ? one.$ : '';
};

/** Reads the body as the document its content type says; throws if it is not well-formed. */
function errorOf(res: WireResponse | LightMyRequestResponse): MgrError | null {
  const type = String(res.headers['content-type']);
  if (type === 'text/xml; charset=utf-8') {
    expect(res.body.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
    const doc: XmlElement = parseXml(res.body);
    expect(doc.name).toBe('doc');
    const error = doc.children.find((c) => c.name === 'error');
    if (!error) return null;
    return {
      type: error.attrs.type ?? '',
      object: error.attrs.object ?? '',
      msg: error.children.find((c) => c.name === 'msg')?.text ?? '',
    };
  }
  expect(type).toBe('application/json; charset=utf-8');
  const body: unknown = JSON.parse(res.body);
  expect(isObject(body)).toBe(true);
  const top = body as JsonObject;
  if ('doc' in top) {
    // json and sjson: {"doc":{…}}; an error is {"$type","$object",…,"msg":{"$":…}}.
    expect(Object.keys(top)).toEqual(['doc']);
    expect(isObject(top.doc)).toBe(true);
    const raw = (top.doc as JsonObject).error;
    const error = Array.isArray(raw) ? raw[0] : raw;
    if (error === undefined) return null;
    expect(isObject(error)).toBe(true);
    const e = error as JsonObject;
    return { type: String(e.$type), object: String(e.$object), msg: textOf(e.msg) };
  }
  // bjson: flat, an error is {"error":{"type","object","msg"}}.
  if (!('error' in top)) return null;
  const e = top.error as JsonObject;
  expect(isObject(e)).toBe(true);
  return { type: String(e.type), object: String(e.object), msg: String(e.msg) };
}

const API_ERRORS = new Set([
  'auth',
  'access',
  'missed',
  'value',
  'exists',
  'not_enough_money',
  'unknown_func',
]);

async function check(r: MgrRequest): Promise<void> {
  const res = await send(r);
  // The next request compares with what this one left, even if this one fails (shrinking
  // replays requests, each against the state the one before it left).
  const before = state;
  const after = await fuzzState(s.t.ctx);
  state = after;
  const what = `${describeRequest(r)}\n → ${res.statusCode} ${preview(res.body, 500)}`;
  expect(res.statusCode, what).toBeLessThan(500);
  let error: MgrError | null;
  try {
    error = errorOf(res);
  } catch (err) {
    return expect.fail(`not a well-formed mgr document (${(err as Error).message}): ${what}`);
  }
  if (res.statusCode === 200) {
    // An API answer: in the format asked for; an error of the API's own vocabulary.
    const json = outOf(r) !== 'xml';
    expect(String(res.headers['content-type']), what).toBe(
      json ? 'application/json; charset=utf-8' : 'text/xml; charset=utf-8',
    );
    if (error) expect(API_ERRORS.has(error.type), `an error of type "${error.type}": ${what}`).toBe(true);
  } else {
    // A refusal of the HTTP layer (404 no route, 413, 415…): type `error`, object its code.
    expect(res.statusCode, what).toBeGreaterThanOrEqual(400);
    expect(error?.type, what).toBe('error');
    expect(error?.object, what).toMatch(SNAKE_CASE);
  }
  if (error) expect(error.msg, what).not.toBe('Internal error.');
  if (error && after !== before)
    expect.fail(`an error answer changed the state: ${what}\n${firstDifference(before, after)}`);
}

describe(`/billmgr fuzz: ${FUZZ_RUNS * 2} requests per function, ${FUZZ_RUNS * 5} mixed`, () => {
  it('the dispatcher knows the license functions', () => {
    expect(MGR_FUNCS).toEqual(
      expect.arrayContaining(['soft', 'soft.order.param', 'platform.edit', 'service.prolong']),
    );
  });

  // Functions in any order: one request prepares what another trips on — a license suspended
  // by staff, then a client's group resume of it and another. First, and without deletions,
  // which are for good: the licenses must still be there to act on.
  it('every function but deletion, mixed', async () => {
    const funcs = MGR_FUNCS.filter((f) => !f.endsWith('.delete'));
    const any = fc.constantFrom(...funcs).chain((func) => requestFor(func));
    await fc.assert(
      fc.asyncProperty(any, (r) => check(r)),
      fuzzParams('billmgr mixed', FUZZ_RUNS * 5),
    );
  });

  it.each([...MGR_FUNCS, null].map((f) => [f ?? '(none or unknown)', f] as const))(
    '%s',
    async (name, func) => {
      await fc.assert(
        fc.asyncProperty(requestFor(func), (r) => check(r)),
        fuzzParams(`billmgr ${name}`, FUZZ_RUNS * 2),
      );
    },
  );

  it('the ledger balances after it all', async () => {
    await expectLedgerBalanced(s.t.ctx);
  });
});
