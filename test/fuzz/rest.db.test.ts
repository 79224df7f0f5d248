import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { expectLedgerBalanced } from '../helpers/context.js';
import { type Auth, createToken, login } from '../helpers/http.js';
import { licenseItem, openShop, orderPaid, payIn, type Shop, VDS_PARAMS } from '../helpers/shop.js';
import {
  badPathIds,
  encodeAny,
  FUZZ_RUNS,
  formOf,
  fuzzParams,
  junkJson,
  junkKey,
  junkString,
  preview,
  rawTail,
  SNAKE_CASE,
} from './junk.js';
import { firstDifference, fuzzState } from './state.js';

/**
 * The REST API under fuzz (issue 11): for every operation of the app's own OpenAPI document,
 * requests that deviate from its schema — wrong types, missing and unknown fields, huge,
 * unicode and control-character strings, numbers out of every range, arrays where objects go,
 * broken and odd JSON, other content types, repeated and unknown query parameters, ids that
 * are no ids — as staff, as a client and unauthenticated, on a shop with orders and services.
 * Every answer is below 500; every error has the documented shape with a snake_case code; a
 * request answered 4xx changed nothing (fuzzState before and after). The ledger balances at
 * the end. A request that happens to be valid may change the shop: the next one compares
 * against the state it left.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { readonly [k: string]: unknown };
interface Parameter {
  readonly in: string;
  readonly name: string;
  readonly required?: boolean;
  readonly schema?: Schema;
}
interface Operation {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly params: readonly Parameter[];
  readonly body: Schema | undefined;
}

/** The shop, with orders and services so that ids in paths exist. */
const shop: Shop = await openShop();
afterAll(async () => {
  await shop.t.close();
});
/** Bearer tokens of the callers the fuzzer sends as, and the ids it must not take from them. */
const { callers, protectedIds } = await prepare();
const ops: Operation[] = operationsOf((await shop.t.app.inject({ url: '/api/openapi.json' })).json());
/** The state the last request left; the next refused request must leave it so. */
let state = await fuzzState(shop.ctx);

async function prepare() {
  const { t, alpha, bravo } = shop;
  await payIn(shop, alpha.accountId, '500.00');
  await payIn(shop, bravo.accountId, '100.00');
  await orderPaid(shop, alpha, licenseItem(shop));
  await orderPaid(shop, alpha, {
    tariffId: shop.tariffs.vds,
    period: 1,
    params: VDS_PARAMS,
    addonValues: { [shop.addons.ram]: 4, [shop.addons.panel]: shop.panels.lite6 },
  });
  await orderPaid(shop, bravo, licenseItem(shop));
  // The fuzzer's own tokens, made last: a request that happens to be valid may revoke a token
  // or disable a user, but never these (their ids are kept out of the paths it sends).
  const staff = { bearer: await createToken(t.app, await login(t.app, 'boss@example.com'), 'fuzz') };
  const client = { bearer: await createToken(t.app, await login(t.app, 'alpha@example.com'), 'fuzz') };
  const tokens = await t.ctx.db.kysely
    .selectFrom('api_tokens')
    .select('id')
    .where('name', '=', 'fuzz')
    .execute();
  const users = await t.ctx.db.kysely
    .selectFrom('users')
    .select('id')
    .where('email', 'in', ['boss@example.com', 'alpha@example.com'])
    .execute();
  return {
    callers: { staff, client } as { staff: Auth; client: Auth },
    protectedIds: {
      tokens: new Set(tokens.map((r) => String(r.id))),
      users: new Set(users.map((r) => String(r.id))),
      accounts: new Set([String(alpha.accountId)]),
    },
  };
}

function operationsOf(doc: { paths: Record<string, Record<string, Schema>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const op = item[method] as
        | { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> } }
        | undefined;
      if (!op) continue;
      out.push({
        method: method.toUpperCase() as Operation['method'],
        path,
        params: op.parameters ?? [],
        body: op.requestBody?.content['application/json']?.schema,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------- values that fit the schema

/** Text that fits many fields, tried against a field's pattern and length. */
const PLAUSIBLE_TEXT = [
  '1',
  '12',
  '7.50',
  '10.00',
  '2022-01-01',
  'soft',
  'vds',
  'EUR',
  'UTC',
  '203.0.113.99',
  'bank',
  'ref-1',
  'Fuzzed name',
  'correct-horse-battery',
  'a',
] as const;

/** Text a field of this name takes (an email for `email`…), before the generic pool. */
const TEXT_BY_NAME: readonly [RegExp, fc.Arbitrary<string>][] = [
  [/email/i, fc.nat({ max: 999 }).map((n) => `fuzz-${n}@example.com`)],
  [/^ip$/i, fc.nat({ max: 254 }).map((n) => `203.0.113.${n + 1}`)],
  [/currency/i, fc.constantFrom('EUR', 'USD', 'RUB')],
  [/timezone/i, fc.constantFrom('UTC', 'Europe/Moscow', 'America/New_York')],
  [/date|expires|before/i, fc.constantFrom('2021-12-16', '2022-01-01', '2021-12-31')],
  [/amount|price|fee|limit/i, fc.constantFrom('7.50', '10.00', '0.01', '-5.00', '0')],
  [/password/i, fc.constant('correct-horse-battery')],
];

function textFor(schema: Schema, name: string): fc.Arbitrary<string> {
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : 60;
  const pattern = typeof schema.pattern === 'string' ? new RegExp(schema.pattern, 'u') : null;
  const fits = (s: string) => s.length >= min && s.length <= max && (!pattern || pattern.test(s));
  const byName = TEXT_BY_NAME.find(([re]) => re.test(name))?.[1];
  const pool = [
    ...PLAUSIBLE_TEXT,
    ...(typeof schema.example === 'string' ? [schema.example] : []),
    ...(typeof schema.default === 'string' ? [schema.default] : []),
  ].filter(fits);
  const generic =
    pool.length > 0
      ? fc.constantFrom(...pool)
      : pattern
        ? fc.constant('1')
        : fc.string({ minLength: min, maxLength: Math.min(max, min + 12) });
  return byName ? fc.oneof({ weight: 4, arbitrary: byName }, { weight: 1, arbitrary: generic }) : generic;
}

/** Integers within the bounds, most often the periods and small ids the shop has. */
function intFor(schema: Schema): fc.Arbitrary<number> {
  const num = (k: string) => (typeof schema[k] === 'number' ? (schema[k] as number) : undefined);
  const lo = Math.max(num('minimum') ?? -100, (num('exclusiveMinimum') ?? -Infinity) + 1);
  const hi = Math.min(num('maximum') ?? 1000, (num('exclusiveMaximum') ?? Infinity) - 1);
  const common = [1, 1, 2, 3, 12, -100, 0, 4].filter((n) => n >= lo && n <= hi);
  const range = fc.integer({ min: Math.max(lo, -3), max: Math.max(Math.max(lo, -3), Math.min(hi, 24)) });
  return common.length > 0 ? fc.oneof(fc.constantFrom(...common), range) : range;
}

/** A value that fits (or nearly fits) a schema: the base the mutations then break. */
function plausible(schema: Schema | undefined, depth = 0, name = ''): fc.Arbitrary<Json> {
  if (!schema || depth > 6) return fc.constant('x');
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as Json[]));
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (Array.isArray(branches)) return fc.oneof(...branches.map((b) => plausible(b, depth + 1, name)));
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string | undefined];
  return fc.oneof(
    ...types.map((type): fc.Arbitrary<Json> => {
      switch (type) {
        case 'string':
          return textFor(schema, name);
        case 'integer':
        case 'number':
          return intFor(schema);
        case 'boolean':
          return fc.boolean();
        case 'null':
          return fc.constant(null);
        case 'array': {
          const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
          const max = Math.max(min, Math.min(typeof schema.maxItems === 'number' ? schema.maxItems : 3, 3));
          return fc.array(plausible(schema.items as Schema, depth + 1), { minLength: min, maxLength: max });
        }
        case 'object':
          return objectFor(schema, depth);
        default:
          return fc.constant('x');
      }
    }),
  );
}

function objectFor(schema: Schema, depth: number): fc.Arbitrary<Json> {
  const props = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required ?? []) as string[]);
  const keys = Object.keys(props);
  const extra = schema.additionalProperties;
  const named =
    keys.length === 0
      ? fc.constant({} as Record<string, Json>)
      : fc.record(Object.fromEntries(keys.map((k) => [k, plausible(props[k], depth + 1, k)])), {
          requiredKeys: keys.filter((k) => required.has(k)),
        });
  if (!extra || typeof extra !== 'object') return named as fc.Arbitrary<Json>;
  // A record (`additionalProperties` a schema): keys that fit its propertyNames.
  const names = (schema.propertyNames ?? {}) as Schema;
  const keyPattern = typeof names.pattern === 'string' ? new RegExp(names.pattern, 'u') : null;
  const keyPool = ['1', '2', '12', 'ip', 'licname', 'hostname', 'os_template'].filter(
    (k) => !keyPattern || keyPattern.test(k),
  );
  if (keyPool.length === 0) return named as fc.Arbitrary<Json>;
  return fc
    .tuple(
      named,
      fc.dictionary(fc.constantFrom(...keyPool), plausible(extra as Schema, depth + 1), { maxKeys: 3 }),
    )
    .map(([a, b]) => ({ ...b, ...a }));
}

// ---------------------------------------------------------------- breaking them

/** One change to a plausible body: the place is picked by `at` among the places it has. */
type Mutation =
  | { readonly kind: 'replace'; readonly at: number; readonly value: Json }
  | { readonly kind: 'wrap'; readonly at: number }
  | { readonly kind: 'drop'; readonly at: number }
  | { readonly kind: 'add'; readonly at: number; readonly key: string; readonly value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: junkJson }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrap' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: junkKey, value: junkJson }),
  },
);

type Slot = { readonly parent: Json[] | { [k: string]: Json }; readonly key: string | number };

/** Every place inside a value (not the value itself), depth first. */
function slotsOf(value: Json, out: Slot[] = []): Slot[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push({ parent: value, key: i });
      slotsOf(v, out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push({ parent: value, key: k });
      slotsOf(v, out);
    }
  }
  return out;
}

function containersOf(value: Json, out: { [k: string]: Json }[] = []): { [k: string]: Json }[] {
  if (Array.isArray(value)) for (const v of value) containersOf(v, out);
  else if (value !== null && typeof value === 'object') {
    out.push(value);
    for (const v of Object.values(value)) containersOf(v, out);
  }
  return out;
}

function applyMutations(base: Json, mutations: readonly Mutation[]): Json {
  // Values are copied in: fast-check hands out the same constant objects again and again.
  let root: Json = structuredClone(base);
  for (const m of mutations) {
    const value = 'value' in m ? structuredClone(m.value) : null;
    if (m.kind === 'add') {
      const objects = containersOf(root);
      const target = objects[m.at % Math.max(1, objects.length)];
      if (target)
        Object.defineProperty(target, m.key, { value, enumerable: true, writable: true, configurable: true });
      continue;
    }
    const slots = slotsOf(root);
    if (slots.length === 0) {
      if (m.kind === 'replace') root = value;
      else if (m.kind === 'wrap') root = [root];
      continue;
    }
    const slot = slots[m.at % slots.length]!;
    const parent = slot.parent as Record<string | number, Json>;
    if (m.kind === 'replace') parent[slot.key] = value;
    else if (m.kind === 'wrap') parent[slot.key] = [parent[slot.key]!];
    else if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
    else delete parent[slot.key];
  }
  return root;
}

/** Bodies no JSON encoder writes: broken, odd or hostile JSON, as raw text. */
const RAW_BODIES = [
  '{',
  '[',
  '{"a":',
  '}',
  'null',
  '""',
  '0',
  'true',
  '-',
  '1e309',
  '{"amount":1e309}',
  '{"period":1e309}',
  '{"a":1,"a":2}',
  '{"name":"a","name":{"x":1}}',
  '{"__proto__":{"isAdmin":true}}',
  '{"constructor":{"prototype":{"isAdmin":true}}}',
  '\uFEFF{}',
  ' ',
  '\u0000',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  '{"\\u0000":1}',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`,
  `${'['.repeat(2000)}{"__proto__":1}${']'.repeat(2000)}`,
  `{"items":[${Array.from({ length: 5000 }, () => '{}').join(',')}]}`,
  `"${'a'.repeat(100_000)}"`,
] as const;

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
] as const;

type Body =
  | { readonly kind: 'none' }
  | { readonly kind: 'json'; readonly value: Json; readonly contentType: string }
  | { readonly kind: 'raw'; readonly text: string; readonly contentType: string };

/** A body: plausible (it may even be valid), or broken when the body is what this request breaks. */
function bodyFor(op: Operation, broken: boolean): fc.Arbitrary<Body> {
  const json = (value: Json): Body => ({ kind: 'json', value, contentType: 'application/json' });
  if (!broken) return op.body ? plausible(op.body).map(json) : fc.constant<Body>({ kind: 'none' });
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
  );
  const mutated = fc
    .tuple(plausible(op.body), fc.array(mutation, { minLength: 1, maxLength: 3 }), contentType)
    .map(([base, ms, ct]): Body => ({ kind: 'json', value: applyMutations(base, ms), contentType: ct }));
  const whole = fc
    .tuple(junkJson, contentType)
    .map(([value, ct]): Body => ({ kind: 'json', value, contentType: ct }));
  const raw = fc
    .tuple(fc.constantFrom(...RAW_BODIES), contentType)
    .map(([text, ct]): Body => ({ kind: 'raw', text, contentType: ct }));
  return op.body
    ? fc.oneof(
        { weight: 10, arbitrary: mutated },
        { weight: 2, arbitrary: whole },
        { weight: 2, arbitrary: raw },
        { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
      )
    : fc.oneof(whole, raw);
}

/** A path parameter: a real id (not one of the fuzzer's own), or, when broken, no id or junk. */
function pathValue(op: Operation, name: string, broken: boolean): fc.Arbitrary<string> {
  const real =
    name === 'code'
      ? fc.constantFrom('soft', 'vds', 'platform', 'softexternal')
      : fc
          .integer({ min: 1, max: 12 })
          .map(String)
          .filter((id) => !guarded(op, id));
  if (!broken) return real;
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...badPathIds) },
    { weight: 1, arbitrary: junkString.map(encodeAny) },
  );
}

/** Ids whose change would lock the fuzzer out: its tokens, its users, its client's account. */
function guarded(op: Operation, id: string): boolean {
  if (op.path.startsWith('/api/v1/me/tokens/')) return protectedIds.tokens.has(id);
  if (op.path.startsWith('/api/v1/users/')) return protectedIds.users.has(id);
  if (op.path === '/api/v1/accounts/{id}') return protectedIds.accounts.has(id);
  return false;
}

/**
 * The query string: each declared parameter left out or plausible; when broken, also junk,
 * empty or repeated, with unknown parameters and stray separators.
 */
function queryFor(op: Operation, broken: boolean): fc.Arbitrary<string> {
  const declared = op.params.filter((p) => p.in === 'query');
  const one = (p: Parameter): fc.Arbitrary<[string, string][]> => {
    const fits = plausible(p.schema, 0, p.name).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    const value = broken ? fc.oneof(fits, junkString) : fits;
    const arms = [
      { weight: 3, arbitrary: fc.constant<[string, string][]>([]) },
      { weight: 3, arbitrary: value.map((v): [string, string][] => [[p.name, v]]) },
    ];
    if (broken)
      arms.push(
        { weight: 1, arbitrary: fc.constant<[string, string][]>([[p.name, '']]) },
        {
          weight: 2,
          arbitrary: fc
            .array(value, { minLength: 2, maxLength: 4 })
            .map((vs) => vs.map((v): [string, string] => [p.name, v])),
        },
      );
    return fc.oneof(...arms);
  };
  const unknown = broken ? fc.array(fc.tuple(junkKey, junkString), { maxLength: 2 }) : fc.constant([]);
  const tail = broken ? fc.option(rawTail, { freq: 4 }) : fc.constant(null);
  return fc.tuple(fc.tuple(...declared.map(one)), unknown, tail).map(([parts, extra, raw]) => {
    const text = formOf([...parts.flat(), ...extra]);
    return raw ? `${text}${raw}` : text;
  });
}

type Who = 'staff' | 'client' | 'none' | 'junk';

const JUNK_AUTH = [
  'Bearer bf_00000000000000000000000000000000',
  'Bearer ',
  'Bearer',
  'Basic Ym9zc0BleGFtcGxlLmNvbTpjb3JyZWN0LWhvcnNlLWJhdHRlcnk=',
  `Bearer ${'x'.repeat(10_000)}`,
  'bearer bf_',
  'Bearer bf_%00',
] as const;

interface FuzzRequest {
  readonly who: Who;
  readonly junkAuth: string;
  readonly method: Operation['method'];
  readonly url: string;
  readonly body: Body;
}

/** What a request breaks: one part of it (the others plausible), or all of them at once. */
type Focus = 'path' | 'query' | 'body' | 'auth' | 'all';

function requestFor(op: Operation): fc.Arbitrary<FuzzRequest> {
  const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const hasQuery = op.params.some((p) => p.in === 'query');
  const focus = fc.constantFrom<Focus>(
    'body',
    'body',
    'all',
    'auth',
    ...(names.length > 0 ? (['path', 'path'] as const) : []),
    ...(hasQuery ? (['query', 'query'] as const) : []),
  );
  return focus.chain((f) => {
    const breaks = (part: Focus) => f === part || f === 'all';
    const who = breaks('auth')
      ? fc.constantFrom<Who>('none', 'none', 'junk', 'client')
      : fc.constantFrom<Who>('staff', 'staff', 'staff', 'client');
    return fc
      .record({
        who,
        junkAuth: fc.constantFrom(...JUNK_AUTH),
        ids: fc.tuple(...names.map((n) => pathValue(op, n, breaks('path')))),
        query: queryFor(op, breaks('query')),
        body: bodyFor(op, breaks('body')),
      })
      .map(({ who, junkAuth, ids, query, body }): FuzzRequest => {
        let path = op.path;
        names.forEach((n, i) => {
          path = path.replace(`{${n}}`, ids[i]!);
        });
        return { who, junkAuth, method: op.method, url: query ? `${path}?${query}` : path, body };
      });
  });
}

function describeRequest(r: FuzzRequest): string {
  const body =
    r.body.kind === 'none'
      ? 'no body'
      : `${r.body.kind} body (${r.body.contentType || 'no content type'}) ${preview(r.body.kind === 'json' ? r.body.value : r.body.text)}`;
  return `${r.method} ${preview(r.url)} as ${r.who === 'junk' ? preview(r.junkAuth, 40) : r.who}, ${body}`;
}

async function send(r: FuzzRequest) {
  const headers: Record<string, string> = {};
  if (r.who === 'staff' || r.who === 'client') {
    const auth = callers[r.who];
    if ('bearer' in auth) headers.authorization = `Bearer ${auth.bearer}`;
  }
  if (r.who === 'junk') headers.authorization = r.junkAuth;
  let payload: string | undefined;
  if (r.body.kind !== 'none') {
    payload = r.body.kind === 'json' ? JSON.stringify(r.body.value) : r.body.text;
    if (r.body.contentType) headers['content-type'] = r.body.contentType;
  }
  return shop.t.app.inject({
    method: r.method,
    url: r.url,
    headers,
    ...(payload !== undefined ? { payload } : {}),
  });
}

/** Sends one request and checks the answer; a 4xx must leave the state as it found it. */
async function check(r: FuzzRequest): Promise<void> {
  const res = await send(r);
  // The next request compares with what this one left, even if this one fails (shrinking
  // replays requests, each against the state the one before it left).
  const before = state;
  const after = await fuzzState(shop.ctx);
  state = after;
  const what = `${describeRequest(r)}\n → ${res.statusCode} ${preview(res.body, 500)}`;
  expect(res.statusCode, what).toBeLessThan(500);
  if (res.statusCode >= 400) {
    expect(res.headers['content-type'], what).toMatch(/^application\/json/);
    const body = res.json() as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    expect(Object.keys(body), what).toEqual(['error']);
    expect(Object.keys(body.error ?? {}).sort(), what).toEqual(['code', 'details', 'message']);
    expect(body.error?.code, what).toMatch(SNAKE_CASE);
    expect(typeof body.error?.message, what).toBe('string');
    expect(body.error?.details, what).toBeTypeOf('object');
    expect(body.error?.details, what).not.toBeNull();
    if (after !== before)
      expect.fail(`a refused request changed the state: ${what}\n${firstDifference(before, after)}`);
  }
}

describe(`REST fuzz: ${FUZZ_RUNS} requests per operation, ${FUZZ_RUNS * 5} mixed`, () => {
  it('the document lists the operations', () => {
    expect(ops.length).toBeGreaterThan(50);
  });

  // Operations in any order, so that one request sets up what another trips on; first, and
  // without DELETE, so that what there is to act on is still there.
  it('every operation but DELETE, mixed', async () => {
    const any = fc.constantFrom(...ops.filter((op) => op.method !== 'DELETE')).chain(requestFor);
    await fc.assert(
      fc.asyncProperty(any, (r) => check(r)),
      fuzzParams('REST mixed', FUZZ_RUNS * 5),
    );
  });

  // One property per operation, each with its own seed.
  it.each(ops.map((op) => [`${op.method} ${op.path}`, op] as const))('%s', async (name, op) => {
    await fc.assert(
      fc.asyncProperty(requestFor(op), (r) => check(r)),
      fuzzParams(name),
    );
  });

  it('the ledger balances after it all', async () => {
    await expectLedgerBalanced(shop.ctx);
  });
});
