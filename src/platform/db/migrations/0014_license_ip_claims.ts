import { sql } from 'kysely';
import { canonicalIp } from '../../../domain/ip.js';
import { isPostgres, type MigrationDb } from './helpers.js';

/**
 * License IP changes that wait for the upstream (issue 12):
 *
 * - `license_ips.operation_id`: a row with an operation is a *claim* — the address a pending
 *   IP change of a module-served license moves to. It shares the (family, ip) key with the
 *   addresses licenses hold (rows without an operation), so an order, another IP change and
 *   the claim race for one key: the database lets exactly one have it. A service now has at
 *   most one held address (a partial unique index) and may also have claims; a claim goes
 *   when its operation completes (the address becomes held), is refused or is cancelled.
 * - IPv6 addresses already stored in service parameters and holds are rewritten in their
 *   canonical form (domain/ip.ts), so the one-license-per-IP rule compares one spelling. Where
 *   two spellings of one address were both held, the older license keeps the hold.
 */
export async function up(db: MigrationDb): Promise<void> {
  if (isPostgres(db)) {
    await sql`alter table license_ips drop constraint if exists license_ips_service_id_key`.execute(db);
    await db.schema
      .alterTable('license_ips')
      .addColumn('operation_id', 'bigint', (c) => c.references('operations.id'))
      .execute();
  } else {
    // SQLite cannot drop a column's UNIQUE: the table is rebuilt.
    await db.schema
      .createTable('license_ips_new')
      .addColumn('family', 'text', (c) => c.notNull())
      .addColumn('ip', 'text', (c) => c.notNull())
      .addColumn('service_id', 'bigint', (c) => c.notNull().references('services.id'))
      .addColumn('operation_id', 'bigint', (c) => c.references('operations.id'))
      .addPrimaryKeyConstraint('license_ips_pk', ['family', 'ip'])
      .execute();
    await sql`insert into license_ips_new (family, ip, service_id) select family, ip, service_id from license_ips`.execute(
      db,
    );
    await db.schema.dropTable('license_ips').execute();
    await db.schema.alterTable('license_ips_new').renameTo('license_ips').execute();
  }
  await db.schema
    .createIndex('license_ips_held')
    .on('license_ips')
    .column('service_id')
    .unique()
    .where(sql.ref('operation_id'), 'is', null)
    .execute();
  await db.schema
    .createIndex('license_ips_claims')
    .on('license_ips')
    .column('operation_id')
    .unique()
    .where(sql.ref('operation_id'), 'is not', null)
    .execute();
  await canonicalizeStoredIps(db);
}

async function canonicalizeStoredIps(db: MigrationDb): Promise<void> {
  const services = (await db
    .selectFrom('services')
    .select(['id', 'params'])
    .where('params', 'like', '%:%')
    .orderBy('id')
    .execute()) as { id: number | bigint; params: string }[];
  for (const s of services) {
    const params = JSON.parse(s.params) as Record<string, unknown>;
    if (typeof params.ip !== 'string') continue;
    const ip = canonicalIp(params.ip);
    if (ip === null || ip === params.ip) continue;
    await db
      .updateTable('services')
      .set({ params: JSON.stringify({ ...params, ip }) })
      .where('id', '=', s.id)
      .execute();
  }
  const holds = (await db
    .selectFrom('license_ips')
    .select(['family', 'ip', 'service_id'])
    .where('ip', 'like', '%:%')
    .orderBy('service_id')
    .execute()) as { family: string; ip: string; service_id: number | bigint }[];
  for (const h of holds) {
    const ip = canonicalIp(h.ip);
    if (ip === null || ip === h.ip) continue;
    const taken = await db
      .selectFrom('license_ips')
      .select('service_id')
      .where('family', '=', h.family)
      .where('ip', '=', ip)
      .executeTakeFirst();
    // Two spellings of one address both held: the older license keeps it, whichever spelling
    // each had (holds are walked oldest service first, so a newer one is always the loser).
    if (taken && Number(taken.service_id) < Number(h.service_id)) {
      await db.deleteFrom('license_ips').where('family', '=', h.family).where('ip', '=', h.ip).execute();
      continue;
    }
    if (taken)
      await db.deleteFrom('license_ips').where('family', '=', h.family).where('ip', '=', ip).execute();
    await db
      .updateTable('license_ips')
      .set({ ip })
      .where('family', '=', h.family)
      .where('ip', '=', h.ip)
      .execute();
  }
}

export async function down(db: MigrationDb): Promise<void> {
  await db.deleteFrom('license_ips').where('operation_id', 'is not', null).execute();
  await db.schema.dropIndex('license_ips_claims').execute();
  await db.schema.dropIndex('license_ips_held').execute();
  if (isPostgres(db)) {
    await db.schema.alterTable('license_ips').dropColumn('operation_id').execute();
    await sql`alter table license_ips add constraint license_ips_service_id_key unique (service_id)`.execute(
      db,
    );
    return;
  }
  await db.schema
    .createTable('license_ips_old')
    .addColumn('family', 'text', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('service_id', 'bigint', (c) => c.notNull().unique().references('services.id'))
    .addPrimaryKeyConstraint('license_ips_pk', ['family', 'ip'])
    .execute();
  await sql`insert into license_ips_old (family, ip, service_id) select family, ip, service_id from license_ips`.execute(
    db,
  );
  await db.schema.dropTable('license_ips').execute();
  await db.schema.alterTable('license_ips_old').renameTo('license_ips').execute();
}
