import { createContext } from '../app/context.js';
import { buildHttpApp } from '../app/http.js';
import { ensureInitialAdmin, systemActor } from '../modules/accounts/index.js';
import { startBackgroundJobs } from '../modules/billing/index.js';
import { seedIspsystem } from '../modules/catalog/seed-ispsystem.js';
import { loadConfig } from '../platform/config.js';
import type { AppContext } from '../platform/context.js';
import { migrateToLatest } from '../platform/db/index.js';
import { createLogger } from '../platform/logger.js';
import { CliError } from './context.js';
import { assertDemoPossible, type Demo, startDemo } from './demo.js';

/**
 * `billfold serve`: migrate, make sure an admin exists, serve HTTP and (unless --no-worker)
 * run the background jobs — the daily billing run and the operation executor — until
 * SIGINT/SIGTERM.
 */
export async function serve(opts: {
  port?: number;
  host?: string;
  worker?: boolean;
  demo?: boolean;
  starterCatalog?: boolean;
}): Promise<void> {
  // The demo's VMs and licenses come from the worker: without it nothing would happen.
  if (opts.demo && opts.worker === false)
    throw new CliError('serve --demo runs the operation worker: leave out --no-worker.', 2);
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, pretty: config.logPretty });
  const ctx = createContext(config, logger);
  const port = opts.port ?? config.port;
  const host = opts.host ?? config.host;
  let app: Awaited<ReturnType<typeof buildHttpApp>> | undefined;
  let admin: Awaited<ReturnType<typeof ensureInitialAdmin>>;
  let demo: Demo | undefined;
  let starter = 0;
  try {
    const applied = await migrateToLatest(ctx.db);
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
    if (opts.demo) await assertDemoPossible(ctx, config);
    admin = await ensureInitialAdmin(ctx);
    // `npm start`: a database with no tariff yet gets the ISPsystem license catalog, so a
    // newcomer's first client has something to order (licenses issued by Billfold itself).
    if (opts.starterCatalog && !opts.demo) starter = await seedStarterCatalog(ctx);
    app = await buildHttpApp(ctx);
    await app.listen({ port, host });
    // The demo seeds only once the port is ours: a busy port must not leave a seeded database
    // that a second try (on another port) refuses as not empty.
    if (opts.demo) demo = await startDemo(ctx, config, logger);
  } catch (err) {
    // A failed start (port taken, database down) must not leave the pool open: the process
    // would linger instead of exiting with the error.
    await app?.close().catch(() => {});
    await demo?.stop();
    await ctx.db.close().catch(() => {});
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new CliError(
        `${host}:${port} is already in use: stop the other server or choose a port with --port or BILLFOLD_PORT.`,
      );
    }
    throw err;
  }
  const server = app;
  // The port actually bound: with `--port 0` the system picks one, and the banner must name it.
  const address = server.server.address();
  const boundPort = address !== null && typeof address === 'object' ? address.port : port;
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${boundPort}`;
  const where = config.database.kind === 'sqlite' ? config.database.file : 'PostgreSQL (DATABASE_URL)';
  const jobs = opts.worker === false ? null : startBackgroundJobs(ctx);
  let stopping = false;
  /**
   * Stop accepting and finish the requests in flight, let the workers finish the operations
   * they hold, close the database. Ctrl-C under `npm start` delivers SIGINT twice (the terminal
   * signals the whole group and npm forwards its copy): a second signal must not kill the
   * process half-way, so it is ignored, and a shutdown that hangs is cut short instead.
   */
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ afterMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    try {
      await server.close();
      await jobs?.stop();
      await demo?.stop();
      await ctx.db.close();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  // The handlers go in before the banner: a supervisor (or a test) that reads "running" and
  // signals at once must get a clean shutdown, not the default action of an unhandled signal.
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.stdout.write(`\nBillfold is running at ${url}  (API docs: ${url}/api/docs; database: ${where})\n`);
  if (admin) {
    process.stdout.write(
      admin.password
        ? `\nFirst start: created the admin user\n  email:    ${admin.email}\n  password: ${admin.password}\nIt is shown only this once.\n\n`
        : `\nFirst start: created the admin user ${admin.email} with BILLFOLD_ADMIN_PASSWORD.\n\n`,
    );
  }
  if (starter > 0)
    process.stdout.write(
      `Empty catalog: created ${starter} ISPsystem license tariffs (billfold catalog seed-ispsystem); clients can order them now.\n\n`,
    );
  if (demo) process.stdout.write(demo.banner(url));
}

/** The ISPsystem license tariffs on a database that has no tariff; how many were created. */
async function seedStarterCatalog(ctx: AppContext): Promise<number> {
  const any = await ctx.db.kysely.selectFrom('tariffs').select('id').limit(1).executeTakeFirst();
  if (any) return 0;
  const summary = await seedIspsystem(ctx, systemActor('starter-catalog'));
  return summary.tariffs.created.length;
}

/** Longer than any request or operation step should take; a stuck one must not keep the process. */
const SHUTDOWN_TIMEOUT_MS = 30_000;
