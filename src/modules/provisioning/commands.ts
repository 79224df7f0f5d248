import { z } from 'zod';
import { formatAmount } from '../../domain/money.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import {
  inTransaction,
  isUniqueViolation,
  type ProcessingModuleRow,
  type Tx,
} from '../../platform/db/index.js';
import { AppError, conflict, invalid, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { issuesOf } from '../../platform/validation.js';
import { type Actor, requireStaff } from '../accounts/actor.js';
import { amountIn, getProviderCurrency } from '../accounts/commands.js';
import { OperationError } from '../services/engine.js';
import { loadModuleInstance, storedConfig } from './instances.js';
import { guardPanelConfig, tariffsLinkedTo, tariffsServedBy } from './panel-config.js';
import type { AnyModuleType } from './plugin.js';
import type { CreateModuleInput, TariffModulesInput, UpdateModuleInput } from './schemas.js';

const flag = (b: boolean): 0 | 1 => (b ? 1 : 0);

export async function getModule(ctx: AppContext, id: number): Promise<ProcessingModuleRow> {
  const row = await ctx.db.kysely
    .selectFrom('processing_modules')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('module', { moduleId: id });
  return row;
}

function pluginFor(ctx: AppContext, type: string): AnyModuleType {
  const plugin = ctx.plugins.get(type);
  if (!plugin) {
    throw invalid('unknown_module_type', `There is no module type "${type}".`, {
      type,
      known: ctx.plugins.list().map((t) => t.type),
    });
  }
  return plugin;
}

/** Validates the whole config with the plug-in's schema and splits it into plain params and sealed secrets. */
function sealConfig(ctx: AppContext, plugin: AnyModuleType, config: Record<string, unknown>) {
  const parsed = (plugin.configSchema as z.ZodType).safeParse(config);
  if (!parsed.success) {
    const issues = issuesOf(parsed.error).map((i) => ({
      ...i,
      path: i.path ? `params.${i.path}` : 'params',
    }));
    throw new AppError(
      'invalid',
      'invalid_module_params',
      `The parameters do not suit a "${plugin.type}" module: ${issues[0]?.path}: ${issues[0]?.message}`,
      { issues },
    );
  }
  const params: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const [field, value] of Object.entries(parsed.data as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (plugin.secretFields.includes(field)) secrets[field] = ctx.secrets.seal(String(value));
    else params[field] = value;
  }
  return { params: JSON.stringify(params), secrets: JSON.stringify(secrets) };
}

async function checkProductTypes(tx: Tx, plugin: AnyModuleType, codes: readonly string[]) {
  const dups = codes.filter((c, i) => codes.indexOf(c) !== i);
  if (dups.length > 0)
    throw invalid('duplicate_product_type', `Listed twice: ${dups.join(', ')}.`, { productTypes: dups });
  const known = new Set((await tx.selectFrom('product_types').select('code').execute()).map((r) => r.code));
  const unknown = codes.filter((c) => !known.has(c));
  if (unknown.length > 0)
    throw invalid('unknown_product_type', `No product type ${unknown.join(', ')}.`, {
      productTypes: unknown,
    });
  const unserved = codes.filter((c) => !plugin.productTypes.includes(c));
  if (unserved.length > 0) {
    throw invalid(
      'product_type_not_served',
      `A "${plugin.type}" module cannot serve ${unserved.join(', ')}.`,
      { productTypes: unserved, served: plugin.productTypes },
    );
  }
}

async function checkLicenseServer(
  tx: Tx,
  ctx: AppContext,
  plugin: AnyModuleType,
  serverId: number,
  selfId?: number,
) {
  if (!plugin.usesLicenseServer)
    throw invalid('license_server_not_supported', `A "${plugin.type}" module has no license server setting.`);
  if (serverId === selfId)
    throw invalid('not_a_license_module', 'A module cannot be its own license server.');
  const server = await tx
    .selectFrom('processing_modules')
    .select(['id', 'name', 'module_type'])
    .where('id', '=', serverId)
    .executeTakeFirst();
  if (!server)
    throw invalid('license_server_not_found', `There is no module #${serverId}.`, {
      licenseServerId: serverId,
    });
  if (!ctx.plugins.get(server.module_type)?.licenseSource) {
    throw invalid(
      'not_a_license_module',
      `Module "${server.name}" (${server.module_type}) does not sell licenses.`,
      {
        licenseServerId: serverId,
        type: server.module_type,
      },
    );
  }
}

const nameTaken = (name: string) =>
  conflict('module_name_taken', `A module named "${name}" exists already.`, { name });

export async function createModule(
  ctx: AppContext,
  actor: Actor,
  input: CreateModuleInput,
): Promise<ProcessingModuleRow> {
  requireStaff(actor);
  const plugin = pluginFor(ctx, input.type);
  const sealed = sealConfig(ctx, plugin, input.params ?? {});
  const currency = await getProviderCurrency(ctx);
  const minBalance =
    input.minBalance == null ? null : amountIn(input.minBalance, currency, 'minBalance', { allowZero: true });
  const now = isoNow(ctx.clock);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      await checkProductTypes(tx, plugin, input.productTypes);
      if (input.licenseServerId != null) await checkLicenseServer(tx, ctx, plugin, input.licenseServerId);
      return tx
        .insertInto('processing_modules')
        .values({
          name: input.name,
          module_type: plugin.type,
          product_types: JSON.stringify(input.productTypes),
          ...sealed,
          enabled: flag(input.enabled ?? true),
          sort_order: input.sortOrder ?? 0,
          license_server_id: input.licenseServerId ?? null,
          min_balance_minor: minBalance,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken(input.name);
    throw err;
  }
}

export async function updateModule(
  ctx: AppContext,
  actor: Actor,
  id: number,
  input: UpdateModuleInput,
): Promise<ProcessingModuleRow> {
  requireStaff(actor);
  const row = await getModule(ctx, id);
  const plugin = pluginFor(ctx, row.module_type);
  let sealed: { params: string; secrets: string } | undefined;
  if (input.params) {
    const config = storedConfig(ctx, row);
    for (const [field, value] of Object.entries(input.params)) {
      if (value === null) delete config[field];
      else config[field] = value;
    }
    sealed = sealConfig(ctx, plugin, config);
  }
  const currency = await getProviderCurrency(ctx);
  try {
    return await inTransaction(ctx.db, async (tx) => {
      if (input.productTypes) {
        await checkProductTypes(tx, plugin, input.productTypes);
        // Tariffs linked to this module must still be of a product type it serves.
        const stranded = await tx
          .selectFrom('tariff_modules as l')
          .innerJoin('tariffs as t', 't.id', 'l.tariff_id')
          .innerJoin('product_types as p', 'p.id', 't.product_type_id')
          .select(['t.id', 'p.code'])
          .where('l.module_id', '=', id)
          .$if(input.productTypes.length > 0, (q) => q.where('p.code', 'not in', input.productTypes!))
          .execute();
        if (stranded.length > 0) {
          throw conflict(
            'module_in_use',
            'Tariffs of a product type this module would no longer serve are linked to it.',
            {
              tariffIds: stranded.map((s) => toId(s.id)),
            },
          );
        }
      }
      if (input.licenseServerId != null) await checkLicenseServer(tx, ctx, plugin, input.licenseServerId, id);
      // Another license server (or none) must still sell every panel the linked tariffs offer.
      const affected = input.licenseServerId !== undefined ? await tariffsLinkedTo(tx, id) : [];
      return guardPanelConfig(tx, ctx, affected, () =>
        tx
          .updateTable('processing_modules')
          .set({
            ...(input.name !== undefined ? { name: input.name } : {}),
            ...(input.productTypes ? { product_types: JSON.stringify(input.productTypes) } : {}),
            ...(sealed ?? {}),
            ...(input.enabled !== undefined ? { enabled: flag(input.enabled) } : {}),
            ...(input.sortOrder !== undefined ? { sort_order: input.sortOrder } : {}),
            ...(input.licenseServerId !== undefined ? { license_server_id: input.licenseServerId } : {}),
            ...(input.minBalance !== undefined
              ? {
                  min_balance_minor:
                    input.minBalance === null
                      ? null
                      : amountIn(input.minBalance, currency, 'minBalance', { allowZero: true }),
                }
              : {}),
            updated_at: isoNow(ctx.clock),
          })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow(),
      );
    });
  } catch (err) {
    if (isUniqueViolation(err) && input.name) throw nameTaken(input.name);
    throw err;
  }
}

/** Deletes a module nothing depends on: no tariff links, no service it serves, no module using it as license server. */
export async function deleteModule(ctx: AppContext, actor: Actor, id: number): Promise<void> {
  requireStaff(actor);
  await getModule(ctx, id);
  await inTransaction(ctx.db, async (tx) => {
    const tariffs = await tx
      .selectFrom('tariff_modules')
      .select('tariff_id')
      .where('module_id', '=', id)
      .execute();
    const services = await tx
      .selectFrom('services')
      .select('id')
      .where('module_id', '=', id)
      .limit(20)
      .execute();
    const dependants = await tx
      .selectFrom('processing_modules')
      .select('id')
      .where('license_server_id', '=', id)
      .execute();
    if (tariffs.length + services.length + dependants.length > 0) {
      throw conflict(
        'module_in_use',
        'Tariffs, services or other modules depend on this module; disable it instead.',
        {
          tariffIds: tariffs.map((t) => toId(t.tariff_id)),
          serviceIds: services.map((s) => toId(s.id)),
          moduleIds: dependants.map((m) => toId(m.id)),
        },
      );
    }
    await tx.deleteFrom('processing_modules').where('id', '=', id).execute();
  });
}

const failureMessage = (err: unknown) =>
  err instanceof OperationError || err instanceof Error ? err.message : 'The check failed.';

/** Runs the plug-in's connection check and records the outcome on the module. */
export async function checkModuleConnection(
  ctx: AppContext,
  actor: Actor,
  id: number,
): Promise<{ ok: boolean; message: string; checkedAt: string }> {
  requireStaff(actor);
  const row = await getModule(ctx, id);
  const plugin = pluginFor(ctx, row.module_type);
  if (!plugin.checkConnection)
    throw conflict('feature_not_supported', `A "${plugin.type}" module has no connection to check.`);
  let ok = true;
  let message: string;
  try {
    message = (await plugin.checkConnection(await loadModuleInstance(ctx, row), ctx)).message;
  } catch (err) {
    ok = false;
    message = failureMessage(err);
  }
  const checkedAt = isoNow(ctx.clock);
  await ctx.db.kysely
    .updateTable('processing_modules')
    .set({ last_check_at: checkedAt, last_check_ok: flag(ok), last_check_message: message })
    .where('id', '=', id)
    .execute();
  return { ok, message, checkedAt };
}

/** The upstream balance, and whether it is below the module's minimum. */
export async function moduleBalance(ctx: AppContext, actor: Actor, id: number) {
  requireStaff(actor);
  const row = await getModule(ctx, id);
  const plugin = pluginFor(ctx, row.module_type);
  if (!plugin.getBalance)
    throw conflict('feature_not_supported', `A "${plugin.type}" module reports no balance.`);
  const balance = await plugin.getBalance(await loadModuleInstance(ctx, row), ctx);
  const currency = await getProviderCurrency(ctx);
  const minimum = row.min_balance_minor === null ? null : formatAmount(row.min_balance_minor, currency);
  const below =
    minimum !== null &&
    balance.currency === currency &&
    amountIn(balance.amount, currency, 'balance', { allowNegative: true, allowZero: true }) <
      row.min_balance_minor!;
  return { ...balance, minimum, below };
}

/** Replaces the modules a tariff links to; each must serve the tariff's product type. */
export async function setTariffModules(
  ctx: AppContext,
  actor: Actor,
  tariffId: number,
  input: TariffModulesInput,
) {
  requireStaff(actor);
  return inTransaction(ctx.db, async (tx) => {
    const tariff = await tx
      .selectFrom('tariffs as t')
      .innerJoin('product_types as p', 'p.id', 't.product_type_id')
      .select(['t.id', 'p.code'])
      .where('t.id', '=', tariffId)
      .executeTakeFirst();
    if (!tariff) throw notFound('tariff', { tariffId });
    const ids = input.modules.map((m) => m.moduleId);
    const dups = ids.filter((m, i) => ids.indexOf(m) !== i);
    if (dups.length > 0)
      throw invalid('duplicate_module', `Module listed twice: ${dups.join(', ')}.`, { moduleIds: dups });
    const rows =
      ids.length === 0
        ? []
        : await tx.selectFrom('processing_modules').selectAll().where('id', 'in', ids).execute();
    for (const id of ids) {
      const m = rows.find((r) => toId(r.id) === id);
      if (!m) throw invalid('module_not_found', `There is no module #${id}.`, { moduleId: id });
      if (!(JSON.parse(m.product_types) as string[]).includes(tariff.code)) {
        throw invalid(
          'module_product_type_mismatch',
          `Module "${m.name}" does not serve ${tariff.code} tariffs.`,
          {
            moduleId: id,
            productType: tariff.code,
          },
        );
      }
    }
    // Each link's settings are the plug-in's to judge; a link listed without settings keeps
    // the ones it had (and what an import recorded on it).
    const before = await tx
      .selectFrom('tariff_modules')
      .selectAll()
      .where('tariff_id', '=', tariffId)
      .execute();
    const settingsOf = (m: TariffModulesInput['modules'][number]): string => {
      const row = rows.find((r) => toId(r.id) === m.moduleId)!;
      const plugin = ctx.plugins.get(row.module_type);
      const old = before.find((b) => toId(b.module_id) === m.moduleId);
      const raw = m.settings ?? (old ? (JSON.parse(old.settings) as Record<string, unknown>) : {});
      if (!plugin?.tariffSettingsSchema) {
        if (Object.keys(raw).length > 0)
          throw invalid('tariff_settings_invalid', `Module "${row.name}" takes no tariff settings.`, {
            moduleId: m.moduleId,
          });
        return '{}';
      }
      const parsed = plugin.tariffSettingsSchema.safeParse(raw);
      if (!parsed.success)
        throw invalid('tariff_settings_invalid', `Settings for module "${row.name}" are not valid.`, {
          moduleId: m.moduleId,
          issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        });
      return JSON.stringify(parsed.data);
    };
    const values = input.modules.map((m, i) => {
      const old = before.find((b) => toId(b.module_id) === m.moduleId);
      return {
        tariff_id: tariffId,
        module_id: m.moduleId,
        sort_order: m.sortOrder ?? i,
        settings: settingsOf(m),
        external_id: old?.external_id ?? null,
        upstream_prices: old?.upstream_prices ?? null,
      };
    });
    // The tariff's own panel configuration, and, when it is a license server's tariff, that of
    // the tariffs whose panels it sells (unlinking it takes an upstream tariff away).
    const affected = [
      tariffId,
      ...(await tariffsServedBy(tx, [...new Set([...before.map((b) => toId(b.module_id)), ...ids])])),
    ];
    await guardPanelConfig(tx, ctx, affected, async () => {
      await tx.deleteFrom('tariff_modules').where('tariff_id', '=', tariffId).execute();
      for (const v of values) await tx.insertInto('tariff_modules').values(v).execute();
    });
    return listTariffModules(tx, tariffId);
  });
}

/** The upstream's prices for a linked tariff at its last import (upstream currency, up to 4 places). */
export interface UpstreamPrices {
  currency: string;
  prices: { period: number; amount: string }[];
  importedAt: string;
}

export async function listTariffModules(db: Tx | AppContext['db']['kysely'], tariffId: number) {
  const rows = await db
    .selectFrom('tariff_modules as l')
    .innerJoin('processing_modules as m', 'm.id', 'l.module_id')
    .select([
      'm.id',
      'm.name',
      'm.module_type',
      'm.enabled',
      'l.sort_order',
      'l.settings',
      'l.external_id',
      'l.upstream_prices',
    ])
    .where('l.tariff_id', '=', tariffId)
    .orderBy('l.sort_order')
    .orderBy('m.sort_order')
    .orderBy('m.id')
    .execute();
  return rows.map((r) => ({
    moduleId: toId(r.id),
    name: r.name,
    type: r.module_type,
    enabled: Number(r.enabled) === 1,
    sortOrder: Number(r.sort_order),
    settings: JSON.parse(r.settings) as Record<string, unknown>,
    externalId: r.external_id,
    upstreamPrices: r.upstream_prices === null ? null : (JSON.parse(r.upstream_prices) as UpstreamPrices),
  }));
}

export function presentModule(ctx: AppContext, row: ProcessingModuleRow, currency: string) {
  const plugin = ctx.plugins.get(row.module_type);
  const setSecrets = JSON.parse(row.secrets) as Record<string, string>;
  return {
    id: toId(row.id),
    name: row.name,
    type: row.module_type,
    productTypes: JSON.parse(row.product_types) as string[],
    params: JSON.parse(row.params) as Record<string, unknown>,
    secrets: Object.fromEntries(
      (plugin?.secretFields ?? Object.keys(setSecrets)).map((f) => [
        f,
        f in setSecrets ? ('set' as const) : ('unset' as const),
      ]),
    ),
    enabled: Number(row.enabled) === 1,
    sortOrder: Number(row.sort_order),
    licenseServerId: row.license_server_id === null ? null : toId(row.license_server_id),
    minBalance: row.min_balance_minor === null ? null : formatAmount(row.min_balance_minor, currency),
    features: [...(plugin?.features ?? [])],
    lastCheck:
      row.last_check_at === null
        ? null
        : {
            at: row.last_check_at,
            ok: Number(row.last_check_ok) === 1,
            message: row.last_check_message ?? '',
          },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function presentModuleType(t: AnyModuleType) {
  return {
    type: t.type,
    title: t.title,
    productTypes: [...t.productTypes],
    features: [...t.features],
    secretFields: [...t.secretFields],
    licenseSource: t.licenseSource ?? false,
    usesLicenseServer: t.usesLicenseServer ?? false,
    serverParams: [...(t.serverParams ?? [])],
    daily: typeof t.daily === 'function',
    paramsSchema: z.toJSONSchema(t.configSchema as z.ZodType, { unrepresentable: 'any' }),
    tariffSettingsSchema: t.tariffSettingsSchema
      ? z.toJSONSchema(t.tariffSettingsSchema as z.ZodType, { unrepresentable: 'any' })
      : null,
  };
}
