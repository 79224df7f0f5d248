import { z } from 'zod';
import { PeriodNumber } from '../catalog/schemas.js';

export const AddonValues = z
  .record(z.string().regex(/^\d+$/), z.union([z.boolean(), z.number().int()]))
  .meta({
    description: 'Addon id → value: true/false, an amount, or an enumeration value id',
    example: { '12': 4, '13': 31 },
  });
export const ServiceParams = z
  .record(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/), z.string().max(255))
  .meta({ example: { ip: '203.0.113.10', licname: 'vps-1042' } });
export const Autoprolong = PeriodNumber.nullable().meta({
  description: 'Renew automatically for this period; null = off',
});

export const QuoteInput = z.strictObject({
  tariffId: z.number().int().positive(),
  period: PeriodNumber,
  addonValues: AddonValues.optional(),
  params: ServiceParams.optional(),
});
export type QuoteInput = z.infer<typeof QuoteInput>;

export const OrderItemInput = QuoteInput.extend({ autoprolong: Autoprolong.optional() }).strict();
export type OrderItemInput = z.infer<typeof OrderItemInput>;

export const PlaceOrderInput = z.strictObject({
  accountId: z
    .number()
    .int()
    .positive()
    .optional()
    .meta({ description: 'Staff only: the client account to order for' }),
  items: z.array(OrderItemInput).min(1).max(20),
  payNow: z.boolean().optional().meta({
    description: 'Charge the balance now, or refuse with insufficient_balance (BILLmanager skipbasket=on)',
  }),
  idempotencyKey: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .meta({ description: 'The same key again returns the same order' }),
});
export type PlaceOrderInput = z.infer<typeof PlaceOrderInput>;

const Line = z.object({
  kind: z.enum(['tariff', 'setup', 'addon']),
  addonId: z.number().nullable(),
  label: z.string(),
  quantity: z.number(),
  value: z.union([z.boolean(), z.number()]).nullable(),
  unitPrice: z.string(),
  fullAmount: z.string(),
  amount: z.string(),
});

export const QuoteView = z.object({
  tariffId: z.number(),
  period: z.number(),
  currency: z.string(),
  start: z.string(),
  end: z.string(),
  naturalEnd: z.string(),
  grantedDays: z.number(),
  fullDays: z.number(),
  cut: z.boolean().meta({
    description: 'True when the tariff ends before the natural end: the period and prices are cut by days',
  }),
  lines: z.array(Line),
  total: z.string(),
});

export const OrderView = z.object({
  id: z.number(),
  accountId: z.number(),
  status: z.enum(['awaiting_payment', 'paid', 'cancelled']),
  currency: z.string(),
  total: z.string(),
  placedBy: z.string(),
  cancelReason: z.string().nullable(),
  createdAt: z.string(),
  paidAt: z.string().nullable(),
  items: z.array(
    z.object({
      id: z.number(),
      tariffId: z.number(),
      period: z.number(),
      amount: z.string(),
      grantedDays: z.number(),
      fullDays: z.number(),
      serviceId: z.number().nullable(),
      params: z.record(z.string(), z.string()),
      addonValues: z.record(z.string(), z.union([z.boolean(), z.number()])),
      lines: z.array(
        z.object({
          kind: z.string(),
          addonId: z.number().nullable(),
          label: z.string(),
          quantity: z.number(),
          unitPrice: z.string(),
          amount: z.string(),
          value: z.unknown(),
        }),
      ),
    }),
  ),
});
