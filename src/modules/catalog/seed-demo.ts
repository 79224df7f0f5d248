import type { AppContext } from '../../platform/context.js';
import type { ProcessingModuleRow } from '../../platform/db/index.js';
import { AppError, conflict } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, requireStaff } from '../accounts/actor.js';
import { createAccount, getProviderCurrency, recordPayment } from '../accounts/commands.js';
import { findAccountByEmail } from '../accounts/queries.js';
import {
  checkModuleConnection,
  createModule,
  listTariffModules,
  setTariffModules,
  updateModule,
} from '../provisioning/commands.js';
import { importTariffs } from '../provisioning/import.js';
import { addEnumerationValue, createAddon, createTariff, updateTariff } from './commands.js';
import { CONTROL_PANEL_VALUES, seedControlPanels } from './seed.js';
import { priceIn, seedIspsystem } from './seed-ispsystem.js';

/**
 * `billfold catalog seed-demo`: the bundled-license configuration of the product brief
 * (PRODUCT.md journey 2) on a reselling instance, built with the same commands staff use:
 *
 * - the "Server Control Panel" enumeration with its six values and "No panel" (`none`);
 * - a `billmanager` module, the license server, its upstream tariffs imported (the standalone
 *   license tariffs; ISPmanager 5 — 3541, 4601 — ending 2021-12-31);
 * - a `vmmanager6` and a `dcimanager6` module whose license server it is;
 * - a VPS (`vds`) and a Dedicated (`dedic`) tariff linked to them with their settings, each
 *   with a "Control panel" addon priced per value and period ("No panel" free; ISPmanager 5
 *   priced but not offered: its license tariffs ended).
 *
 * Idempotent: everything is found by name (modules, tariffs), internal name (values) or kind
 * (the addon) and left as it is; only what a crashed run left out is completed. Nothing is
 * asked of the upstreams on a second run: the tariffs are imported only while the license
 * server has none.
 */

export const DEMO_LICENSE_MODULE = 'Demo license server';
export const DEMO_VM_MODULE = 'Demo VMmanager 6';
export const DEMO_DCI_MODULE = 'Demo DCImanager 6';
export const DEMO_VPS_TARIFF = 'VPS with a control panel';
export const DEMO_DEDIC_TARIFF = 'Dedicated server with a control panel';
export const NO_PANEL = { name: 'No panel', internalName: 'none' } as const;
/** ISPmanager 5: sold until this day (PRODUCT.md). */
export const ISPMANAGER5_ENDS = '2021-12-31';
const ISPMANAGER5 = ['3541', '4601'];

export interface SeedDemoInput {
  billmanager: { url: string; username: string; password: string; pollIntervalMs?: number };
  vmmanager: {
    url: string;
    email: string;
    password: string;
    taskPollMs?: number;
    /** The VPS tariff's cluster and OS template ids (the first OS is the default). */
    clusterId: number;
    osIds: number[];
  };
  dcimanager: {
    url: string;
    email: string;
    password: string;
    taskPollMs?: number;
    /** The Dedicated tariff's location, hardware configuration and OS ids. */
    locationId: number;
    configuration: string;
    osIds: number[];
  };
}

type Found = 'created' | 'found';

export interface SeedDemoSummary {
  currency: string;
  enumeration: { id: number; valuesAdded: string[] };
  modules: {
    id: number;
    name: string;
    type: string;
    outcome: Found;
    licenseServerId: number | null;
    check: { ok: boolean; message: string } | null;
  }[];
  imported: { created: number; updated: number; unchanged: number } | null;
  /** The ISPmanager 5 license tariffs (upstream 3541, 4601), and those the upstream did not list. */
  ispmanager5: {
    tariffs: { id: number; externalId: string; expiresOn: string | null; expiryDateSet: boolean }[];
    missing: string[];
  };
  tariffs: { id: number; name: string; productType: string; outcome: Found; linked: boolean }[];
  addons: { id: number; tariffId: number; outcome: Found }[];
}

/** Example prices (provider currency, two decimals; a year = 10 months), per panel value. */
const BASE_PRICES = { vds: '5.00', dedic: '60.00' } as const;
const PANEL_MONTHLY: Readonly<Record<string, string>> = {
  none: '0.00',
  '3541': '12.00',
  '4601': '35.00',
  '55227': '9.00',
  '55228': '18.00',
  '55229': '36.00',
  '55230': '54.00',
};

const yearly = (monthly: string) => (Number(monthly) * 10).toFixed(2);
const pricesIn = (monthly: string, currency: string) => ({
  '1': priceIn(monthly, currency),
  '12': priceIn(yearly(monthly), currency),
});

type Db = AppContext['db']['kysely'];

const moduleByName = (db: Db, name: string) =>
  db.selectFrom('processing_modules').selectAll().where('name', '=', name).executeTakeFirst();

const nameTaken = (row: ProcessingModuleRow, type: string) =>
  conflict(
    'seed_module_name_taken',
    `A module named "${row.name}" exists and is a ${row.module_type} module, not a ${type}: nothing was seeded.`,
    { moduleId: toId(row.id), name: row.name, type: row.module_type },
  );

const DEMO_MODULES = [
  [DEMO_LICENSE_MODULE, 'billmanager'],
  [DEMO_VM_MODULE, 'vmmanager6'],
  [DEMO_DCI_MODULE, 'dcimanager6'],
] as const;

/** Refuses, before writing anything, to take over a module name another module type holds. */
async function preflight(db: Db): Promise<void> {
  for (const [name, type] of DEMO_MODULES) {
    const row = await moduleByName(db, name);
    if (row && row.module_type !== type) throw nameTaken(row, type);
  }
}

/** The module named `name`: found (of the right type) or created, its connection checked when new. */
async function ensureModule(
  ctx: AppContext,
  actor: Actor,
  spec: { name: string; type: string; productTypes: string[]; params: Record<string, unknown> },
  licenseServerId: number | null,
): Promise<{ row: ProcessingModuleRow; summary: SeedDemoSummary['modules'][number] }> {
  let row = await moduleByName(ctx.db.kysely, spec.name);
  let outcome: Found = 'found';
  if (!row) {
    row = await createModule(ctx, actor, {
      name: spec.name,
      type: spec.type,
      productTypes: spec.productTypes,
      params: spec.params,
      ...(licenseServerId !== null ? { licenseServerId } : {}),
    });
    outcome = 'created';
  }
  if (row.module_type !== spec.type) throw nameTaken(row, spec.type);
  // A run that stopped between creating the module and linking it left no license server.
  if (licenseServerId !== null && row.license_server_id === null)
    row = await updateModule(ctx, actor, toId(row.id), { licenseServerId });
  const check = outcome === 'created' ? await checkModuleConnection(ctx, actor, toId(row.id)) : null;
  return {
    row,
    summary: {
      id: toId(row.id),
      name: row.name,
      type: row.module_type,
      outcome,
      licenseServerId: row.license_server_id === null ? null : toId(row.license_server_id),
      check: check && { ok: check.ok, message: check.message },
    },
  };
}

/** The license server's tariffs: imported while it has none linked by upstream id. */
async function ensureImported(ctx: AppContext, actor: Actor, moduleId: number) {
  const linked = await ctx.db.kysely
    .selectFrom('tariff_modules')
    .select('tariff_id')
    .where('module_id', '=', moduleId)
    .where('external_id', 'is not', null)
    .executeTakeFirst();
  if (linked) return null;
  const r = await importTariffs(ctx, actor, moduleId);
  return { created: r.created.length, updated: r.updated.length, unchanged: r.unchanged };
}

/**
 * The ISPmanager 5 tariffs imported from the license server end on 2021-12-31: the expiry is
 * set where the upstream did not send it (and left where it did, or staff changed it). An
 * upstream lists them only while they are sold, so after that day they are not imported at
 * all: reported as missing.
 */
async function ensureIspmanager5Ends(ctx: AppContext, actor: Actor, moduleId: number) {
  const rows = await ctx.db.kysely
    .selectFrom('tariff_modules as l')
    .innerJoin('tariffs as t', 't.id', 'l.tariff_id')
    .select(['t.id', 't.expires_on', 'l.external_id'])
    .where('l.module_id', '=', moduleId)
    .where('l.external_id', 'in', ISPMANAGER5)
    .orderBy('t.id')
    .execute();
  const tariffs: SeedDemoSummary['ispmanager5']['tariffs'] = [];
  for (const r of rows) {
    let expiresOn = r.expires_on;
    let set = false;
    if (expiresOn === null) {
      expiresOn = (await updateTariff(ctx, actor, toId(r.id), { expiresOn: ISPMANAGER5_ENDS })).expiresOn;
      set = true;
    }
    tariffs.push({ id: toId(r.id), externalId: r.external_id!, expiresOn, expiryDateSet: set });
  }
  const missing = ISPMANAGER5.filter((id) => !rows.some((r) => r.external_id === id));
  return { tariffs, missing };
}

/** The enumeration's values by internal name, "No panel" added when missing. */
async function ensureEnumeration(ctx: AppContext, actor: Actor) {
  const { enumerationId, created } = await seedControlPanels(ctx);
  const values = async () =>
    new Map(
      (
        await ctx.db.kysely
          .selectFrom('enumeration_values')
          .select(['id', 'internal_name'])
          .where('enumeration_id', '=', enumerationId)
          .execute()
      ).map((v) => [v.internal_name, toId(v.id)]),
    );
  let byName = await values();
  if (!byName.has(NO_PANEL.internalName)) {
    try {
      await addEnumerationValue(ctx, actor, enumerationId, {
        ...NO_PANEL,
        sortOrder: CONTROL_PANEL_VALUES.length * 10,
      });
      created.push(NO_PANEL.internalName);
    } catch (err) {
      // A concurrent run added it first.
      if (!(err instanceof AppError && err.code === 'internal_name_taken')) throw err;
    }
    byName = await values();
  }
  return { enumerationId, created, byName };
}

/** The server tariff named `name` of `productType`: found or created, then linked to its module. */
async function ensureServerTariff(
  ctx: AppContext,
  actor: Actor,
  spec: { name: string; productType: 'vds' | 'dedic'; moduleId: number; settings: Record<string, unknown> },
  currency: string,
) {
  const found = await ctx.db.kysely
    .selectFrom('tariffs as t')
    .innerJoin('product_types as p', 'p.id', 't.product_type_id')
    .select('t.id')
    .where('t.name', '=', spec.name)
    .where('p.code', '=', spec.productType)
    .orderBy('t.id')
    .executeTakeFirst();
  let tariffId: number;
  let outcome: Found = 'found';
  if (found) tariffId = toId(found.id);
  else {
    const made = await createTariff(ctx, actor, {
      name: spec.name,
      description: 'Demo tariff: the server comes with the control panel license chosen in its addon.',
      productType: spec.productType,
      periods: [1, 12],
      prices: pricesIn(BASE_PRICES[spec.productType], currency),
    });
    tariffId = made.id;
    outcome = 'created';
  }
  const links = await listTariffModules(ctx.db.kysely, tariffId);
  let linked = false;
  if (links.length === 0) {
    await setTariffModules(ctx, actor, tariffId, {
      modules: [{ moduleId: spec.moduleId, settings: spec.settings }],
    });
    linked = true;
  }
  return { id: tariffId, name: spec.name, productType: spec.productType, outcome, linked };
}

/** The tariff's "Control panel" addon: found by its kind, or created with a price per value and period. */
async function ensurePanelAddon(
  ctx: AppContext,
  actor: Actor,
  tariffId: number,
  enumerationId: number,
  values: ReadonlyMap<string, number>,
  currency: string,
) {
  const existing = await ctx.db.kysely
    .selectFrom('addons')
    .select('id')
    .where('tariff_id', '=', tariffId)
    .where('kind', '=', 'control_panel')
    .orderBy('id')
    .executeTakeFirst();
  if (existing) return { id: toId(existing.id), tariffId, outcome: 'found' as const };
  const internalNames = [NO_PANEL.internalName, ...CONTROL_PANEL_VALUES.map((v) => v.internalName)];
  const after = await createAddon(ctx, actor, tariffId, {
    kind: 'control_panel',
    label: 'Control panel',
    valueType: 'enumeration',
    enumerationId,
    required: true,
    defaultValue: values.get(NO_PANEL.internalName)!,
    values: internalNames.map((name) => ({
      valueId: values.get(name)!,
      // ISPmanager 5 licenses are no longer sold upstream: priced, not offered.
      offered: !ISPMANAGER5.includes(name),
      prices: pricesIn(PANEL_MONTHLY[name]!, currency),
    })),
  });
  const addon = after.addons.find((a) => a.kind === 'control_panel')!;
  return { id: addon.id, tariffId, outcome: 'created' as const };
}

export async function seedDemo(
  ctx: AppContext,
  actor: Actor,
  input: SeedDemoInput,
): Promise<SeedDemoSummary> {
  requireStaff(actor);
  await preflight(ctx.db.kysely);
  const currency = await getProviderCurrency(ctx);
  const enumeration = await ensureEnumeration(ctx, actor);
  const license = await ensureModule(
    ctx,
    actor,
    {
      name: DEMO_LICENSE_MODULE,
      type: 'billmanager',
      productTypes: ['soft', 'softexternal', 'platform'],
      params: { ...input.billmanager },
    },
    null,
  );
  const licenseId = toId(license.row.id);
  const imported = await ensureImported(ctx, actor, licenseId);
  const ispmanager5 = await ensureIspmanager5Ends(ctx, actor, licenseId);
  const { clusterId, osIds: vmOs, ...vmParams } = input.vmmanager;
  const vm = await ensureModule(
    ctx,
    actor,
    { name: DEMO_VM_MODULE, type: 'vmmanager6', productTypes: ['vds'], params: vmParams },
    licenseId,
  );
  const { locationId, configuration, osIds: dciOs, ...dciParams } = input.dcimanager;
  const dci = await ensureModule(
    ctx,
    actor,
    { name: DEMO_DCI_MODULE, type: 'dcimanager6', productTypes: ['dedic'], params: dciParams },
    licenseId,
  );
  const vps = await ensureServerTariff(
    ctx,
    actor,
    {
      name: DEMO_VPS_TARIFF,
      productType: 'vds',
      moduleId: toId(vm.row.id),
      settings: { clusterId, osIds: vmOs, cpu: 1, ramMib: 1024, hddMib: 10240 },
    },
    currency,
  );
  const dedic = await ensureServerTariff(
    ctx,
    actor,
    {
      name: DEMO_DEDIC_TARIFF,
      productType: 'dedic',
      moduleId: toId(dci.row.id),
      settings: { configuration, locationId, osIds: dciOs },
    },
    currency,
  );
  const addons = [];
  for (const t of [vps, dedic])
    addons.push(
      await ensurePanelAddon(ctx, actor, t.id, enumeration.enumerationId, enumeration.byName, currency),
    );
  return {
    currency,
    enumeration: { id: enumeration.enumerationId, valuesAdded: enumeration.created },
    modules: [license.summary, vm.summary, dci.summary],
    imported,
    ispmanager5,
    tariffs: [vps, dedic],
    addons,
  };
}

export interface SellerAccount {
  email: string;
  name: string;
  password: string;
  /** Deposited once, when the account is created. */
  deposit: string;
}

/**
 * A selling Billfold for resellers, as `/billmgr` serves it: the ISPsystem tariffs seeded
 * under their upstream ids, and a reseller's client account (its login is the `authinfo` of
 * a `billmanager` module) with a first deposit. The account is found by e-mail when it exists.
 */
export async function seedSeller(ctx: AppContext, actor: Actor, reseller: SellerAccount) {
  const seeded = await seedIspsystem(ctx, actor);
  let account = await findAccountByEmail(ctx, reseller.email);
  if (!account) {
    account = (
      await createAccount(ctx, actor, {
        name: reseller.name,
        email: reseller.email,
        password: reseller.password,
      })
    ).account;
    await recordPayment(ctx, actor, toId(account.id), {
      amount: reseller.deposit,
      method: 'bank',
      reference: 'reseller-deposit',
    });
  }
  return { seeded, accountId: toId(account.id) };
}
