import type { AppContext } from '../../platform/context.js';
import { AppError } from '../../platform/errors.js';
import { systemActor } from './actor.js';
import { createAdminUser } from './commands.js';
import { generatePassword } from './passwords.js';

/**
 * First start: with no admin user, create one so a newcomer can sign in. Credentials come
 * from BILLFOLD_ADMIN_EMAIL/PASSWORD, or are generated and returned once for printing.
 */
export async function ensureInitialAdmin(
  ctx: AppContext,
): Promise<{ email: string; password: string | null } | null> {
  const any = await ctx.db.kysely
    .selectFrom('users')
    .select('id')
    .where('role', '=', 'admin')
    .limit(1)
    .executeTakeFirst();
  if (any) return null;
  const email = ctx.config.admin.email ?? 'admin@billfold.local';
  const password = ctx.config.admin.password ?? generatePassword();
  try {
    await createAdminUser(ctx, systemActor('bootstrap'), { email, password });
  } catch (err) {
    // Two processes starting together on a new database: the other one created it.
    if (err instanceof AppError && err.code === 'email_taken') return null;
    throw err;
  }
  return { email, password: ctx.config.admin.password ? null : password };
}
