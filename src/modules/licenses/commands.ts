import { isIPv4 } from 'node:net';
import { today as todayIn } from '../../platform/calendar.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { type IssuedLicenseRow, inTransaction, type ServiceRow, type Tx } from '../../platform/db/index.js';
import { conflict, invalid } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import type { Actor } from '../accounts/actor.js';
import { recordHistory } from '../services/history.js';
import { bindLicenseIp, licenseFamily, licenseIpHolder } from '../services/license-ips.js';
import { lockService, productTypeOf } from '../services/repository.js';
import { countsAsIpChange, ipChangeAllowed, newLicenseKey, POOL_IP } from './keys.js';

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

export function validLicenseIp(ip: string): boolean {
  return isIPv4(ip);
}

/**
 * Whether an address already holds a live license this one would clash with (licenses/ip.ts
 * says which clash). The pool address never clashes.
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
 * Moves a license to another IPv4 address. At most one counted change per calendar month
 * (setting the same address, and releasing to the pool `0.0.0.0`, do not count).
 */
export async function changeLicenseIp(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  ip: string,
): Promise<void> {
  if (!validLicenseIp(ip))
    throw invalid('invalid_ip', `"${ip}" is not an IPv4 address.`, { param: 'ip', value: ip });
  const today = (await todayIn(ctx)).toString();
  await inTransaction(ctx.db, async (tx) => {
    const service = await lockLicense(tx, actor, serviceId);
    const params = JSON.parse(service.params) as Record<string, string>;
    const from = params.ip ?? null;
    if (from === ip) return;
    const type = await productTypeOf(tx, service);
    const family = licenseFamily(type.code, toId(service.tariff_id));
    const license = await findLicense(tx, serviceId);
    const counted = countsAsIpChange(from, ip);
    if (counted && !ipChangeAllowed(license?.ip_changed_on ?? null, today)) {
      throw conflict('ip_change_limit', 'The IP address of a license can be changed once a calendar month.', {
        lastChange: license?.ip_changed_on ?? null,
      });
    }
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
  });
}

/** A new key for a license: always allowed; the day is kept (`real_keychange`). */
export async function regenerateLicenseKey(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
): Promise<string> {
  const today = (await todayIn(ctx)).toString();
  return inTransaction(ctx.db, async (tx) => {
    await lockLicense(tx, actor, serviceId);
    const license = await findLicense(tx, serviceId);
    if (!license)
      throw conflict('license_not_issued', 'The license has no key yet; it is still being issued.');
    const key = newLicenseKey(serviceId);
    await tx
      .updateTable('issued_licenses')
      .set({ license_key: key, key_changed_on: today, updated_at: isoNow(ctx.clock) })
      .where('service_id', '=', serviceId)
      .execute();
    await recordHistory(tx, ctx, actor, serviceId, 'key_changed', {});
    return key;
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
  });
}

/** What the owner sees of a license: the key (none while it is issued or once deleted) and the change dates. */
export async function licenseView(ctx: AppContext, service: ServiceRow) {
  const license = await findLicense(ctx.db.kysely, toId(service.id));
  if (!license) return null;
  const params = JSON.parse(service.params) as Record<string, string>;
  const today = (await todayIn(ctx)).toString();
  return {
    key: service.status === 'deleted' ? null : license.license_key,
    ip: params.ip ?? null,
    ipChangedOn: license.ip_changed_on,
    keyChangedOn: license.key_changed_on,
    ipChangeAllowed: service.status !== 'deleted' && ipChangeAllowed(license.ip_changed_on, today),
  };
}
