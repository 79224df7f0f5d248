import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildHttpApp } from '../../src/app/http.js';
import { createAccount, createAdminUser, systemActor } from '../../src/modules/accounts/index.js';
import type { AnyModuleType } from '../../src/modules/provisioning/plugin.js';
import type { AccountRow, UserRow } from '../../src/platform/db/index.js';
import type { Logger } from '../../src/platform/logger.js';
import { createTestContext, type TestContext } from './context.js';

/**
 * HTTP-level tests: the real application (every plugin, hook and error handler) on a fresh
 * test database, driven with `app.inject` (no socket). Users are made with the commands,
 * then sign in over HTTP like a browser (cookie + CSRF token) or a script (Bearer token).
 */

export const PASSWORD = 'correct-horse-battery';

export interface HttpTest {
  readonly ctx: TestContext;
  readonly app: FastifyInstance;
  /** Closes the app, drops the test database and removes the context's temporary data dir. */
  close(): Promise<void>;
}

export async function createHttpTest(
  opts: { now?: string; moduleTypes?: readonly AnyModuleType[]; logger?: Logger; file?: boolean } = {},
): Promise<HttpTest> {
  const ctx = await createTestContext({
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.moduleTypes ? { moduleTypes: opts.moduleTypes } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.file ? { file: true } : {}),
  });
  const app = await buildHttpApp(ctx);
  await app.ready();
  return {
    ctx,
    app,
    async close() {
      await app.close();
      await ctx.testDb.destroy();
      // createTestContext makes a fresh data dir under the system tmp dir; leave nothing behind.
      if (ctx.config.dataDir.startsWith(tmpdir()))
        rmSync(ctx.config.dataDir, { recursive: true, force: true });
    },
  };
}

export async function createAdmin(ctx: TestContext, email: string, password = PASSWORD): Promise<UserRow> {
  return createAdminUser(ctx, systemActor('test'), { email, password });
}

/** A client account and its first user (who signs in with `password`). */
export async function createClient(
  ctx: TestContext,
  email: string,
  opts: { name?: string; currency?: string; creditLimit?: string; password?: string } = {},
): Promise<{ account: AccountRow; user: UserRow }> {
  const { account, user } = await createAccount(ctx, systemActor('test'), {
    name: opts.name ?? `Client ${email}`,
    email,
    password: opts.password ?? PASSWORD,
    ...(opts.currency ? { currency: opts.currency } : {}),
    ...(opts.creditLimit ? { creditLimit: opts.creditLimit } : {}),
  });
  if (!user) throw new Error('createAccount with a password must create a user');
  return { account, user };
}

/** How a request authenticates: a browser session (cookie + CSRF token) or an API token. */
export type Auth = { readonly cookie: string; readonly csrfToken: string } | { readonly bearer: string };

export interface Session {
  readonly cookie: string;
  readonly csrfToken: string;
  readonly userId: number;
}

export function loginRequest(app: FastifyInstance, email: string, password: string, remoteAddress?: string) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email, password },
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

/** Signs in over HTTP and returns the session cookie and CSRF token. */
export async function login(app: FastifyInstance, email: string, password = PASSWORD): Promise<Session> {
  const res = await loginRequest(app, email, password);
  expect(res.statusCode, res.body).toBe(200);
  const cookie = res.cookies.find((c) => c.name === 'bf_session');
  if (!cookie) throw new Error('login set no bf_session cookie');
  const body = res.json() as { csrfToken: string; user: { id: number } };
  return { cookie: cookie.value, csrfToken: body.csrfToken, userId: body.user.id };
}

/** Creates an API token for the signed-in user and returns its secret. */
export async function createToken(app: FastifyInstance, session: Session, name = 'test'): Promise<string> {
  const res = await request(app, 'POST', '/api/v1/me/tokens', { auth: session, body: { name } });
  expect(res.statusCode, res.body).toBe(201);
  return (res.json() as { token: string }).token;
}

/** A BILLmanager API session (`func=auth`) of the user. */
export async function mgrSession(app: FastifyInstance, email: string, password = PASSWORD): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/billmgr',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ func: 'auth', username: email, password }).toString(),
  });
  const sid = /<auth id="([0-9a-f]+)"/.exec(res.body)?.[1];
  if (!sid) throw new Error(`func=auth gave no session: ${res.body}`);
  return sid;
}

/** Whether a BILLmanager API session still signs its calls in (`func=whoami`). */
export async function mgrSessionWorks(app: FastifyInstance, sid: string): Promise<boolean> {
  const res = await app.inject({ method: 'GET', url: `/billmgr?func=whoami&auth=${sid}` });
  expect(res.statusCode).toBe(200);
  return !res.body.includes('<error');
}

export interface RequestOptions {
  readonly auth?: Auth | undefined;
  readonly body?: unknown;
  /** A session request sends its CSRF token on every call; `false` leaves it out, a string replaces it. */
  readonly csrf?: false | string;
  readonly headers?: Record<string, string>;
  readonly remoteAddress?: string;
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export function request(
  app: FastifyInstance,
  method: Method,
  url: string,
  opts: RequestOptions = {},
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  const auth = opts.auth;
  if (auth && 'bearer' in auth) headers.authorization = `Bearer ${auth.bearer}`;
  if (auth && 'cookie' in auth) {
    headers.cookie = `bf_session=${auth.cookie}`;
    const csrf = opts.csrf === undefined ? auth.csrfToken : opts.csrf;
    if (csrf !== false) headers['x-csrf-token'] = csrf;
  }
  Object.assign(headers, opts.headers);
  return app.inject({
    method,
    url,
    headers,
    ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
    ...(opts.remoteAddress ? { remoteAddress: opts.remoteAddress } : {}),
  });
}

/** The parts of an answer the assertions read; `app.inject`'s responses have them too. */
export interface WireResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly body: string;
  json(): unknown;
}

/**
 * One request over a real loopback socket, for what `app.inject` skips: Node's own HTTP parser
 * (its 431 for a long URL) and requests exactly as a client library writes them (no
 * content-type header unless given). The app starts listening on a free port at the first call.
 */
export async function wireRequest(
  app: FastifyInstance,
  opts: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<WireResponse> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: opts.method,
        path: opts.path,
        headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            statusCode: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            json: () => JSON.parse(text),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface ErrorPayload {
  readonly code: string;
  readonly message: string;
  readonly details: Record<string, unknown>;
}

/**
 * Asserts an error answer: the status, the code, and the shape every error has — exactly
 * `{"error":{"code","message","details"}}`, nothing more. Returns the error object.
 */
export function expectError(res: WireResponse, status: number, code: string): ErrorPayload {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error: ErrorPayload };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'details', 'message']);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.details).toBeTypeOf('object');
  expect(body.error.details).not.toBeNull();
  expect(body.error.code).toBe(code);
  return body.error;
}

const COUNTED = [
  'accounts',
  'users',
  'sessions',
  'api_tokens',
  'ledger_entries',
  'payments',
  'login_attempts',
] as const;
export type CountedTable = (typeof COUNTED)[number];

/** Row counts of the tables a request could write, to prove that a refused request wrote nothing. */
export async function countRows(ctx: TestContext): Promise<Record<CountedTable, number>> {
  const out = {} as Record<CountedTable, number>;
  for (const table of COUNTED) {
    const row = await ctx.db.kysely
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
      .executeTakeFirstOrThrow();
    out[table] = Number(row.n);
  }
  return out;
}

/** A stable picture of the money state: every account's balance and the whole ledger. */
export async function moneySnapshot(ctx: TestContext): Promise<string> {
  const accounts = await ctx.db.kysely
    .selectFrom('accounts')
    .select(['id', 'balance_minor', 'credit_limit_minor', 'status', 'name', 'updated_at'])
    .orderBy('id')
    .execute();
  const entries = await ctx.db.kysely.selectFrom('ledger_entries').selectAll().orderBy('id').execute();
  return JSON.stringify({ accounts, entries }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}
