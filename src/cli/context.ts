import fs from 'node:fs';
import { createContext } from '../app/context.js';
import { type Config, ConfigError, loadConfig } from '../platform/config.js';
import type { AppContext } from '../platform/context.js';
import { MasterKeyNotFoundError } from '../platform/crypto.js';
import { migrationStatus, openDb } from '../platform/db/index.js';
import { AppError, fromDomainError } from '../platform/errors.js';
import { createLogger } from '../platform/logger.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** A stable code, printed as `error: <code>: <message>` like an application error's. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * Loads config, opens the database, runs `fn`, closes everything; maps failures to exit codes.
 *
 * Only `migrate` (`setup: true`) may create what an installation is made of. Every other
 * command works on one that exists: the SQLite file must be there (run from another directory,
 * a command would otherwise make a fresh `./data` with a new master key and then ask for
 * migrations), the migrations applied, and the master key present — a new key could not open
 * the secrets already sealed with the old one.
 */
export async function withContext<T>(
  opts: { logLevel?: string; setup?: boolean },
  fn: (ctx: AppContext, config: Config) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  // Logs go to stderr: stdout is the command's output (see createLogger).
  const logger = createLogger({
    level: opts.logLevel ?? (config.logLevel === 'info' ? 'warn' : config.logLevel),
    pretty: config.logPretty,
    stream: 2,
  });
  const setup = opts.setup === true;
  if (!setup && config.database.kind === 'sqlite' && !fs.existsSync(config.database.file)) {
    throw new CliError(
      `No Billfold database at ${config.database.file}: set BILLFOLD_DATA_DIR to the data directory of your installation (or DATABASE_URL), or create one with \`billfold migrate\`.`,
      1,
      'database_not_found',
    );
  }
  const db = openDb(config.database);
  try {
    if (!setup) {
      const pending = (await migrationStatus(db)).filter((m) => m.executedAt === null);
      if (pending.length > 0) {
        throw new CliError(
          `The database needs ${pending.length} migration(s): run \`billfold migrate\` first.`,
          1,
          'database_not_migrated',
        );
      }
    }
    let ctx: AppContext;
    try {
      ctx = createContext(config, logger, { db, createMasterKey: setup });
    } catch (err) {
      if (err instanceof MasterKeyNotFoundError) {
        throw new CliError(
          `No master key at ${err.file}: the secrets in the database were sealed with it. Restore it, set BILLFOLD_SECRET_KEY, or point BILLFOLD_DATA_DIR at the data directory that holds it.`,
          1,
          'secret_key_not_found',
        );
      }
      throw err;
    }
    return await fn(ctx, config);
  } finally {
    await db.close();
  }
}

export function reportError(thrown: unknown): number {
  const err = fromDomainError(thrown);
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof AppError) {
    const details =
      err.details && Object.keys(err.details).length > 0 ? ` ${JSON.stringify(err.details)}` : '';
    process.stderr.write(`error: ${err.code}: ${err.message}${details}\n`);
    return 1;
  }
  process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
