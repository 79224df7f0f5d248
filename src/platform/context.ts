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
}
