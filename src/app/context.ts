import { BUILTIN_MODULE_TYPES } from '../integrations/index.js';
import type { AnyModuleType } from '../modules/provisioning/plugin.js';
import { createPluginRegistry } from '../modules/provisioning/registry.js';
import { type Clock, OffsetClock, systemClock } from '../platform/clock.js';
import type { Config } from '../platform/config.js';
import type { AppContext } from '../platform/context.js';
import { createSecretBox, loadMasterKey } from '../platform/crypto.js';
import { type Db, openDb } from '../platform/db/index.js';
import type { Logger } from '../platform/logger.js';
import { appHooks } from './hooks.js';

/** The composition root: config → clock, database, secrets; everything else receives the result. */
export function createContext(
  config: Config,
  logger: Logger,
  overrides: {
    db?: Db;
    clock?: Clock;
    moduleTypes?: readonly AnyModuleType[];
    /** false: use the master key that exists, never generate one (see `loadMasterKey`). */
    createMasterKey?: boolean;
  } = {},
): AppContext {
  let clock = overrides.clock;
  if (!clock) {
    if (config.clock) {
      clock = new OffsetClock(config.clock);
      logger.warn(
        { clock: config.clock },
        'BILLFOLD_CLOCK is set: the clock started at this instant and runs on from it (tests and staging only)',
      );
    } else {
      clock = systemClock;
    }
  }
  // Before anything else: a broken plug-in set refuses to start (duplicate type, missing handler).
  const plugins = createPluginRegistry([...BUILTIN_MODULE_TYPES, ...(overrides.moduleTypes ?? [])]);
  const master = loadMasterKey({
    fromEnv: config.secretKey,
    dataDir: config.dataDir,
    create: overrides.createMasterKey ?? true,
  });
  if (master.source === 'generated')
    logger.warn({ file: master.file }, 'generated a new master key for secrets; back this file up');
  const db = overrides.db ?? openDb(config.database);
  return { config, db, clock, logger, secrets: createSecretBox(master.key), plugins, hooks: appHooks };
}
