import { isClosing } from '../../domain/lifecycle.js';
import { TRIAL_PERIOD } from '../../domain/periods.js';
import type { AddonValue } from '../../domain/pricing.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, type ServiceRow, type Tx } from '../../platform/db/index.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, assertAccountVisible } from '../accounts/actor.js';
import { loadTariffAggregates, type TariffAggregate } from '../catalog/aggregate.js';
import { recordHistory } from './history.js';
import { lockService, serviceState } from './repository.js';

/**
 * What the service commands share: reading a service the caller may see, its tariff, its
 * addon values. The commands themselves live one per file: renewal, tariff-change,
 * suspension, deletion; each locks the service first and decides with the pure lifecycle.
 */
export async function getServiceFor(ctx: AppContext, actor: Actor, id: number): Promise<ServiceRow> {
  const s = await ctx.db.kysely.selectFrom('services').selectAll().where('id', '=', id).executeTakeFirst();
  if (!s) throw notFound('service');
  assertAccountVisible(actor, toId(s.account_id), 'service');
  return s;
}

/**
 * A server's root password, for its owner and staff: opened from the sealed copy the module
 * kept (`rootPasswordSealed`); refused with `no_root_password` when the service has none (not
 * a server, not opened yet, or deleted).
 */
export async function rootPasswordOf(ctx: AppContext, actor: Actor, id: number): Promise<string> {
  const service = await getServiceFor(ctx, actor, id);
  const sealed = (JSON.parse(service.params) as Record<string, string>).rootPasswordSealed;
  if (!sealed || service.status === 'deleted')
    throw conflict('no_root_password', 'This service has no root password to show.', { serviceId: id });
  return ctx.secrets.open(sealed);
}

export async function tariffOf(
  db: AppContext['db']['kysely'] | Tx,
  tariffId: bigint | number,
): Promise<TariffAggregate> {
  const [agg] = await loadTariffAggregates(db, { ids: [toId(tariffId)] });
  if (!agg) throw notFound('tariff');
  return agg;
}

export const addonValuesOf = (s: Pick<ServiceRow, 'addon_values'>) =>
  JSON.parse(s.addon_values) as Record<string, AddonValue>;

/** Automatic renewal on (with an offered period) or off. */
export async function setAutoprolong(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  period: number | null,
): Promise<ServiceRow> {
  await getServiceFor(ctx, actor, serviceId);
  return inTransaction(ctx.db, async (tx) => {
    const service = await lockService(tx, serviceId, actor);
    if (isClosing(await serviceState(tx, service)))
      throw conflict('service_deleted', 'The service is deleted or being deleted.', {});
    if (period !== null) {
      if (period === TRIAL_PERIOD || Number(service.period) === TRIAL_PERIOD)
        throw conflict('trial_not_renewable', 'A trial cannot be renewed.', {});
      const agg = await tariffOf(tx, service.tariff_id);
      if (!agg.periods.some((p) => Number(p.period) === period)) {
        throw invalid('period_not_offered', `Period ${period} is not offered by this tariff.`, { period });
      }
    }
    const updated = await tx
      .updateTable('services')
      .set({ autoprolong: period, updated_at: isoNow(ctx.clock) })
      .where('id', '=', serviceId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordHistory(tx, ctx, actor, serviceId, 'autoprolong_changed', {
      details: { from: service.autoprolong === null ? null : Number(service.autoprolong), to: period },
    });
    return updated;
  });
}
