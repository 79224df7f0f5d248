import type { PluginRegistry } from '../modules/provisioning/registry.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { SecretBox } from './crypto.js';
import type { Db } from './db/index.js';
import type { Logger } from './logger.js';

/**
 * What commands, queries and routes need from the platform, passed explicitly (no globals),
 * so a test builds one with a fixed clock and its own database.
 */
export interface AppContext {
  readonly config: Config;
  readonly db: Db;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly secrets: SecretBox;
  /** The processing-module plug-ins installed, checked at start-up. */
  readonly plugins: PluginRegistry;
}
