import { sql } from 'kysely';
import type { MigrationDb } from './helpers.js';

/**
 * Whether people may create their own client account (`POST /api/v1/auth/signup`): `open` or
 * `closed`, staff change it with `PATCH /api/v1/provider` (`signupEnabled`).
 *
 * A new installation starts open, as BILLmanager and WHMCS do; an installation that already has
 * client accounts was run without self sign-up, so it stays closed until staff open it
 * (decision D-signup).
 */
export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .alterTable('provider')
    .addColumn('signup', 'text', (c) =>
      c.notNull().defaultTo('closed').check(sql`signup in ('open', 'closed')`),
    )
    .execute();
  const anyAccount = await db.selectFrom('accounts').select('id').limit(1).executeTakeFirst();
  if (!anyAccount) await db.updateTable('provider').set({ signup: 'open' }).where('id', '=', 1).execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.alterTable('provider').dropColumn('signup').execute();
}
