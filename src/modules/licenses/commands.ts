import { countsAsIpChange, ipChangeAllowed, POOL_IP } from '../../domain/licenses.js';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { type IssuedLicenseRow, inTransaction, type ServiceRow, type Tx } from '../../platform/db/index.js';
import { conflict } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { requireIp } from '../../platform/ip.js';
import type { Actor } from '../accounts/actor.js';
import { recordHistory } from '../services/history.js';
import { bindLicenseIp, licenseFamily, licenseIpHolder } from '../services/license-ips.js';
import { enqueueOperation } from '../services/operations.js';
import { lockService, productTypeOf } from '../services/repository.js';
import { newLicenseKey } from './keys.js';
import { ipChangeLimit, remoteIpChangeBlocker, requestRemoteIpChange, requestRemoteKey } from './remote.js';
import { type LicenseSource, licenseSourceOf } from './source.js';
import { buildLicenseView, type LicenseView } from './view.js';

/** Issues the key of a license (service) once; a second call returns the key already issued. */
export async function issueLicense(ctx: AppContext, serviceId: number): Promise<true> {
  const now = isoNow(ctx.clock);
  await ctx.db.kysely
    .insertInto('issued_licenses')
    .values({
      service_id: serviceId,
      license_key: newLicenseKey(serviceId),
      ip_changed_on: null,
      key_changed_on: null,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('service_id').doNothing())
    .execute();
  return true;
}

export async function findLicense(
  db: Tx | AppContext['db']['kysely'],
  serviceId: number,
): Promise<IssuedLicenseRow | undefined> {
  return db.selectFrom('issued_licenses').selectAll().where('service_id', '=', serviceId).executeTakeFirst();
}

/** Locks the license's service (the services repository's lock, first) and checks it is the caller's and live. */
async function lockLicense(tx: Tx, actor: Actor, serviceId: number): Promise<ServiceRow> {
  const service = await lockService(tx, serviceId, actor);
  if (service.status === 'deleted') throw conflict('service_deleted', 'The license is deleted.');
  return service;
}

/**
 * Whether an address already holds (or is claimed by) a live license this one would clash
 * with (services/license-ips.ts says which clash). The pool address never clashes.
 */
export async function licenseIpTaken(
  db: Tx | AppContext['db']['kysely'],
  productType: string,
  tariffId: number,
  ip: string,
  exceptServiceId?: number,
): Promise<boolean> {
  const family = licenseFamily(productType, tariffId);
  return family !== null && (await licenseIpHolder(db, family, ip, exceptServiceId)) !== null;
}

/**
 * What an IP change or new key did: `applied` at once (a license Billfold issues),
 * `queued` as an operation for the module that serves it (its upstream answers later), or
 * `unchanged` (the license already has that address).
 */
export type LicenseChangeOutcome =
  | { readonly outcome: 'applied' | 'unchanged' }
  | { readonly outcome: 'queued'; readonly operationId: number };

/** The license's service, locked first, with who serves it; refused when it is no license. */
async function lockLicenseWithSource(ctx: AppContext, tx: Tx, actor: Actor, serviceId: number) {
  const service = await lockService(tx, serviceId, actor);
  const source = await licenseSourceOf(ctx, tx, service);
  if (source === null)
    throw conflict('not_a_license', `Service ${serviceId} is not a license.`, {
      serviceId,
      productType: (await productTypeOf(tx, service)).code,
    });
  return { service, source };
}

/**
 * Moves a license to another address (IPv4 or IPv6, stored in its canonical form). At most
 * one counted change per calendar month (setting the same address, and releasing to the pool
 * `0.0.0.0`, do not count). A license Billfold issues moves at once; a module-served one
 * queues the change for its upstream (licenses/remote.ts).
 */
export async function changeLicenseIp(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  rawIp: string,
): Promise<LicenseChangeOutcome> {
  const ip = requireIp(rawIp);
  const today = (await todayIn(ctx)).toString();
  return inTransaction(ctx.db, async (tx): Promise<LicenseChangeOutcome> => {
    const { service, source } = await lockLicenseWithSource(ctx, tx, actor, serviceId);
    if (service.status === 'deleted') throw conflict('service_deleted', 'The license is deleted.');
    if (source === 'module') {
      const r = await requestRemoteIpChange(tx, ctx, actor, service, ip, today);
      return r.outcome === 'queued' ? { outcome: 'queued', operationId: toId(r.operation.id) } : r;
    }
    // A license whose key is not issued yet may still move (the routes refuse it earlier).
    const license = await findLicense(tx, serviceId);
    const lastChange = license?.ip_changed_on ?? null;
    const params = JSON.parse(service.params) as Record<string, string>;
    const from = params.ip ?? null;
    if (from === ip) return { outcome: 'unchanged' };
    const type = await productTypeOf(tx, service);
    const family = licenseFamily(type.code, toId(service.tariff_id));
    const counted = countsAsIpChange(from, ip);
    if (counted && !ipChangeAllowed(lastChange, today)) throw ipChangeLimit(lastChange, today);
    // The address is taken in this transaction, or refused if another license holds it.
    if (family) await bindLicenseIp(tx, serviceId, family, ip);
    const now = isoNow(ctx.clock);
    await tx
      .updateTable('services')
      .set({ params: JSON.stringify({ ...params, ip }), updated_at: now })
      .where('id', '=', serviceId)
      .execute();
    if (license && counted) {
      await tx
        .updateTable('issued_licenses')
        .set({ ip_changed_on: today, updated_at: now })
        .where('service_id', '=', serviceId)
        .execute();
    }
    await recordHistory(tx, ctx, actor, serviceId, 'ip_changed', {
      details: { from, to: ip, counted, ...(ip === POOL_IP ? { pool: true } : {}) },
    });
    return { outcome: 'applied' };
  });
}

/**
 * A new key for a license: always allowed; the day is kept (`real_keychange`). A license
 * Billfold issues gets it at once; a module-served one asks its upstream (an operation).
 */
export async function regenerateLicenseKey(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
): Promise<LicenseChangeOutcome> {
  const today = (await todayIn(ctx)).toString();
  return inTransaction(ctx.db, async (tx): Promise<LicenseChangeOutcome> => {
    const { service, source } = await lockLicenseWithSource(ctx, tx, actor, serviceId);
    if (service.status === 'deleted') throw conflict('service_deleted', 'The license is deleted.');
    if (source === 'module') {
      const r = await requestRemoteKey(tx, ctx, actor, service);
      return { outcome: 'queued', operationId: toId(r.operation.id) };
    }
    const license = await findLicense(tx, serviceId);
    if (!license)
      throw conflict('license_not_issued', 'The license has no key yet; it is still being issued.');
    await tx
      .updateTable('issued_licenses')
      .set({ license_key: newLicenseKey(serviceId), key_changed_on: today, updated_at: isoNow(ctx.clock) })
      .where('service_id', '=', serviceId)
      .execute();
    await recordHistory(tx, ctx, actor, serviceId, 'key_changed', {});
    return { outcome: 'applied' };
  });
}

/** Renames a license (`licname`) and/or sets the buyer's own id for it (`remoteid`). */
export async function updateLicenseLabels(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  /** `nameOnly`: platform licenses are named by a comment, not by a `licname` parameter. */
  input: { licname?: string; remoteId?: string; nameOnly?: boolean },
): Promise<void> {
  await inTransaction(ctx.db, async (tx) => {
    const service = await lockLicense(tx, actor, serviceId);
    const params = JSON.parse(service.params) as Record<string, string>;
    const set: Partial<Pick<ServiceRow, 'params' | 'name' | 'remote_id'>> = {};
    if (input.licname !== undefined && input.licname !== (input.nameOnly ? service.name : params.licname)) {
      if (!input.nameOnly) set.params = JSON.stringify({ ...params, licname: input.licname });
      set.name = input.licname;
    }
    if (input.remoteId !== undefined && input.remoteId !== (service.remote_id ?? '')) {
      set.remote_id = input.remoteId === '' ? null : input.remoteId;
    }
    if (Object.keys(set).length === 0) return;
    await tx
      .updateTable('services')
      .set({ ...set, updated_at: isoNow(ctx.clock) })
      .where('id', '=', serviceId)
      .execute();
    await recordHistory(tx, ctx, actor, serviceId, 'labels_changed', {
      details: {
        ...(set.name ? { licname: set.name } : {}),
        ...('remote_id' in set ? { remoteId: set.remote_id } : {}),
      },
    });
    // A license an upstream serves is renamed there too (its module's setParam, `soft.edit`).
    if (set.name !== undefined && (await licenseSourceOf(ctx, tx, service)) === 'module') {
      const now = isoNow(ctx.clock);
      await enqueueOperation(
        tx,
        ctx,
        serviceId,
        'set_param',
        { param: 'name', value: set.name },
        `set-param:${serviceId}:name:${now}`,
      );
    }
  });
}

/**
 * What the owner sees of a license, whoever serves it (licenses/view.ts); null for a license
 * Billfold issues whose key is not issued (a tariff no license-issuer module serves).
 */
export async function licenseView(
  ctx: AppContext,
  service: ServiceRow,
  source: LicenseSource,
): Promise<LicenseView | null> {
  const db = ctx.db.kysely;
  const issued = source === 'billfold' ? ((await findLicense(db, toId(service.id))) ?? null) : null;
  if (source === 'billfold' && !issued) return null;
  const today = (await todayIn(ctx)).toString();
  const canChangeIp =
    source === 'billfold'
      ? service.status !== 'deleted'
      : (await remoteIpChangeBlocker(ctx, db, service)) === null;
  return buildLicenseView(db, service, source, issued, { today, canChangeIp });
}
