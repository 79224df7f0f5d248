import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildHttpApp } from '../../src/app/http.js';
import { LOGIN_WAIT_MS } from '../../src/modules/accounts/auth.js';
import { pruneCredentials } from '../../src/modules/accounts/housekeeping.js';
import {
  errorXml,
  expectXml,
  PASSWORD as MGR_PASSWORD,
  mgr,
  openSeller,
  type Seller,
} from '../billmgr/setup.js';
import { contextOn, type TestContext } from '../helpers/context.js';
import {
  createClient,
  createHttpTest,
  expectError,
  type HttpTest,
  loginRequest,
  PASSWORD,
} from '../helpers/http.js';

/**
 * The login limits (5 failures per email, 30 per IP, in 15 minutes) hold under concurrency:
 * an attempt is counted before its password or key is checked, so 50 guesses fired at once —
 * through two application instances, each with its own connections to the database — get at
 * most 5 (or 30) passwords evaluated. Evaluations are counted at argon2 itself.
 */
const argon = vi.hoisted(() => ({ verifications: 0 }));
vi.mock('argon2', async (importOriginal) => {
  const real = (await importOriginal<{ default: typeof import('argon2') }>()).default;
  return {
    default: {
      ...real,
      verify: (...args: Parameters<typeof real.verify>) => {
        argon.verifications++;
        return real.verify(...args);
      },
    },
  };
});

const IP = '203.0.113.7';

/** A second application on its own database handle (another process, in effect), same clock. */
async function secondApp(ctx: TestContext): Promise<FastifyInstance> {
  const app = await buildHttpApp(contextOn(ctx.testDb.openAnother(), ctx.testDb, undefined, ctx.clock));
  await app.ready();
  return app;
}

/** How many answers had each status. */
function statuses(codes: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const c of codes) out[c] = (out[c] ?? 0) + 1;
  return out;
}

describe('REST sign-in under parallel guesses', () => {
  let t: HttpTest;
  let other: FastifyInstance;
  beforeEach(async () => {
    t = await createHttpTest({ file: true });
    other = await secondApp(t.ctx);
    argon.verifications = 0;
  });
  afterEach(async () => {
    await other.close();
    await t.close();
  });

  it('50 wrong passwords for one email at once: 5 evaluated, the rest 429; then the right one is 429', async () => {
    await createClient(t.ctx, 'ann@example.com');
    argon.verifications = 0;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        loginRequest(i % 2 ? other : t.app, 'ann@example.com', `wrong-password-${i}`, IP),
      ),
    );
    expect(argon.verifications).toBe(5);
    expect(statuses(answers.map((r) => r.statusCode))).toEqual({ 401: 5, 429: 45 });
    for (const r of answers) {
      expectError(r, r.statusCode, r.statusCode === 401 ? 'invalid_credentials' : 'too_many_login_attempts');
    }
    const rows = await t.ctx.db.kysely.selectFrom('login_attempts').select(['email', 'outcome']).execute();
    expect(rows).toEqual(Array.from({ length: 5 }, () => ({ email: 'ann@example.com', outcome: 'failure' })));

    const right = await loginRequest(t.app, 'ann@example.com', PASSWORD, IP);
    expectError(right, 429, 'too_many_login_attempts');
    expect(right.cookies).toEqual([]);
    expect(argon.verifications).toBe(5);
  });

  it('with housekeeping deleting idle limit keys all the while, 50 guesses still get 5 evaluated', async () => {
    await createClient(t.ctx, 'ann@example.com');
    argon.verifications = 0;
    // Keys with no attempt left (their attempts aged out): housekeeping's to delete, while the
    // guesses make them again and lock them.
    await t.ctx.db.kysely
      .insertInto('login_limit_keys')
      .values([
        { scope: 'email', key: 'ann@example.com' },
        { scope: 'ip', key: IP },
      ])
      .execute();
    let guessing = true;
    const sweeping = (async () => {
      let sweeps = 0;
      while (guessing || sweeps === 0) {
        await pruneCredentials(t.ctx, { mgrSessionIdleMs: 3_600_000 });
        sweeps++;
        // A pause between sweeps, as between two daily runs: on SQLite a loop of write
        // transactions with none would starve the other instance's connection of the lock.
        await new Promise((r) => setTimeout(r, 2));
      }
      return sweeps;
    })();
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        loginRequest(i % 2 ? other : t.app, 'ann@example.com', `wrong-password-${i}`, IP),
      ),
    ).finally(() => {
      guessing = false;
    });
    expect(await sweeping).toBeGreaterThan(0);
    expect(argon.verifications).toBe(5);
    expect(statuses(answers.map((r) => r.statusCode))).toEqual({ 401: 5, 429: 45 });
  });

  it('10 right passwords for one email at once all sign in: attempts in flight are waited for, not refused', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        loginRequest(i % 2 ? other : t.app, 'ann@example.com', PASSWORD, IP),
      ),
    );
    expect(answers.map((r) => r.statusCode)).toEqual(Array.from({ length: 10 }, () => 200));
    const rows = await t.ctx.db.kysely
      .selectFrom('login_attempts')
      .select(['outcome', 'settled_at'])
      .execute();
    expect(rows).toEqual(
      Array.from({ length: 10 }, () => ({ outcome: 'success', settled_at: '2021-12-16T10:00:00.000Z' })),
    );
  });

  it('attempts left in flight by a crash hold the limit, and count as failures after a minute', async () => {
    await createClient(t.ctx, 'ann@example.com');
    const inFlight = Array.from({ length: 5 }, () => ({
      email: 'ann@example.com',
      ip: IP,
      outcome: 'failure' as const,
      created_at: '2021-12-16T10:00:00.000Z',
      settled_at: null,
    }));
    await t.ctx.db.kysely.insertInto('login_attempts').values(inFlight).execute();
    // Still in flight: the attempt waits for them (LOGIN_WAIT_MS), then is refused unevaluated.
    const started = Date.now();
    expectError(await loginRequest(t.app, 'ann@example.com', PASSWORD, IP), 429, 'too_many_login_attempts');
    expect(Date.now() - started).toBeGreaterThanOrEqual(LOGIN_WAIT_MS);
    // A minute later nobody is checking them any more: they are failures, refused at once.
    t.ctx.clock.advance(61_000);
    const refused = await loginRequest(t.app, 'ann@example.com', PASSWORD, IP);
    expectError(refused, 429, 'too_many_login_attempts');
    expect(refused.headers['retry-after']).toBe(String(15 * 60 - 61));
    expect(argon.verifications).toBe(0);
  });

  it('50 wrong passwords for 50 emails from one IP at once: 30 evaluated; the IP is then refused', async () => {
    await createClient(t.ctx, 'ann@example.com');
    argon.verifications = 0;
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        loginRequest(i % 2 ? other : t.app, `probe${i}@example.com`, 'wrong-password', IP),
      ),
    );
    expect(argon.verifications).toBe(30);
    expect(statuses(answers.map((r) => r.statusCode))).toEqual({ 401: 30, 429: 20 });
    expectError(await loginRequest(other, 'ann@example.com', PASSWORD, IP), 429, 'too_many_login_attempts');
    expect((await loginRequest(t.app, 'ann@example.com', PASSWORD, '198.51.100.1')).statusCode).toBe(200);
  });
});

describe('/billmgr sign-in under parallel guesses', () => {
  const TOO_MANY = errorXml('auth', 'Too many failed sign-in attempts. Try again later.');
  const WRONG = errorXml('auth', 'The email or password is wrong.');
  const BAD_KEY = errorXml('auth', 'The key is wrong, used or expired.');
  let s: Seller;
  let other: FastifyInstance;
  beforeEach(async () => {
    s = await openSeller({ file: true });
    other = await secondApp(s.t.ctx);
    argon.verifications = 0;
  });
  afterEach(async () => {
    await other.close();
    await s.t.close();
  });

  /** A /billmgr form POST to either application instance. */
  const call = (app: FastifyInstance, params: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url: '/billmgr',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(params).toString(),
    });

  it('50 wrong authinfo passwords at once: 5 evaluated; then the right authinfo and func=auth are refused', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call(i % 2 ? other : s.t.app, { authinfo: `bravo@example.com:wrong-${i}`, func: 'soft' }),
      ),
    );
    expect(argon.verifications).toBe(5);
    const bodies = answers.map((r) => r.body.replace(/^<\?xml[^>]*>\n/, ''));
    expect(bodies.filter((b) => b === WRONG)).toHaveLength(5);
    expect(bodies.filter((b) => b === TOO_MANY)).toHaveLength(45);
    expectXml(await mgr(s, { authinfo: s.bravo.authinfo, func: 'soft' }), TOO_MANY);
    expectXml(
      await mgr(s, { func: 'auth', username: 'bravo@example.com', password: MGR_PASSWORD }),
      TOO_MANY,
    );
    expect(argon.verifications).toBe(5);
    // Alpha is not affected.
    expectXml(await mgr(s, { authinfo: s.alpha.authinfo, func: 'soft' }), '<doc/>');
  });

  it('10 right authinfo calls at once (nothing remembered yet) all answer: none is refused as too many', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call(i % 2 ? other : s.t.app, { authinfo: s.bravo.authinfo, func: 'soft' }),
      ),
    );
    expect(answers.map((r) => r.body.replace(/^<\?xml[^>]*>\n/, ''))).toEqual(
      Array.from({ length: 10 }, () => '<doc/>'),
    );
  });

  it('one-time key failures count: 50 wrong keys at once get 5 answers, then even the right key is refused and not spent', async () => {
    const key = 'right-one-time-key-000000';
    expectXml(
      await mgr(s, {
        authinfo: s.admin.authinfo,
        func: 'session.newkey',
        username: 'bravo@example.com',
        key,
      }),
      '<doc><ok/></doc>',
    );
    const byKey = (k: string) => ({ func: 'auth', username: 'bravo@example.com', key: k, checkcookie: 'no' });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(i % 2 ? other : s.t.app, byKey(`wrong-key-${i}-0000000000`))),
    );
    const bodies = answers.map((r) => r.body.replace(/^<\?xml[^>]*>\n/, ''));
    expect(bodies.filter((b) => b === BAD_KEY)).toHaveLength(5);
    expect(bodies.filter((b) => b === TOO_MANY)).toHaveLength(45);
    expectXml(await mgr(s, byKey(key)), TOO_MANY);
    // The same counter as passwords.
    expectXml(await mgr(s, { authinfo: s.bravo.authinfo, func: 'soft' }), TOO_MANY);
    const row = await s.t.ctx.db.kysely
      .selectFrom('mgr_login_keys')
      .select('used_at')
      .executeTakeFirstOrThrow();
    expect(row.used_at).toBeNull();
    // Once the failures leave the window, the unspent key works (its hour has not passed).
    s.t.ctx.clock.advance(15 * 60_000);
    expectXml(await mgr(s, byKey(key)), '<doc><auth id="<SID>" level="16"><SID></auth></doc>');
  });

  it('a key login is a success: it resets the email’s count like a password', async () => {
    const key = 'resetting-one-time-key-0000';
    await mgr(s, { authinfo: s.admin.authinfo, func: 'session.newkey', username: 'bravo@example.com', key });
    for (let i = 0; i < 4; i++)
      expectXml(await mgr(s, { authinfo: `bravo@example.com:wrong-${i}`, func: 'soft' }), WRONG);
    expectXml(
      await mgr(s, { func: 'auth', username: 'bravo@example.com', key, checkcookie: 'no' }),
      '<doc><auth id="<SID>" level="16"><SID></auth></doc>',
    );
    for (let i = 0; i < 4; i++)
      expectXml(await mgr(s, { authinfo: `bravo@example.com:wrong-${i}`, func: 'soft' }), WRONG);
    expectXml(await mgr(s, { authinfo: s.bravo.authinfo, func: 'soft' }), '<doc/>');
  });
});
