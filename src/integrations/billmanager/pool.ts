import { poolUsableFrom } from '../../domain/licenses.js';
import { type Actor, requireStaff } from '../../modules/accounts/actor.js';
import type { ModuleInstance } from '../../modules/provisioning/index.js';
import { openModuleFor, upstreamFailure } from '../../modules/provisioning/upstream.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import type { BundledLicenseRow } from '../../platform/db/index.js';
import { conflict, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { pooled, toPoolUpstream } from './bundled.js';
import type { UpstreamLicense } from './client.js';
import { type BillmanagerConfig, clientOf } from './module.js';

/**
 * Staff manage the licenses that servers' modules took from their license servers
 * (`bundled_licenses`, bundled.ts): the pool of free ones with their expiry and what the
 * upstream charges for them, those bound to servers, and those gone. Staff can delete a free
 * license upstream (it stops costing), or put back in the pool a license still bound to a
 * server that no longer uses it (its deletion failed half-way, say).
 */

export interface PoolFilter {
  readonly limit: number;
  readonly before?: number;
  readonly moduleId?: number;
  readonly state?: BundledLicenseRow['state'];
}

export async function listBundledLicenses(ctx: AppContext, actor: Actor, f: PoolFilter) {
  requireStaff(actor);
  let q = ctx.db.kysely.selectFrom('bundled_licenses').selectAll().orderBy('id', 'desc').limit(f.limit);
  if (f.moduleId !== undefined) q = q.where('license_module_id', '=', f.moduleId);
  if (f.state) q = q.where('state', '=', f.state);
  if (f.before !== undefined) q = q.where('id', '<', f.before);
  const rows = await q.execute();
  // What the upstream charges for each tariff, from the license server's last tariff import.
  const prices = new Map<string, { currency: string; prices: { period: number; amount: string }[] }>();
  const links = await ctx.db.kysely
    .selectFrom('tariff_modules')
    .select(['module_id', 'external_id', 'upstream_prices'])
    .where('external_id', 'is not', null)
    .where('upstream_prices', 'is not', null)
    .where('module_id', 'in', rows.length ? [...new Set(rows.map((r) => r.license_module_id))] : [-1])
    .execute();
  for (const l of links) {
    const p = JSON.parse(l.upstream_prices!) as {
      currency: string;
      prices: { period: number; amount: string }[];
    };
    prices.set(`${toId(l.module_id)}:${l.external_id}`, { currency: p.currency, prices: p.prices });
  }
  const today = isoNow(ctx.clock).slice(0, 10);
  return rows.map((r) =>
    presentBundled(r, prices.get(`${toId(r.license_module_id)}:${r.pricelist}`) ?? null, today),
  );
}

/** The first day a free license may be given to a server again (the pool's month rule). */
function usableFrom(r: BundledLicenseRow): string | null {
  const last = [r.ip_changed_on, r.key_changed_on]
    .filter((d): d is string => d !== null)
    .sort()
    .pop();
  return last ? poolUsableFrom(last) : null;
}

export function presentBundled(
  r: BundledLicenseRow,
  upstreamPrice: { currency: string; prices: { period: number; amount: string }[] } | null,
  today: string,
) {
  return {
    id: toId(r.id),
    licenseModuleId: toId(r.license_module_id),
    externalId: r.external_id,
    pricelist: r.pricelist,
    state: r.state,
    serviceId: r.service_id === null ? null : toId(r.service_id),
    name: r.name,
    ip: r.ip,
    expiresOn: r.expires_on,
    expired: r.expires_on !== null && r.expires_on < today,
    ipChangedOn: r.ip_changed_on,
    keyChangedOn: r.key_changed_on,
    usableFrom: r.state === 'free' ? usableFrom(r) : null,
    upstreamPrice,
  };
}

async function lockedOut(ctx: AppContext, id: number): Promise<BundledLicenseRow> {
  const row = await ctx.db.kysely
    .selectFrom('bundled_licenses')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('bundled_license', { bundledLicenseId: id });
  return row;
}

async function licenseServer(ctx: AppContext, row: BundledLicenseRow) {
  const { row: m, instance } = await openModuleFor(
    ctx,
    toId(row.license_module_id),
    'listItems',
    'license_server_unsupported',
  );
  if (m.module_type !== 'billmanager')
    throw conflict('license_server_unsupported', `Module "${m.name}" is not a BILLmanager module.`, {
      moduleId: toId(m.id),
    });
  return { name: m.name, client: clientOf(instance as ModuleInstance<BillmanagerConfig>) };
}

/**
 * Deletes a free pool license upstream. It is taken out of the pool first (one conditional
 * update: no server can take it meanwhile); when the upstream refuses, it goes back.
 */
export async function deletePoolLicense(ctx: AppContext, actor: Actor, id: number) {
  requireStaff(actor);
  const row = await lockedOut(ctx, id);
  if (row.state !== 'free')
    throw conflict(
      'license_not_free',
      `License ${row.external_id} is ${row.state}: only a free pool license can be deleted.`,
      {
        bundledLicenseId: id,
        state: row.state,
      },
    );
  const taken = await ctx.db.kysely
    .updateTable('bundled_licenses')
    .set({ state: 'gone', updated_at: isoNow(ctx.clock) })
    .where('id', '=', id)
    .where('state', '=', 'free')
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) !== 1)
    throw conflict('license_not_free', `License ${row.external_id} was just taken by a server.`, {
      bundledLicenseId: id,
    });
  const { name, client } = await licenseServer(ctx, row);
  try {
    await client.remove('soft', row.external_id);
  } catch (err) {
    const missing =
      typeof err === 'object' && err !== null && (err as { code?: string }).code === 'upstream_missed';
    if (!missing) {
      await ctx.db.kysely
        .updateTable('bundled_licenses')
        .set({ state: 'free', updated_at: isoNow(ctx.clock) })
        .where('id', '=', id)
        .execute();
      throw upstreamFailure(err, name, `delete license ${row.external_id}`);
    }
  }
  return presentBundled(await lockedOut(ctx, id), null, isoNow(ctx.clock).slice(0, 10));
}

/**
 * Puts back in the pool a license still bound to a server that no longer uses it (deleted, or
 * gone): upstream suspended, `free.lic`, `0.0.0.0`. A live server's license is refused.
 */
export async function releaseBundledLicense(ctx: AppContext, actor: Actor, id: number) {
  requireStaff(actor);
  const row = await lockedOut(ctx, id);
  if (row.state !== 'bound')
    throw conflict(
      'license_not_bound',
      `License ${row.external_id} is ${row.state}, not bound to a server.`,
      {
        bundledLicenseId: id,
        state: row.state,
      },
    );
  if (row.service_id !== null) {
    const s = await ctx.db.kysely
      .selectFrom('services')
      .select('status')
      .where('id', '=', row.service_id)
      .executeTakeFirst();
    if (s && s.status !== 'deleted')
      throw conflict(
        'license_in_use',
        `License ${row.external_id} belongs to service #${toId(row.service_id)}, which is ${s.status}; delete the service or change its panel instead.`,
        { bundledLicenseId: id, serviceId: toId(row.service_id) },
      );
  }
  const { name, client } = await licenseServer(ctx, row);
  // Taken from the deleted server first (bound to none: no server and no pool claim can reach
  // it meanwhile), only if it is still that server's — its own close may have pooled it.
  const taken = await ctx.db.kysely
    .updateTable('bundled_licenses')
    .set({ service_id: null, updated_at: isoNow(ctx.clock) })
    .where('id', '=', id)
    .where('state', '=', 'bound')
    .where('service_id', row.service_id === null ? 'is' : '=', row.service_id)
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) !== 1)
    throw conflict('license_changed', `License ${row.external_id} changed meanwhile; look again.`, {
      bundledLicenseId: id,
    });
  let l: UpstreamLicense;
  try {
    l = await toPoolUpstream(client, row.external_id);
  } catch (err) {
    await ctx.db.kysely
      .updateTable('bundled_licenses')
      .set({ service_id: row.service_id, updated_at: isoNow(ctx.clock) })
      .where('id', '=', id)
      .where('state', '=', 'bound')
      .where('service_id', 'is', null)
      .execute();
    throw upstreamFailure(err, name, `put license ${row.external_id} back in the pool`);
  }
  await pooled(ctx, row, l, { serviceId: null });
  return presentBundled(await lockedOut(ctx, id), null, isoNow(ctx.clock).slice(0, 10));
}
