import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAdmin,
  createHttpTest,
  createToken,
  expectError,
  type HttpTest,
  login,
  request,
} from '../helpers/http.js';

let t: HttpTest;
beforeAll(async () => {
  t = await createHttpTest();
});
afterAll(async () => {
  await t?.close();
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const JSON_TYPES = new Set(['null', 'boolean', 'object', 'array', 'number', 'string', 'integer']);

/** The accounts module's routes the document must describe, with their methods. */
const EXPECTED: Record<string, string[]> = {
  '/api/v1/auth/login': ['post'],
  '/api/v1/auth/logout': ['post'],
  '/api/v1/auth/options': ['get'],
  '/api/v1/auth/signup': ['post'],
  '/api/v1/me': ['get'],
  '/api/v1/me/password': ['post'],
  '/api/v1/me/tokens': ['get', 'post'],
  '/api/v1/me/tokens/{id}': ['delete'],
  '/api/v1/provider': ['get', 'patch'],
  '/api/v1/accounts': ['get', 'post'],
  '/api/v1/accounts/{id}': ['get', 'patch'],
  '/api/v1/accounts/{id}/balance': ['get'],
  '/api/v1/accounts/{id}/ledger': ['get'],
  '/api/v1/accounts/{id}/adjustments': ['post'],
  '/api/v1/accounts/{id}/payments': ['get', 'post'],
  '/api/v1/payments/{id}': ['get'],
  '/api/v1/accounts/{id}/users': ['get', 'post'],
  '/api/v1/users': ['get', 'post'],
  '/api/v1/users/{id}': ['patch'],
};

function resolvePointer(doc: Obj, ref: string): Json | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: Json | undefined = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** Every `$ref` in the document, with where it was found. */
function collectRefs(node: Json, path: string, out: { ref: string; at: string }[]): void {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) collectRefs(n, `${path}/${i}`, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push({ ref: v, at: path });
      else collectRefs(v, `${path}/${k}`, out);
    }
  }
}

/** JSON Schema 2020-12 (the OpenAPI 3.1 dialect) sanity: valid `type`s, no 3.0-only `nullable`. */
function checkSchema(schema: Json, at: string, problems: string[]): void {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    if (typeof schema !== 'boolean') problems.push(`${at}: schema is not an object`);
    return;
  }
  if ('nullable' in schema) problems.push(`${at}: "nullable" is OpenAPI 3.0, not 3.1`);
  const type = schema.type;
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    for (const ty of types)
      if (typeof ty !== 'string' || !JSON_TYPES.has(ty)) problems.push(`${at}: bad type ${ty}`);
  }
  if (schema.required !== undefined && !Array.isArray(schema.required))
    problems.push(`${at}: required not an array`);
  const props = schema.properties;
  if (props && typeof props === 'object' && !Array.isArray(props)) {
    for (const [k, v] of Object.entries(props)) checkSchema(v, `${at}/properties/${k}`, problems);
  }
  for (const k of ['items', 'additionalProperties', 'not'] as const) {
    const v = schema[k];
    if (v !== undefined && typeof v === 'object') checkSchema(v, `${at}/${k}`, problems);
  }
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    const v = schema[k];
    if (Array.isArray(v)) for (const [i, sub] of v.entries()) checkSchema(sub, `${at}/${k}/${i}`, problems);
  }
}

describe('OpenAPI document', () => {
  let doc: Obj;
  beforeAll(async () => {
    const res = await t.app.inject({ url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.json();
  });

  it('is public and declares OpenAPI 3.1 with info, servers-free paths and security schemes', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const info = doc.info as Obj;
    expect(info.title).toBe('Billfold API');
    expect(typeof info.version).toBe('string');
    const schemes = (doc.components as Obj).securitySchemes as Obj;
    expect(schemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'bf_session' });
  });

  it('lists every /api/v1 route and nothing internal', () => {
    const paths = doc.paths as Obj;
    for (const [path, methods] of Object.entries(EXPECTED)) {
      const item = paths[path] as Obj | undefined;
      expect(item, path).toBeDefined();
      for (const m of methods) expect(item?.[m], `${m.toUpperCase()} ${path}`).toBeDefined();
    }
    // Other modules add their routes; all of them live under /api/v1, internal ones stay hidden.
    for (const path of Object.keys(paths)) expect(path).toMatch(/^\/api\/v1\//);
  });

  it('every operation has responses with descriptions, and every path parameter is declared', () => {
    const problems: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Obj)) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const method of METHODS) {
        const op = (item as Obj)[method] as Obj | undefined;
        if (!op) continue;
        const where = `${method.toUpperCase()} ${path}`;
        const responses = op.responses as Obj | undefined;
        if (!responses || Object.keys(responses).length === 0) problems.push(`${where}: no responses`);
        for (const [status, r] of Object.entries(responses ?? {})) {
          if (!/^[1-5]\d\d$|^default$/.test(status)) problems.push(`${where}: bad status ${status}`);
          if (typeof (r as Obj).description !== 'string') problems.push(`${where} ${status}: no description`);
        }
        const params = ((op.parameters as Obj[] | undefined) ?? []).filter((p) => p.in === 'path');
        for (const name of templated) {
          const p = params.find((x) => x.name === name);
          if (!p) problems.push(`${where}: path parameter ${name} not declared`);
          else if (p.required !== true) problems.push(`${where}: path parameter ${name} not required`);
        }
        for (const p of (op.parameters as Obj[] | undefined) ?? []) {
          if (!['path', 'query', 'header', 'cookie'].includes(String(p.in)))
            problems.push(`${where}: bad parameter`);
          if (p.schema !== undefined) checkSchema(p.schema, `${where} param ${String(p.name)}`, problems);
        }
        const content = ((op.requestBody as Obj | undefined)?.content ?? {}) as Obj;
        for (const [type, media] of Object.entries(content)) {
          checkSchema((media as Obj).schema ?? null, `${where} body ${type}`, problems);
        }
        for (const [status, r] of Object.entries(responses ?? {})) {
          for (const [type, media] of Object.entries(((r as Obj).content ?? {}) as Obj)) {
            checkSchema((media as Obj).schema ?? null, `${where} ${status} ${type}`, problems);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('every $ref resolves inside the document (the shared Error schema is a component)', () => {
    const refs: { ref: string; at: string }[] = [];
    collectRefs(doc, '#', refs);
    expect(refs.length).toBeGreaterThan(0);
    const dangling = refs.filter((r) => resolvePointer(doc, r.ref) === undefined);
    expect(dangling).toEqual([]);
    const error = resolvePointer(doc, '#/components/schemas/Error') as Obj;
    expect(error).toMatchObject({ type: 'object', required: ['error'] });
    const problems: string[] = [];
    for (const [name, s] of Object.entries(((doc.components as Obj).schemas ?? {}) as Obj)) {
      checkSchema(s, `components/schemas/${name}`, problems);
    }
    expect(problems).toEqual([]);
  });

  it('documents money as decimal strings and inputs as closed objects', () => {
    const op = ((doc.paths as Obj)['/api/v1/accounts/{id}/payments'] as Obj).post as Obj;
    const schema = (((op.requestBody as Obj).content as Obj)['application/json'] as Obj).schema as Obj;
    expect(schema.additionalProperties).toBe(false);
    expect((schema.properties as Obj).amount).toMatchObject({ type: 'string' });
    expect(schema.required).toEqual(expect.arrayContaining(['amount', 'method', 'reference']));
  });

  it('is the same document the docs UI serves', async () => {
    const res = await t.app.inject({ url: '/api/docs/json' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(doc);
  });
});

describe('browsable docs', () => {
  it('GET /api/docs serves the HTML page without signing in', async () => {
    let res = await t.app.inject({ url: '/api/docs' });
    for (let hops = 0; hops < 3 && res.statusCode >= 300 && res.statusCode < 400; hops++) {
      const location = res.headers.location;
      expect(typeof location).toBe('string');
      res = await t.app.inject({ url: new URL(String(location), 'http://localhost/api/docs').pathname });
    }
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/swagger-ui/i);
  });

  it('the docs assets load without signing in', async () => {
    const page = await t.app.inject({ url: '/api/docs/' });
    const assets = [...page.body.matchAll(/(?:src|href)="\.?\/?([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const res = await t.app.inject({ url: `/api/docs/${asset.replace(/^\/?api\/docs\//, '')}` });
      expect(res.statusCode, asset).toBe(200);
    }
  });
});

describe('unknown routes', () => {
  it('an unknown route → 404 route_not_found JSON, signed in or not', async () => {
    const anon = await t.app.inject({ url: '/api/v1/no-such-thing?x=1' });
    const err = expectError(anon, 404, 'route_not_found');
    expect(err.message).toBe('No route GET /api/v1/no-such-thing.');
    expectError(
      await t.app.inject({ method: 'POST', url: '/api/v2/accounts', payload: {} }),
      404,
      'route_not_found',
    );
    await createAdmin(t.ctx, 'boss@example.com');
    const s = await login(t.app, 'boss@example.com');
    expectError(await request(t.app, 'GET', '/api/v1/nothing', { auth: s }), 404, 'route_not_found');
    const token = await createToken(t.app, s);
    expectError(
      await request(t.app, 'DELETE', '/api/v1/me', { auth: { bearer: token } }),
      404,
      'route_not_found',
    );
  });

  it('the health check is public', async () => {
    const res = await t.app.inject({ url: '/api/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', time: '2021-12-16T10:00:00.000Z' });
  });
});
