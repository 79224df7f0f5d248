import { type Migration, type MigrationProvider, type MigrationResultSet, Migrator, sql } from 'kysely';
import type { Db } from './connect.js';
import * as m0001 from './migrations/0001_foundation.js';
import * as m0002 from './migrations/0002_catalog.js';
import * as m0003 from './migrations/0003_orders_services.js';
import * as m0004 from './migrations/0004_order_fingerprint.js';
import * as m0005 from './migrations/0005_operation_tasks.js';
import * as m0006 from './migrations/0006_processing_modules.js';
import * as m0007 from './migrations/0007_licenses_mgr.js';
import * as m0008 from './migrations/0008_operations_pending.js';
import * as m0009 from './migrations/0009_lifecycle.js';
import * as m0011 from './migrations/0011_login_reservations.js';
import * as m0012 from './migrations/0012_reselling.js';
import * as m0013 from './migrations/0013_reconciliation.js';
import * as m0014 from './migrations/0014_license_ip_claims.js';
import * as m0015 from './migrations/0015_bundled_licenses.js';
import * as m0016 from './migrations/0016_operations_archive.js';
import * as m0017 from './migrations/0017_signup.js';
import * as m0018 from './migrations/0018_notify.js';
import * as m0019 from './migrations/0019_invoices.js';
import * as m0020 from './migrations/0020_operations_by_service_status.js';
import * as m0021 from './migrations/0021_services_due_covering.js';
import * as m0022 from './migrations/0022_credential_housekeeping.js';
import * as m0023 from './migrations/0023_staff_tasks_operation.js';

/**
 * Migrations are listed here in order, statically imported: no directory scanning, so the
 * bundle, tsx and vitest all see the same list. Names sort; never rename a shipped one.
 */
const MIGRATIONS: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_catalog': m0002,
  '0003_orders_services': m0003,
  '0004_order_fingerprint': m0004,
  '0005_operation_tasks': m0005,
  '0006_processing_modules': m0006,
  '0007_licenses_mgr': m0007,
  '0008_operations_pending': m0008,
  '0009_lifecycle': m0009,
  '0011_login_reservations': m0011,
  '0012_reselling': m0012,
  '0013_reconciliation': m0013,
  '0014_license_ip_claims': m0014,
  '0015_bundled_licenses': m0015,
  '0016_operations_archive': m0016,
  '0017_signup': m0017,
  '0018_notify': m0018,
  '0019_invoices': m0019,
  '0020_operations_by_service_status': m0020,
  '0021_services_due_covering': m0021,
  '0022_credential_housekeeping': m0022,
  '0023_staff_tasks_operation': m0023,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly results: MigrationResultSet['results'],
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

/**
 * On PostgreSQL the migration tables live in the connection's current schema, named
 * explicitly: Kysely's existence check otherwise looks for them in every schema of the
 * database and is fooled by another schema's copy (parallel tests, several instances).
 */
async function createMigrator(db: Db): Promise<Migrator> {
  if (db.kind !== 'postgres') return new Migrator({ db: db.kysely, provider });
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db.kysely);
  const schema = rows[0]?.schema;
  return new Migrator({ db: db.kysely, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
}

/**
 * Applies every pending migration, all in one transaction on both engines (a failure leaves the
 * database as it was; connect.ts says why SQLite can). Returns the names applied.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = await createMigrator(db);
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new MigrationError(
      `Migration ${failed?.migrationName ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`,
      results,
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function migrationStatus(db: Db): Promise<{ name: string; executedAt: Date | null }[]> {
  const migrator = await createMigrator(db);
  const all = await migrator.getMigrations();
  return all.map((m) => ({ name: m.name, executedAt: m.executedAt ?? null }));
}
