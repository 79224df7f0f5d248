import { Temporal } from 'temporal-polyfill';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestContext, expectLedgerBalanced, type TestContext } from '../../../test/helpers/context.js';
import { runBilling } from '../billing/run.js';
import { SESSION_IDLE_MS } from '../billmgr/auth.js';
import { systemActor } from './actor.js';
import { authenticatePassword } from './auth.js';
import { createAccount } from './commands.js';
import { pruneCredentials } from './housekeeping.js';

/**
 * The daily housekeeping of credentials: what can no longer let anyone in, and sign-in attempts
 * past their retention, are deleted; what is live stays. The clock is 2021-12-16T10:00:00Z.
 */
let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext();
});
afterEach(async () => {
  await expectLedgerBalanced(ctx);
  await ctx.testDb.destroy();
});

const PASSWORD = 'correct-horse-battery';
const at = (daysAgo: number, minutes = 0) =>
  new Date(Date.parse('2021-12-16T10:00:00Z') - daysAgo * 86_400_000 - minutes * 60_000).toISOString();

async function user(email: string): Promise<number> {
  const { user } = await createAccount(ctx, systemActor('test'), { name: email, email, password: PASSWORD });
  return Number(user!.id);
}

async function seed() {
  const ann = await user('ann@example.com');
  const db = ctx.db.kysely;
  await db
    .insertInto('login_attempts')
    .values([
      {
        email: 'old@example.com',
        ip: '198.51.100.1',
        outcome: 'failure',
        created_at: at(45),
        settled_at: at(45),
      },
      {
        email: 'old@example.com',
        ip: '198.51.100.1',
        outcome: 'failure',
        created_at: at(31),
        settled_at: at(31),
      },
      {
        email: 'ann@example.com',
        ip: '198.51.100.2',
        outcome: 'success',
        created_at: at(29),
        settled_at: at(29),
      },
      {
        email: 'ann@example.com',
        ip: '198.51.100.3',
        outcome: 'failure',
        created_at: at(0, 5),
        settled_at: null,
      },
    ])
    .execute();
  await db
    .insertInto('login_limit_keys')
    .values([
      { scope: 'email', key: 'old@example.com' },
      { scope: 'email', key: 'ann@example.com' },
      { scope: 'ip', key: '198.51.100.1' },
      { scope: 'ip', key: '198.51.100.2' },
      { scope: 'ip', key: '198.51.100.3' },
    ])
    .execute();
  const session = (id: string, expires: string) => ({
    id,
    user_id: ann,
    csrf_token: `csrf-${id}`,
    ip: null,
    user_agent: null,
    created_at: at(20),
    last_seen_at: at(1),
    expires_at: expires,
  });
  await db
    .insertInto('sessions')
    .values([session('s-expired', at(0, 1)), session('s-live', at(-1))])
    .execute();
  await db
    .insertInto('mgr_sessions')
    .values([
      { id: 'm-idle', user_id: ann, created_at: at(3), last_seen_at: at(0, 61) },
      { id: 'm-live', user_id: ann, created_at: at(3), last_seen_at: at(0, 59) },
    ])
    .execute();
  const key = (hash: string, expires: string, used: string | null) => ({
    key_hash: hash,
    user_id: ann,
    created_by_user_id: ann,
    created_at: at(1),
    expires_at: expires,
    used_at: used,
  });
  await db
    .insertInto('mgr_login_keys')
    .values([key('k-used', at(-1), at(0, 30)), key('k-expired', at(0, 1), null), key('k-live', at(-1), null)])
    .execute();
  await db
    .insertInto('password_resets')
    .values([
      { user_id: ann, token_hash: 'r-old', created_at: at(3), expires_at: at(2), used_at: null },
      {
        user_id: ann,
        token_hash: 'r-recent',
        created_at: at(0, 90),
        expires_at: at(0, 30),
        used_at: at(0, 60),
      },
    ])
    .execute();
}

const left = async () => {
  const db = ctx.db.kysely;
  const ids = async <T>(rows: Promise<T[]>, pick: (r: T) => string) => (await rows).map(pick).sort();
  return {
    attempts: await ids(db.selectFrom('login_attempts').select('created_at').execute(), (r) => r.created_at),
    keys: await ids(
      db.selectFrom('login_limit_keys').select(['scope', 'key']).execute(),
      (r) => `${r.scope}:${r.key}`,
    ),
    sessions: await ids(db.selectFrom('sessions').select('id').execute(), (r) => r.id),
    mgrSessions: await ids(db.selectFrom('mgr_sessions').select('id').execute(), (r) => r.id),
    mgrKeys: await ids(db.selectFrom('mgr_login_keys').select('key_hash').execute(), (r) => r.key_hash),
    resets: await ids(db.selectFrom('password_resets').select('token_hash').execute(), (r) => r.token_hash),
  };
};

describe('pruneCredentials', () => {
  it('deletes the spent and the old, in batches, and keeps what is live', async () => {
    await seed();
    const done = await pruneCredentials(ctx, { mgrSessionIdleMs: SESSION_IDLE_MS, batch: 1 });
    expect(done).toEqual({
      loginAttempts: 2,
      loginKeys: 2,
      sessions: 1,
      mgrSessions: 1,
      mgrLoginKeys: 2,
      passwordResets: 1,
    });
    expect(await left()).toEqual({
      // 30 days by default: the 29-day-old success stays, as does the attempt in flight.
      attempts: [at(29), at(0, 5)].sort(),
      keys: ['email:ann@example.com', 'ip:198.51.100.2', 'ip:198.51.100.3'],
      sessions: ['s-live'],
      mgrSessions: ['m-live'],
      mgrKeys: ['k-live'],
      resets: ['r-recent'],
    });
    // Nothing left to do: a second pass deletes nothing.
    expect(await pruneCredentials(ctx, { mgrSessionIdleMs: SESSION_IDLE_MS })).toEqual({
      loginAttempts: 0,
      loginKeys: 0,
      sessions: 0,
      mgrSessions: 0,
      mgrLoginKeys: 0,
      passwordResets: 0,
    });
  });

  it('a shorter retention takes more attempts, and then their keys', async () => {
    await seed();
    const done = await pruneCredentials(ctx, { mgrSessionIdleMs: SESSION_IDLE_MS, retentionDays: 1 });
    expect(done).toMatchObject({ loginAttempts: 3, loginKeys: 3 });
    expect((await left()).keys).toEqual(['email:ann@example.com', 'ip:198.51.100.3']);
  });

  it('a sign-in whose limit key was deleted makes it again and is counted under it', async () => {
    await seed();
    await pruneCredentials(ctx, { mgrSessionIdleMs: SESSION_IDLE_MS });
    await ctx.db.kysely.deleteFrom('login_limit_keys').execute();
    const signedIn = await authenticatePassword(ctx, 'ann@example.com', PASSWORD, '198.51.100.9');
    expect(Number(signedIn.id)).toBeGreaterThan(0);
    expect((await left()).keys).toEqual(['email:ann@example.com', 'ip:198.51.100.9']);
  });

  it("runs after today's daily run and says what it deleted; not after a dry run or another day's", async () => {
    await seed();
    const dry = await runBilling(ctx, { date: Temporal.PlainDate.from('2021-12-16'), dryRun: true });
    expect(dry.housekeeping).toBeNull();
    const past = await runBilling(ctx, { date: Temporal.PlainDate.from('2021-12-15') });
    expect(past.housekeeping).toBeNull();
    const today = await runBilling(ctx, { date: Temporal.PlainDate.from('2021-12-16') });
    expect(today.housekeeping).toMatchObject({ loginAttempts: 2, sessions: 1, mgrSessions: 1 });
    expect((await left()).sessions).toEqual(['s-live']);
  });
});
