import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const HEX_KEY = 'ab'.repeat(32);

/** loadConfig's error for `env`, which the test expects to be refused. */
function problemOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('config', () => {
  it('defaults to an SQLite file under ./data, port 8080, localhost, system clock', () => {
    const c = loadConfig({});
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.database).toEqual({
      kind: 'sqlite',
      file: path.join(path.resolve('./data'), 'billfold.sqlite'),
    });
    expect(c.port).toBe(8080);
    expect(c.host).toBe('localhost');
    expect(c.clock).toBeUndefined();
    expect(c.secretKey).toBeUndefined();
    expect(c.admin).toEqual({ email: undefined, password: undefined });
    expect(c.cookieSecure).toBe(false);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('puts the SQLite file under BILLFOLD_DATA_DIR, resolved to an absolute path', () => {
    const c = loadConfig({ BILLFOLD_DATA_DIR: 'some/dir' });
    expect(c.dataDir).toBe(path.resolve('some/dir'));
    expect(c.database).toEqual({ kind: 'sqlite', file: path.resolve('some/dir', 'billfold.sqlite') });
  });

  it('selects PostgreSQL when DATABASE_URL is a postgres:// or postgresql:// URL', () => {
    for (const url of ['postgres://u@h:5432/db', 'postgresql://u:p@h/db?sslmode=require']) {
      expect(loadConfig({ DATABASE_URL: url }).database).toEqual({ kind: 'postgres', url });
    }
  });

  it('takes the port from BILLFOLD_PORT, then PORT', () => {
    expect(loadConfig({ PORT: '3000' }).port).toBe(3000);
    expect(loadConfig({ PORT: '3000', BILLFOLD_PORT: '4000' }).port).toBe(4000);
    expect(loadConfig({ BILLFOLD_PORT: '0' }).port).toBe(0);
  });

  it('normalises BILLFOLD_CLOCK to a UTC ISO instant', () => {
    expect(loadConfig({ BILLFOLD_CLOCK: '2021-12-16T10:00:00Z' }).clock).toBe('2021-12-16T10:00:00.000Z');
    expect(loadConfig({ BILLFOLD_CLOCK: '2021-12-16T12:00:00+02:00' }).clock).toBe(
      '2021-12-16T10:00:00.000Z',
    );
  });

  it('accepts a secret key as 64 hex digits, base64 or base64url', () => {
    const bytes = Buffer.alloc(32, 0xfb);
    for (const key of [HEX_KEY, bytes.toString('base64'), bytes.toString('base64url')]) {
      expect(loadConfig({ BILLFOLD_SECRET_KEY: key }).secretKey).toBe(key);
    }
  });

  it('reads booleans in the usual spellings', () => {
    expect(loadConfig({ BILLFOLD_COOKIE_SECURE: 'yes' }).cookieSecure).toBe(true);
    expect(loadConfig({ BILLFOLD_COOKIE_SECURE: '0' }).cookieSecure).toBe(false);
    expect(loadConfig({ BILLFOLD_TRUST_PROXY: 'on' }).trustProxy).toBe(true);
  });

  it('refuses invalid values with a ConfigError that names the variable', () => {
    const cases: [Record<string, string>, string][] = [
      [{ DATABASE_URL: 'mysql://u@h/db' }, 'DATABASE_URL'],
      [{ DATABASE_URL: 'sqlite:./x.db' }, 'DATABASE_URL'],
      [{ BILLFOLD_PORT: '70000' }, 'BILLFOLD_PORT'],
      [{ BILLFOLD_PORT: '-1' }, 'BILLFOLD_PORT'],
      [{ BILLFOLD_PORT: 'http' }, 'BILLFOLD_PORT'],
      [{ BILLFOLD_PORT: '0x1F' }, 'BILLFOLD_PORT'],
      [{ BILLFOLD_PORT: ' ' }, 'BILLFOLD_PORT'],
      [{ PORT: '80.5' }, 'PORT'],
      [{ BILLFOLD_CLOCK: 'yesterday' }, 'BILLFOLD_CLOCK'],
      [{ BILLFOLD_CLOCK: '2021-02-30T00:00:00Z' }, 'BILLFOLD_CLOCK'],
      // No offset: would depend on the machine's time zone.
      [{ BILLFOLD_CLOCK: '2021-12-16T10:00:00' }, 'BILLFOLD_CLOCK'],
      [{ BILLFOLD_SECRET_KEY: 'short' }, 'BILLFOLD_SECRET_KEY'],
      [{ BILLFOLD_SECRET_KEY: 'ab'.repeat(31) }, 'BILLFOLD_SECRET_KEY'],
      // Node's lenient base64 decoder would skip the "!" and find 32 bytes.
      [{ BILLFOLD_SECRET_KEY: `!!!!${'A'.repeat(43)}` }, 'BILLFOLD_SECRET_KEY'],
      [{ BILLFOLD_LOG_LEVEL: 'loud' }, 'BILLFOLD_LOG_LEVEL'],
      [{ BILLFOLD_COOKIE_SECURE: 'maybe' }, 'BILLFOLD_COOKIE_SECURE'],
      [{ BILLFOLD_SESSION_TTL_HOURS: '0' }, 'BILLFOLD_SESSION_TTL_HOURS'],
      [
        { BILLFOLD_ADMIN_EMAIL: 'not-an-email', BILLFOLD_ADMIN_PASSWORD: 'long enough password' },
        'BILLFOLD_ADMIN_EMAIL',
      ],
      [
        { BILLFOLD_ADMIN_EMAIL: 'a@example.com', BILLFOLD_ADMIN_PASSWORD: 'short' },
        'BILLFOLD_ADMIN_PASSWORD',
      ],
    ];
    for (const [env, variable] of cases) {
      const err = problemOf(env);
      expect(err.message, JSON.stringify(env)).toContain(`${variable}:`);
      expect(err.problems.some((p) => p.startsWith(`${variable}:`))).toBe(true);
    }
  });

  it('refuses an admin email without a password, and a password without an email', () => {
    const halves: Record<string, string>[] = [
      { BILLFOLD_ADMIN_EMAIL: 'a@example.com' },
      { BILLFOLD_ADMIN_PASSWORD: 'long enough password' },
    ];
    for (const env of halves) {
      const err = problemOf(env);
      expect(err.message).toContain('BILLFOLD_ADMIN_EMAIL');
      expect(err.message).toContain('BILLFOLD_ADMIN_PASSWORD');
    }
    expect(
      loadConfig({ BILLFOLD_ADMIN_EMAIL: 'a@example.com', BILLFOLD_ADMIN_PASSWORD: 'long enough password' })
        .admin,
    ).toEqual({ email: 'a@example.com', password: 'long enough password' });
  });

  it('lists every bad variable at once', () => {
    const err = problemOf({ BILLFOLD_PORT: '70000', BILLFOLD_CLOCK: 'yesterday', DATABASE_URL: 'mysql://x' });
    expect(err.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'BILLFOLD_CLOCK',
      'BILLFOLD_PORT',
      'DATABASE_URL',
    ]);
  });

  it('treats empty variables as unset', () => {
    const c = loadConfig({
      DATABASE_URL: '',
      BILLFOLD_PORT: '',
      PORT: '',
      BILLFOLD_CLOCK: '',
      BILLFOLD_SECRET_KEY: '',
      BILLFOLD_DATA_DIR: '',
      BILLFOLD_LOG_LEVEL: '',
      BILLFOLD_ADMIN_EMAIL: '',
      BILLFOLD_ADMIN_PASSWORD: '',
    });
    expect(c.database.kind).toBe('sqlite');
    expect(c.port).toBe(8080);
    expect(c.clock).toBeUndefined();
    expect(c.secretKey).toBeUndefined();
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.logLevel).toBe('info');
    expect(c.admin).toEqual({ email: undefined, password: undefined });
  });

  it('ignores variables it does not know', () => {
    expect(() => loadConfig({ PATH: '/bin', BILLFOLD_SOMETHING_NEW: 'x' })).not.toThrow();
  });
});
