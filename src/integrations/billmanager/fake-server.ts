/**
 * A stateful fake of a selling BILLmanager (ISPsystem's license billing, PROTOCOL.md §1–5) for
 * tests of the client and of the processing module: accounts with a balance, sessions, a
 * price list, licenses of the three families with their rules (IP change once a calendar
 * month, renewal from expiry or from today, suspension at expiry), a clock the test moves, a
 * log of calls, and fault knobs that make it slow, fail, hang up or act and then not answer.
 *
 * It speaks the wire format on its own (`out=xml` and `out=json`) rather than through
 * Billfold's `/billmgr` renderer, so the client is checked against a second writer of it.
 * `node:http` on 127.0.0.1, port 0.
 */

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP, type Socket } from 'node:net';
import { Temporal } from 'temporal-polyfill';
import { formatAmount, parseAmount, prorate } from '../../domain/money.js';

export type Family = 'soft' | 'softexternal' | 'platform';
const FAMILIES: readonly Family[] = ['soft', 'softexternal', 'platform'];

// ------------------------------------------------------------------------------------------ model

export interface FakeTariffInput {
  id: string;
  name: string;
  itemtype: Family;
  /** period in months (-100 trial) → price, e.g. `{ '1': '7.50', '12': '75.00' }`. */
  prices: Record<string, string>;
  /** The last day the tariff can run (renewals are cut there, prorated by days). */
  endDate?: string;
  /** A trial's length in days (period -100). */
  trialDays?: number;
  /** Per-unit add-ons (`addon_<id>=<n>`), priced per period like the tariff. */
  addons?: { id: string; name: string; prices: Record<string, string> }[];
}

export interface FakeAccountInput {
  username: string;
  password: string;
  /** e.g. '100.00' */
  balance: string;
  currency?: string;
}

export interface FakeLicense {
  id: string;
  family: Family;
  account: string;
  pricelist: string;
  period: number;
  ip: string;
  licname: string;
  comment: string;
  remoteid: string;
  addons: Record<string, number>;
  /** 1 ordered, 2 active, 3 suspended, 4 deleted, 5 processing. */
  status: number;
  /** Why a suspended license is suspended: the client asked, or it expired unpaid. */
  suspendedBy: 'client' | 'expiry' | null;
  suspendedOn: string | null;
  createdate: string;
  expiredate: string;
  autoprolong: string;
  lickey: string;
  /** soft.edit views left before the key appears (key-after-polls fault). */
  keyPollsLeft: number;
  ipChangedOn: string;
  keyChangedOn: string;
}

interface Account {
  username: string;
  password: string;
  balance: bigint;
  currency: string;
}

interface Tariff extends FakeTariffInput {
  minor: Map<number, bigint>;
  addonMinor: Map<string, Map<number, bigint>>;
}

export interface FakeCall {
  func: string;
  /** The request's parameters without password, authinfo, auth and key. */
  params: Record<string, string>;
}

const SECRET_PARAMS = new Set(['password', 'authinfo', 'auth', 'key', 'passwd']);

export const DEFAULT_ACCOUNT: Readonly<FakeAccountInput> = Object.freeze({
  username: 'reseller@example.com',
  password: 'Res3ller:secret-pass',
  balance: '100.00',
  currency: 'EUR',
});

const monthlyAndYearly = (month: string, year: string) => ({ '1': month, '12': year });

/** ISPsystem's license tariffs as the brief and PROTOCOL.md name them (prices are ours). */
export const DEFAULT_TARIFFS: readonly FakeTariffInput[] = Object.freeze([
  { id: '55227', name: 'ISPmanager 6 Lite', itemtype: 'soft', prices: monthlyAndYearly('7.50', '75.00') },
  { id: '55228', name: 'ISPmanager 6 Pro', itemtype: 'soft', prices: monthlyAndYearly('15.00', '150.00') },
  { id: '55229', name: 'ISPmanager 6 Host', itemtype: 'soft', prices: monthlyAndYearly('25.00', '250.00') },
  {
    id: '55230',
    name: 'ISPmanager 6 Business',
    itemtype: 'soft',
    prices: monthlyAndYearly('40.00', '400.00'),
    addons: [{ id: '55236', name: 'Additional nodes', prices: monthlyAndYearly('10.00', '100.00') }],
  },
  {
    id: '3541',
    name: 'ISPmanager Lite',
    itemtype: 'soft',
    prices: monthlyAndYearly('4.00', '40.00'),
    endDate: '2021-12-31',
  },
  {
    id: '4601',
    name: 'ISPmanager Business',
    itemtype: 'soft',
    prices: monthlyAndYearly('12.00', '120.00'),
    endDate: '2021-12-31',
    addons: [{ id: '4602', name: 'Additional nodes', prices: monthlyAndYearly('12.00', '120.00') }],
  },
  {
    id: '55163',
    name: 'VMmanager 6',
    itemtype: 'platform',
    prices: monthlyAndYearly('20.00', '200.00'),
    addons: [
      { id: '55164', name: 'Virtual machines', prices: monthlyAndYearly('0.50', '5.00') },
      { id: '55165', name: 'Nodes', prices: monthlyAndYearly('5.00', '50.00') },
    ],
  },
  { id: '55161', name: 'DCImanager 6', itemtype: 'platform', prices: monthlyAndYearly('30.00', '300.00') },
  { id: '9203', name: 'CloudLinux', itemtype: 'softexternal', prices: { '1': '12.00' } },
]);

/** A mgr error the handlers throw; answered as `<doc><error …>` with HTTP 200. */
class Refusal extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly object = '',
    readonly value?: string,
  ) {
    super(message);
  }
}
const missed = (param: string) => new Refusal('missed', `The parameter "${param}" is required.`, param);
const badValue = (param: string, value: string | undefined, message?: string) =>
  new Refusal('value', message ?? `Invalid value of the field "${param}".`, param, value);
const noAccess = () => new Refusal('access', 'Access denied or no such object.', 'elid');

/** The clock of the selling side (dates only, as licenses know them). */
export class FakeClock {
  #today: Temporal.PlainDate;
  constructor(today: string) {
    this.#today = Temporal.PlainDate.from(today);
  }
  today(): string {
    return this.#today.toString();
  }
  set(date: string): void {
    this.#today = Temporal.PlainDate.from(date);
  }
  advance(days: number): void {
    this.#today = this.#today.add({ days });
  }
}

/** Everything the fake knows; tests read and change it directly. */
export class FakeState {
  readonly accounts = new Map<string, Account>();
  readonly tariffs = new Map<string, Tariff>();
  readonly licenses = new Map<string, FakeLicense>();
  readonly sessions = new Map<string, string>();
  readonly calls: FakeCall[] = [];
  /** Where the balance shows: `whoami`'s user attributes, `subaccount` rows, or nowhere. */
  balanceVia: 'whoami' | 'subaccount' | 'none' = 'whoami';
  nextId = 1_234_567;

  constructor(
    readonly clock: FakeClock,
    readonly currency: string,
  ) {}

  addAccount(input: FakeAccountInput): void {
    const currency = input.currency ?? this.currency;
    this.accounts.set(input.username, {
      username: input.username,
      password: input.password,
      balance: parseAmount(input.balance, currency, { allowNegative: true }),
      currency,
    });
  }

  addTariff(input: FakeTariffInput): void {
    const minorOf = (prices: Record<string, string>) =>
      new Map(Object.entries(prices).map(([p, amount]) => [Number(p), parseAmount(amount, this.currency)]));
    this.tariffs.set(input.id, {
      ...input,
      minor: minorOf(input.prices),
      addonMinor: new Map((input.addons ?? []).map((a) => [a.id, minorOf(a.prices)])),
    });
  }

  /** An account's balance as text (`92.50`). */
  balanceOf(username: string): string {
    const a = this.accounts.get(username);
    if (!a) throw new Error(`no fake account ${username}`);
    return formatAmount(a.balance, a.currency);
  }

  setBalance(username: string, amount: string): void {
    const a = this.accounts.get(username);
    if (!a) throw new Error(`no fake account ${username}`);
    a.balance = parseAmount(amount, a.currency, { allowNegative: true });
  }

  /** Sessions die (as after the upstream's idle hour or a restart). */
  expireSessions(): void {
    this.sessions.clear();
  }

  /** The calls of one function (an order, a renewal) — to count them. */
  callsOf(func: string): FakeCall[] {
    return this.calls.filter((c) => c.func === func);
  }

  licensesByRemoteId(remoteid: string): FakeLicense[] {
    return [...this.licenses.values()].filter((l) => l.remoteid === remoteid);
  }

  /** Expiry as the selling side applies it: suspended the day after the paid time, deleted 30 days later. */
  applyClock(): void {
    const today = this.clock.today();
    for (const l of this.licenses.values()) {
      if (l.status === 2 && l.expiredate < today) {
        l.status = 3;
        l.suspendedBy = 'expiry';
        l.suspendedOn = l.expiredate;
      }
      if (
        l.status === 3 &&
        l.suspendedBy === 'expiry' &&
        Temporal.PlainDate.from(l.expiredate).add({ days: 30 }).toString() < today
      ) {
        l.status = 4;
        l.lickey = '';
      }
    }
  }
}

// ------------------------------------------------------------------------------------------ faults

export type FaultSpec =
  /** Wait before handling. */
  | { kind: 'latency'; ms: number }
  /** Answer with this HTTP status (and headers, and a body that is not a mgr document) without acting. */
  | { kind: 'http'; status: number; headers?: Record<string, string> }
  /** Close the connection without answering, without acting. */
  | { kind: 'reset' }
  /** Act, then never answer (the connection stays open until the client gives up). */
  | { kind: 'act-then-hang' }
  /** Act, then answer after `ms` (past the client's timeout, say). */
  | { kind: 'act-then-delay'; ms: number }
  /** Answer `not_enough_money` without acting. */
  | { kind: 'not_enough_money' }
  /** Answer an HTML page (HTTP `status`, default 200): a wrong URL, a proxy's page. */
  | { kind: 'html'; status?: number }
  /** Answer `auth` as for wrong credentials, without acting. */
  | { kind: 'auth-error' }
  /** Licenses ordered stay in status 5 without a key until their `polls`-th `*.edit` view. */
  | { kind: 'key-after-polls'; polls: number };

export type Fault = FaultSpec & {
  /** The function it applies to; every function (auth included) when absent. */
  func?: string;
  /** Applies this many times, then is gone; for ever when absent. */
  times?: number;
};

export class FakeFaults {
  readonly active: Fault[] = [];
  add(fault: Fault): void {
    this.active.push({ ...fault });
  }
  clear(): void {
    this.active.length = 0;
  }
  /** The faults of `kind` that apply to `func`, each used once. */
  take<K extends FaultSpec['kind']>(kind: K, func: string): Extract<Fault, { kind: K }>[] {
    const hits: Extract<Fault, { kind: K }>[] = [];
    for (const f of [...this.active]) {
      if (f.kind !== kind || (f.func !== undefined && f.func !== func)) continue;
      hits.push(f as Extract<Fault, { kind: K }>);
      if (f.times !== undefined && --f.times <= 0) this.active.splice(this.active.indexOf(f), 1);
    }
    return hits;
  }
}

// ------------------------------------------------------------------------------------------ wire

interface Node {
  name: string;
  attrs?: Record<string, string>;
  text?: string;
  children?: Node[];
}

const el = (name: string, content?: string | number | Node[], attrs?: Record<string, string>): Node => {
  const node: Node = { name };
  if (attrs) node.attrs = attrs;
  if (Array.isArray(content)) node.children = content;
  else if (content !== undefined && content !== '') node.text = String(content);
  return node;
};
const fields = (record: Record<string, string | number>) => Object.entries(record).map(([k, v]) => el(k, v));
const doc = (children: Node[] = []) => el('doc', children);
const okDoc = () => doc([el('ok')]);

const escapeXml = (s: string, attr: boolean) =>
  s.replace(attr ? /[&<>"\n\r\t]/g : /[&<>\r]/g, (c) => `&#${c.charCodeAt(0)};`);

function xml(node: Node): string {
  const attrs = Object.entries(node.attrs ?? {})
    .map(([k, v]) => ` ${k}="${escapeXml(v, true)}"`)
    .join('');
  const inner = escapeXml(node.text ?? '', false) + (node.children ?? []).map(xml).join('');
  return inner === '' ? `<${node.name}${attrs}/>` : `<${node.name}${attrs}>${inner}</${node.name}>`;
}

/** The json image: `$x` attributes, `$` text, one child an object, several an array. */
function json(node: Node): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node.attrs ?? {})) out[`$${k}`] = v;
  if (node.text) out.$ = node.text;
  const groups = new Map<string, Node[]>();
  for (const c of node.children ?? []) groups.set(c.name, [...(groups.get(c.name) ?? []), c]);
  for (const [name, group] of groups) out[name] = group.length > 1 ? group.map(json) : json(group[0]!);
  return out;
}

const errorDoc = (r: Refusal) =>
  doc([
    el(
      'error',
      [
        ...(r.object ? [el('param', r.object, { name: 'object', type: 'msg' })] : []),
        ...(r.value !== undefined ? [el('param', r.value, { name: 'value' })] : []),
        el('msg', r.message),
      ],
      { type: r.type, object: r.object, lang: 'en' },
    ),
  ]);

const HTML_PAGE =
  '<!DOCTYPE html><html><head><title>Not here</title></head><body><h1>Welcome</h1></body></html>';

// ------------------------------------------------------------------------------------------ functions

interface Ctx {
  state: FakeState;
  faults: FakeFaults;
  func: string;
  p: Record<string, string>;
  account: Account;
}

const acting = (p: Record<string, string>) => (p.sok ?? '') !== '';

function tariffFor(c: Ctx, family: Family, raw: string | undefined): Tariff {
  if (!raw) throw missed('pricelist');
  const t = c.state.tariffs.get(raw);
  if (!t || t.itemtype !== family)
    throw badValue('pricelist', raw, 'No such tariff plan for this kind of license.');
  return t;
}

function periodFor(t: Tariff, raw: string | undefined): number {
  if (raw === undefined || raw === '') throw missed('period');
  const period = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!t.minor.has(period)) throw badValue('period', raw, 'This period is not offered for the tariff plan.');
  return period;
}

function ipFor(raw: string | undefined): string {
  if (!raw) throw missed('ip');
  if (isIP(raw) === 0 || raw === '0.0.0.0' || raw === '::')
    throw badValue('ip', raw, 'Invalid value of the field "IP address"');
  return raw;
}

/** Price of a tariff and its add-ons for one period. */
function priceOf(t: Tariff, period: number, addons: Record<string, number>): bigint {
  let total = t.minor.get(period) ?? 0n;
  for (const [id, qty] of Object.entries(addons))
    total += (t.addonMinor.get(id)?.get(period) ?? 0n) * BigInt(qty);
  return total;
}

function charge(c: Ctx, amount: bigint): void {
  if (c.account.balance < amount)
    throw new Refusal('not_enough_money', 'There is not enough money on the balance.');
  c.account.balance -= amount;
}

function owned(c: Ctx, family: Family | null, raw: string | undefined): FakeLicense {
  if (!raw) throw missed('elid');
  const l = c.state.licenses.get(raw.trim());
  if (!l || l.account !== c.account.username || (family !== null && l.family !== family)) throw noAccess();
  return l;
}

function newKey(l: FakeLicense): string {
  return `${l.id}-${randomBytes(12).toString('hex').toUpperCase()}`;
}

function licenseRecord(c: Ctx, l: FakeLicense): Record<string, string | number> {
  const t = c.state.tariffs.get(l.pricelist);
  const names: Record<string, string> =
    l.family === 'platform' ? { comment: l.comment } : { licname: l.licname, ip: l.ip };
  return {
    id: l.id,
    ...names,
    period: l.period,
    pricelist: l.pricelist,
    createdate: l.createdate,
    expiredate: l.expiredate,
    autoprolong: l.autoprolong,
    status: l.status,
    real_ipchange: l.ipChangedOn,
    real_keychange: l.keyChangedOn,
    cost: t ? formatAmount(priceOf(t, l.period, l.addons), c.state.currency) : '',
    remoteid: l.remoteid,
  };
}

function view(c: Ctx, l: FakeLicense): Node {
  if (l.keyPollsLeft > 0) {
    l.keyPollsLeft--;
    if (l.keyPollsLeft === 0 && l.status === 5) {
      l.status = 2;
      l.lickey = newKey(l);
    }
  }
  const addons = Object.fromEntries(Object.entries(l.addons).map(([id, n]) => [`addon_${id}`, n]));
  return doc([
    ...fields(licenseRecord(c, l)),
    ...fields({ pricelist_name: c.state.tariffs.get(l.pricelist)?.name ?? '', lickey: l.lickey, ...addons }),
  ]);
}

function list(c: Ctx, family: Family): Node {
  const rows = [...c.state.licenses.values()].filter(
    (l) =>
      l.account === c.account.username &&
      l.family === family &&
      (!c.p.remoteid || l.remoteid === c.p.remoteid),
  );
  return doc(rows.map((l) => el('elem', fields(licenseRecord(c, l)))));
}

function addonValues(t: Tariff, p: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, raw] of Object.entries(p)) {
    const m = /^addon_(\d+)$/.exec(key);
    if (!m) continue;
    if (!t.addonMinor.has(m[1]!)) throw badValue(key, raw, 'No such add-on for this tariff plan.');
    if (!/^\d{1,6}$/.test(raw)) throw badValue(key, raw);
    out[m[1]!] = Number(raw);
  }
  return out;
}

function order(c: Ctx, family: Family): Node {
  const { p, state } = c;
  const t = tariffFor(c, family, p.pricelist);
  if (!acting(p) && p.clicked_button !== 'finish') {
    return doc([
      ...fields({ pricelist: t.id, pricelist_name: t.name }),
      el(
        'slist',
        [...t.minor.keys()].map((k) => el('val', k === -100 ? 'Trial' : `${k} month(s)`, { key: String(k) })),
        { name: 'period' },
      ),
    ]);
  }
  const period = periodFor(t, p.period);
  const today = state.clock.today();
  if (t.endDate !== undefined && t.endDate <= today)
    throw badValue('pricelist', p.pricelist, `The tariff plan ended on ${t.endDate}.`);
  const ip = family === 'platform' ? '' : ipFor(p.ip);
  const addons = addonValues(t, p);
  const { until: expiredate, cost } = termOf(t, today, period, addons);
  charge(c, cost);
  const id = String(state.nextId++);
  const delay = c.faults.take('key-after-polls', c.func).reduce((n, f) => Math.max(n, f.polls), 0);
  const l: FakeLicense = {
    id,
    family,
    account: c.account.username,
    pricelist: t.id,
    period,
    ip,
    licname: family === 'platform' ? '' : (p.licname ?? '').trim() || ip,
    comment: family === 'platform' ? (p.comment ?? '').trim() : '',
    remoteid: (p.remoteid ?? '').trim(),
    addons,
    status: delay > 0 ? 5 : 2,
    suspendedBy: null,
    suspendedOn: null,
    createdate: today,
    expiredate,
    autoprolong: p.autoprolong && p.autoprolong !== 'off' ? p.autoprolong : 'null',
    lickey: '',
    keyPollsLeft: delay,
    ipChangedOn: '',
    keyChangedOn: '',
  };
  if (delay === 0) l.lickey = newKey(l);
  state.licenses.set(id, l);
  return doc([el('id', id)]);
}

function edit(c: Ctx, family: Family): Node {
  const l = owned(c, family, c.p.elid);
  if (!acting(c.p)) return view(c, l);
  if (l.status === 4) throw badValue('elid', c.p.elid, 'The license is deleted.');
  const today = c.state.clock.today();
  if (c.p.clicked_button === 'newkey') {
    l.lickey = newKey(l);
    l.keyChangedOn = today;
    return view(c, l);
  }
  if (family !== 'platform' && c.p.ip !== undefined && c.p.ip !== '' && c.p.ip !== l.ip) {
    const pool = c.p.ip === '0.0.0.0';
    if (!pool && isIP(c.p.ip) === 0) throw badValue('ip', c.p.ip, 'Invalid value of the field "IP address"');
    if (!pool && l.ipChangedOn.slice(0, 7) === today.slice(0, 7))
      throw badValue('ip', c.p.ip, 'The IP address of a license can be changed once a calendar month.');
    l.ip = c.p.ip;
    if (!pool) l.ipChangedOn = today;
  }
  if (family !== 'platform' && c.p.licname !== undefined && c.p.licname.trim() !== '')
    l.licname = c.p.licname.trim();
  if (family === 'platform' && c.p.comment !== undefined) l.comment = c.p.comment.trim();
  if (c.p.remoteid !== undefined) l.remoteid = c.p.remoteid.trim();
  return okDoc();
}

function elidsOf(c: Ctx, family: Family): FakeLicense[] {
  if (!c.p.elid) throw missed('elid');
  return c.p.elid.split(',').map((id) => owned(c, family, id));
}

function suspend(c: Ctx, family: Family): Node {
  const ls = elidsOf(c, family);
  for (const l of ls) if (l.status === 4) throw badValue('elid', l.id, 'The license is deleted.');
  for (const l of ls) {
    if (l.status === 3) continue;
    l.status = 3;
    l.suspendedBy = 'client';
    l.suspendedOn = c.state.clock.today();
  }
  return okDoc();
}

function resume(c: Ctx, family: Family): Node {
  const ls = elidsOf(c, family);
  const today = c.state.clock.today();
  for (const l of ls) {
    if (l.status === 4) throw badValue('elid', l.id, 'The license is deleted.');
    if (l.expiredate < today) throw badValue('elid', l.id, 'The license has expired; renew it first.');
  }
  for (const l of ls) {
    if (l.status !== 3) continue;
    l.status = 2;
    l.suspendedBy = null;
    l.suspendedOn = null;
  }
  return okDoc();
}

function remove(c: Ctx, family: Family): Node {
  for (const l of elidsOf(c, family)) {
    l.status = 4;
    l.lickey = '';
  }
  return okDoc();
}

function checkIp(c: Ctx, family: Family): Node {
  const t = tariffFor(c, family, c.p.pricelist);
  if (c.p.period) periodFor(t, c.p.period);
  const ip = ipFor(c.p.ip);
  const taken = [...c.state.licenses.values()].some(
    (l) => l.pricelist === t.id && l.ip === ip && l.status !== 4,
  );
  if (taken) throw new Refusal('exists', 'This IP address already has a license of this kind.', 'ip', ip);
  return okDoc();
}

/** A renewal: from expiry (from today when suspended or already expired), cut at the tariff's end. */
function renewal(c: Ctx, l: FakeLicense, period: number): { until: string; cost: bigint } {
  const t = c.state.tariffs.get(l.pricelist);
  if (!t) throw badValue('elid', l.id, 'The tariff plan no longer exists.');
  const today = c.state.clock.today();
  return termOf(t, l.status === 3 || l.expiredate < today ? today : l.expiredate, period, l.addons);
}

/**
 * A paid term from `from`: `period` months (a trial: its days), cut at the tariff's last day
 * with the price prorated by days.
 */
function termOf(
  t: Tariff,
  from: string,
  period: number,
  addons: Record<string, number>,
): { until: string; cost: bigint } {
  const start = Temporal.PlainDate.from(from);
  const full = (
    period === -100 ? start.add({ days: t.trialDays ?? 14 }) : start.add({ months: period })
  ).toString();
  const cost = priceOf(t, period, addons);
  if (t.endDate === undefined || full <= t.endDate) return { until: full, cost };
  if (from >= t.endDate)
    throw badValue('pricelist', t.id, `The tariff plan ended on ${t.endDate}; it cannot be renewed.`);
  const days = (to: string) => BigInt(start.until(Temporal.PlainDate.from(to), { largestUnit: 'days' }).days);
  return { until: t.endDate, cost: prorate(cost, days(t.endDate), days(full)) };
}

function prolong(c: Ctx): Node {
  const l = owned(c, null, c.p.elid);
  const t = c.state.tariffs.get(l.pricelist);
  const periods = [...(t?.minor.keys() ?? [])].filter((p) => p !== -100);
  if (!acting(c.p)) {
    const asked = /^\d{1,4}$/.test(c.p.period ?? '') ? Number(c.p.period) : null;
    const period = asked ?? (l.period === -100 ? (periods[0] ?? 1) : l.period);
    let next = '';
    if (l.period !== -100 && l.status !== 4 && periods.includes(period)) {
      try {
        next = renewal(c, l, period).until;
      } catch {}
    }
    return doc([
      ...fields({ id: l.id, expiredate: l.expiredate, newexpiredate: next, period }),
      el(
        'slist',
        periods.map((k) => el('val', `${k} month(s)`, { key: String(k) })),
        { name: 'period' },
      ),
      doc([el('newexpiredate', next)]),
    ]);
  }
  if (l.status === 4) throw badValue('elid', c.p.elid, 'The license is deleted.');
  if (l.period === -100) throw badValue('period', c.p.period, 'A trial license cannot be renewed.');
  if (!c.p.period) throw missed('period');
  const period = Number(c.p.period);
  if (!periods.includes(period)) throw badValue('period', c.p.period, 'This period is not offered.');
  const { until, cost } = renewal(c, l, period);
  charge(c, cost);
  l.expiredate = until;
  if (l.status === 3 && l.suspendedBy === 'expiry') {
    l.status = 2;
    l.suspendedBy = null;
    l.suspendedOn = null;
  }
  return doc([
    ...fields({ id: l.id, expiredate: until, newexpiredate: until }),
    doc([el('newexpiredate', until)]),
  ]);
}

/**
 * `service.changepricelist elid pricelist period sok=ok`: the license moves to another tariff of
 * its kind now; the remaining paid days are charged at the difference of the two tariffs'
 * prices for its period (day-prorated on the full period; a cheaper tariff credits nothing
 * here), and `period` applies from the next renewal. Without `sok`: what would change.
 */
function changePricelist(c: Ctx): Node {
  const l = owned(c, null, c.p.elid);
  if (l.status === 4) throw badValue('elid', c.p.elid, 'The license is deleted.');
  const raw = c.p.pricelist?.trim();
  if (!raw) throw missed('pricelist');
  const to = c.state.tariffs.get(raw);
  if (!to || to.itemtype !== l.family)
    throw badValue('pricelist', raw, 'No such tariff plan for this license.');
  const period = c.p.period ? Number(c.p.period) : l.period;
  if (!to.minor.has(period)) throw badValue('period', c.p.period, 'This period is not offered.');
  if (!acting(c.p)) return doc([...fields({ id: l.id, pricelist: to.id, period })]);
  if (to.id === l.pricelist) return doc([...fields({ id: l.id, pricelist: to.id })]);
  const from = c.state.tariffs.get(l.pricelist);
  const today = Temporal.PlainDate.from(c.state.clock.today());
  const expires = Temporal.PlainDate.from(l.expiredate);
  const left = BigInt(Math.max(0, today.until(expires, { largestUnit: 'days' }).days));
  const fullDays = BigInt(
    expires.subtract({ months: l.period > 0 ? l.period : 1 }).until(expires, { largestUnit: 'days' }).days,
  );
  const difference = priceOf(to, l.period, l.addons) - (from ? priceOf(from, l.period, l.addons) : 0n);
  if (difference > 0n && left > 0n) charge(c, prorate(difference, left, fullDays > 0n ? fullDays : 1n));
  l.pricelist = to.id;
  l.period = period;
  return doc([...fields({ id: l.id, pricelist: to.id })]);
}

function exportPricelist(state: FakeState, p: Record<string, string>): Node {
  const cost = (minor: bigint) => `${formatAmount(minor, state.currency)}00`;
  const periodNode = (t: Tariff, period: number, minor: bigint) =>
    period === -100
      ? el('period', undefined, {
          type: 'day',
          length: String(t.trialDays ?? 14),
          cost: cost(minor),
          trial: 'on',
        })
      : el('period', undefined, { type: 'month', length: String(period), cost: cost(minor) });
  const rows = [...state.tariffs.values()].filter(
    (t) => (!p.itemtype || t.itemtype === p.itemtype) && (!p.pricelist || t.id === p.pricelist),
  );
  return doc(
    rows.map((t) =>
      el('pricelist', [
        el('id', t.id),
        el('name', t.name),
        el('itemtype', t.itemtype),
        ...(t.endDate ? [el('expiredate', t.endDate)] : []),
        el(
          'price',
          [...t.minor].map(([period, minor]) => periodNode(t, period, minor)),
          { currency: state.currency },
        ),
        ...(t.addons ?? []).map((a) =>
          el('addon', [
            el('id', a.id),
            el('name', a.name),
            el(
              'price',
              [...(t.addonMinor.get(a.id) ?? [])].map(([period, minor]) => periodNode(t, period, minor)),
              { currency: state.currency },
            ),
          ]),
        ),
      ]),
    ),
  );
}

function whoami(c: Ctx): Node {
  const a = c.account;
  const attrs: Record<string, string> = { name: a.username, level: '16' };
  if (c.state.balanceVia === 'whoami') {
    attrs.balance = formatAmount(a.balance, a.currency);
    attrs.currency = a.currency;
  }
  return doc([el('user', undefined, attrs)]);
}

function subaccount(c: Ctx): Node {
  if (c.state.balanceVia !== 'subaccount') throw new Refusal('access', 'Access denied.');
  const a = c.account;
  return doc([
    el(
      'elem',
      fields({ id: 1, name: a.username, balance: formatAmount(a.balance, a.currency), currency: a.currency }),
    ),
  ]);
}

type Handler = (c: Ctx) => Node;

const TABLE: ReadonlyMap<string, Handler> = (() => {
  const t = new Map<string, Handler>();
  for (const f of FAMILIES) {
    t.set(f, (c) => list(c, f));
    t.set(`${f}.order.param`, (c) => order(c, f));
    t.set(`${f}.edit`, (c) => edit(c, f));
    t.set(`${f}.suspend`, (c) => suspend(c, f));
    t.set(`${f}.resume`, (c) => resume(c, f));
    t.set(`${f}.delete`, (c) => remove(c, f));
    if (f !== 'platform') t.set(`${f}.checkip`, (c) => checkIp(c, f));
  }
  t.set('service.prolong', prolong);
  t.set('service.changepricelist', changePricelist);
  t.set('whoami', whoami);
  t.set('subaccount', subaccount);
  return t;
})();

// ------------------------------------------------------------------------------------------ server

export interface FakeBillmanagerOptions {
  accounts?: FakeAccountInput[];
  tariffs?: readonly FakeTariffInput[];
  /** The fake's today, default 2021-12-16. */
  today?: string;
  /** The currency of prices, default EUR. */
  currency?: string;
}

export interface FakeBillmanager {
  /** http://127.0.0.1:<port>/billmgr */
  readonly url: string;
  readonly state: FakeState;
  readonly faults: FakeFaults;
  readonly clock: FakeClock;
  close(): Promise<void>;
}

const PATHS = new Set(['/billmgr', '/billmgr/', '/manager/billmgr', '/manager/billmgr/']);

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startFakeBillmanager(opts: FakeBillmanagerOptions = {}): Promise<FakeBillmanager> {
  const clock = new FakeClock(opts.today ?? '2021-12-16');
  const state = new FakeState(clock, opts.currency ?? 'EUR');
  for (const a of opts.accounts ?? [DEFAULT_ACCOUNT]) state.addAccount(a);
  for (const t of opts.tariffs ?? DEFAULT_TARIFFS) state.addTariff(t);
  const faults = new FakeFaults();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  function send(res: ServerResponse, status: number, body: Node, out: string) {
    if (res.destroyed) return;
    const text =
      out === 'json'
        ? JSON.stringify({ doc: json(body) })
        : `<?xml version="1.0" encoding="UTF-8"?>\n${xml(body)}`;
    res.writeHead(status, {
      'content-type': out === 'json' ? 'application/json; charset=utf-8' : 'text/xml; charset=utf-8',
    });
    res.end(text);
  }

  function caller(p: Record<string, string>): Account | null {
    if (p.auth) {
      const username = state.sessions.get(p.auth);
      if (!username) throw new Refusal('auth', 'The session has expired or does not exist; sign in again.');
      return state.accounts.get(username) ?? null;
    }
    if (p.authinfo !== undefined) {
      const colon = p.authinfo.indexOf(':');
      const a = state.accounts.get(p.authinfo.slice(0, colon));
      if (colon <= 0 || !a || a.password !== p.authinfo.slice(colon + 1))
        throw new Refusal('auth', 'Invalid username or password.');
      return a;
    }
    return null;
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = req.method === 'POST' ? await readBody(req) : '';
    if (!PATHS.has(url.pathname) || (req.method !== 'GET' && req.method !== 'POST')) {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end(HTML_PAGE);
      return;
    }
    const p: Record<string, string> = Object.create(null);
    for (const [k, v] of url.searchParams) p[k] = v;
    for (const [k, v] of new URLSearchParams(body)) p[k] = v;
    const func = p.func ?? '';
    const out = p.out === 'json' || p.out === 'sjson' ? 'json' : 'xml';
    const logged: Record<string, string> = {};
    for (const [k, v] of Object.entries(p)) if (!SECRET_PARAMS.has(k)) logged[k] = v;
    state.calls.push({ func, params: logged });

    for (const f of faults.take('latency', func)) await sleep(f.ms);
    if (res.destroyed) return;
    if (faults.take('reset', func).length > 0) {
      req.socket.destroy();
      return;
    }
    const http = faults.take('http', func)[0];
    if (http) {
      res.writeHead(http.status, { 'content-type': 'text/plain', ...http.headers });
      res.end(`HTTP ${http.status}`);
      return;
    }
    const html = faults.take('html', func)[0];
    if (html) {
      res.writeHead(html.status ?? 200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(HTML_PAGE);
      return;
    }

    let answer: Node;
    try {
      if (faults.take('auth-error', func).length > 0)
        throw new Refusal('auth', 'Invalid username or password.');
      if (faults.take('not_enough_money', func).length > 0)
        throw new Refusal('not_enough_money', 'There is not enough money on the balance.');
      state.applyClock();
      if (func === 'auth') {
        const a = state.accounts.get(p.username ?? '');
        if (!a || a.password !== p.password) throw new Refusal('auth', 'Invalid username or password.');
        const sid = randomBytes(16).toString('hex');
        state.sessions.set(sid, a.username);
        answer = doc([el('auth', sid, { id: sid, level: '16' })]);
      } else {
        const account = caller(p);
        if (func === 'pricelist.export') answer = exportPricelist(state, p);
        else if (!account) throw new Refusal('auth', 'Sign in: authinfo=user:password or auth=<session id>.');
        else {
          const fn = TABLE.get(func);
          if (!fn) throw new Refusal('unknown_func', `Unknown function "${func}".`, func);
          answer = fn({ state, faults, func, p, account });
        }
      }
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      answer = errorDoc(err);
    }

    if (faults.take('act-then-hang', func).length > 0) return;
    const delay = faults.take('act-then-delay', func)[0];
    if (delay) {
      later(delay.ms, () => send(res, 200, answer, out));
      return;
    }
    send(res, 200, answer, out);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Internal error');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/billmgr`,
    state,
    faults,
    clock,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sockets) s.destroy();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
