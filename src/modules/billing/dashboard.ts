import { sql } from 'kysely';
import { Temporal } from 'temporal-polyfill';
import { currencyExponent, formatAmount, formatScaled, rescale } from '../../domain/money.js';
import { PeriodError, parseDate } from '../../domain/periods.js';
import { providerTimeZone, startOfDay, today as todayIn } from '../../platform/calendar.js';
import type { AppContext } from '../../platform/context.js';
import { invalid } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, requireStaff } from '../accounts/actor.js';

/**
 * The staff dashboard's numbers (issue 15), in one answer computed with SQL aggregates — the
 * database groups and sums, the browser makes one call:
 *
 * - revenue (`service_charges`, like the margin report: credits and refunds stored negative
 *   subtract) per day of [from, to] and per month of the 12 months ending with `to`'s month,
 *   a charge counting on its day in the provider's time zone. SQL sums per UTC hour (per
 *   minute when the zone's offset is not whole hours) and the hours are folded into the zone's
 *   days here, so DST and any offset are right without engine-specific time zone functions;
 * - upstream cost (`upstream_costs`, 4 decimals, on the day recorded) per day and month, and
 *   the margin where cost and revenue are in the same currency (else null, both shown);
 * - services by status and product type, live licenses (product type `soft`) by tariff;
 * - failed operations and open staff tasks (counts and the latest ten of each);
 * - the modules (balances are asked per module by the page, so a slow upstream delays only
 *   its own card), and the last five billing runs with their counts.
 */

const LICENSE_TYPE = 'soft';
const LATEST = 10;
const RUNS = 5;
const MAX_DAYS = 366;

export interface MoneyPoint {
  /** YYYY-MM-DD or YYYY-MM. */
  readonly key: string;
  readonly currency: string;
  readonly revenue: string;
  readonly costs: { currency: string; amount: string }[];
  readonly margin: string | null;
}

const big = (v: unknown): bigint => (v === null || v === undefined ? 0n : BigInt(String(v)));

function parseDay(value: string | undefined, field: string, fallback: Temporal.PlainDate) {
  if (value === undefined) return fallback;
  try {
    return parseDate(value);
  } catch (err) {
    if (err instanceof PeriodError)
      throw invalid('invalid_date', `${field} must be a date YYYY-MM-DD.`, { field, value });
    throw err;
  }
}

interface Bucket {
  revenueMinor: bigint;
  costsE4: Map<string, bigint>;
}

function point(key: string, currency: string, b: Bucket): MoneyPoint {
  const costs = [...b.costsE4].sort(([x], [y]) => x.localeCompare(y));
  const comparable = costs.every(([c]) => c === currency);
  const costE4 = costs.reduce((s, [, v]) => s + v, 0n);
  return {
    key,
    currency,
    revenue: formatAmount(b.revenueMinor, currency),
    costs: costs.map(([c, v]) => ({ currency: c, amount: formatScaled(v, 4) })),
    margin: comparable
      ? formatScaled(rescale(b.revenueMinor, currencyExponent(currency), 4) - costE4, 4)
      : null,
  };
}

/** True when the zone's offset is whole hours over the range (so hour buckets fold exactly). */
function wholeHourOffsets(zone: string, from: Temporal.PlainDate, to: Temporal.PlainDate): boolean {
  for (let d = from; Temporal.PlainDate.compare(d, to) <= 0; d = d.add({ months: 1 })) {
    for (const day of [d, d.add({ days: 15 })]) {
      const ns = day.toZonedDateTime({ timeZone: zone }).offsetNanoseconds;
      if (ns % 3_600_000_000_000 !== 0) return false;
    }
  }
  return to.toZonedDateTime({ timeZone: zone }).offsetNanoseconds % 3_600_000_000_000 === 0;
}

export async function dashboardReport(
  ctx: AppContext,
  actor: Actor,
  query: { from?: string | undefined; to?: string | undefined },
) {
  requireStaff(actor);
  const today = await todayIn(ctx);
  const to = parseDay(query.to, 'to', today);
  const from = parseDay(query.from, 'from', to.subtract({ days: 29 }));
  if (Temporal.PlainDate.compare(from, to) > 0)
    throw invalid('invalid_range', 'from must not be after to.', {
      from: from.toString(),
      to: to.toString(),
    });
  if (from.until(to).total('days') >= MAX_DAYS)
    throw invalid('invalid_range', `The range may cover at most ${MAX_DAYS} days.`, {
      from: from.toString(),
      to: to.toString(),
    });
  const zone = await providerTimeZone(ctx);
  const db = ctx.db.kysely;
  const monthsFrom = to.with({ day: 1 }).subtract({ months: 11 });
  const start = Temporal.PlainDate.compare(from, monthsFrom) < 0 ? from : monthsFrom;

  // Revenue: summed per UTC hour (or minute) and currency by the database.
  const width = wholeHourOffsets(zone, start, to) ? 13 : 16;
  const bucket = sql<string>`substr(c.created_at, 1, ${sql.lit(width)})`;
  const revenueRows = await db
    .selectFrom('service_charges as c')
    .innerJoin('services as s', 's.id', 'c.service_id')
    .innerJoin('accounts as a', 'a.id', 's.account_id')
    .select([bucket.as('bucket'), 'a.currency', (e) => e.fn.sum<bigint>('c.amount_minor').as('total')])
    .where('c.created_at', '>=', startOfDay(start, zone).toISOString())
    .where('c.created_at', '<', startOfDay(to.add({ days: 1 }), zone).toISOString())
    .groupBy([bucket, 'a.currency'])
    .execute();
  const costRows = await db
    .selectFrom('upstream_costs as u')
    .innerJoin('services as s', 's.id', 'u.service_id')
    .innerJoin('accounts as a', 'a.id', 's.account_id')
    .select([
      'u.recorded_on',
      'u.currency as cost_currency',
      'a.currency',
      (e) => e.fn.sum<bigint>('u.amount_e4').as('total'),
    ])
    .where('u.recorded_on', '>=', start.toString())
    .where('u.recorded_on', '<=', to.toString())
    .groupBy(['u.recorded_on', 'u.currency', 'a.currency'])
    .execute();

  const days = new Map<string, Bucket>();
  const months = new Map<string, Bucket>();
  const at = (map: Map<string, Bucket>, key: string, currency: string) => {
    const id = `${key}|${currency}`;
    let b = map.get(id);
    if (!b) {
      b = { revenueMinor: 0n, costsE4: new Map() };
      map.set(id, b);
    }
    return b;
  };
  const fromText = from.toString();
  const monthsFromText = monthsFrom.toString().slice(0, 7);
  const add = (day: string, currency: string, f: (b: Bucket) => void) => {
    if (day >= fromText) f(at(days, day, currency));
    if (day.slice(0, 7) >= monthsFromText) f(at(months, day.slice(0, 7), currency));
  };
  for (const r of revenueRows) {
    const instant = Temporal.Instant.from(`${r.bucket}${width === 13 ? ':00' : ''}:00Z`);
    const day = instant.toZonedDateTimeISO(zone).toPlainDate().toString();
    add(day, r.currency, (b) => {
      b.revenueMinor += big(r.total);
    });
  }
  for (const r of costRows)
    add(r.recorded_on, r.currency, (b) => {
      b.costsE4.set(r.cost_currency, (b.costsE4.get(r.cost_currency) ?? 0n) + big(r.total));
    });

  // Every day and month of the ranges, in the provider's currency when nothing was charged.
  const provider = await db.selectFrom('provider').select('currency').where('id', '=', 1).executeTakeFirst();
  const currencies = new Set([...days.keys(), ...months.keys()].map((k) => k.split('|')[1]!));
  if (currencies.size === 0) currencies.add(provider?.currency ?? 'USD');
  const series = (map: Map<string, Bucket>, keys: string[]) =>
    keys.flatMap((key) =>
      [...currencies]
        .sort()
        .map((c) => point(key, c, map.get(`${key}|${c}`) ?? { revenueMinor: 0n, costsE4: new Map() })),
    );
  const dayKeys: string[] = [];
  for (let d = from; Temporal.PlainDate.compare(d, to) <= 0; d = d.add({ days: 1 }))
    dayKeys.push(d.toString());
  const monthKeys: string[] = [];
  for (let m = monthsFrom; Temporal.PlainDate.compare(m, to) <= 0; m = m.add({ months: 1 }))
    monthKeys.push(m.toString().slice(0, 7));

  const servicesByStatus = await db
    .selectFrom('services as s')
    .innerJoin('product_types as p', 'p.id', 's.product_type_id')
    .select(['p.code', 'p.name', 's.status', (e) => e.fn.countAll<string | number | bigint>().as('n')])
    .groupBy(['p.code', 'p.name', 's.status'])
    .orderBy('p.code')
    .orderBy('s.status')
    .execute();
  const licenses = await db
    .selectFrom('services as s')
    .innerJoin('product_types as p', 'p.id', 's.product_type_id')
    .innerJoin('tariffs as t', 't.id', 's.tariff_id')
    .select(['t.id', 't.name', 's.status', (e) => e.fn.countAll<string | number | bigint>().as('n')])
    .where('p.code', '=', LICENSE_TYPE)
    .where('s.status', '!=', 'deleted')
    .groupBy(['t.id', 't.name', 's.status'])
    .orderBy('t.id')
    .execute();
  const byTariff = new Map<
    number,
    { tariffId: number; tariffName: string; counts: Record<string, number> }
  >();
  for (const r of licenses) {
    const id = toId(r.id);
    const row = byTariff.get(id) ?? { tariffId: id, tariffName: r.name, counts: {} };
    row.counts[r.status] = Number(r.n);
    byTariff.set(id, row);
  }

  const failedCount = await db
    .selectFrom('operations')
    .select((e) => e.fn.countAll<string | number | bigint>().as('n'))
    .where('status', '=', 'failed')
    .executeTakeFirstOrThrow();
  const failed = await db
    .selectFrom('operations as o')
    .innerJoin('services as s', 's.id', 'o.service_id')
    .select(['o.id', 'o.service_id', 's.name', 'o.kind', 'o.attempts', 'o.last_error', 'o.updated_at'])
    .where('o.status', '=', 'failed')
    .orderBy('o.id', 'desc')
    .limit(LATEST)
    .execute();
  const taskCounts = await db
    .selectFrom('staff_tasks')
    .select(['kind', (e) => e.fn.countAll<string | number | bigint>().as('n')])
    .where('status', '=', 'open')
    .groupBy('kind')
    .execute();
  const tasks = await db
    .selectFrom('staff_tasks')
    .select(['id', 'kind', 'title', 'service_id', 'operation_id', 'created_at'])
    .where('status', '=', 'open')
    .orderBy('id', 'desc')
    .limit(LATEST)
    .execute();
  const modules = await db
    .selectFrom('processing_modules')
    .select(['id', 'name', 'module_type', 'enabled'])
    .orderBy('sort_order')
    .orderBy('id')
    .execute();
  const runs = await db.selectFrom('billing_runs').selectAll().orderBy('id', 'desc').limit(RUNS).execute();

  return {
    from: from.toString(),
    to: to.toString(),
    timeZone: zone,
    revenueByDay: series(days, dayKeys),
    revenueByMonth: series(months, monthKeys),
    servicesByStatus: servicesByStatus.map((r) => ({
      productType: r.code,
      productTypeName: r.name,
      status: r.status,
      count: Number(r.n),
    })),
    licensesByTariff: [...byTariff.values()],
    failedOperations: {
      count: Number(failedCount.n),
      latest: failed.map((o) => ({
        id: toId(o.id),
        serviceId: toId(o.service_id),
        serviceName: o.name,
        kind: o.kind,
        attempts: Number(o.attempts),
        lastError: o.last_error === null ? null : (JSON.parse(o.last_error) as unknown),
        updatedAt: o.updated_at,
      })),
    },
    openTasks: {
      count: taskCounts.reduce((s, r) => s + Number(r.n), 0),
      byKind: Object.fromEntries(taskCounts.map((r) => [r.kind, Number(r.n)])),
      latest: tasks.map((t) => ({
        id: toId(t.id),
        kind: t.kind,
        title: t.title,
        serviceId: t.service_id === null ? null : toId(t.service_id),
        operationId: t.operation_id === null ? null : toId(t.operation_id),
        createdAt: t.created_at,
      })),
    },
    modules: modules.map((m) => ({
      id: toId(m.id),
      name: m.name,
      type: m.module_type,
      enabled: Number(m.enabled) === 1,
      reportsBalance: typeof ctx.plugins.get(m.module_type)?.getBalance === 'function',
    })),
    billingRuns: runs.map((r) => {
      const s = (r.summary ? JSON.parse(r.summary) : null) as Record<string, unknown> | null;
      const n = (k: string) => (s && typeof s[k] === 'number' ? (s[k] as number) : 0);
      return {
        id: toId(r.id),
        date: r.run_date,
        status: r.status,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        renewed: n('renewed'),
        renewedAmount: s && typeof s.renewedAmount === 'string' ? s.renewedAmount : null,
        suspended: n('suspended'),
        deleted: n('deleted'),
        reminders: n('reminders'),
        errors: n('errors'),
      };
    }),
  };
}
