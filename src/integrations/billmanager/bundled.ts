import { Temporal } from 'temporal-polyfill';
import { z } from 'zod';
import { canonicalIp } from '../../domain/ip.js';
import { POOL_IP, poolChangeOldEnough, poolCutoff } from '../../domain/licenses.js';
import { formatScaled, parseScaled } from '../../domain/money.js';
import {
  type DailyCall,
  type DailyOutcome,
  type ModuleInstance,
  type OperationCall,
  OperationError,
  type OperationOutcome,
  requireBalanceFor,
  type ServiceSnapshot,
  type UpstreamCost,
} from '../../modules/provisioning/index.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import type { BundledLicenseRow } from '../../platform/db/index.js';
import { type BillmgrClient, BillmgrError, type UpstreamLicense } from './client.js';
import { COST_SCALE, upstreamCost } from './cost.js';
import {
  type BillmanagerConfig,
  clientOf,
  findOrdered,
  operationErrorOf,
  orderOnce,
  priceOf,
} from './module.js';

/**
 * The control-panel license bundled with a server (PROTOCOL.md §7, issue 13): a server module
 * (`vmmanager6`, `dcimanager6`) names a `billmanager` module as its license server; while the
 * server is opened, once its IP is known, the license of the upstream tariff the client chose
 * (the "Control panel" addon's value: its internal name is the upstream tariff id, `none` is
 * no panel) is taken from the free-license pool or ordered, bound to that IP and named
 * `Item #<service id> addon <service name>`; afterwards it follows the server — suspended,
 * resumed, renewed, moved, changed to another panel and, when the server goes, put back in the
 * pool (`free.lic`, `0.0.0.0`).
 *
 * Everything here runs inside the server's own operations, in steps: a retry (another worker,
 * a staff retry) resumes after the last step done, and each upstream action looks before it
 * acts, so none reaches the upstream twice. Licenses are kept in `bundled_licenses` (bound to
 * a server, or free in the pool); taking a free one is a conditional update, so two servers
 * opening at once never take the same license.
 */

/** ISPmanager licenses are of the `soft` family upstream. */
const FAMILY = 'soft';
/** The pool's name upstream (PROTOCOL.md §7); its address is `POOL_IP`. */
export const POOL_NAME = 'free.lic';
/** The chosen value that means "no control panel". */
export const NO_PANEL = 'none';

/**
 * The server module's setting that maps the server's period to the license's (months →
 * months): a yearly server may keep a monthly license renewed monthly, or a yearly one. Any
 * period not listed renews the license by 1 month.
 */
export const LicensePeriods = z
  .record(z.string().regex(/^(-100|[1-9][0-9]?)$/), z.number().int().min(1).max(120))
  .optional()
  .meta({
    description:
      'Bundled control-panel license: server period (months) → license renewal period (months); default 1 month for every period',
  });

export const licensePeriodOf = (config: { licensePeriods?: Record<string, number> }, serverPeriod: number) =>
  config.licensePeriods?.[String(serverPeriod)] ?? 1;

export const licenseNameOf = (service: { id: number; name: string }) =>
  `Item #${service.id} addon ${service.name}`;
export const remoteIdOf = (service: { id: number }) => `server-${service.id}`;

/** The upstream tariff of the panel the client chose, or null for none. */
export function chosenPanel(service: ServiceSnapshot): { pricelist: string; name: string | null } | null {
  const addon = service.addons.find((a) => a.kind === 'control_panel' && a.valueType === 'enumeration');
  const internal = addon?.internalName?.trim() ?? '';
  if (!addon || internal === '' || internal.toLowerCase() === NO_PANEL) return null;
  if (!/^[1-9][0-9]{0,18}$/.test(internal))
    throw new OperationError(
      'panel_value_invalid',
      `The control-panel value "${addon.valueName ?? internal}" has internal name "${internal}", which is not an upstream tariff id; correct the enumeration value.`,
      false,
    );
  return { pricelist: internal, name: addon.valueName };
}

type ServerCall = OperationCall<{ licensePeriods?: Record<string, number> }>;

function licenseServerOf(call: ServerCall): ModuleInstance<BillmanagerConfig> {
  const server = call.module.licenseServer;
  if (!server)
    throw new OperationError(
      'license_server_missing',
      `Module "${call.module.name}" has no license server, but the service has a control panel; name a BILLmanager module as its license server.`,
      false,
    );
  if (server.type !== 'billmanager')
    throw new OperationError(
      'license_server_invalid',
      `The license server of module "${call.module.name}" is not a BILLmanager module.`,
      false,
    );
  return server as ModuleInstance<BillmanagerConfig>;
}

/**
 * The license server's minimum balance (its module's setting) holds for what servers spend on
 * it too: checked before an order or a renewal is sent.
 */
async function guardLicenseBalance(
  server: ModuleInstance<BillmanagerConfig>,
  client: BillmgrClient,
  cost: { amount: string; currency: string } | null,
  what: string,
): Promise<void> {
  if (server.minBalance === null || !cost) return;
  const balance = await upstream(() => client.balance());
  if (balance) requireBalanceFor(balance, cost, server.minBalance, what);
}

async function upstream<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw operationErrorOf(err);
  }
}

const spelt = (ip: string | null) => (ip === null ? null : (canonicalIp(ip) ?? ip));

/** The server's bound license, if any. */
export async function boundLicense(ctx: AppContext, serviceId: number): Promise<BundledLicenseRow | null> {
  return (
    (await ctx.db.kysely
      .selectFrom('bundled_licenses')
      .selectAll()
      .where('service_id', '=', serviceId)
      .where('state', '=', 'bound')
      .executeTakeFirst()) ?? null
  );
}

/** The row brought up to date with what the upstream reports. */
async function remember(
  ctx: AppContext,
  rowId: number | bigint,
  l: UpstreamLicense,
  change: Partial<Pick<BundledLicenseRow, 'state' | 'service_id'>> = {},
  onlyIf?: { serviceId: BundledLicenseRow['service_id'] },
): Promise<void> {
  let q = ctx.db.kysely
    .updateTable('bundled_licenses')
    .set({
      ...change,
      name: l.name,
      ip: spelt(l.ip),
      expires_on: l.expiresOn,
      ip_changed_on: l.ipChangedOn,
      key_changed_on: l.keyChangedOn,
      ...(l.pricelist ? { pricelist: l.pricelist } : {}),
      updated_at: isoNow(ctx.clock),
    })
    .where('id', '=', rowId);
  if (onlyIf)
    q = q
      .where('state', '=', 'bound')
      .where('service_id', onlyIf.serviceId === null ? 'is' : '=', onlyIf.serviceId);
  await q.execute();
}

/** What the server service shows about its license. */
function paramsOf(l: UpstreamLicense, pricelist: string): Record<string, string> {
  return {
    licenseId: l.id,
    licenseKey: l.key ?? '',
    licenseExpiresOn: l.expiresOn ?? '',
    licensePricelist: l.pricelist ?? pricelist,
    licenseName: l.name,
  };
}

/** The license params cleared: the server has no panel any more. */
const NO_LICENSE_PARAMS: Record<string, string> = {
  licenseId: '',
  licenseKey: '',
  licenseExpiresOn: '',
  licensePricelist: '',
  licenseName: '',
};

const isExpired = (l: { expiresOn: string | null }, today: string) =>
  l.expiresOn !== null && l.expiresOn < today;

/** A pool license usable now, as the upstream reports it. */
export function poolUsable(l: UpstreamLicense, today: Temporal.PlainDate): boolean {
  return (
    (l.status === 2 || l.status === 3) &&
    l.name === POOL_NAME &&
    spelt(l.ip) === POOL_IP &&
    l.expiresOn !== null &&
    l.expiresOn > today.toString() &&
    poolChangeOldEnough(l.ipChangedOn, today) &&
    poolChangeOldEnough(l.keyChangedOn, today)
  );
}

/**
 * Takes a free license of the tariff from the pool for the server (or finds the one an
 * earlier attempt took): a conditional update, so a license is taken by one server only.
 */
async function claimFromPool(
  ctx: AppContext,
  licenseModuleId: number,
  pricelist: string,
  serviceId: number,
  today: Temporal.PlainDate,
  skip: ReadonlySet<string>,
): Promise<BundledLicenseRow | null> {
  const mine = await boundLicense(ctx, serviceId);
  if (mine) return mine;
  const before = poolCutoff(today);
  const candidates = await ctx.db.kysely
    .selectFrom('bundled_licenses')
    .selectAll()
    .where('license_module_id', '=', licenseModuleId)
    .where('state', '=', 'free')
    .where('pricelist', '=', pricelist)
    .where('expires_on', '>', today.toString())
    .where((eb) => eb.or([eb('ip_changed_on', 'is', null), eb('ip_changed_on', '<', before)]))
    .where((eb) => eb.or([eb('key_changed_on', 'is', null), eb('key_changed_on', '<', before)]))
    .orderBy('expires_on', 'desc')
    .orderBy('id')
    .limit(20)
    .execute();
  for (const c of candidates) {
    if (skip.has(c.external_id)) continue;
    const taken = await ctx.db.kysely
      .updateTable('bundled_licenses')
      .set({ state: 'bound', service_id: serviceId, updated_at: isoNow(ctx.clock) })
      .where('id', '=', c.id)
      .where('state', '=', 'free')
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) === 1) return { ...c, state: 'bound', service_id: serviceId };
  }
  return null;
}

/** Puts a license back in the pool upstream: suspended, `free.lic`, `0.0.0.0` (each only when not so already). */
export async function toPoolUpstream(client: BillmgrClient, id: string): Promise<UpstreamLicense> {
  let l = await upstream(() => client.getLicense(FAMILY, id));
  if (l.status === 4) return l;
  if (l.status !== 3) await upstream(() => client.suspend(FAMILY, id));
  if (l.name !== POOL_NAME) await upstream(() => client.editLicense(FAMILY, id, { name: POOL_NAME }));
  if (spelt(l.ip) !== POOL_IP) await upstream(() => client.editLicense(FAMILY, id, { ip: POOL_IP }));
  l = await upstream(() => client.getLicense(FAMILY, id));
  return l;
}

/**
 * Releases a row to the pool locally (or marks it gone when the upstream deleted it); with
 * `onlyIf`, only while it is still bound to that server.
 */
export async function pooled(
  ctx: AppContext,
  row: { id: number | bigint },
  l: UpstreamLicense,
  onlyIf?: { serviceId: BundledLicenseRow['service_id'] },
): Promise<void> {
  await remember(ctx, row.id, l, { state: l.status === 4 ? 'gone' : 'free', service_id: null }, onlyIf);
}

/** Adds up costs of one currency. */
function sumCosts(costs: readonly UpstreamCost[], kind: UpstreamCost['kind']): UpstreamCost | undefined {
  if (costs.length === 0) return undefined;
  const currency = costs[0]!.currency;
  const same = costs.filter((c) => c.currency === currency);
  const total = same.reduce((s, c) => s + parseScaled(c.amount, COST_SCALE), 0n);
  return { kind, period: costs[0]!.period, amount: formatScaled(total, COST_SCALE), currency };
}

/**
 * Renews the license upstream once, by the period mapped from the server's, when it would
 * end before `target` (YYYY-MM-DD) — exactly once: the expiry before it is saved first (a
 * step), and a repeat that finds the expiry moved past it does not renew again. A monthly
 * license of a yearly server is not prepaid for the year: the daily upkeep renews it before
 * each expiry while the server is active. Returns what the renewal cost, or null when none
 * was needed (or the upstream tells no price).
 */
async function renewOnce(
  call: ServerCall,
  client: BillmgrClient,
  id: string,
  target: string,
  step: string,
): Promise<{ renewed: boolean; cost: UpstreamCost | null }> {
  const period = licensePeriodOf(call.module.config, call.service.period);
  const current = await upstream(() => client.getLicense(FAMILY, id));
  const before = await call.step(step, async () => ({
    expiresOn: current.expiresOn,
    status: current.status,
  }));
  const moved = (l: UpstreamLicense) =>
    l.expiresOn !== null && (before.expiresOn === null || l.expiresOn > before.expiresOn);
  if (!moved(current) && current.expiresOn !== null && current.expiresOn >= target)
    return { renewed: false, cost: null };
  const pricelist = current.pricelist;
  const price = await call.step(`${step}-price`, () =>
    pricelist ? upstream(() => priceOf(client, pricelist, period)) : Promise.resolve(null),
  );
  if (!moved(current)) {
    await guardLicenseBalance(licenseServerOf(call), client, price, 'this license renewal');
    try {
      await client.prolong(id, period);
    } catch (err) {
      if (!(err instanceof BillmgrError && err.ambiguous)) throw operationErrorOf(err);
      if (!moved(await upstream(() => client.getLicense(FAMILY, id)))) throw operationErrorOf(err);
    }
  }
  const after = await upstream(() => client.getLicense(FAMILY, id));
  if (!moved(after))
    throw new OperationError(
      'license_not_renewed',
      `The license server renewed license ${id} but its expiry stayed ${after.expiresOn ?? 'unset'}.`,
      false,
    );
  return {
    renewed: true,
    cost: price
      ? upstreamCost({
          kind: 'renewal',
          period,
          price,
          // A suspended license renews from the day it is renewed, an active one from its expiry.
          from: before.status === 3 ? null : before.expiresOn,
          to: after.expiresOn,
        })
      : null,
  };
}

interface AcquireIntent {
  pricelist: string;
  name: string;
  ip: string;
  period: number;
  remoteId: string;
}

/**
 * The license for a server whose IP is now known (its `open`, or a panel chosen later):
 * from the pool when one qualifies, otherwise ordered — exactly once — from the license
 * server. Returns what the server service shows (and, for an order, what it cost).
 */
export async function acquireLicense(call: ServerCall, ip: string): Promise<OperationOutcome> {
  const panel = chosenPanel(call.service);
  if (!panel) return {};
  const server = licenseServerOf(call);
  const client = clientOf(server);
  const ctx = call.ctx;
  const today = await todayIn(ctx);
  const target = spelt(ip)!;
  // An order may have gone out (its intent saved, no answer recorded): look before ordering again.
  const triedOrder = call.hasStep('intent-license-order');
  const intent = await call.step<AcquireIntent>('intent-license', async () => ({
    pricelist: panel.pricelist,
    name: licenseNameOf(call.service),
    ip: target,
    period: licensePeriodOf(call.module.config, call.service.period),
    remoteId: remoteIdOf(call.service),
  }));

  // 1. The pool: each free license tried once per attempt; one that fails is put back.
  const tried = new Set<string>();
  // Once an order may have gone out, the license is that order's: the pool is not looked at again.
  while (!call.hasStep('intent-license-order')) {
    const row = await claimFromPool(ctx, server.id, intent.pricelist, call.service.id, today, tried);
    if (!row) break;
    tried.add(row.external_id);
    try {
      const outcome = await prepareFromPool(call, client, row, intent, today);
      if (outcome) return outcome;
    } catch (err) {
      const failure = err instanceof OperationError ? err : operationErrorOf(err);
      // Put it back; if even that fails the row stays bound to this server and the retry goes on with it.
      const back = await toPoolUpstream(client, row.external_id);
      await pooled(ctx, row, back);
      if (failure.retryable) throw failure;
    }
  }

  // 2. A new order, exactly once: looked up by remoteid before ordering again.
  const price = await call.step('intent-license-price', () =>
    upstream(() => priceOf(client, intent.pricelist, intent.period)),
  );
  const known = new Set(
    (
      await ctx.db.kysely
        .selectFrom('bundled_licenses')
        .select('external_id')
        .where('license_module_id', '=', server.id)
        .where((eb) => eb.or([eb('service_id', 'is', null), eb('service_id', '!=', call.service.id)]))
        .execute()
    ).map((r) => r.external_id),
  );
  if (!call.hasStep('intent-license-order'))
    await guardLicenseBalance(server, client, price, 'this license order');
  await call.step('intent-license-order', async () => ({ remoteId: intent.remoteId }));
  const id = await call.step('license-ordered', () =>
    orderOnce(
      client,
      FAMILY,
      {
        pricelist: intent.pricelist,
        period: intent.period,
        remoteId: intent.remoteId,
        ip: intent.ip,
        name: intent.name,
      },
      triedOrder,
      async (list) =>
        findOrdered(
          list.filter((l) => !known.has(l.id)),
          { remoteId: intent.remoteId, pricelist: intent.pricelist, name: intent.name, ip: intent.ip },
        ),
    ),
  );
  const license = await upstream(() => client.waitForKey(FAMILY, id));
  const now = isoNow(ctx.clock);
  await ctx.db.kysely
    .insertInto('bundled_licenses')
    .values({
      license_module_id: server.id,
      external_id: id,
      pricelist: license.pricelist ?? intent.pricelist,
      service_id: call.service.id,
      state: 'bound',
      name: license.name,
      ip: spelt(license.ip),
      expires_on: license.expiresOn,
      ip_changed_on: license.ipChangedOn,
      key_changed_on: license.keyChangedOn,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) =>
      oc.columns(['license_module_id', 'external_id']).doUpdateSet({
        service_id: call.service.id,
        state: 'bound',
        expires_on: license.expiresOn,
        updated_at: now,
      }),
    )
    .execute();
  return {
    serviceParams: paramsOf(license, intent.pricelist),
    ...(price
      ? {
          cost: upstreamCost({
            kind: 'order',
            period: intent.period,
            price,
            from: license.createdOn,
            to: license.expiresOn,
          }),
        }
      : {}),
  };
}

/**
 * Makes a pool license the server's: renamed, bound to its IP, a new key, resumed, renewed
 * when it would lapse before the server's paid end. Null when the upstream no longer has it
 * as a usable pool license (it is marked so and the next one is tried).
 */
async function prepareFromPool(
  call: ServerCall,
  client: BillmgrClient,
  row: BundledLicenseRow,
  intent: AcquireIntent,
  today: Temporal.PlainDate,
): Promise<OperationOutcome | null> {
  const id = row.external_id;
  const ctx = call.ctx;
  let l = await upstream(() => client.getLicense(FAMILY, id));
  // Ours once an earlier attempt began preparing it (its key saved before any change upstream).
  const ours = call.hasStep(`license-pool-${id}`) || (l.name === intent.name && spelt(l.ip) === intent.ip);
  if (!ours && !poolUsable(l, today)) {
    // Not what the pool believed (changed upstream, deleted, lapsed): left out of the pool's choice.
    await pooled(ctx, row, l);
    return null;
  }
  // The key the license had when this server took it: a repeat does not ask for another.
  const oldKey = await call.step(`license-pool-${id}`, async () => l.key);
  if (l.name !== intent.name) await upstream(() => client.editLicense(FAMILY, id, { name: intent.name }));
  if (spelt(l.ip) !== intent.ip) await upstream(() => client.editLicense(FAMILY, id, { ip: intent.ip }));
  l = await upstream(() => client.getLicense(FAMILY, id));
  if (l.key === oldKey) l = await upstream(() => client.newKey(FAMILY, id));
  if (l.status === 3) await upstream(() => client.resume(FAMILY, id));
  const { cost } = await renewOnce(
    call,
    client,
    id,
    call.service.expiresOn ?? today.add({ days: 1 }).toString(),
    `license-pool-${id}-renew`,
  );
  l = await upstream(() => client.getLicense(FAMILY, id));
  await remember(ctx, row.id, l);
  return { serviceParams: paramsOf(l, intent.pricelist), ...(cost ? { cost } : {}) };
}

/** The license follows the server's suspension (skipped when it is suspended already). */
export async function suspendLicense(call: ServerCall): Promise<OperationOutcome> {
  const row = await boundLicense(call.ctx, call.service.id);
  if (!row) return {};
  const client = clientOf(licenseServerOf(call));
  const l = await upstream(() => client.getLicense(FAMILY, row.external_id));
  if (l.status !== 3 && l.status !== 4) await upstream(() => client.suspend(FAMILY, row.external_id));
  return {};
}

/** The license follows the server back: renewed first when it lapsed meanwhile, then resumed. */
export async function resumeLicense(call: ServerCall): Promise<OperationOutcome> {
  const row = await boundLicense(call.ctx, call.service.id);
  if (!row) return {};
  const client = clientOf(licenseServerOf(call));
  const id = row.external_id;
  const today = (await todayIn(call.ctx)).toString();
  let l = await upstream(() => client.getLicense(FAMILY, id));
  if (l.status === 4) {
    // The upstream deleted it while the server was suspended (30 days unpaid there): the server
    // gets a license anew, from the pool or an order, for its address.
    await pooled(call.ctx, row, l);
    const ip = call.service.params.ip;
    if (!ip) throw new OperationError('ip_missing', 'The server has no IP address for its license.', false);
    return acquireLicense(call, ip);
  }
  const { cost } = isExpired(l, today)
    ? await renewOnce(call, client, id, call.service.expiresOn ?? today, 'license-resume-renew')
    : { cost: null };
  l = await upstream(() => client.getLicense(FAMILY, id));
  if (l.status === 3) await upstream(() => client.resume(FAMILY, id));
  l = await upstream(() => client.getLicense(FAMILY, id));
  await remember(call.ctx, row.id, l);
  return { serviceParams: paramsOf(l, row.pricelist), ...(cost ? { cost } : {}) };
}

/**
 * After the server is renewed (or when the daily upkeep asks): the license is renewed upstream
 * once, by the mapped period, when it would end before the server's paid end.
 */
export async function renewLicense(call: ServerCall, until: string | null): Promise<OperationOutcome> {
  const row = await boundLicense(call.ctx, call.service.id);
  const target = until ?? call.service.expiresOn;
  if (!row || !target) return {};
  const client = clientOf(licenseServerOf(call));
  const { cost } = await renewOnce(call, client, row.external_id, target, 'license-renew');
  const l = await upstream(() => client.getLicense(FAMILY, row.external_id));
  await remember(call.ctx, row.id, l);
  return { serviceParams: paramsOf(l, row.pricelist), ...(cost ? { cost } : {}) };
}

/** The server's IP changed (staff, in its panel): the service takes it, the license moves with it (`soft.edit ip`). */
export async function moveLicense(call: ServerCall, ip: string): Promise<OperationOutcome> {
  const row = await boundLicense(call.ctx, call.service.id);
  const target = spelt(ip)!;
  if (!row) return { serviceParams: { ip: target } };
  const client = clientOf(licenseServerOf(call));
  let l = await upstream(() => client.getLicense(FAMILY, row.external_id));
  if (spelt(l.ip) !== target)
    await upstream(() => client.editLicense(FAMILY, row.external_id, { ip: target }));
  l = await upstream(() => client.getLicense(FAMILY, row.external_id));
  await remember(call.ctx, row.id, l);
  return { serviceParams: { ip: target, ...paramsOf(l, row.pricelist) } };
}

/** The server is gone (or chose no panel): its license goes back to the pool. */
export async function releaseLicense(call: ServerCall): Promise<OperationOutcome> {
  const row = await boundLicense(call.ctx, call.service.id);
  if (!row) return {};
  const client = clientOf(licenseServerOf(call));
  let l: UpstreamLicense;
  try {
    l = await toPoolUpstream(client, row.external_id);
  } catch (err) {
    if (!(err instanceof OperationError && err.code === 'upstream_missed')) throw err;
    await call.ctx.db.kysely
      .updateTable('bundled_licenses')
      .set({ state: 'gone', service_id: null, updated_at: isoNow(call.ctx.clock) })
      .where('id', '=', row.id)
      .execute();
    return { serviceParams: NO_LICENSE_PARAMS };
  }
  await pooled(call.ctx, row, l);
  return { serviceParams: NO_LICENSE_PARAMS };
}

/**
 * The client changed the panel (an addon change, or a tariff change): Lite → Pro is
 * `service.changepricelist` upstream; a panel chosen where there was none is acquired; no
 * panel any more puts the license back in the pool.
 */
export async function followPanel(call: ServerCall, ip: string | null): Promise<OperationOutcome> {
  const wanted = chosenPanel(call.service);
  const row = await boundLicense(call.ctx, call.service.id);
  if (!wanted) return row ? releaseLicense(call) : {};
  if (!row) {
    if (!ip)
      throw new OperationError('ip_missing', 'The server has no IP address for its license yet.', true);
    return acquireLicense(call, ip);
  }
  const client = clientOf(licenseServerOf(call));
  const id = row.external_id;
  let l = await upstream(() => client.getLicense(FAMILY, id));
  if ((l.pricelist ?? row.pricelist) !== wanted.pricelist) {
    await upstream(() =>
      client.call('service.changepricelist', {
        elid: id,
        pricelist: wanted.pricelist,
        period: String(licensePeriodOf(call.module.config, call.service.period)),
        sok: 'ok',
      }),
    );
    l = await upstream(() => client.getLicense(FAMILY, id));
  }
  await call.ctx.db.kysely
    .updateTable('bundled_licenses')
    .set({ pricelist: l.pricelist ?? wanted.pricelist, updated_at: isoNow(call.ctx.clock) })
    .where('id', '=', row.id)
    .execute();
  await remember(call.ctx, row.id, l);
  return { serviceParams: paramsOf(l, wanted.pricelist) };
}

/** Two outcomes of one operation as one: params merged, the later cost added to the earlier. */
export function mergeOutcomes(a: OperationOutcome, b: OperationOutcome): OperationOutcome {
  const cost =
    a.cost && b.cost && a.cost.currency === b.cost.currency
      ? sumCosts([a.cost, b.cost], a.cost.kind)
      : (a.cost ?? b.cost);
  return {
    ...a,
    ...b,
    ...(a.externalId || b.externalId ? { externalId: b.externalId ?? a.externalId! } : {}),
    serviceParams: { ...(a.serviceParams ?? {}), ...(b.serviceParams ?? {}) },
    ...(cost ? { cost } : {}),
  };
}

/** A bound license is renewed this many days before its expiry (the daily upkeep asks). */
export const RENEW_LEAD_DAYS = 3;

/** The `set_param` payload the daily upkeep queues on a server whose license is about to end. */
export const RENEW_LICENSE = { param: 'license', action: 'renew' } as const;

/**
 * A server module's daily upkeep: each active server whose bound license ends within
 * `RENEW_LEAD_DAYS` (and before the server's own paid end) gets a `set_param` operation that
 * renews it once. Keyed by the license and its expiry: a rerun of the day queues nothing new.
 */
export async function serverLicenseUpkeep(call: DailyCall): Promise<DailyOutcome> {
  const until = Temporal.PlainDate.from(call.date).add({ days: RENEW_LEAD_DAYS }).toString();
  const due = await call.ctx.db.kysely
    .selectFrom('bundled_licenses as b')
    .innerJoin('services as s', 's.id', 'b.service_id')
    .select(['b.id', 'b.service_id', 'b.expires_on'])
    .where('b.state', '=', 'bound')
    .where('s.module_id', '=', call.module.id)
    .where('s.status', '=', 'active')
    .where('b.expires_on', '<=', until)
    .whereRef('b.expires_on', '<', 's.expires_on')
    .orderBy('b.id')
    .execute();
  let renewalsQueued = 0;
  for (const r of due) {
    const key = `license-renew:${r.id}:${r.expires_on}`;
    if (await call.queueSetParam(Number(r.service_id), { ...RENEW_LICENSE }, key)) renewalsQueued++;
  }
  return { renewalsQueued };
}

type ServerFn<C> = (call: OperationCall<C>) => Promise<OperationOutcome>;

/**
 * A server module's lifecycle with its bundled license following it: `open` acquires the
 * license once the server is ready and its IP known (the server is active only when both
 * are); suspend, resume and close act on the server first and then on its license; a
 * renewal (`prolong`) renews the license once when it would end before the server's paid
 * end; `setParam` (below); `daily` queues renewals of licenses about to end.
 */
export function withBundledLicense<C extends { licensePeriods?: Record<string, number> }>(fns: {
  open: ServerFn<C>;
  suspend: ServerFn<C>;
  resume: ServerFn<C>;
  close: ServerFn<C>;
  setParam: ServerFn<C>;
}): Record<'open' | 'suspend' | 'resume' | 'close' | 'prolong' | 'setParam', ServerFn<C>> & {
  daily: (call: DailyCall<C>) => Promise<DailyOutcome>;
} {
  return {
    async open(call) {
      const server = await fns.open(call);
      if (!chosenPanel(call.service)) return server;
      const ip = server.serviceParams?.ip ?? call.service.params.ip;
      if (!ip)
        throw new OperationError('ip_missing', 'The server has no IP address for its license yet.', true);
      return mergeOutcomes(server, await acquireLicense(call, ip));
    },
    async suspend(call) {
      return mergeOutcomes(await fns.suspend(call), await suspendLicense(call));
    },
    async resume(call) {
      return mergeOutcomes(await fns.resume(call), await resumeLicense(call));
    },
    async close(call) {
      return mergeOutcomes(await fns.close(call), await releaseLicense(call));
    },
    async prolong(call) {
      const until = call.operation.payload.expiresOn;
      return renewLicense(call, typeof until === 'string' ? until : null);
    },
    /**
     * The daily upkeep's renewal is the license's alone; an IP change moves the license (the
     * server's address is the panel's to give); after a tariff or addon change the license
     * follows the panel chosen, then the server is resized. Anything else is the server module's.
     */
    async setParam(call) {
      const p = call.operation.payload;
      if (p.param === RENEW_LICENSE.param && p.action === RENEW_LICENSE.action)
        return renewLicense(call, null);
      if (p.param === 'ip' && typeof p.value === 'string') return moveLicense(call, p.value);
      if (typeof p.tariffId !== 'number') return fns.setParam(call);
      // The panel first: the client paid for it, and a resize the panel refuses (a smaller disk,
      // other hardware) is a staff matter that must not hold the license on the old tariff.
      const license = await followPanel(call, call.service.params.ip ?? null);
      return mergeOutcomes(license, await fns.setParam(call));
    },
    daily: (call) => serverLicenseUpkeep(call as DailyCall),
  };
}
