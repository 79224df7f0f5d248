import { Temporal } from 'temporal-polyfill';
import { currencyExponent, formatAmount, formatScaled, rescale } from '../../domain/money.js';
import { PeriodError, parseDate } from '../../domain/periods.js';
import { providerTimeZone, startOfDay, today as todayIn } from '../../platform/calendar.js';
import type { AppContext } from '../../platform/context.js';
import { invalid } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, requireStaff } from '../accounts/actor.js';

/**
 * The margin report (issue 12): over a date range, what clients were charged for services
 * (revenue: `service_charges`, in the account's currency — credits and refunds are stored
 * negative there, so they subtract) against what the upstream charged us for them (cost:
 * `upstream_costs`, in the upstream's currency, 4 decimals), per service, tariff or month.
 *
 * - A charge counts on its day in the provider's time zone; a cost on the day it was recorded.
 * - Margin = revenue − cost, with 4 decimals, only when every cost of the row is in the
 *   revenue's currency (no cost at all: the whole revenue); otherwise null, both shown —
 *   Billfold knows no exchange rates.
 * - Rows are split by revenue currency when accounts pay in different ones.
 * - A service counts under the tariff it has now (a tariff change moves its history along).
 */

export type MarginGroupBy = 'service' | 'tariff' | 'month';
export const MARGIN_GROUPS: readonly MarginGroupBy[] = ['service', 'tariff', 'month'];

export interface MarginRow {
  key: string;
  serviceId: number | null;
  serviceName: string | null;
  tariffId: number | null;
  tariffName: string | null;
  month: string | null;
  currency: string;
  revenue: string;
  costs: { currency: string; amount: string }[];
  margin: string | null;
}

export interface MarginReport {
  from: string;
  to: string;
  groupBy: MarginGroupBy;
  rows: MarginRow[];
  /** One row per revenue currency: the whole range. */
  totals: MarginRow[];
}

interface Acc {
  row: Omit<MarginRow, 'revenue' | 'costs' | 'margin'>;
  revenueMinor: bigint;
  costsE4: Map<string, bigint>;
}

function finish(a: Acc): MarginRow {
  const exp = currencyExponent(a.row.currency);
  const costs = [...a.costsE4].sort(([x], [y]) => x.localeCompare(y));
  const comparable = costs.every(([c]) => c === a.row.currency);
  const costE4 = costs.reduce((s, [, v]) => s + v, 0n);
  return {
    ...a.row,
    revenue: formatAmount(a.revenueMinor, a.row.currency),
    costs: costs.map(([currency, v]) => ({ currency, amount: formatScaled(v, 4) })),
    margin: comparable ? formatScaled(rescale(a.revenueMinor, exp, 4) - costE4, 4) : null,
  };
}

function parseDay(
  value: string | undefined,
  field: string,
  fallback: Temporal.PlainDate,
): Temporal.PlainDate {
  if (value === undefined) return fallback;
  try {
    return parseDate(value);
  } catch (err) {
    if (err instanceof PeriodError)
      throw invalid('invalid_date', `${field} must be a date YYYY-MM-DD.`, { field, value });
    throw err;
  }
}

export async function marginReport(
  ctx: AppContext,
  actor: Actor,
  query: { from?: string; to?: string; groupBy?: MarginGroupBy },
): Promise<MarginReport> {
  requireStaff(actor);
  const today = await todayIn(ctx);
  const to = parseDay(query.to, 'to', today);
  const from = parseDay(query.from, 'from', to.with({ day: 1 }));
  if (Temporal.PlainDate.compare(from, to) > 0)
    throw invalid('invalid_range', 'from must not be after to.', {
      from: from.toString(),
      to: to.toString(),
    });
  const groupBy = query.groupBy ?? 'service';
  const zone = await providerTimeZone(ctx);
  const db = ctx.db.kysely;
  const charges = await db
    .selectFrom('service_charges as c')
    .innerJoin('services as s', 's.id', 'c.service_id')
    .innerJoin('accounts as a', 'a.id', 's.account_id')
    .innerJoin('tariffs as t', 't.id', 's.tariff_id')
    .select([
      'c.service_id',
      'c.amount_minor',
      'c.created_at',
      's.name',
      's.tariff_id',
      't.name as tariff_name',
      'a.currency',
    ])
    .where('c.created_at', '>=', startOfDay(from, zone).toISOString())
    .where('c.created_at', '<', startOfDay(to.add({ days: 1 }), zone).toISOString())
    .execute();
  const costs = await db
    .selectFrom('upstream_costs as u')
    .innerJoin('services as s', 's.id', 'u.service_id')
    .innerJoin('accounts as a', 'a.id', 's.account_id')
    .innerJoin('tariffs as t', 't.id', 's.tariff_id')
    .select([
      'u.service_id',
      'u.amount_e4',
      'u.currency as cost_currency',
      'u.recorded_on',
      's.name',
      's.tariff_id',
      't.name as tariff_name',
      'a.currency',
    ])
    .where('u.recorded_on', '>=', from.toString())
    .where('u.recorded_on', '<=', to.toString())
    .execute();

  const groups = new Map<string, Acc>();
  const totals = new Map<string, Acc>();
  const accFor = (
    map: Map<string, Acc>,
    by: MarginGroupBy | 'total',
    s: {
      service_id: bigint | number;
      name: string;
      tariff_id: bigint | number;
      tariff_name: string;
      currency: string;
    },
    day: string,
  ): Acc => {
    const month = day.slice(0, 7);
    const base =
      by === 'service'
        ? {
            serviceId: toId(s.service_id),
            serviceName: s.name,
            tariffId: toId(s.tariff_id),
            tariffName: s.tariff_name,
            month: null,
          }
        : by === 'tariff'
          ? {
              serviceId: null,
              serviceName: null,
              tariffId: toId(s.tariff_id),
              tariffName: s.tariff_name,
              month: null,
            }
          : by === 'month'
            ? { serviceId: null, serviceName: null, tariffId: null, tariffName: null, month }
            : { serviceId: null, serviceName: null, tariffId: null, tariffName: null, month: null };
    const key =
      by === 'service'
        ? String(base.serviceId)
        : by === 'tariff'
          ? String(base.tariffId)
          : by === 'month'
            ? month
            : 'total';
    const id = `${key}|${s.currency}`;
    let acc = map.get(id);
    if (!acc) {
      acc = { row: { key, ...base, currency: s.currency }, revenueMinor: 0n, costsE4: new Map() };
      map.set(id, acc);
    }
    return acc;
  };
  for (const c of charges) {
    const day = Temporal.Instant.from(c.created_at).toZonedDateTimeISO(zone).toPlainDate().toString();
    accFor(groups, groupBy, c, day).revenueMinor += c.amount_minor;
    accFor(totals, 'total', c, day).revenueMinor += c.amount_minor;
  }
  for (const u of costs) {
    for (const acc of [accFor(groups, groupBy, u, u.recorded_on), accFor(totals, 'total', u, u.recorded_on)])
      acc.costsE4.set(u.cost_currency, (acc.costsE4.get(u.cost_currency) ?? 0n) + u.amount_e4);
  }
  const order = (a: MarginRow, b: MarginRow) => {
    const ka = groupBy === 'month' ? a.key : a.key.padStart(20, '0');
    const kb = groupBy === 'month' ? b.key : b.key.padStart(20, '0');
    return ka === kb ? a.currency.localeCompare(b.currency) : ka < kb ? -1 : 1;
  };
  return {
    from: from.toString(),
    to: to.toString(),
    groupBy,
    rows: [...groups.values()].map(finish).sort(order),
    totals: [...totals.values()].map(finish).sort((a, b) => a.currency.localeCompare(b.currency)),
  };
}
