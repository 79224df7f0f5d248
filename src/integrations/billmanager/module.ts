import { z } from 'zod';
import { canonicalIp } from '../../domain/ip.js';
import {
  type DailyCall,
  type DailyOutcome,
  defineModuleType,
  type ImportedTariff,
  type ItemCall,
  type ModuleInstance,
  type OperationCall,
  OperationError,
  type OperationOutcome,
  type RemoteItem,
  type UpstreamCost,
} from '../../modules/provisioning/index.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import {
  type BillmgrClient,
  BillmgrError,
  createBillmgrClient,
  type Family,
  type OrderInput,
  type UpstreamLicense,
  type UpstreamTariff,
} from './client.js';
import { upstreamCost } from './cost.js';

/** ISPsystem's selling BILLmanager (PROTOCOL.md §6). */
export const DEFAULT_BILLMANAGER_URL = 'https://api.ispsystem.com/manager/billmgr';

const Config = z.strictObject({
  url: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .default(DEFAULT_BILLMANAGER_URL)
    .meta({ description: 'The selling BILLmanager API address' }),
  username: z.string().trim().min(1).max(200).meta({ description: 'The reseller account upstream' }),
  password: z.string().min(1).max(500),
  timeoutMs: z
    .number()
    .int()
    .min(1000)
    .max(300_000)
    .optional()
    .meta({ description: 'Per request; default 30 s' }),
  out: z.enum(['xml', 'json']).optional().meta({ description: 'Answer format asked for; default xml' }),
  pollIntervalMs: z
    .number()
    .int()
    .min(10)
    .max(60_000)
    .optional()
    .meta({ description: 'How often a new license is read until its key is set; default 2 s (15 times)' }),
});
export type BillmanagerConfig = z.infer<typeof Config>;

const UpstreamId = z.string().regex(/^[1-9][0-9]{0,18}$/, 'an upstream id (digits)');

/** Per tariff: which upstream tariff (`pricelist`) its services are, and fixed upstream addons. */
const TariffSettings = z.strictObject({
  pricelist: UpstreamId.meta({ description: 'The upstream tariff id (pricelist), e.g. 55227' }),
  addons: z
    .record(UpstreamId, z.union([z.string().max(100), z.number().int().min(0)]))
    .optional()
    .meta({ description: 'Fixed upstream addon values sent as addon_<id> (platform licenses: nodes, VMs)' }),
  addonMap: z
    .record(z.string().regex(/^[0-9]+$/), UpstreamId)
    .optional()
    .meta({
      description:
        "Our addon id → upstream addon id: the client's chosen value is sent as addon_<upstream id>",
    }),
});
type TariffSettings = z.infer<typeof TariffSettings>;

const FAMILIES: readonly Family[] = ['soft', 'softexternal', 'platform'];

function familyOf(productType: string): Family {
  const family = FAMILIES.find((f) => f === productType);
  if (!family)
    throw new OperationError(
      'product_type_unsupported',
      `A BILLmanager module cannot serve "${productType}".`,
      false,
    );
  return family;
}

// One client (and so one upstream session) per module and configuration, reused by every
// operation of the process; a changed configuration gets a new client.
const clients = new Map<string, BillmgrClient>();
const CLIENT_CACHE = 64;

/** The upstream API client for a module (sessions shared across its operations). */
export function clientOf(module: ModuleInstance<BillmanagerConfig>): BillmgrClient {
  const c = module.config;
  const key = JSON.stringify([
    module.id,
    c.url,
    c.username,
    c.password,
    c.timeoutMs,
    c.out,
    c.pollIntervalMs,
  ]);
  let client = clients.get(key);
  if (!client) {
    if (clients.size >= CLIENT_CACHE) clients.delete(clients.keys().next().value!);
    client = createBillmgrClient({
      url: c.url,
      username: c.username,
      password: c.password,
      ...(c.timeoutMs ? { timeoutMs: c.timeoutMs } : {}),
      ...(c.out ? { out: c.out } : {}),
      ...(c.pollIntervalMs ? { pollIntervalMs: c.pollIntervalMs } : {}),
    });
    clients.set(key, client);
  }
  return client;
}

/**
 * An upstream failure as the engine understands it: retryable or not, with the upstream's
 * own message (a refused IP change is shown to the client as the upstream words it).
 */
export function operationErrorOf(err: unknown): OperationError {
  if (err instanceof OperationError) return err;
  if (err instanceof BillmgrError) {
    const message = err.upstreamMessage ?? err.message;
    return new OperationError(err.code, message, err.retryable);
  }
  throw err;
}

async function upstream<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw operationErrorOf(err);
  }
}

const settingsOf = (call: { tariffSettings: Readonly<Record<string, unknown>> }): TariffSettings => {
  const parsed = TariffSettings.safeParse(call.tariffSettings);
  if (!parsed.success)
    throw new OperationError(
      'tariff_settings_missing',
      'The tariff has no upstream tariff (pricelist) set for this module; link it with its settings or import it.',
      false,
    );
  return parsed.data;
};

/** The addons sent with an order: fixed ones from the tariff settings, then the client's mapped choices. */
function addonsOf(
  call: OperationCall<BillmanagerConfig>,
  settings: TariffSettings,
): Record<string, string | number> {
  const out: Record<string, string | number> = { ...(settings.addons ?? {}) };
  for (const [local, remote] of Object.entries(settings.addonMap ?? {})) {
    const addon = call.service.addons.find((a) => String(a.addonId) === local);
    if (!addon || addon.value === null) continue;
    out[remote] =
      addon.valueType === 'enumeration' ? (addon.internalName ?? String(addon.value)) : Number(addon.value);
  }
  return out;
}

/** An upstream address in the one spelling Billfold keys licenses by (as written when unreadable). */
const spelt = (ip: string): string => canonicalIp(ip) ?? ip;

/**
 * What the service's params learn from the upstream license: the key (once it is set), the
 * change dates, the upstream expiry — and the address only where the operation was about the
 * address (`withIp`: the order, an IP change). An address changed upstream behind our back is
 * not copied in by a renewal: reconciliation lists it for staff.
 */
function paramsOf(l: UpstreamLicense, withIp = false): Record<string, string> {
  return {
    ...(l.key ? { key: l.key } : {}),
    ...(withIp && l.ip !== null && l.family !== 'platform' ? { ip: spelt(l.ip) } : {}),
    ...(l.ipChangedOn ? { ipChangedOn: l.ipChangedOn } : {}),
    ...(l.keyChangedOn ? { keyChangedOn: l.keyChangedOn } : {}),
    ...(l.expiresOn ? { upstreamExpiresOn: l.expiresOn } : {}),
  };
}

const LIVE = (l: UpstreamLicense) => l.status !== 4;

/**
 * The license an earlier attempt may have ordered: first by `remoteid` (our service id),
 * then — for sellers that drop it — by name and IP on the same upstream tariff.
 */
export function findOrdered(
  list: readonly UpstreamLicense[],
  intent: { remoteId: string; pricelist: string; name: string; ip: string | null },
): UpstreamLicense | null {
  const live = list.filter(LIVE);
  return (
    live.find((l) => l.remoteId === intent.remoteId) ??
    // Only a license that carries no remoteid at all: one with another service's id is theirs.
    live.find(
      (l) =>
        (l.remoteId === null || l.remoteId === '') &&
        l.name === intent.name &&
        (intent.ip === null || (l.ip !== null && spelt(l.ip) === intent.ip)) &&
        (l.pricelist === null || l.pricelist === intent.pricelist),
    ) ??
    null
  );
}

/**
 * Orders a license exactly once: when an earlier attempt may have ordered it (`tried`), or the
 * order's answer was lost (an ambiguous failure), the upstream's list is searched (`find`)
 * before ordering (again). Returns the upstream license id.
 */
export async function orderOnce(
  client: BillmgrClient,
  family: Family,
  order: OrderInput,
  tried: boolean,
  find: (list: readonly UpstreamLicense[]) => Promise<UpstreamLicense | null>,
): Promise<string> {
  const look = async () => (await find(await upstream(() => client.listLicenses(family))))?.id ?? null;
  if (tried) {
    const found = await look();
    if (found) return found;
  }
  try {
    return (await client.orderLicense(family, order)).id;
  } catch (err) {
    if (err instanceof BillmgrError && err.ambiguous) {
      const found = await look();
      if (found) return found;
    }
    throw operationErrorOf(err);
  }
}

interface OrderIntent {
  remoteId: string;
  pricelist: string;
  period: number;
  name: string;
  ip: string | null;
}

/**
 * Opens the license upstream, exactly once. The intent is saved (a step) before the order is
 * sent; a later attempt that finds the intent but no recorded order — the earlier one timed
 * out, lost its connection or its worker — lists the upstream's licenses and takes the one
 * carrying our `remoteid` (or name + IP) before ordering again. An ambiguous failure of the
 * order itself is reconciled the same way at once.
 */
async function open(call: OperationCall<BillmanagerConfig>): Promise<OperationOutcome> {
  const family = familyOf(call.service.productType);
  const settings = settingsOf(call);
  const client = clientOf(call.module);
  const ip = family === 'platform' ? null : (call.service.params.ip ?? null);
  if (family !== 'platform' && !ip)
    throw new OperationError('ip_missing', 'The license has no IP address to be ordered for.', false);
  const tried = call.hasStep('intent');
  const intent = await call.step<OrderIntent>('intent', async () => ({
    remoteId: String(call.service.id),
    pricelist: settings.pricelist,
    period: call.service.period,
    name: call.service.params.licname ?? call.service.name,
    ip,
  }));
  const price = await call.step('intent-price', () =>
    upstream(() => priceOf(client, intent.pricelist, intent.period)),
  );
  const id = await call.step('ordered', () =>
    orderOnce(
      client,
      family,
      {
        pricelist: intent.pricelist,
        period: intent.period,
        remoteId: intent.remoteId,
        ...(family === 'platform' ? { comment: intent.name } : { ip: intent.ip!, name: intent.name }),
        addons: addonsOf(call, settings),
      },
      tried,
      async (list) => findOrdered(list, intent),
    ),
  );
  const license = await upstream(() => client.waitForKey(family, id));
  return {
    externalId: id,
    serviceParams: paramsOf(license, true),
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

/** The upstream's price of a tariff for a period (its currency), or null when it offers none. */
export async function priceOf(
  client: BillmgrClient,
  pricelist: string,
  period: number,
): Promise<{ amount: string; currency: string } | null> {
  const tariffs = await client.exportPricelist({ pricelist });
  const tariff = tariffs.find((t) => t.id === pricelist);
  if (!tariff)
    throw new OperationError(
      'upstream_tariff_gone',
      `The upstream no longer offers tariff ${pricelist}; link the tariff to another upstream tariff.`,
      false,
    );
  const price = tariff.prices.find((p) => p.period === period);
  return price ? { amount: price.cost, currency: tariff.currency } : null;
}

function externalIdOf(call: { service: { externalId: string | null } }): string {
  if (!call.service.externalId)
    throw new OperationError('not_ordered_upstream', 'The license was never ordered upstream.', false);
  return call.service.externalId;
}

/**
 * Renews upstream by the period the client renewed, exactly once. The upstream expiry is
 * read and saved before the renewal is sent; a later attempt (or an ambiguous answer) reads it
 * again and does not renew twice when it has already moved past the saved one.
 */
async function prolong(call: OperationCall<BillmanagerConfig>): Promise<OperationOutcome> {
  const family = familyOf(call.service.productType);
  const id = externalIdOf(call);
  const client = clientOf(call.module);
  const period =
    typeof call.operation.payload.period === 'number' ? call.operation.payload.period : call.service.period;
  const settings = settingsOf(call);
  const before = await call.step('intent', async () => {
    const l = await upstream(() => client.getLicense(family, id));
    return { expiresOn: l.expiresOn, status: l.status };
  });
  const price = await call.step('intent-price', () =>
    upstream(() => priceOf(client, settings.pricelist, period)),
  );
  // A license suspended upstream renews from the seller's today, not from its expiry. When our
  // renewal continues from the paid end (the service was suspended while still paid: by staff,
  // or by its owner), the license is resumed for the renewal and suspended again after it; a
  // resume the renewal queued (if it lifted the suspension) then resumes it for good.
  const continues =
    before.status === 3 &&
    typeof call.operation.payload.start === 'string' &&
    call.operation.payload.start === call.operation.payload.from;
  if (continues) await call.step('unsuspended', () => upstream(() => client.resume(family, id)));
  const renewed = await call.step('renewed', async () => {
    const moved = async () => {
      const l = await upstream(() => client.getLicense(family, id));
      return l.expiresOn !== null && (before.expiresOn === null || l.expiresOn > before.expiresOn) ? l : null;
    };
    const already = await moved();
    if (already) return already.expiresOn;
    try {
      return (await client.prolong(id, period)).newExpiresOn;
    } catch (err) {
      if (err instanceof BillmgrError && err.ambiguous) {
        const done = await moved();
        if (done) return done.expiresOn;
      }
      throw operationErrorOf(err);
    }
  });
  if (continues) await call.step('resuspended', () => upstream(() => client.suspend(family, id)));
  const license = await upstream(() => client.getLicense(family, id));
  // A suspended upstream license renews from the day it is renewed, an active one from its expiry.
  const from = before.status === 3 && !continues ? null : before.expiresOn;
  return {
    serviceParams: paramsOf(license),
    ...(price
      ? {
          cost: upstreamCost({
            kind: 'renewal',
            period,
            price,
            from,
            to: renewed ?? license.expiresOn,
          }),
        }
      : {}),
  };
}

const simple =
  (action: 'suspend' | 'resume' | 'remove', skipWhen: (l: UpstreamLicense) => boolean) =>
  async (call: OperationCall<BillmanagerConfig>): Promise<OperationOutcome> => {
    const family = familyOf(call.service.productType);
    if (!call.service.externalId) return {};
    const id = call.service.externalId;
    const client = clientOf(call.module);
    // Each is safe to repeat: a license already in the wanted state is left alone.
    const current = await upstream(() => client.getLicense(family, id)).catch((err: OperationError) => {
      if (action === 'remove' && err.code === 'upstream_missed') return null;
      throw err;
    });
    if (current === null || skipWhen(current)) return {};
    await upstream(() => client[action](family, id));
    return {};
  };

/** IP or name changed, a new key, or a tariff change: each reaches the upstream license. */
async function setParam(call: OperationCall<BillmanagerConfig>): Promise<OperationOutcome> {
  const family = familyOf(call.service.productType);
  const id = externalIdOf(call);
  const client = clientOf(call.module);
  const p = call.operation.payload;
  if (p.param === 'ip' || p.param === 'name') {
    const value = String(p.value);
    const current = await upstream(() => client.getLicense(family, id));
    const already =
      p.param === 'ip' ? current.ip !== null && spelt(current.ip) === value : current.name === value;
    if (!already) {
      await upstream(() =>
        client.editLicense(
          family,
          id,
          p.param === 'ip' ? { ip: value } : family === 'platform' ? { comment: value } : { name: value },
        ),
      );
    }
    const after = await upstream(() => client.getLicense(family, id));
    return {
      serviceParams: {
        ...paramsOf(after, p.param === 'ip'),
        ...(p.param === 'name' ? { licname: value } : {}),
      },
    };
  }
  if (typeof p.tariffId === 'number') {
    const settings = settingsOf(call);
    const current = await upstream(() => client.getLicense(family, id));
    if (current.pricelist !== settings.pricelist) {
      await upstream(() =>
        client.call('service.changepricelist', {
          elid: id,
          pricelist: settings.pricelist,
          period: String(call.service.period),
          sok: 'ok',
        }),
      );
    }
    return {};
  }
  throw new OperationError(
    'param_unsupported',
    `The BILLmanager module cannot change "${String(p.param)}".`,
    false,
  );
}

/**
 * A new key, once: the key the license had is saved first; a repeat after an ambiguous
 * failure sees the key already changed and does not ask for another.
 */
async function genKey(call: OperationCall<BillmanagerConfig>): Promise<OperationOutcome> {
  const family = familyOf(call.service.productType);
  const id = externalIdOf(call);
  const client = clientOf(call.module);
  const before = await call.step(
    'intent',
    async () => (await upstream(() => client.getLicense(family, id))).key,
  );
  const current = await upstream(() => client.getLicense(family, id));
  const license = current.key !== before ? current : await upstream(() => client.newKey(family, id));
  return { serviceParams: paramsOf(license) };
}

/**
 * The daily upkeep of a license server: free pool licenses (bundled.ts) that expired lapse —
 * the pool is never renewed; a license is renewed only while a server uses it.
 */
async function poolUpkeep(call: DailyCall<BillmanagerConfig>): Promise<DailyOutcome> {
  const r = await call.ctx.db.kysely
    .updateTable('bundled_licenses')
    .set({ state: 'gone', updated_at: isoNow(call.ctx.clock) })
    .where('license_module_id', '=', call.module.id)
    .where('state', '=', 'free')
    .where('expires_on', '<', call.date)
    .executeTakeFirst();
  return { lapsed: Number(r.numUpdatedRows) };
}

const STATUS: Record<number, RemoteItem['status']> = {
  1: 'ordered',
  2: 'active',
  3: 'suspended',
  4: 'deleted',
  5: 'processing',
};

const remoteItemOf = (l: UpstreamLicense): RemoteItem => ({
  externalId: l.id,
  remoteId: l.remoteId,
  name: l.name,
  status: (l.status !== null && STATUS[l.status]) || 'unknown',
  expiresOn: l.expiresOn,
  params: { ...paramsOf(l, true), ...(l.pricelist ? { pricelist: l.pricelist } : {}) },
});

async function syncItem(call: ItemCall<BillmanagerConfig>): Promise<RemoteItem | null> {
  if (!call.service.externalId) return null;
  const family = familyOf(call.service.productType);
  try {
    return remoteItemOf(await clientOf(call.module).getLicense(family, call.service.externalId));
  } catch (err) {
    if (err instanceof BillmgrError && (err.code === 'upstream_missed' || err.code === 'upstream_access'))
      return null;
    throw operationErrorOf(err);
  }
}

/**
 * The upstream's licenses of this account that are the module's own services: a license
 * bundled with a server (bound to one, free in the pool, or lapsed there while the upstream
 * still lists it; `bundled.ts`) is not an orphan.
 */
async function listItems(
  module: ModuleInstance<BillmanagerConfig>,
  ctx: AppContext,
): Promise<readonly RemoteItem[]> {
  const client = clientOf(module);
  const bundled = new Set(
    (
      await ctx.db.kysely
        .selectFrom('bundled_licenses')
        .select('external_id')
        .where('license_module_id', '=', module.id)
        .execute()
    ).map((r) => r.external_id),
  );
  const items: RemoteItem[] = [];
  for (const family of FAMILIES) {
    const list = await upstream(() => client.listLicenses(family)).catch((err: OperationError) => {
      // A seller without a family's functions (no platform licenses) has none of them.
      if (err.code === 'upstream_unknown_func' || err.code === 'upstream_access') return [];
      throw err;
    });
    items.push(...list.filter((l) => !bundled.has(l.id)).map(remoteItemOf));
  }
  return items;
}

const PRODUCT_TYPE_OF: Record<string, string> = {
  soft: 'soft',
  softexternal: 'softexternal',
  platform: 'platform',
};

function importedOf(t: UpstreamTariff): ImportedTariff | null {
  const productType = PRODUCT_TYPE_OF[t.itemType];
  if (!productType) return null;
  return {
    externalId: t.id,
    name: t.name,
    productType,
    currency: t.currency,
    prices: t.prices.map((p) => ({ period: p.period, amount: p.cost })),
    settings: { pricelist: t.id },
    trialDays: t.trialDays,
  };
}

async function importTariffs(module: ModuleInstance<BillmanagerConfig>): Promise<readonly ImportedTariff[]> {
  const client = clientOf(module);
  const out: ImportedTariff[] = [];
  for (const itemType of FAMILIES) {
    const tariffs = await upstream(() => client.exportPricelist({ itemType }));
    for (const t of tariffs) {
      const imported = importedOf(t);
      if (imported && !out.some((o) => o.externalId === imported.externalId)) out.push(imported);
    }
  }
  return out;
}

async function estimateCost(
  call: ItemCall<BillmanagerConfig>,
  kind: 'open' | 'prolong',
  period: number,
): Promise<UpstreamCost | null> {
  const settings = settingsOf(call);
  const price = await upstream(() => priceOf(clientOf(call.module), settings.pricelist, period));
  return price ? { kind: kind === 'open' ? 'order' : 'renewal', period, ...price } : null;
}

/**
 * The `billmanager` module type: licenses ordered from a selling BILLmanager with the
 * provider's reseller account there (PROTOCOL.md §6). Upstream auto-renewal is never turned
 * on: the upstream license is renewed when — and for the period — Billfold's own client
 * renews. A module of this type can be a server module's license server (PROTOCOL.md §7).
 */
export const billmanagerModuleType = defineModuleType<BillmanagerConfig>({
  type: 'billmanager',
  title: 'BILLmanager (resell ISPsystem licenses)',
  productTypes: ['soft', 'softexternal', 'platform'],
  configSchema: Config as unknown as z.ZodType<BillmanagerConfig>,
  secretFields: ['password'],
  tariffSettingsSchema: TariffSettings as unknown as z.ZodType<Record<string, unknown>>,
  licenseSource: true,
  features: [
    'checkConnection',
    'getBalance',
    'importTariffs',
    'open',
    'prolong',
    'suspend',
    'resume',
    'close',
    'setParam',
    'genKey',
    'syncItem',
    'listItems',
    'estimateCost',
  ],
  async checkConnection(module) {
    const { user } = await upstream(() => clientOf(module).checkConnection());
    return { message: `Signed in to ${module.config.url} as ${user}.` };
  },
  async getBalance(module) {
    const balance = await upstream(() => clientOf(module).balance());
    if (!balance)
      throw new OperationError(
        'balance_unavailable',
        'The upstream does not tell its balance through the API.',
        false,
      );
    return balance;
  },
  importTariffs,
  open,
  prolong,
  suspend: simple('suspend', (l) => l.status === 3),
  resume: simple('resume', (l) => l.status === 2),
  close: simple('remove', (l) => l.status === 4),
  setParam,
  genKey,
  syncItem,
  listItems,
  estimateCost,
  daily: poolUpkeep,
});
