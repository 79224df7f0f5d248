import { currencyExponent, formatScaled, parseScaled, rescale } from '../../domain/money.js';
import type { AppContext } from '../../platform/context.js';
import type { ProcessingModuleRow } from '../../platform/db/index.js';
import { AppError, conflict } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, requireStaff } from '../accounts/actor.js';
import { getProviderCurrency } from '../accounts/commands.js';
import { createModule, updateModule } from '../provisioning/commands.js';
import { createAddon, createTariff } from './commands.js';

/**
 * `billfold catalog seed-ispsystem`: the ISPsystem license tariffs under their real upstream
 * ids (BILLmanager pricelist ids, PROTOCOL.md §4; research/billmanager-protocol.md §2), with
 * example prices, all served by one `license-issuer` module, so that a fresh Billfold can sell
 * licenses the way api.ispsystem.com does. Idempotent: what exists is found and left as it is.
 */

/** The license-issuer module the seed creates, or reuses by this name. */
export const LICENSE_MODULE_NAME = 'Billfold licenses';
export const LICENSE_MODULE_TYPE = 'license-issuer';
export const LICENSE_PRODUCT_TYPES = ['soft', 'softexternal', 'platform'] as const;

/** Trial length of the trial tariffs and the platform trials (DCImanager 6: 30 days, research §2.2). */
export const TRIAL_DAYS = 30;

type Prices = Readonly<Record<string, string>>;

export interface SeedAddon {
  /** The upstream addon id: ordered as `addon_<id>=<count>`. */
  readonly id: number;
  readonly label: string;
  readonly unit: string;
  readonly included: number;
  readonly min: number;
  readonly max: number;
  readonly defaultValue: number;
  /** Per unit above `included`, per period (EUR-scale decimals, see `priceIn`). */
  readonly prices: Prices;
}

export interface SeedTariff {
  /** The upstream pricelist id. */
  readonly id: number;
  readonly name: string;
  readonly productType: (typeof LICENSE_PRODUCT_TYPES)[number];
  readonly periods: readonly number[];
  readonly prices: Prices;
  readonly trialDays?: number;
  readonly expiresOn?: string;
  readonly addons?: readonly SeedAddon[];
}

/** A monthly price and the yearly one at ten months. */
const monthly = (m: string): Prices => ({ '1': m, '12': formatScaled(parseScaled(m, 2) * 10n, 2) });
const trial: Prices = { '-100': '0.00' };

/**
 * What is seeded. Prices are examples in the provider's currency (a year = 10 months); staff
 * edit them afterwards. ISPmanager 5 (3541, 4601) was sold until 2021-12-31 (PRODUCT.md).
 */
export const ISPSYSTEM_TARIFFS: readonly SeedTariff[] = [
  // ISPsystem licenses (`soft.*`)
  {
    id: 3541,
    name: 'ISPmanager Lite',
    productType: 'soft',
    periods: [1, 12],
    prices: monthly('10.00'),
    expiresOn: '2021-12-31',
  },
  {
    id: 4601,
    name: 'ISPmanager Business',
    productType: 'soft',
    periods: [1, 12],
    prices: monthly('30.00'),
    expiresOn: '2021-12-31',
  },
  { id: 55227, name: 'ISPmanager 6 Lite', productType: 'soft', periods: [1, 12], prices: monthly('7.50') },
  { id: 55228, name: 'ISPmanager 6 Pro', productType: 'soft', periods: [1, 12], prices: monthly('15.00') },
  { id: 55229, name: 'ISPmanager 6 Host', productType: 'soft', periods: [1, 12], prices: monthly('30.00') },
  {
    id: 55230,
    name: 'ISPmanager 6 Business',
    productType: 'soft',
    periods: [1, 12],
    prices: monthly('45.00'),
    addons: [
      {
        id: 55236,
        label: 'Extra nodes',
        unit: 'node',
        included: 0,
        min: 0,
        max: 100,
        defaultValue: 0,
        prices: monthly('10.00'),
      },
    ],
  },
  // Trial tariffs: the names are the research's (55239 "ISPmanager 6 trial", 55240 "ISPmanager 6 Business trial").
  {
    id: 55239,
    name: 'ISPmanager 6 trial',
    productType: 'soft',
    periods: [-100],
    prices: trial,
    trialDays: TRIAL_DAYS,
  },
  {
    id: 55240,
    name: 'ISPmanager 6 Business trial',
    productType: 'soft',
    periods: [-100],
    prices: trial,
    trialDays: TRIAL_DAYS,
  },
  // Third-party licenses (`softexternal.*`): monthly only.
  { id: 9203, name: 'CloudLinux OS', productType: 'softexternal', periods: [1], prices: { '1': '12.00' } },
  { id: 9204, name: 'Softaculous', productType: 'softexternal', periods: [1], prices: { '1': '2.50' } },
  { id: 11738, name: 'KernelCare', productType: 'softexternal', periods: [1], prices: { '1': '3.00' } },
  // VMmanager 6 / DCImanager 6 (`platform.*`): monthly, yearly and the upstream trial (-100).
  {
    id: 55163,
    name: 'VMmanager 6',
    productType: 'platform',
    periods: [-100, 1, 12],
    prices: monthly('20.00'),
    trialDays: TRIAL_DAYS,
    addons: [
      {
        id: 55165,
        label: 'Cluster nodes',
        unit: 'node',
        included: 1,
        min: 1,
        max: 100,
        defaultValue: 1,
        prices: monthly('10.00'),
      },
      {
        id: 55164,
        label: 'Virtual machines',
        unit: 'VM',
        included: 10,
        min: 0,
        max: 10000,
        defaultValue: 10,
        prices: monthly('0.50'),
      },
    ],
  },
  {
    id: 55161,
    name: 'DCImanager 6',
    productType: 'platform',
    periods: [-100, 1, 12],
    prices: monthly('40.00'),
    trialDays: TRIAL_DAYS,
  },
];

export interface SeedIspsystemSummary {
  currency: string;
  module: { id: number; name: string; created: boolean; productTypesAdded: string[] };
  tariffs: { created: number[]; found: number[] };
  addons: { created: number[]; found: number[] };
  /** Tariffs linked to the module by this run (they had no module). */
  linked: number[];
  /** Found tariffs served by other modules: left alone, not linked. */
  servedElsewhere: number[];
}

/** An example price ("7.50", two decimals) in `currency`: rounded half up where it has fewer. */
export function priceIn(text: string, currency: string): string {
  const exponent = currencyExponent(currency);
  return formatScaled(rescale(parseScaled(text, 2), 2, exponent), exponent);
}

const pricesIn = (prices: Prices, currency: string): Record<string, string> =>
  Object.fromEntries(Object.entries(prices).map(([p, v]) => [p, priceIn(v, currency)]));

const errorCode = (err: unknown) => (err instanceof AppError ? err.code : null);

type Db = AppContext['db']['kysely'];

async function tariffType(db: Db, id: number): Promise<string | undefined> {
  const row = await db
    .selectFrom('tariffs as t')
    .innerJoin('product_types as p', 'p.id', 't.product_type_id')
    .select('p.code')
    .where('t.id', '=', id)
    .executeTakeFirst();
  return row?.code;
}

async function addonTariff(db: Db, id: number): Promise<number | undefined> {
  const row = await db.selectFrom('addons').select('tariff_id').where('id', '=', id).executeTakeFirst();
  return row ? toId(row.tariff_id) : undefined;
}

const tariffConflict = (found: { id: number; productType: string; expected: string }[]) =>
  conflict(
    'seed_tariff_id_taken',
    `Tariff id(s) ${found.map((f) => `${f.id} (a ${f.productType} tariff, the seed needs ${f.expected})`).join(', ')} belong to other products: nothing was seeded.`,
    { tariffs: found },
  );

const addonConflict = (found: { id: number; tariffId: number; expected: number }[]) =>
  conflict(
    'seed_addon_id_taken',
    `Addon id(s) ${found.map((f) => `${f.id} (on tariff ${f.tariffId}, the seed needs it on ${f.expected})`).join(', ')} belong to other tariffs: nothing was seeded.`,
    { addons: found },
  );

const moduleConflict = (row: ProcessingModuleRow) =>
  conflict(
    'seed_module_name_taken',
    `A module named "${row.name}" exists and is a ${row.module_type} module, not a ${LICENSE_MODULE_TYPE}: nothing was seeded.`,
    { moduleId: toId(row.id), name: row.name, type: row.module_type },
  );

const findModule = (db: Db) =>
  db.selectFrom('processing_modules').selectAll().where('name', '=', LICENSE_MODULE_NAME).executeTakeFirst();

/** Refuses, before writing anything, to take over ids or the module name something else holds. */
async function preflight(db: Db): Promise<void> {
  const tariffs: { id: number; productType: string; expected: string }[] = [];
  const addons: { id: number; tariffId: number; expected: number }[] = [];
  for (const t of ISPSYSTEM_TARIFFS) {
    const type = await tariffType(db, t.id);
    if (type !== undefined && type !== t.productType)
      tariffs.push({ id: t.id, productType: type, expected: t.productType });
    for (const a of t.addons ?? []) {
      const on = await addonTariff(db, a.id);
      if (on !== undefined && on !== t.id) addons.push({ id: a.id, tariffId: on, expected: t.id });
    }
  }
  if (tariffs.length > 0) throw tariffConflict(tariffs);
  if (addons.length > 0) throw addonConflict(addons);
  const module = await findModule(db);
  if (module && module.module_type !== LICENSE_MODULE_TYPE) throw moduleConflict(module);
}

/** The license-issuer module: found by name or created; completed with the product types it must serve. */
async function ensureModule(ctx: AppContext, actor: Actor): Promise<SeedIspsystemSummary['module']> {
  const db = ctx.db.kysely;
  let row = await findModule(db);
  let created = false;
  if (!row) {
    try {
      row = await createModule(ctx, actor, {
        name: LICENSE_MODULE_NAME,
        type: LICENSE_MODULE_TYPE,
        productTypes: [...LICENSE_PRODUCT_TYPES],
        params: {},
      });
      created = true;
    } catch (err) {
      // A concurrent run created it first: use theirs.
      if (errorCode(err) !== 'module_name_taken') throw err;
      row = await findModule(db);
      if (!row) throw err;
    }
  }
  if (row.module_type !== LICENSE_MODULE_TYPE) throw moduleConflict(row);
  const served = JSON.parse(row.product_types) as string[];
  const missing = LICENSE_PRODUCT_TYPES.filter((p) => !served.includes(p));
  if (missing.length > 0) {
    await updateModule(ctx, actor, toId(row.id), { productTypes: [...served, ...missing] });
  }
  return { id: toId(row.id), name: row.name, created, productTypesAdded: missing };
}

/** Creates the tariff under its upstream id, or finds it; true when this run created it. */
async function ensureTariff(ctx: AppContext, actor: Actor, t: SeedTariff, currency: string) {
  const db = ctx.db.kysely;
  const existing = await tariffType(db, t.id);
  if (existing === undefined) {
    try {
      await createTariff(ctx, actor, {
        id: t.id,
        name: t.name,
        description: `ISPsystem upstream tariff ${t.id}; example prices.`,
        productType: t.productType,
        periods: [...t.periods],
        prices: pricesIn(t.prices, currency),
        ...(t.trialDays !== undefined ? { trialDays: t.trialDays } : {}),
        ...(t.expiresOn !== undefined ? { expiresOn: t.expiresOn } : {}),
      });
      return true;
    } catch (err) {
      // A concurrent run (or anyone) took the id meanwhile: found, if it is the same product.
      if (errorCode(err) !== 'tariff_id_taken') throw err;
    }
  }
  const type = existing ?? (await tariffType(db, t.id));
  if (type !== t.productType)
    throw tariffConflict([{ id: t.id, productType: type ?? 'deleted', expected: t.productType }]);
  return false;
}

async function ensureAddon(ctx: AppContext, actor: Actor, t: SeedTariff, a: SeedAddon, currency: string) {
  const db = ctx.db.kysely;
  const existing = await addonTariff(db, a.id);
  if (existing === undefined) {
    try {
      await createAddon(ctx, actor, t.id, {
        id: a.id,
        kind: 'generic',
        label: a.label,
        valueType: 'integer',
        unit: a.unit,
        included: a.included,
        min: a.min,
        max: a.max,
        step: 1,
        defaultValue: a.defaultValue,
        prices: pricesIn(a.prices, currency),
        sortOrder: (t.addons ?? []).indexOf(a) * 10,
      });
      return true;
    } catch (err) {
      if (errorCode(err) !== 'addon_id_taken') throw err;
    }
  }
  const on = existing ?? (await addonTariff(db, a.id));
  if (on !== t.id) throw addonConflict([{ id: a.id, tariffId: on ?? 0, expected: t.id }]);
  return false;
}

/**
 * Links a tariff that has no module to the license issuer. A tariff already served by some
 * module keeps its links (a provider's own tariff, e.g. resold through a BILLmanager module).
 */
async function ensureLink(ctx: AppContext, tariffId: number, moduleId: number) {
  const db = ctx.db.kysely;
  const links = await db
    .selectFrom('tariff_modules')
    .select('module_id')
    .where('tariff_id', '=', tariffId)
    .execute();
  if (links.some((l) => toId(l.module_id) === moduleId)) return 'linked already' as const;
  if (links.length > 0) return 'served elsewhere' as const;
  // Two runs at once both see no link: the primary key keeps one row, the other does nothing.
  const inserted = await db
    .insertInto('tariff_modules')
    .values({ tariff_id: tariffId, module_id: moduleId, sort_order: 0 })
    .onConflict((oc) => oc.columns(['tariff_id', 'module_id']).doNothing())
    .returning('tariff_id')
    .executeTakeFirst();
  return inserted ? ('linked' as const) : ('linked already' as const);
}

/**
 * Seeds the ISPsystem license tariffs (ISPSYSTEM_TARIFFS) with their addons and links them to
 * the "Billfold licenses" license-issuer module. Running it again creates nothing and edits
 * nothing (prices and names staff changed stay); what a crashed run left out is completed.
 * Two runs at once do not fail or duplicate: whichever loses a race finds the winner's rows.
 * A tariff or addon id held by another product, or the module name held by another module
 * type, stops it before anything is written (`seed_tariff_id_taken`, `seed_addon_id_taken`,
 * `seed_module_name_taken`).
 */
export async function seedIspsystem(ctx: AppContext, actor: Actor): Promise<SeedIspsystemSummary> {
  requireStaff(actor);
  await preflight(ctx.db.kysely);
  const currency = await getProviderCurrency(ctx);
  const module = await ensureModule(ctx, actor);
  const summary: SeedIspsystemSummary = {
    currency,
    module,
    tariffs: { created: [], found: [] },
    addons: { created: [], found: [] },
    linked: [],
    servedElsewhere: [],
  };
  for (const t of ISPSYSTEM_TARIFFS) {
    const created = await ensureTariff(ctx, actor, t, currency);
    (created ? summary.tariffs.created : summary.tariffs.found).push(t.id);
    for (const a of t.addons ?? []) {
      const made = await ensureAddon(ctx, actor, t, a, currency);
      (made ? summary.addons.created : summary.addons.found).push(a.id);
    }
    const link = await ensureLink(ctx, t.id, module.id);
    if (link === 'linked') summary.linked.push(t.id);
    if (link === 'served elsewhere') summary.servedElsewhere.push(t.id);
  }
  return summary;
}
