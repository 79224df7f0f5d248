import type { PluginRegistry } from '../modules/provisioning/registry.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { SecretBox } from './crypto.js';
import type { Db, Tx } from './db/index.js';
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
  /** What modules ask of each other without importing each other (wired in src/app/hooks.ts). */
  readonly hooks: AppHooks;
}

export interface AppHooks {
  /**
   * Money was credited to an account (payment, positive adjustment, refund), in `tx`: pay
   * its awaiting orders, oldest first, in the same transaction.
   */
  afterCredit(tx: Tx, ctx: AppContext, accountId: number): Promise<void>;
}
