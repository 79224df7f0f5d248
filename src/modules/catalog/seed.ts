import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';

/** The enumeration bundled server tariffs link their "Control panel" addon to (PRODUCT.md). */
export const CONTROL_PANEL_ENUMERATION = 'Server Control Panel';
/** Display name → internal name = the upstream license tariff id. */
export const CONTROL_PANEL_VALUES: readonly { name: string; internalName: string }[] = [
  { name: 'ISPmanager Lite', internalName: '3541' },
  { name: 'ISPmanager Business', internalName: '4601' },
  { name: 'ISPmanager 6 Lite', internalName: '55227' },
  { name: 'ISPmanager 6 Pro', internalName: '55228' },
  { name: 'ISPmanager 6 Host', internalName: '55229' },
  { name: 'ISPmanager 6 Business', internalName: '55230' },
];

/**
 * Creates the "Server Control Panel" enumeration with its six values, or completes it:
 * values are matched by internal name, so running it again adds nothing and renames nothing
 * that staff have edited.
 */
export async function seedControlPanels(
  ctx: AppContext,
): Promise<{ enumerationId: number; created: string[] }> {
  return inTransaction(ctx.db, async (tx) => {
    const now = isoNow(ctx.clock);
    let e = await tx
      .selectFrom('enumerations')
      .selectAll()
      .where('name', '=', CONTROL_PANEL_ENUMERATION)
      .executeTakeFirst();
    if (!e) {
      // Another run may be creating it right now (PostgreSQL): its row wins, then is read back.
      await tx
        .insertInto('enumerations')
        .values({
          name: CONTROL_PANEL_ENUMERATION,
          description: 'Internal names are upstream ISPsystem license tariff ids.',
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      e = await tx
        .selectFrom('enumerations')
        .selectAll()
        .where('name', '=', CONTROL_PANEL_ENUMERATION)
        .executeTakeFirstOrThrow();
    }
    const existing = new Set(
      (
        await tx
          .selectFrom('enumeration_values')
          .select('internal_name')
          .where('enumeration_id', '=', e.id)
          .execute()
      ).map((v) => v.internal_name),
    );
    const created: string[] = [];
    for (const [i, v] of CONTROL_PANEL_VALUES.entries()) {
      if (existing.has(v.internalName)) continue;
      const inserted = await tx
        .insertInto('enumeration_values')
        .values({
          enumeration_id: e.id,
          name: v.name,
          internal_name: v.internalName,
          sort_order: i * 10,
          status: 'active',
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.columns(['enumeration_id', 'internal_name']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted) created.push(v.internalName);
    }
    return { enumerationId: toId(e.id), created };
  });
}
