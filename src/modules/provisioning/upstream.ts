import type { AppContext } from '../../platform/context.js';
import type { ProcessingModuleRow } from '../../platform/db/index.js';
import { AppError, conflict } from '../../platform/errors.js';
import { OperationError } from '../services/engine.js';
import { getModule } from './commands.js';
import { loadModuleInstance, pluginOf } from './instances.js';
import type { Feature, ModuleInstance, ModuleType } from './plugin.js';

/**
 * Calls that staff make to a module's upstream outside any operation (import, sync,
 * reconciliation): the module opened for its plug-in, and the plug-in's failures turned into
 * application errors with a stable code.
 */

const codeOf = (err: unknown): string | null => {
  if (err instanceof OperationError) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return null;
};

/**
 * A plug-in's failure as an AppError: an `upstream_*` code is kept, any other code becomes
 * `upstream_error` with the plug-in's code in the details. Retryable failures (timeouts, 5xx)
 * are 503 — try again later; permanent ones (refused credentials, a bad answer) 409.
 * Anything without a code (a bug) goes on as it is.
 */
export function upstreamFailure(err: unknown, moduleName: string, what: string): unknown {
  if (err instanceof AppError) return err;
  const code = codeOf(err);
  if (code === null) return err;
  const message = err instanceof Error ? err.message : String(err);
  const retryable = err instanceof OperationError ? err.retryable : false;
  return new AppError(
    retryable ? 'unavailable' : 'conflict',
    code.startsWith('upstream_') ? code : 'upstream_error',
    `Module "${moduleName}" could not ${what}: ${message}`,
    { module: moduleName, upstreamCode: code, retryable },
  );
}

export interface OpenedModule {
  readonly row: ProcessingModuleRow;
  readonly plugin: ModuleType;
  readonly instance: ModuleInstance;
}

/**
 * A module opened for a staff call of `feature`: 404 when there is no such module, 409 with
 * `unsupported` when its plug-in lacks the feature (or is not installed), and the module's own
 * configuration problems as 409s with their codes.
 */
export async function openModuleFor(
  ctx: AppContext,
  moduleId: number,
  feature: Feature,
  unsupported: string,
): Promise<OpenedModule> {
  const row = await getModule(ctx, moduleId);
  const plugin = ctx.plugins.get(row.module_type);
  if (!plugin?.[feature as keyof ModuleType]) {
    throw conflict(
      unsupported,
      `Module "${row.name}" (${row.module_type}) cannot do this: its plug-in has no ${feature}.`,
      {
        moduleId,
        type: row.module_type,
      },
    );
  }
  try {
    return { row, plugin: pluginOf(ctx, row), instance: await loadModuleInstance(ctx, row) };
  } catch (err) {
    if (err instanceof OperationError) throw conflict(err.code, err.message, { moduleId });
    throw err;
  }
}
