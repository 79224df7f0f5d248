import { POOL_IP } from '../../domain/licenses.js';
import type { AppContext } from '../../platform/context.js';
import type { Tx } from '../../platform/db/index.js';
import { conflict } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';

/**
 * One live license per (IP address, license family), held by the database (`license_ips`,
 * owned by the services module: the row lives and dies with its service),
 * primary key (family, ip)): the row is written in the same transaction that creates the
 * license's service or moves its address, and removed when the service is deleted. Two
 * concurrent orders for one address cannot both commit — on REST and `/billmgr` alike.
 *
 * Families: every ISPsystem license (`soft`) clashes with every other (one control panel per
 * server); other licenses (`softexternal`, `platform`) only with the same tariff (CloudLinux
 * and KernelCare may share an address). The pool address `0.0.0.0` holds nothing.
 *
 * A row with an `operation_id` is a *claim*: the address a pending IP change of a
 * module-served license moves to (the upstream has not answered yet). Claims share the key
 * with held addresses, so an order and an IP change racing for one address cannot both win;
 * a claim becomes the held address when its operation completes and goes when it is refused
 * or cancelled. Addresses are stored in one spelling (`requireIp`).
 */
export { POOL_IP } from '../../domain/licenses.js';

export const LICENSE_PRODUCT_TYPES: readonly string[] = Object.freeze(['soft', 'softexternal', 'platform']);

type Reader = Tx | AppContext['db']['kysely'];

/** The family a license of this product type and tariff belongs to, or null when it is no IP-bound license. */
export function licenseFamily(productTypeCode: string, tariffId: number): string | null {
  if (!LICENSE_PRODUCT_TYPES.includes(productTypeCode)) return null;
  return productTypeCode === 'soft' ? 'soft' : `tariff:${tariffId}`;
}

const holdsNothing = (ip: string | undefined | null): ip is null | undefined => !ip || ip === POOL_IP;

/** The live license holding or claiming `ip` in `family`, other than `exceptServiceId`, or null. */
export async function licenseIpHolder(
  db: Reader,
  family: string,
  ip: string,
  exceptServiceId?: number,
): Promise<number | null> {
  if (holdsNothing(ip)) return null;
  const row = await db
    .selectFrom('license_ips')
    .select('service_id')
    .where('family', '=', family)
    .where('ip', '=', ip)
    .executeTakeFirst();
  if (!row || toId(row.service_id) === exceptServiceId) return null;
  return toId(row.service_id);
}

export const ipTaken = (ip: string) =>
  conflict('ip_taken', 'This IP address already has a license of this kind.', { param: 'ip', ip });

/**
 * Binds `ip` to the license `serviceId` (moving it from the address it held, and taking over
 * its own claim on `ip` if it had one): refused with `ip_taken` when another live license of
 * the family holds or claims it — also when that license's transaction has not committed yet
 * (the insert waits for it, then finds the key taken).
 */
export async function bindLicenseIp(
  tx: Tx,
  serviceId: number,
  family: string,
  ip: string | null,
): Promise<void> {
  await tx
    .deleteFrom('license_ips')
    .where('service_id', '=', serviceId)
    .where((eb) =>
      holdsNothing(ip)
        ? eb('operation_id', 'is', null)
        : eb.or([eb('operation_id', 'is', null), eb('ip', '=', ip)]),
    )
    .execute();
  if (holdsNothing(ip)) return;
  const r = await tx
    .insertInto('license_ips')
    .values({ family, ip, service_id: serviceId })
    .onConflict((oc) => oc.columns(['family', 'ip']).doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0n) !== 1) throw ipTaken(ip);
}

/**
 * Claims `ip` for the pending IP change `operationId` of license `serviceId`, in the
 * transaction that queues the operation: refused with `ip_taken` when another live license of
 * the family holds or claims it (committed or not). The pool address needs no claim.
 */
export async function claimLicenseIp(
  tx: Tx,
  serviceId: number,
  family: string,
  ip: string,
  operationId: number,
): Promise<void> {
  if (holdsNothing(ip)) return;
  const r = await tx
    .insertInto('license_ips')
    .values({ family, ip, service_id: serviceId, operation_id: operationId })
    .onConflict((oc) => oc.columns(['family', 'ip']).doNothing())
    .executeTakeFirst();
  if (Number(r.numInsertedOrUpdatedRows ?? 0n) !== 1) throw ipTaken(ip);
}

/** Drops what an operation claimed (it completed, was refused or was cancelled). */
export async function releaseLicenseIpClaim(tx: Tx, operationId: number): Promise<void> {
  await tx.deleteFrom('license_ips').where('operation_id', '=', operationId).execute();
}
