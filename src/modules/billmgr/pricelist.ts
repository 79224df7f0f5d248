import { formatAmount, parseAmount } from '../../domain/money.js';
import { TRIAL_PERIOD } from '../../domain/periods.js';
import { today as todayIn } from '../../platform/calendar.js';
import type { AppContext } from '../../platform/context.js';
import { isStaff } from '../accounts/actor.js';
import { getProviderCurrency } from '../accounts/commands.js';
import { loadTariffAggregates } from '../catalog/aggregate.js';
import { presentCatalogTariff } from '../catalog/presenters.js';
import { isOrderable } from '../catalog/queries.js';
import type { MgrCaller } from './auth.js';
import { badValue } from './errors.js';
import { el, type MgrNode, mgrDoc, parseInteger } from './protocol.js';

/** Prices as BILLmanager writes them: four decimals (`7.5000`). */
const cost = (amount: string, currency: string) => {
  const minor = parseAmount(amount, currency);
  const [whole, frac = ''] = formatAmount(minor, currency).split('.');
  return `${whole}.${frac.padEnd(4, '0')}`;
};

function periodNode(period: number, price: string, currency: string, trialDays?: number): MgrNode {
  return period === TRIAL_PERIOD
    ? el('period', null, {
        type: 'day',
        length: String(trialDays ?? 0),
        cost: cost(price, currency),
        trial: 'on',
      })
    : el('period', null, { type: 'month', length: String(period), cost: cost(price, currency) });
}

/**
 * `pricelist.export`: the tariffs a buyer can order, with prices per period, addons and their
 * enumeration values. Public tariffs need no sign-in. Filters: `itemtype` (product type, or
 * `addition` for tariffs that have addons), `pricelist` (one id), `onlyavailable=on` (only what
 * can be ordered today; otherwise archived tariffs are listed too, for staff).
 */
export async function exportPricelist(
  ctx: AppContext,
  caller: MgrCaller | null,
  p: Record<string, string>,
): Promise<MgrNode> {
  const currency = await getProviderCurrency(ctx);
  const staff = caller !== null && isStaff(caller.actor);
  const today = (await todayIn(ctx)).toString();
  const one = p.pricelist !== undefined && p.pricelist !== '' ? parseInteger(p.pricelist) : undefined;
  if (one === null) throw badValue('pricelist', p.pricelist);
  const aggs = await loadTariffAggregates(ctx.db.kysely, {
    statuses: staff && p.onlyavailable !== 'on' ? ['active', 'archived'] : ['active'],
    ...(one !== undefined ? { ids: [one] } : {}),
  });
  const nodes: MgrNode[] = [];
  for (const agg of aggs) {
    if (p.onlyavailable === 'on' || !staff) if (!isOrderable(agg, today)) continue;
    const t = presentCatalogTariff(agg);
    if (p.itemtype && p.itemtype !== 'addition' && t.productType !== p.itemtype) continue;
    if (p.itemtype === 'addition' && t.addons.length === 0) continue;
    if (t.periods.length === 0) continue;
    const addons = t.addons.map((a) =>
      el('addon', [
        el('id', a.id),
        el('name', a.label),
        el('itemtype', a.kind),
        el('valuetype', a.valueType),
        ...(a.unit ? [el('measure', a.unit)] : []),
        ...(a.valueType === 'integer'
          ? [el('addonlimit', a.max ?? ''), el('addonmin', a.min ?? ''), el('included', a.included ?? 0)]
          : []),
        el(
          'price',
          a.prices.map((x) => periodNode(x.period, x.price, currency)),
          { currency },
        ),
        ...(a.valueType === 'enumeration'
          ? [
              el(
                'enumeration',
                a.values.map((v) =>
                  el('enumerationitem', [
                    el('id', v.id),
                    el('name', v.name),
                    el('intname', v.internalName),
                    el(
                      'price',
                      v.prices.map((x) => periodNode(x.period, x.price, currency)),
                      { currency },
                    ),
                  ]),
                ),
              ),
            ]
          : []),
      ]),
    );
    nodes.push(
      el('pricelist', [
        el('id', t.id),
        el('name', t.name),
        el('itemtype', t.productType),
        ...(t.expiresOn ? [el('expiredate', t.expiresOn)] : []),
        el(
          'price',
          t.periods.map((x) =>
            periodNode(x.period, x.price, currency, (x as { trialDays?: number }).trialDays),
          ),
          { currency },
        ),
        ...(t.setupFee ? [el('setup', cost(t.setupFee, currency))] : []),
        ...addons,
      ]),
    );
  }
  return mgrDoc(nodes);
}
