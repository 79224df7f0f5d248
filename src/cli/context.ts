import { createContext } from '../app/context.js';
import { type Config, ConfigError, loadConfig } from '../platform/config.js';
import type { AppContext } from '../platform/context.js';
import { migrationStatus } from '../platform/db/index.js';
import { AppError, fromDomainError } from '../platform/errors.js';
import { createLogger } from '../platform/logger.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Loads config, opens the database, runs `fn`, closes everything; maps failures to exit codes. */
export async function withContext<T>(
  opts: { logLevel?: string; requireMigrated?: boolean },
  fn: (ctx: AppContext, config: Config) => Promise<T>,
): Promise<T> {
  const config = loadConfig();
  // Logs go to stderr: stdout is the command's output (see createLogger).
  const logger = createLogger({
    level: opts.logLevel ?? (config.logLevel === 'info' ? 'warn' : config.logLevel),
    pretty: config.logPretty,
    stream: 2,
  });
  const ctx = createContext(config, logger);
  try {
    if (opts.requireMigrated !== false) {
      const pending = (await migrationStatus(ctx.db)).filter((m) => m.executedAt === null);
      if (pending.length > 0) {
        throw new CliError(
          `The database needs ${pending.length} migration(s): run \`billfold migrate\` first.`,
        );
      }
    }
    return await fn(ctx, config);
  } finally {
    await ctx.db.close();
  }
}

export function reportError(thrown: unknown): number {
  const err = fromDomainError(thrown);
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.message}\n`);
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
