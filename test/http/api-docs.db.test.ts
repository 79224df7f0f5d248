import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runQueuedOperations } from '../../src/modules/services/executor.js';
import { TEST_ENGINE } from '../helpers/db.js';
import { createAdmin, createHttpTest, createToken, type HttpTest, login } from '../helpers/http.js';

/**
 * The examples of docs/api.md are real answers: this walkthrough runs through the application
 * (staff set up a product type and tariffs, take on a client and a payment; the client signs in,
 * reads the catalog, asks a quote, orders, pays, and renews) on a fixed clock, renders each
 * request as a curl command with the answer it got, and compares them with the blocks between
 * `<!-- example:NAME -->` and `<!-- /example -->`. `UPDATE_API_DOCS=1` rewrites the blocks.
 * Secrets (tokens, CSRF tokens) are shown as placeholders. SQLite only: the answers are the same
 * on PostgreSQL, and one engine is enough to keep the page true.
 */

const DOC = fileURLToPath(new URL('../../docs/api.md', import.meta.url));
const BASE = 'http://localhost:8080';
const WIDTH = 96;
const SELF = 'test/http/api-docs.db.test.ts';

type Auth = 'admin' | 'client' | 'login' | 'session' | 'public';
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Example {
  readonly method: Method;
  readonly path: string;
  readonly auth: Auth;
  readonly body: unknown;
  readonly status: number;
  readonly response: unknown;
}

/** JSON on one line, with a space after each colon and comma. */
function inlineJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(inlineJson).join(', ')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}: ${inlineJson(x)}`)
      .join(', ')}}`;
  return JSON.stringify(v);
}

/**
 * JSON with short objects and arrays kept on one line: readable, and stable for comparison.
 * `indent` is the line's indentation, `prefix` what stands before the value on its first line.
 */
function compactJson(value: unknown, indent = 0, prefix = 0): string {
  const flat = inlineJson(value);
  if (indent + prefix + flat.length <= WIDTH || value === null || typeof value !== 'object') return flat;
  const pad = ' '.repeat(indent + 2);
  const close = ' '.repeat(indent);
  if (Array.isArray(value)) {
    return `[\n${value.map((v) => pad + compactJson(v, indent + 2)).join(',\n')}\n${close}]`;
  }
  return `{\n${Object.entries(value)
    .map(([k, v]) => {
      const key = `${JSON.stringify(k)}: `;
      return pad + key + compactJson(v, indent + 2, key.length);
    })
    .join(',\n')}\n${close}}`;
}

/** Secrets a reader must not copy, replaced by what they stand for. */
function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        if (k === 'token' && typeof v === 'string') return [k, 'bf_…'];
        if (k === 'hint' && typeof v === 'string') return [k, 'bf_…'];
        if (k === 'csrfToken' && typeof v === 'string') return [k, '…'];
        return [k, redact(v)];
      }),
    );
  }
  return value;
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No Content' };

/** The markdown of one example: the curl command (with the status it got) and the answer. */
function renderExample(e: Example): string {
  const args: string[] = [];
  if (e.method !== 'GET' && !(e.method === 'POST' && e.body !== undefined)) args.push(`-X ${e.method}`);
  if (e.auth === 'admin') args.push('-H "authorization: Bearer $ADMIN"');
  if (e.auth === 'client') args.push('-H "authorization: Bearer $CLIENT"');
  if (e.auth === 'login') args.push('-c jar');
  if (e.auth === 'session') args.push('-b jar -H "x-csrf-token: $CSRF"');
  if (e.body !== undefined) {
    const json = inlineJson(e.body);
    expect(json, 'a request body with a single quote cannot be shown in shell quotes').not.toContain("'");
    args.push(`-H 'content-type: application/json' -d '${json}'`);
  }
  // A query string's `?` is a glob to some shells: such a URL goes in quotes.
  const url = `${BASE}${e.path}`;
  const lines = [`curl -s ${/[?&]/.test(url) ? `'${url}'` : url}`];
  for (const a of args) {
    const last = lines.length - 1;
    if (lines[last]!.length + a.length + 3 <= WIDTH) lines[last] += ` ${a}`;
    else lines.push(`  ${a}`);
  }
  const curl = lines.join(' \\\n');
  return [
    '```sh',
    curl,
    `# → ${e.status} ${STATUS_TEXT[e.status] ?? ''}`.trimEnd(),
    '```',
    '',
    '```json',
    compactJson(redact(e.response)),
    '```',
  ].join('\n');
}

const MARKER = /<!-- example:([a-z0-9-]+) -->\n([\s\S]*?)<!-- \/example -->/g;

/** The example blocks of a page, by name. */
function blocksOf(doc: string): Map<string, string> {
  return new Map([...doc.matchAll(MARKER)].map((m) => [m[1]!, m[2]!.trimEnd()]));
}

/** The page with every example block replaced by its rendering; unknown blocks are left alone. */
function withBlocks(doc: string, rendered: ReadonlyMap<string, string>): string {
  return doc.replace(MARKER, (whole, name: string) => {
    const block = rendered.get(name);
    return block === undefined ? whole : `<!-- example:${name} -->\n${block}\n<!-- /example -->`;
  });
}

describe.skipIf(TEST_ENGINE === 'postgres')('docs/api.md examples are real answers', () => {
  let t: HttpTest;
  const examples = new Map<string, Example>();
  let adminToken = '';
  let clientToken = '';
  let session = { cookie: '', csrf: '' };

  /** One request of the walkthrough: sent for real, recorded under `name`, its JSON returned. */
  async function step(
    name: string,
    method: Method,
    path: string,
    auth: Auth,
    body?: unknown,
  ): Promise<
    // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field below
    any
  > {
    const headers: Record<string, string> = {};
    if (auth === 'admin') headers.authorization = `Bearer ${adminToken}`;
    if (auth === 'client') headers.authorization = `Bearer ${clientToken}`;
    if (auth === 'session') {
      headers.cookie = `bf_session=${session.cookie}`;
      headers['x-csrf-token'] = session.csrf;
    }
    const res = await t.app.inject({
      method,
      url: path,
      headers,
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    expect(res.statusCode, `${method} ${path}: ${res.body}`).toBeLessThan(300);
    const response = res.json();
    if (auth === 'login') {
      session = {
        cookie: res.cookies.find((c) => c.name === 'bf_session')!.value,
        csrf: (response as { csrfToken: string }).csrfToken,
      };
    }
    expect(examples.has(name), `example ${name} recorded twice`).toBe(false);
    examples.set(name, { method, path, auth, body, status: res.statusCode, response });
    return response;
  }

  beforeAll(async () => {
    t = await createHttpTest({ now: '2021-12-16T10:00:00Z' });
    // The admin's token comes from `billfold token create` in the walkthrough's prose.
    await createAdmin(t.ctx, 'admin@billfold.local');
    adminToken = await createToken(t.app, await login(t.app, 'admin@billfold.local'), 'walkthrough');

    // Staff: a product type, two tariffs, the tariff list.
    await step('product-type', 'POST', '/api/v1/product-types', 'admin', {
      code: 'vps',
      name: 'Virtual servers',
      deletionDelayDays: 7,
      serviceParams: ['hostname'],
    });
    const small = await step('tariff', 'POST', '/api/v1/tariffs', 'admin', {
      name: 'VPS S',
      productType: 'vps',
      periods: [1, 3, 12],
      prices: { '1': '10.00', '12': '100.00' },
      setupFee: '5.00',
    });
    await step('tariff-2', 'POST', '/api/v1/tariffs', 'admin', {
      name: 'VPS M',
      productType: 'vps',
      periods: [1],
      prices: { '1': '20.00' },
    });
    await step('tariffs', 'GET', '/api/v1/tariffs?productType=vps', 'admin');

    // Staff set the seller's details and VAT rate printed on invoices.
    await step('provider', 'PATCH', '/api/v1/provider', 'admin', {
      legalName: 'Example Hosting Ltd',
      legalAddress: '1 Example Street, London',
      vatNumber: 'GB123456789',
      vatRate: '20',
    });
    // Staff take on a client with a login and record a payment.
    const { account } = await step('account', 'POST', '/api/v1/accounts', 'admin', {
      name: 'Alpha Hosting',
      email: 'alpha@example.com',
      password: 'alpha password 1',
    });
    await step('payment', 'POST', `/api/v1/accounts/${account.id}/payments`, 'admin', {
      amount: '50.00',
      method: 'bank',
      reference: 'BANK-2021-0001',
    });

    // The client: signs in, makes a token, reads the catalog, quotes, orders, pays.
    await step('login', 'POST', '/api/v1/auth/login', 'login', {
      email: 'alpha@example.com',
      password: 'alpha password 1',
    });
    clientToken = (await step('token', 'POST', '/api/v1/me/tokens', 'session', { name: 'my script' })).token;
    await step('catalog', 'GET', '/api/v1/catalog?productType=vps', 'public');
    const item = { tariffId: small.id, period: 1, params: { hostname: 'web1.example.com' } };
    await step('quote', 'POST', '/api/v1/quotes', 'client', item);
    const order = await step('order', 'POST', '/api/v1/orders', 'client', { items: [item] });
    const paid = await step('pay', 'POST', `/api/v1/orders/${order.id}/pay`, 'client');
    // What `serve` does in the background within a few seconds: the service opens.
    await runQueuedOperations(t.ctx);
    const serviceId = paid.items[0].serviceId as number;
    await step('service', 'GET', `/api/v1/services/${serviceId}`, 'client');
    await step('renew', 'POST', `/api/v1/services/${serviceId}/renew`, 'client', { period: 1 });
    await step('balance', 'GET', `/api/v1/accounts/${account.id}/balance`, 'client');
    const docs = await step('invoices', 'GET', '/api/v1/invoices?kind=invoice', 'client');
    await step('invoice', 'GET', `/api/v1/invoices/${docs.items[docs.items.length - 1].id}`, 'client');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('every example block of docs/api.md is the rendering of a real answer (UPDATE_API_DOCS=1 rewrites them)', () => {
    const doc = readFileSync(DOC, 'utf8');
    const rendered = new Map([...examples].map(([name, e]) => [name, renderExample(e)]));
    if (process.env.UPDATE_API_DOCS === '1') {
      const missing = [...rendered.keys()].filter((name) => !blocksOf(doc).has(name));
      expect(missing, 'add an empty <!-- example:NAME --><!-- /example --> pair for each').toEqual([]);
      writeFileSync(DOC, withBlocks(doc, rendered));
    }
    const blocks = blocksOf(readFileSync(DOC, 'utf8'));
    expect([...blocks.keys()].sort(), 'docs/api.md has a block for each example, and no other').toEqual(
      [...rendered.keys()].sort(),
    );
    for (const [name, block] of rendered) {
      expect(blocks.get(name), `example ${name} differs: run UPDATE_API_DOCS=1 npx vitest run ${SELF}`).toBe(
        block,
      );
    }
  });

  it('renders compactly and round-trips the page', () => {
    expect(compactJson({ a: [1, 2], b: { c: null } })).toBe('{"a": [1, 2], "b": {"c": null}}');
    const long = { items: Array.from({ length: 12 }, (_, i) => ({ id: i, name: `tariff ${i}` })) };
    const text = compactJson(long);
    expect(JSON.parse(text)).toEqual(long);
    expect(text.split('\n').every((l) => l.length <= WIDTH)).toBe(true);
    const page = 'intro\n<!-- example:x -->\nold\n<!-- /example -->\nend\n';
    expect(withBlocks(page, new Map([['x', 'new']]))).toBe(
      'intro\n<!-- example:x -->\nnew\n<!-- /example -->\nend\n',
    );
    expect(blocksOf(page)).toEqual(new Map([['x', 'old']]));
  });
});
