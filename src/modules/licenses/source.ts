import type { AppContext } from '../../platform/context.js';
import type { ServiceRow, Tx } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { LICENSE_PRODUCT_TYPES } from '../services/license-ips.js';
import { productTypeOf } from '../services/repository.js';

type Reader = Tx | AppContext['db']['kysely'];

/**
 * Who serves a license:
 * - `billfold` — Billfold issues it (a `license-issuer` module, `issued_licenses`): key and IP
 *   changes are done here, at once;
 * - `module` — a processing module gets it from an upstream (a reseller's `billmanager`): the
 *   service's parameters hold what the module learnt (`ip`, `key`, `ipChangedOn`,
 *   `keyChangedOn`), and an IP change or a new key is an operation the module carries out.
 * - null — not a license (a VPS, a product type no license family has).
 *
 * Decided by the key Billfold issued, else the module recorded on the service, else — before
 * the first operation chose one — the module its tariff is linked to (the one `open` would
 * choose: link order, enabled first), else, for a tariff with no module at all, whether a
 * license-source module type serves its product type (its key then never comes: the view says
 * `license_not_issued`).
 */
export type LicenseSource = 'billfold' | 'module';

export async function licenseSourceOf(
  ctx: AppContext,
  db: Reader,
  service: ServiceRow,
): Promise<LicenseSource | null> {
  const issued = await db
    .selectFrom('issued_licenses')
    .select('service_id')
    .where('service_id', '=', service.id)
    .executeTakeFirst();
  if (issued) return 'billfold';
  const type = (await productTypeOf(db, service)).code;
  if (!LICENSE_PRODUCT_TYPES.includes(type)) return null;
  const module =
    service.module_id !== null
      ? await db
          .selectFrom('processing_modules')
          .select(['module_type', 'enabled'])
          .where('id', '=', service.module_id)
          .executeTakeFirst()
      : await linkedModule(db, toId(service.tariff_id));
  if (module) {
    const plugin = ctx.plugins.get(module.module_type);
    if (!plugin) return null;
    return plugin.issuesLocally === true ? 'billfold' : 'module';
  }
  return ctx.plugins.list().some((t) => t.issuesLocally === true && t.productTypes.includes(type))
    ? 'billfold'
    : null;
}

async function linkedModule(db: Reader, tariffId: number) {
  const links = await db
    .selectFrom('tariff_modules as l')
    .innerJoin('processing_modules as m', 'm.id', 'l.module_id')
    .select(['m.module_type', 'm.enabled'])
    .where('l.tariff_id', '=', tariffId)
    .orderBy('l.sort_order')
    .orderBy('m.sort_order')
    .orderBy('m.id')
    .execute();
  return links.find((m) => Number(m.enabled) === 1) ?? links[0];
}

/** The plug-in of the module serving a module-served license (services/remote-changes.ts). */
export { servingPlugin } from '../services/remote-changes.js';
