import { Temporal } from 'temporal-polyfill';
import { type Clock, todayOf } from './clock.js';
import type { Conn, Db, Tx } from './db/index.js';

/**
 * "Today" is the calendar date in the provider's time zone (BILLING.md "Periods and dates"):
 * the daily run's date, renewal starts, reminders and the once-a-month rules all use it. The
 * zone is a provider setting (`provider.time_zone`, an IANA name); it is read from the
 * database and kept for a few seconds per database handle, so a change made through the API
 * reaches this process at once (the update forgets the cached value) and other processes
 * within `TTL_MS`.
 */
const TTL_MS = 5_000;
const cache = new WeakMap<object, { zone: string; at: number }>();

/** True when `zone` is a time zone this runtime knows (an IANA name such as `Europe/Moscow`, or `UTC`). */
export function isTimeZone(zone: string): boolean {
  try {
    Temporal.Now.instant().toZonedDateTimeISO(zone);
    return true;
  } catch {
    return false;
  }
}

/** The provider's time zone. Inside a transaction pass it (`tx`): SQLite has one connection. */
export async function providerTimeZone(ctx: { db: Db }, tx?: Tx | Conn): Promise<string> {
  const hit = cache.get(ctx.db);
  if (hit && Date.now() - hit.at < TTL_MS) return hit.zone;
  const row = await (tx ?? ctx.db.kysely)
    .selectFrom('provider')
    .select('time_zone')
    .where('id', '=', 1)
    .executeTakeFirst();
  const zone = row?.time_zone ?? 'UTC';
  cache.set(ctx.db, { zone, at: Date.now() });
  return zone;
}

/** Forget the cached zone (after the provider's zone changed). */
export function forgetTimeZone(db: Db): void {
  cache.delete(db);
}

/** Today in the provider's time zone. */
export async function today(ctx: { db: Db; clock: Clock }, tx?: Tx | Conn): Promise<Temporal.PlainDate> {
  return todayOf(ctx.clock, await providerTimeZone(ctx, tx));
}

/** The instant a calendar date starts in `zone` (the daily run dates a catch-up day's entries there). */
export function startOfDay(date: Temporal.PlainDate, zone: string): Date {
  return new Date(date.toZonedDateTime({ timeZone: zone }).epochMilliseconds);
}
