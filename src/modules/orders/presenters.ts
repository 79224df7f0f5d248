import { formatAmount } from '../../domain/money.js';
import type { OrderItemRow, OrderRow } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';

export const presentOrder = (o: OrderRow, items: readonly OrderItemRow[]) => ({
  id: toId(o.id),
  accountId: toId(o.account_id),
  status: o.status,
  currency: o.currency,
  total: formatAmount(o.total_minor, o.currency),
  placedBy: o.placed_by,
  cancelReason: o.cancel_reason,
  createdAt: o.created_at,
  paidAt: o.paid_at,
  items: items.map((i) => ({
    id: toId(i.id),
    tariffId: toId(i.tariff_id),
    period: Number(i.period),
    amount: formatAmount(i.amount_minor, o.currency),
    grantedDays: Number(i.granted_days),
    fullDays: Number(i.full_days),
    serviceId: i.service_id === null ? null : toId(i.service_id),
    params: JSON.parse(i.params) as Record<string, string>,
    addonValues: JSON.parse(i.addon_values) as Record<string, boolean | number>,
    lines: JSON.parse(i.lines) as {
      kind: string;
      addonId: number | null;
      label: string;
      quantity: number;
      unitPrice: string;
      amount: string;
      value: unknown;
    }[],
  })),
});
