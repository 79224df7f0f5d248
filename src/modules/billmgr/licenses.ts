import { canonicalIp } from '../../domain/ip.js';
import type { LifecycleEvent } from '../../domain/lifecycle.js';
import { formatAmount } from '../../domain/money.js';
import { PricingError, periodPrice, TRIAL_PERIOD } from '../../domain/pricing.js';
import { today as todayIn } from '../../platform/calendar.js';
import type { AppContext } from '../../platform/context.js';
import type { Conn, IssuedLicenseRow, ServiceRow } from '../../platform/db/index.js';
import { isUniqueViolation } from '../../platform/db/index.js';
import { prepareQuery } from '../../platform/db/prepared.js';
import { toId } from '../../platform/ids.js';
import { isStaff } from '../accounts/actor.js';
import { loginFailedSince } from '../accounts/auth.js';
import { loadTariffAggregates, type TariffAggregate } from '../catalog/aggregate.js';
import { presentCatalogTariff } from '../catalog/presenters.js';
import {
  changeLicenseIp,
  licenseIpTaken,
  regenerateLicenseKey,
  updateLicenseLabels,
} from '../licenses/commands.js';
import { POOL_IP } from '../licenses/keys.js';
import { placeOrder } from '../orders/commands.js';
import { decideOrThrow } from '../services/decisions.js';
import { deleteService } from '../services/deletion.js';
import { runServiceOperations } from '../services/executor.js';
import { planRenewal, renewService } from '../services/renewal.js';
import { serviceState } from '../services/repository.js';
import { resumeService, suspendService } from '../services/suspension.js';
import { changeTariff } from '../services/tariff-change.js';
import { type CallerReads, callers, type MgrCaller } from './auth.js';
import { badValue, MgrFault, missed, noAccess } from './errors.js';
import {
  el,
  type MgrList,
  type MgrNode,
  mgrDoc,
  objectDoc,
  okDoc,
  parseElids,
  parseInteger,
  slist,
} from './protocol.js';

/**
 * The license functions of the BILLmanager API (PROTOCOL.md §4) for the three license
 * families: `soft` (ISPsystem licenses, bound to an IP, named by `licname`), `softexternal`
 * (third-party licenses, the same fields) and `platform` (VMmanager/DCImanager, named by a
 * `comment`, no IP). Every function acts through the core as the caller: an order is an
 * ordinary order of the caller's account, a renewal an ordinary renewal.
 */
export type Family = 'soft' | 'softexternal' | 'platform';
export const FAMILIES: readonly Family[] = ['soft', 'softexternal', 'platform'];
const hasIp = (f: Family) => f !== 'platform';

/** BILLmanager's license status codes. */
const STATUS_CODE: Record<ServiceRow['status'], number> = {
  ordered: 1,
  active: 2,
  suspended: 3,
  deleted: 4,
  processing: 5,
};

export interface Call {
  readonly ctx: AppContext;
  readonly caller: MgrCaller;
  readonly p: Record<string, string>;
}

const acting = (p: Record<string, string>) => p.sok !== undefined && p.sok !== '';

function elidOf(p: Record<string, string>): number {
  if (p.elid === undefined || p.elid === '') throw missed('elid');
  const ids = parseElids(p.elid);
  const [id, ...more] = ids ?? [];
  if (id === undefined || more.length > 0) throw badValue('elid', p.elid);
  return id;
}

function elidsOf(p: Record<string, string>): number[] {
  if (p.elid === undefined || p.elid === '') throw missed('elid');
  const ids = parseElids(p.elid);
  if (!ids) throw badValue('elid', p.elid);
  return ids;
}

/** The caller's license of this family: someone else's and a missing one get the same `access` answer. */
async function owned(c: Call, family: Family, id: number): Promise<ServiceRow> {
  return mayCall(
    c,
    await c.ctx.db.kysely
      .selectFrom('services as s')
      .innerJoin('product_types as t', 't.id', 's.product_type_id')
      .selectAll('s')
      .where('s.id', '=', id)
      .where('t.code', '=', family)
      .executeTakeFirst(),
  );
}

/** The license a caller may act on: staff any, a client its account's; others are told nothing. */
function mayCall<T extends Pick<ServiceRow, 'account_id'>>(c: Call, row: T | undefined): T {
  if (!row) throw noAccess();
  const actor = c.caller.actor;
  if (!isStaff(actor) && (actor.type !== 'user' || actor.accountId !== toId(row.account_id)))
    throw noAccess();
  return row;
}

async function tariffsById(ctx: AppContext, ids: readonly number[]): Promise<Map<number, TariffAggregate>> {
  const aggs = await loadTariffAggregates(ctx.db.kysely, { ids: [...new Set(ids)] });
  return new Map(aggs.map((a) => [toId(a.tariff.id), a]));
}

/** What a license answer shows of its tariff: the name and the price of each period (`cost`). */
interface TariffBrief {
  readonly name: string;
  readonly prices: ReadonlyMap<number, string>;
}

type PeriodPrice = { period: bigint | number; price_minor: bigint | null };

/** A tariff as a license answer shows it, from its row and its periods' prices. */
function briefOf(t: { name: string; currency: string }, periods: readonly PeriodPrice[]): TariffBrief {
  const explicit = new Map(periods.map((p) => [Number(p.period), p.price_minor]));
  const offered = new Set(explicit.keys());
  const prices = new Map<number, string>();
  for (const period of offered) {
    try {
      prices.set(period, formatAmount(periodPrice(explicit, period, offered), t.currency));
    } catch (err) {
      if (!(err instanceof PricingError)) throw err;
    }
  }
  return { name: t.name, prices };
}

const periodsOf = (ctx: AppContext, ids: readonly number[]) =>
  ctx.db.kysely
    .selectFrom('tariff_periods')
    .select(['tariff_id', 'period', 'price_minor'])
    .where('tariff_id', 'in', ids)
    .execute();

/** Two reads for any number of tariffs (a license view needs no addons or enumerations). */
async function tariffBriefs(ctx: AppContext, ids: readonly number[]): Promise<Map<number, TariffBrief>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const [tariffs, periods] = await Promise.all([
    ctx.db.kysely
      .selectFrom('tariffs')
      .select(['id', 'name', 'currency'])
      .where('id', 'in', unique)
      .execute(),
    periodsOf(ctx, unique),
  ]);
  return new Map(
    tariffs.map((t) => [
      toId(t.id),
      briefOf(
        t,
        periods.filter((p) => toId(p.tariff_id) === toId(t.id)),
      ),
    ]),
  );
}

const periodLabel = (period: number, trialDays?: number) =>
  period === TRIAL_PERIOD
    ? `Trial${trialDays ? ` (${trialDays} days)` : ''}`
    : period === 1
      ? '1 month'
      : `${period} months`;

/** The service columns a license answer shows (record) and its owner (mayCall). */
type ShownService = Pick<
  ServiceRow,
  | 'id'
  | 'account_id'
  | 'tariff_id'
  | 'name'
  | 'params'
  | 'period'
  | 'created_at'
  | 'expires_on'
  | 'autoprolong'
  | 'status'
  | 'remote_id'
>;

/**
 * The fields of a license answer (a list's `elem`, the view's `doc`) as elements, in their
 * order, then `lickey` for the view (`withKey`). Built as elements straight away: the view is
 * rendered on every `soft.edit`, the call billing systems repeat most.
 */
function recordNodes(
  family: Family,
  s: ShownService,
  tariff: TariffBrief | undefined,
  license: Pick<IssuedLicenseRow, 'license_key' | 'ip_changed_on' | 'key_changed_on'> | undefined,
  withKey: boolean,
): MgrNode[] {
  const params = JSON.parse(s.params) as Record<string, string>;
  const nodes: MgrNode[] = [el('id', toId(s.id))];
  if (family === 'platform') nodes.push(el('comment', s.name));
  else nodes.push(el('licname', params.licname ?? s.name), el('ip', params.ip ?? ''));
  nodes.push(
    el('name', s.name),
    el('pricelist', toId(s.tariff_id)),
    el('pricelist_name', tariff?.name ?? ''),
    el('period', Number(s.period)),
    el('createdate', s.created_at.slice(0, 10)),
    el('expiredate', s.expires_on ?? ''),
    // No auto-renewal is an empty element, as every unset field (the mgr API's `null` is a
    // value a request may send to turn it off, not text an answer carries).
    el('autoprolong', s.autoprolong === null ? null : Number(s.autoprolong)),
  );
  // An unknown status would be no element (as an undefined field).
  const status = STATUS_CODE[s.status] as number | undefined;
  if (status !== undefined) nodes.push(el('status', status));
  nodes.push(
    el('remoteid', s.remote_id ?? ''),
    el('real_ipchange', license?.ip_changed_on ?? ''),
    el('real_keychange', license?.key_changed_on ?? ''),
    el('cost', tariff?.prices.get(Number(s.period)) ?? ''),
  );
  if (withKey) nodes.push(el('lickey', s.status === 'deleted' ? '' : (license?.license_key ?? '')));
  return nodes;
}

/**
 * What `<family>.edit` shows of a license, its tariff and its key, read with its tariff's prices:
 * one row per period of the tariff (a tariff has a few), or one row with a null period if it has
 * none. Named `lic_*` so as to sit next to the caller's columns (CallerReads). Columns are
 * named, not `s.*`: a named prepared statement must not change its result's shape.
 */
const LICENSE_VIEW_COLUMNS = [
  's.id as lic_id',
  's.account_id as lic_account_id',
  's.tariff_id as lic_tariff_id',
  's.name as lic_name',
  's.params as lic_params',
  's.period as lic_period',
  's.created_at as lic_created_at',
  's.expires_on as lic_expires_on',
  's.autoprolong as lic_autoprolong',
  's.status as lic_status',
  's.remote_id as lic_remote_id',
  'tr.name as lic_tariff_name',
  'tr.currency as lic_tariff_currency',
  'l.license_key as lic_key',
  'l.ip_changed_on as lic_ip_changed_on',
  'l.key_changed_on as lic_key_changed_on',
  'tp.period as lic_tariff_period',
  'tp.price_minor as lic_tariff_price_minor',
] as const;

/** A row of LICENSE_VIEW_COLUMNS; the license's columns are null when it was not found (left joins). */
type Nullable<T> = { [K in keyof T]: T[K] | null };
type LicenseViewRow = Nullable<{
  lic_id: ServiceRow['id'];
  lic_account_id: ServiceRow['account_id'];
  lic_tariff_id: ServiceRow['tariff_id'];
  lic_name: ServiceRow['name'];
  lic_params: ServiceRow['params'];
  lic_period: ServiceRow['period'];
  lic_created_at: ServiceRow['created_at'];
  lic_expires_on: ServiceRow['expires_on'];
  lic_autoprolong: ServiceRow['autoprolong'];
  lic_status: ServiceRow['status'];
  lic_remote_id: ServiceRow['remote_id'];
  lic_tariff_name: string;
  lic_tariff_currency: string;
  lic_key: IssuedLicenseRow['license_key'];
  lic_ip_changed_on: IssuedLicenseRow['ip_changed_on'];
  lic_key_changed_on: IssuedLicenseRow['key_changed_on'];
  lic_tariff_period: bigint | number;
  lic_tariff_price_minor: bigint;
}>;

/** A license of a family (its id and family code), alone. */
const licenseView = prepareQuery('mgr_license_view', 2, (db, id: number, family: string) =>
  db
    .selectFrom('services as s')
    .innerJoin('product_types as t', 't.id', 's.product_type_id')
    .innerJoin('tariffs as tr', 'tr.id', 's.tariff_id')
    .leftJoin('issued_licenses as l', 'l.service_id', 's.id')
    .leftJoin('tariff_periods as tp', 'tp.tariff_id', 's.tariff_id')
    .select(LICENSE_VIEW_COLUMNS)
    .where('s.id', '=', id)
    .where('t.code', '=', family),
);

/**
 * The same license next to the caller's row (CallerReads): the caller's row comes back whether
 * or not the license exists, with the license's columns null when it does not.
 */
const sessionLicenseView = prepareQuery(
  'mgr_session_license_view',
  3,
  (db, sessionHash: string, id: number, family: string) =>
    callers(db)
      .innerJoin('mgr_sessions as ms', 'ms.user_id', 'u.id')
      .leftJoin('product_types as t', (j) => j.on('t.code', '=', family))
      .leftJoin('services as s', (j) => j.onRef('s.product_type_id', '=', 't.id').on('s.id', '=', id))
      .leftJoin('tariffs as tr', 'tr.id', 's.tariff_id')
      .leftJoin('issued_licenses as l', 'l.service_id', 's.id')
      .leftJoin('tariff_periods as tp', 'tp.tariff_id', 's.tariff_id')
      .select('ms.last_seen_at')
      .select(LICENSE_VIEW_COLUMNS)
      .where('ms.id', '=', sessionHash),
);

const rememberedLicenseView = prepareQuery(
  'mgr_authinfo_license_view',
  6,
  (db, userId: number, email: string, ip: string, since: string, id: number, family: string) =>
    callers(db)
      .select(loginFailedSince(email, ip, since).as('failed_recently'))
      .leftJoin('product_types as t', (j) => j.on('t.code', '=', family))
      .leftJoin('services as s', (j) => j.onRef('s.product_type_id', '=', 't.id').on('s.id', '=', id))
      .leftJoin('tariffs as tr', 'tr.id', 's.tariff_id')
      .leftJoin('issued_licenses as l', 'l.service_id', 's.id')
      .leftJoin('tariff_periods as tp', 'tp.tariff_id', 's.tariff_id')
      .select(LICENSE_VIEW_COLUMNS)
      .where('u.id', '=', userId),
);

/** The reads that find the caller of `<family>.edit elid=id` and the license in one statement. */
export const licenseViewReads = (family: Family, id: number): CallerReads<LicenseViewRow> =>
  new LicenseViewReads(family, id);

/** A class, not an object of closures: made on every view, its methods are not made again each time. */
class LicenseViewReads implements CallerReads<LicenseViewRow> {
  constructor(
    readonly family: Family,
    readonly id: number,
  ) {}
  session(db: Conn, sessionHash: string) {
    return sessionLicenseView(db, sessionHash, this.id, this.family);
  }
  remembered(db: Conn, userId: number, email: string, ip: string, since: string) {
    return rememberedLicenseView(db, userId, email, ip, since, this.id, this.family);
  }
}

/**
 * `<family>.edit` without `sok` and with one license id: the view (and not a change), the call
 * billing systems repeat most (PROTOCOL.md §5). null for any other call.
 */
export function viewCallOf(p: Record<string, string>): { family: Family; id: number } | null {
  if (acting(p) || !p.func?.endsWith('.edit') || !p.elid) return null;
  const family = FAMILIES.find((f) => p.func === `${f}.edit`);
  const ids = parseElids(p.elid);
  if (!family || ids?.length !== 1) return null;
  return { family, id: ids[0]! };
}

/**
 * `<family>.edit` without changes: the caller's license, its tariff, its key and the tariff's
 * prices in one read, or none when the caller's read brought them (`rows`, licenseViewReads).
 */
export async function view(
  c: Call,
  family: Family,
  id: number,
  rows?: readonly LicenseViewRow[] | null,
): Promise<MgrNode> {
  const read = rows ?? (await licenseView(c.ctx.db.kysely, id, family));
  const first = read[0];
  const s = mayCall(
    c,
    first && first.lic_id !== null && first.lic_tariff_name !== null ? shownOf(first) : undefined,
  );
  const periods: PeriodPrice[] = [];
  for (const r of read)
    if (r.lic_tariff_period !== null)
      periods.push({ period: r.lic_tariff_period, price_minor: r.lic_tariff_price_minor });
  const tariff = briefOf({ name: first!.lic_tariff_name!, currency: first!.lic_tariff_currency! }, periods);
  const license =
    first!.lic_key === null
      ? undefined
      : {
          license_key: first!.lic_key,
          ip_changed_on: first!.lic_ip_changed_on,
          key_changed_on: first!.lic_key_changed_on,
        };
  const nodes = recordNodes(family, s, tariff, license, true);
  nodes.push(el('webdomains', ''));
  return mgrDoc(nodes);
}

/** The service of a found license's row (its columns are not null: the license exists). */
function shownOf(r: LicenseViewRow): ShownService {
  return {
    id: r.lic_id!,
    account_id: r.lic_account_id!,
    tariff_id: r.lic_tariff_id!,
    name: r.lic_name!,
    params: r.lic_params!,
    period: r.lic_period!,
    created_at: r.lic_created_at!,
    expires_on: r.lic_expires_on,
    autoprolong: r.lic_autoprolong,
    status: r.lic_status!,
    remote_id: r.lic_remote_id,
  };
}

// ---------------------------------------------------------------- list

/** Licenses a list reads, renders and sends at a time (licenses of a list are never cut off). */
export const LIST_CHUNK_ROWS = 1000;

/**
 * The caller's licenses of a family (all of them for staff), oldest first, every one: read by
 * id in chunks of `chunkRows` and streamed (renderMgrList), so a list of any length is answered
 * whole in bounded memory. Filters: `remoteid`, `pricelist`, `elid`, `ip`. Chunks are read
 * one after the other, not in one snapshot: a license added meanwhile may or may not appear,
 * none appears twice.
 */
export function list(c: Call, family: Family, chunkRows = LIST_CHUNK_ROWS): MgrList {
  const actor = c.caller.actor;
  let q = c.ctx.db.kysely
    .selectFrom('services as s')
    .innerJoin('product_types as t', 't.id', 's.product_type_id')
    .selectAll('s')
    .where('t.code', '=', family)
    .orderBy('s.id');
  if (!isStaff(actor) && actor.type === 'user' && actor.accountId !== null)
    q = q.where('s.account_id', '=', actor.accountId);
  if (c.p.remoteid) q = q.where('s.remote_id', '=', c.p.remoteid);
  // A number no tariff can have (past 2^53) matches nothing, as an unknown elid does.
  if (c.p.pricelist && /^\d+$/.test(c.p.pricelist))
    q = q.where('s.tariff_id', '=', parseInteger(c.p.pricelist) ?? -1);
  if (c.p.elid) q = q.where('s.id', 'in', parseElids(c.p.elid) ?? [-1]);
  const ip = c.p.ip;

  async function* chunks(): AsyncGenerator<MgrNode[]> {
    const tariffs = new Map<number, TariffBrief>();
    let after = 0;
    for (;;) {
      const rows = await q.where('s.id', '>', after).limit(chunkRows).execute();
      if (rows.length === 0) return;
      after = toId(rows[rows.length - 1]!.id);
      const shown = ip
        ? rows.filter((r) => (JSON.parse(r.params) as Record<string, string>).ip === ip)
        : rows;
      const unseen = shown.map((r) => toId(r.tariff_id)).filter((id) => !tariffs.has(id));
      for (const [id, brief] of await tariffBriefs(c.ctx, unseen)) tariffs.set(id, brief);
      const licenses = new Map<number, IssuedLicenseRow>();
      if (shown.length > 0) {
        const issued = await c.ctx.db.kysely
          .selectFrom('issued_licenses')
          .selectAll()
          .where(
            'service_id',
            'in',
            shown.map((r) => r.id),
          )
          .execute();
        for (const l of issued) licenses.set(toId(l.service_id), l);
      }
      yield shown.map((s) =>
        el('elem', recordNodes(family, s, tariffs.get(toId(s.tariff_id)), licenses.get(toId(s.id)), false)),
      );
      if (rows.length < chunkRows) return;
    }
  }
  return { elems: chunks() };
}

// ---------------------------------------------------------------- order

/** `addon_<id>=<n>`: an amount, an enumeration value id, or on/off. */
function addonValues(p: Record<string, string>): Record<string, boolean | number> {
  const out: Record<string, boolean | number> = {};
  for (const [key, raw] of Object.entries(p)) {
    const m = /^addon_(\d+)$/.exec(key);
    if (!m) continue;
    const amount = parseInteger(raw);
    if (amount !== null) out[m[1]!] = amount;
    else if (raw === 'on' || raw === 'off') out[m[1]!] = raw === 'on';
    else throw badValue(key, raw);
  }
  return out;
}

function periodOf(p: Record<string, string>): number {
  if (p.period === undefined || p.period === '') throw missed('period');
  const period = parseInteger(p.period, { signed: true });
  if (period === null) throw badValue('period', p.period);
  return period;
}

function autoprolongOf(p: Record<string, string>): number | null {
  const v = p.autoprolong;
  if (v === undefined || v === '' || v === 'null' || v === 'off') return null;
  const period = parseInteger(v);
  if (period === null) throw badValue('autoprolong', v);
  return period;
}

async function orderableTariff(c: Call, family: Family, raw: string | undefined): Promise<TariffAggregate> {
  if (raw === undefined || raw === '') throw missed('pricelist');
  const id = parseInteger(raw);
  if (id === null) throw badValue('pricelist', raw);
  const agg = (await tariffsById(c.ctx, [id])).get(id);
  if (!agg || agg.productType.code !== family || agg.tariff.status !== 'active')
    throw badValue('pricelist', raw, 'No such tariff plan for this kind of license.');
  return agg;
}

async function findByRemoteId(c: Call, family: Family, remoteId: string): Promise<number | null> {
  const actor = c.caller.actor;
  if (actor.type !== 'user' || actor.accountId === null) return null;
  const row = await c.ctx.db.kysely
    .selectFrom('services as s')
    .innerJoin('product_types as t', 't.id', 's.product_type_id')
    .select('s.id')
    .where('s.account_id', '=', actor.accountId)
    .where('s.remote_id', '=', remoteId)
    .where('t.code', '=', family)
    .where('s.status', '<>', 'deleted')
    .orderBy('s.id', 'desc')
    .executeTakeFirst();
  return row ? toId(row.id) : null;
}

/**
 * The order's idempotency key for a remote id. It names how many licenses with that remote id
 * were deleted, so ordering again after a deletion makes a new license instead of replaying
 * the old order.
 */
async function remoteOrderKey(c: Call, family: Family, remoteId: string): Promise<string> {
  const actor = c.caller.actor;
  const accountId = actor.type === 'user' ? (actor.accountId ?? -1) : -1;
  const gone = await c.ctx.db.kysely
    .selectFrom('services as s')
    .innerJoin('product_types as t', 't.id', 's.product_type_id')
    .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
    .where('s.account_id', '=', accountId)
    .where('s.remote_id', '=', remoteId)
    .where('t.code', '=', family)
    .where('s.status', '=', 'deleted')
    .executeTakeFirstOrThrow();
  return `billmgr:${family}:remoteid:${remoteId}:${Number(gone.n)}`;
}

export async function orderParam(c: Call, family: Family): Promise<MgrNode> {
  const { ctx, p } = c;
  const agg = await orderableTariff(c, family, p.pricelist);
  const catalog = presentCatalogTariff(agg);
  if (!acting(p) && p.clicked_button !== 'finish') {
    return objectDoc(
      {
        pricelist: toId(agg.tariff.id),
        pricelist_name: agg.tariff.name,
        period: p.period ?? catalog.periods[0]?.period ?? '',
        ...(hasIp(family) ? { ip: p.ip ?? '', licname: p.licname ?? '' } : { comment: p.comment ?? '' }),
      },
      [
        slist(
          'period',
          catalog.periods.map((x) => [
            x.period,
            periodLabel(x.period, (x as { trialDays?: number }).trialDays),
          ]),
        ),
      ],
    );
  }
  const actor = c.caller.actor;
  if (actor.type !== 'user' || actor.accountId === null)
    throw new MgrFault('access', 'Licenses are ordered by a client account.');
  const period = periodOf(p);
  const params: Record<string, string> = {};
  if (hasIp(family)) {
    if (!p.ip) throw missed('ip');
    const ip = canonicalIp(p.ip);
    if (ip === null || ip === POOL_IP) throw badValue('ip', p.ip, 'Invalid value of the field "IP address"');
    params.ip = ip;
    params.licname = p.licname?.trim() || ip;
  }
  const remoteId = p.remoteid?.trim() || undefined;
  if (remoteId) {
    const existing = await findByRemoteId(c, family, remoteId);
    if (existing !== null) return objectDoc({ id: existing });
  }
  const idempotencyKey = remoteId ? await remoteOrderKey(c, family, remoteId) : undefined;
  // A retry of an order already placed replays it (placeOrder); only a new one claims the
  // address. Checked after the address: a concurrent twin that took the address committed its
  // order (with this key) in the same transaction, so it is seen here.
  const placedBefore = async () =>
    idempotencyKey !== undefined &&
    (await ctx.db.kysely
      .selectFrom('orders')
      .select('id')
      .where('account_id', '=', actor.accountId)
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst()) !== undefined;
  if (
    hasIp(family) &&
    (await licenseIpTaken(ctx.db.kysely, family, toId(agg.tariff.id), params.ip!)) &&
    !(await placedBefore())
  )
    throw new MgrFault('exists', 'This IP address already has a license of this kind.', 'ip', params.ip);
  const payNow = p.skipbasket === 'on';
  let placed: Awaited<ReturnType<typeof placeOrder>>;
  try {
    placed = await placeOrder(ctx, actor, {
      items: [
        {
          tariffId: toId(agg.tariff.id),
          period,
          params,
          addonValues: addonValues(p),
          autoprolong: autoprolongOf(p),
        },
      ],
      payNow,
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
  } catch (err) {
    // Two identical orders at once: the loser finds the winner's license.
    if (remoteId && isUniqueViolation(err)) {
      const existing = await findByRemoteId(c, family, remoteId);
      if (existing !== null) return objectDoc({ id: existing });
    }
    throw err;
  }
  const item = await ctx.db.kysely
    .selectFrom('order_items')
    .select('service_id')
    .where('order_id', '=', placed.order.id)
    .executeTakeFirstOrThrow();
  if (item.service_id === null) {
    // Not charged now (no skipbasket): the license appears when the order is paid.
    return objectDoc({ billorder: toId(placed.order.id) });
  }
  const serviceId = toId(item.service_id);
  if (placed.replayed) {
    // A replayed order's license keeps a remote id renamed since; one lost by a crash between
    // the order and the line below is written now.
    if (remoteId)
      await ctx.db.kysely
        .updateTable('services')
        .set({ remote_id: remoteId })
        .where('id', '=', serviceId)
        .where('remote_id', 'is', null)
        .execute();
    return objectDoc({ id: serviceId });
  }
  const set: { remote_id?: string; name?: string } = {};
  if (remoteId) set.remote_id = remoteId;
  if (family === 'platform' && p.comment) set.name = p.comment;
  if (Object.keys(set).length > 0)
    await ctx.db.kysely.updateTable('services').set(set).where('id', '=', serviceId).execute();
  // Issue the key now, so the caller's first soft.edit already sees it.
  await runServiceOperations(ctx, serviceId);
  return objectDoc({ id: serviceId });
}

// ---------------------------------------------------------------- edit, key, ip

export async function edit(c: Call, family: Family): Promise<MgrNode> {
  const id = elidOf(c.p);
  if (!acting(c.p)) return view(c, family, id);
  await owned(c, family, id);
  const { ctx, caller, p } = c;
  if (p.clicked_button === 'newkey') {
    await regenerateLicenseKey(ctx, caller.actor, id);
    return view(c, family, id);
  }
  if (hasIp(family) && p.ip !== undefined && p.ip !== '') {
    if (canonicalIp(p.ip) === null) throw badValue('ip', p.ip, 'Invalid value of the field "IP address"');
    await changeLicenseIp(ctx, caller.actor, id, p.ip);
  }
  const labels: { licname?: string; remoteId?: string } = {};
  const name = family === 'platform' ? p.comment : p.licname;
  if (name !== undefined && name.trim() !== '') labels.licname = name.trim();
  if (p.remoteid !== undefined) labels.remoteId = p.remoteid.trim();
  if (Object.keys(labels).length > 0)
    await updateLicenseLabels(ctx, caller.actor, id, { ...labels, nameOnly: family === 'platform' });
  return okDoc();
}

export async function checkIp(c: Call, family: Family): Promise<MgrNode> {
  const agg = await orderableTariff(c, family, c.p.pricelist);
  if (c.p.period !== undefined && c.p.period !== '') {
    const period = periodOf(c.p);
    if (!presentCatalogTariff(agg).periods.some((x) => x.period === period))
      throw badValue('period', c.p.period);
  }
  if (!c.p.ip) throw missed('ip');
  const ip = canonicalIp(c.p.ip);
  if (ip === null || ip === POOL_IP) throw badValue('ip', c.p.ip, 'Invalid value of the field "IP address"');
  if (await licenseIpTaken(c.ctx.db.kysely, family, toId(agg.tariff.id), ip))
    throw new MgrFault('exists', 'This IP address already has a license of this kind.', 'ip', c.p.ip);
  return okDoc();
}

// ---------------------------------------------------------------- suspend, resume, delete

/**
 * A group action (`elid=1, 2`): every id is checked first — its owner, then what the lifecycle
 * says to this action on it (the same pure decision the action takes under its lock) — so one
 * refusal refuses the whole request with nothing done; then each license not already in
 * `done` state is acted on and its operation run at once.
 */
async function groupAction(
  c: Call,
  family: Family,
  done: ServiceRow['status'],
  event: LifecycleEvent,
  act: (id: number) => Promise<unknown>,
): Promise<MgrNode> {
  const ids = elidsOf(c.p);
  const rows: ServiceRow[] = [];
  for (const id of ids) rows.push(await owned(c, family, id));
  const today = await todayIn(c.ctx);
  for (const row of rows)
    if (row.status !== done) decideOrThrow(await serviceState(c.ctx.db.kysely, row), event, today);
  for (const id of ids) {
    if ((await owned(c, family, id)).status === done) continue;
    await act(id);
    await runServiceOperations(c.ctx, id);
  }
  return okDoc();
}

/** Who asks, as the lifecycle knows callers (an mgr caller is always a user). */
const by = (c: Call) => (isStaff(c.caller.actor) ? 'staff' : 'client');

export const suspend = (c: Call, family: Family) => {
  const reason = isStaff(c.caller.actor) ? 'admin' : 'client';
  return groupAction(c, family, 'suspended', { type: 'suspend', reason, by: by(c) }, (id) =>
    suspendService(c.ctx, c.caller.actor, id, reason),
  );
};

export const resume = (c: Call, family: Family) =>
  groupAction(c, family, 'active', { type: 'resume', by: by(c) }, (id) =>
    resumeService(c.ctx, c.caller.actor, id),
  );

export const remove = (c: Call, family: Family) =>
  groupAction(c, family, 'deleted', { type: 'delete' }, (id) => deleteService(c.ctx, c.caller.actor, id));

// ---------------------------------------------------------------- prolong, change of tariff

async function anyFamily(c: Call, id: number): Promise<{ s: ServiceRow; family: Family }> {
  const row = await c.ctx.db.kysely
    .selectFrom('services as s')
    .innerJoin('product_types as t', 't.id', 's.product_type_id')
    .select('t.code')
    .where('s.id', '=', id)
    .executeTakeFirst();
  const family = FAMILIES.find((f) => f === row?.code);
  if (!family) throw noAccess();
  return { s: await owned(c, family, id), family };
}

export async function prolong(c: Call): Promise<MgrNode> {
  const id = elidOf(c.p);
  const { s } = await anyFamily(c, id);
  const agg = (await tariffsById(c.ctx, [toId(s.tariff_id)])).get(toId(s.tariff_id));
  const periods = agg ? presentCatalogTariff(agg).periods.filter((x) => x.period !== TRIAL_PERIOD) : [];
  if (!acting(c.p)) {
    const period = c.p.period
      ? periodOf(c.p)
      : Number(s.period) === TRIAL_PERIOD
        ? (periods[0]?.period ?? 1)
        : Number(s.period);
    let newexpiredate = '';
    if (Number(s.period) !== TRIAL_PERIOD && s.status !== 'deleted') {
      try {
        newexpiredate =
          (await planRenewal(c.ctx.db.kysely, c.ctx, s, period))?.priced.cut.end.toString() ?? '';
      } catch {
        newexpiredate = '';
      }
    }
    return objectDoc({ id, expiredate: s.expires_on ?? '', newexpiredate, period }, [
      slist(
        'period',
        periods.map((x) => [x.period, periodLabel(x.period)]),
      ),
      mgrDoc([el('newexpiredate', newexpiredate)]),
    ]);
  }
  const period = periodOf(c.p);
  if (Number(s.period) === TRIAL_PERIOD)
    throw badValue('period', c.p.period, 'A trial license cannot be renewed.');
  const { service } = await renewService(c.ctx, c.caller.actor, id, period);
  await runServiceOperations(c.ctx, id);
  const expires = service.expires_on ?? '';
  return objectDoc({ id, expiredate: expires, newexpiredate: expires }, [
    mgrDoc([el('newexpiredate', expires)]),
  ]);
}

export async function changePricelist(c: Call): Promise<MgrNode> {
  const id = elidOf(c.p);
  const { s, family } = await anyFamily(c, id);
  const agg = await orderableTariff(c, family, c.p.pricelist);
  if (!acting(c.p)) {
    return objectDoc({ id, pricelist: toId(agg.tariff.id), period: Number(s.period) });
  }
  // Clients send the billing cycle with every package change: the tariff changes now (the
  // remaining paid days converted), the period applies from the next renewal.
  const period = c.p.period !== undefined && c.p.period !== '' ? periodOf(c.p) : undefined;
  await changeTariff(c.ctx, c.caller.actor, id, toId(agg.tariff.id), period !== undefined ? { period } : {});
  await runServiceOperations(c.ctx, id);
  return okDoc();
}
