import { Temporal } from 'temporal-polyfill';

/**
 * Time comes from here and nowhere else, so tests and staging can move it (Kill Bill's
 * time-travel tests are the model). Domain code never reads a clock: commands pass
 * `today`/`now` down.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * A clock that starts at a chosen instant and runs at the speed of real time from there:
 * `BILLFOLD_CLOCK`. Staging can replay a date while leases still expire, retries fall due and
 * sessions age. `realNow` is the real clock (replaceable in its own tests).
 */
export class OffsetClock implements Clock {
  private readonly offset: number;

  constructor(
    start: Date | string,
    private readonly realNow: () => number = Date.now,
  ) {
    const t = new Date(start).getTime();
    if (Number.isNaN(t)) throw new Error(`Invalid clock instant: ${String(start)}`);
    this.offset = t - realNow();
  }

  now(): Date {
    return new Date(this.realNow() + this.offset);
  }
}

/** A clock that stands still until told to move. Used by tests. */
export class FixedClock implements Clock {
  private current: number;

  constructor(start: Date | string) {
    this.current = FixedClock.valid(new Date(start).getTime(), start);
  }

  now(): Date {
    return new Date(this.current);
  }

  set(instant: Date | string): void {
    this.current = FixedClock.valid(new Date(instant).getTime(), instant);
  }

  advance(ms: number): void {
    this.current = FixedClock.valid(this.current + ms, `now + ${ms} ms`);
  }

  advanceDays(days: number): void {
    this.current = FixedClock.valid(this.current + days * 86_400_000, `now + ${days} days`);
  }

  /** A NaN or out-of-range time would poison every later now() with an Invalid Date. */
  private static valid(t: number, what: unknown): number {
    if (Number.isNaN(new Date(t).getTime())) throw new Error(`Invalid clock instant: ${String(what)}`);
    return t;
  }
}

/** ISO instant with milliseconds and `Z`: the one text form of instants in the database. */
export const isoNow = (clock: Clock): string => clock.now().toISOString();

/**
 * The calendar date of the clock's instant in `timeZone` (an IANA name). Application code asks
 * `today(ctx)` (platform/calendar.ts), which passes the provider's zone.
 */
export const todayOf = (clock: Clock, timeZone = 'UTC'): Temporal.PlainDate =>
  Temporal.Instant.fromEpochMilliseconds(clock.now().getTime()).toZonedDateTimeISO(timeZone).toPlainDate();
