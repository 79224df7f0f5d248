import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createContext } from '../app/context.js';
import { FixedClock, isoNow, OffsetClock, systemClock, todayOf } from './clock.js';
import { loadConfig } from './config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A pino logger whose JSON lines are collected in `lines`. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('FixedClock', () => {
  it('stands still until set or advanced', () => {
    const clock = new FixedClock('2021-12-16T10:00:00Z');
    expect(clock.now().toISOString()).toBe('2021-12-16T10:00:00.000Z');
    expect(clock.now().toISOString()).toBe('2021-12-16T10:00:00.000Z');
    clock.advance(1500);
    expect(clock.now().toISOString()).toBe('2021-12-16T10:00:01.500Z');
    clock.advanceDays(16);
    expect(clock.now().toISOString()).toBe('2022-01-01T10:00:01.500Z');
    clock.set('2024-02-29T23:59:59.999Z');
    expect(isoNow(clock)).toBe('2024-02-29T23:59:59.999Z');
    clock.set(new Date(0));
    expect(clock.now().getTime()).toBe(0);
  });

  it('hands out copies, so a caller cannot move it by mutating a Date', () => {
    const clock = new FixedClock('2021-12-16T10:00:00Z');
    clock.now().setFullYear(1999);
    expect(clock.now().toISOString()).toBe('2021-12-16T10:00:00.000Z');
  });

  it('refuses invalid instants and moves', () => {
    expect(() => new FixedClock('yesterday')).toThrow(/Invalid clock instant/);
    const clock = new FixedClock('2021-12-16T10:00:00Z');
    expect(() => clock.set('nope')).toThrow(/Invalid clock instant/);
    expect(() => clock.advance(Number.NaN)).toThrow();
    expect(() => clock.advanceDays(Number.POSITIVE_INFINITY)).toThrow();
    expect(clock.now().toISOString()).toBe('2021-12-16T10:00:00.000Z');
  });
});

describe('OffsetClock', () => {
  it('starts at the given instant and runs at the speed of real time from there', () => {
    let real = Date.parse('2026-12-03T08:00:00Z');
    const clock = new OffsetClock('2021-12-16T10:00:00Z', () => real);
    expect(clock.now().toISOString()).toBe('2021-12-16T10:00:00.000Z');
    real += 1500;
    expect(clock.now().toISOString()).toBe('2021-12-16T10:00:01.500Z');
    real += 14 * 3_600_000;
    expect(isoNow(clock)).toBe('2021-12-17T00:00:01.500Z');
    expect(todayOf(clock).toString()).toBe('2021-12-17');
  });

  it('follows the real clock by default, and refuses an invalid start', async () => {
    const clock = new OffsetClock('2021-12-16T10:00:00Z');
    const first = clock.now().getTime();
    expect(first - Date.parse('2021-12-16T10:00:00Z')).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 20));
    expect(clock.now().getTime() - first).toBeGreaterThanOrEqual(15);
    expect(() => new OffsetClock('yesterday')).toThrow(/Invalid clock instant/);
  });
});

describe('todayOf', () => {
  it('is the UTC calendar date of the instant, whatever the local time zone', () => {
    const clock = new FixedClock('2021-12-16T23:59:59.999Z');
    expect(todayOf(clock).toString()).toBe('2021-12-16');
    clock.advance(1);
    expect(todayOf(clock).toString()).toBe('2021-12-17');
    clock.set('2021-12-17T00:30:00+02:00'); // 2021-12-16T22:30Z
    expect(todayOf(clock).toString()).toBe('2021-12-16');
    clock.set('2024-02-29T12:00:00Z');
    expect(todayOf(clock).toString()).toBe('2024-02-29');
  });

  it('follows the system clock when nothing is pinned', () => {
    const before = new Date().toISOString().slice(0, 10);
    const today = todayOf(systemClock).toString();
    const after = new Date().toISOString().slice(0, 10);
    expect([before, after]).toContain(today);
  });
});

describe('createContext with BILLFOLD_CLOCK', () => {
  const config = (env: Record<string, string>) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'billfold-clock-'));
    dirs.push(dataDir);
    return loadConfig({ BILLFOLD_DATA_DIR: dataDir, ...env });
  };

  it('starts the clock at the configured instant, lets it run (leases expire, retries fall due) and logs a warning', async () => {
    const { logger, lines } = capturingLogger();
    const ctx = createContext(config({ BILLFOLD_CLOCK: '2021-12-16T10:00:00Z' }), logger);
    try {
      const start = Date.parse('2021-12-16T10:00:00Z');
      const first = ctx.clock.now().getTime();
      expect(first).toBeGreaterThanOrEqual(start);
      expect(first - start).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 20));
      expect(ctx.clock.now().getTime() - first).toBeGreaterThanOrEqual(15);
      expect(todayOf(ctx.clock).toString()).toBe('2021-12-16');
      const warning = lines.find((l) => String(l.msg).includes('BILLFOLD_CLOCK'));
      expect(warning).toMatchObject({ level: 40, clock: '2021-12-16T10:00:00.000Z' });
    } finally {
      await ctx.db.close();
    }
  });

  it('uses the system clock and logs no clock warning when BILLFOLD_CLOCK is unset', async () => {
    const { logger, lines } = capturingLogger();
    const ctx = createContext(config({}), logger);
    try {
      const before = Date.now();
      const now = ctx.clock.now().getTime();
      expect(now).toBeGreaterThanOrEqual(before);
      expect(now).toBeLessThanOrEqual(Date.now());
      expect(lines.some((l) => String(l.msg).includes('BILLFOLD_CLOCK'))).toBe(false);
    } finally {
      await ctx.db.close();
    }
  });
});
