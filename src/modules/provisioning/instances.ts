import { formatAmount } from '../../domain/money.js';
import type { AppContext } from '../../platform/context.js';
import type { ProcessingModuleRow } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { getProviderCurrency } from '../accounts/commands.js';
import { OperationError } from '../services/engine.js';
import type { ModuleInstance, ModuleType } from './plugin.js';

/** The plug-in of a stored module; a module whose type is no longer installed cannot run. */
export function pluginOf(ctx: AppContext, row: ProcessingModuleRow): ModuleType {
  const plugin = ctx.plugins.get(row.module_type);
  if (!plugin) {
    throw new OperationError(
      'module_type_unavailable',
      `Module "${row.name}" is of type "${row.module_type}", which this installation does not have.`,
      false,
    );
  }
  return plugin;
}

/** Plain parameters plus opened secrets, as stored (before the plug-in's schema). */
export function storedConfig(ctx: AppContext, row: ProcessingModuleRow): Record<string, unknown> {
  const config = JSON.parse(row.params) as Record<string, unknown>;
  for (const [field, sealed] of Object.entries(JSON.parse(row.secrets) as Record<string, string>)) {
    config[field] = ctx.secrets.open(sealed);
  }
  return config;
}

/** Opens a module for its plug-in: secrets decrypted, config parsed, the license server loaded. */
export async function loadModuleInstance(
  ctx: AppContext,
  row: ProcessingModuleRow,
  depth = 0,
): Promise<ModuleInstance> {
  const plugin = pluginOf(ctx, row);
  const parsed = plugin.configSchema.safeParse(storedConfig(ctx, row));
  if (!parsed.success) {
    throw new OperationError(
      'module_config_invalid',
      `Module "${row.name}" has settings its plug-in no longer accepts; edit the module.`,
      false,
    );
  }
  let licenseServer: ModuleInstance | null = null;
  if (row.license_server_id !== null && depth === 0) {
    const server = await ctx.db.kysely
      .selectFrom('processing_modules')
      .selectAll()
      .where('id', '=', row.license_server_id)
      .executeTakeFirstOrThrow();
    licenseServer = await loadModuleInstance(ctx, server, depth + 1);
  }
  return {
    id: toId(row.id),
    name: row.name,
    type: row.module_type,
    config: parsed.data as Record<string, unknown>,
    licenseServer,
    minBalance:
      row.min_balance_minor === null
        ? null
        : formatAmount(row.min_balance_minor, await getProviderCurrency(ctx)),
  };
}
