import { z } from 'zod';
import { AmountText, Name } from '../accounts/schemas.js';

/**
 * Catalog shapes: the same zod schemas validate HTTP bodies, document the API and check CLI
 * input. Prices are decimal strings in the tariff's currency, keyed by period
 * (`{"1": "10.00", "12": "100.00"}`; `-100` is the trial).
 */
export const PERIOD_VALUES = [-100, 1, 3, 6, 12, 24, 36] as const;

export const PeriodKey = z.string().regex(/^(-100|1|3|6|12|24|36)$/, {
  error: 'must be a period in months (1, 3, 6, 12, 24, 36) or -100 for the trial',
});
export const PeriodNumber = z
  .number()
  .int()
  .refine((p) => (PERIOD_VALUES as readonly number[]).includes(p), {
    error: 'must be 1, 3, 6, 12, 24, 36 (months) or -100 (trial)',
  });
export const PriceMap = z.record(PeriodKey, AmountText).meta({ example: { '1': '10.00', '12': '100.00' } });
export const DateText = z.string().meta({ example: '2021-12-31', description: 'Calendar date YYYY-MM-DD' });

export const ProductTypeCode = z
  .string()
  .regex(/^[a-z][a-z0-9_]{1,31}$/, { error: 'must be lower-case letters, digits and "_", 2-32 characters' });
export const ServiceParam = z.string().regex(/^[a-z][a-z0-9_]{0,39}$/);

export const CreateProductTypeInput = z.strictObject({
  code: ProductTypeCode,
  name: Name,
  deletionDelayDays: z.number().int().min(0).max(3650).optional(),
  clientCanDelete: z.boolean().optional(),
  refundUnusedDays: z.boolean().optional(),
  serviceParams: z.array(ServiceParam).max(20).optional(),
});
export type CreateProductTypeInput = z.infer<typeof CreateProductTypeInput>;
export const UpdateProductTypeInput = CreateProductTypeInput.omit({ code: true }).partial().strict();
export type UpdateProductTypeInput = z.infer<typeof UpdateProductTypeInput>;

export const InternalName = z.string().trim().min(1).max(100);
export const EnumerationValueInput = z.strictObject({
  name: Name,
  internalName: InternalName,
  sortOrder: z.number().int().min(0).max(1_000_000).optional(),
  status: z.enum(['active', 'disabled']).optional(),
});
export type EnumerationValueInput = z.infer<typeof EnumerationValueInput>;
export const UpdateEnumerationValueInput = EnumerationValueInput.partial().strict();
export type UpdateEnumerationValueInput = z.infer<typeof UpdateEnumerationValueInput>;

export const CreateEnumerationInput = z.strictObject({
  name: Name,
  description: z.string().max(2000).optional(),
  values: z.array(EnumerationValueInput).max(500).optional(),
});
export type CreateEnumerationInput = z.infer<typeof CreateEnumerationInput>;
export const UpdateEnumerationInput = z.strictObject({
  name: Name.optional(),
  description: z.string().max(2000).optional(),
});
export type UpdateEnumerationInput = z.infer<typeof UpdateEnumerationInput>;

export const TariffStatus = z.enum(['active', 'hidden', 'archived']);

export const CreateTariffInput = z.strictObject({
  id: z
    .number()
    .int()
    .positive()
    .max(2 ** 52)
    .optional()
    .meta({ description: 'Choose the numeric id (e.g. 55227); generated when absent' }),
  name: Name,
  description: z.string().max(5000).optional(),
  productType: ProductTypeCode,
  status: TariffStatus.optional(),
  periods: z.array(PeriodNumber).min(1).max(7),
  prices: PriceMap.optional(),
  trialDays: z.number().int().min(1).max(366).optional(),
  setupFee: AmountText.nullable().optional(),
  expiresOn: DateText.nullable().optional(),
});
export type CreateTariffInput = z.infer<typeof CreateTariffInput>;
export const UpdateTariffInput = CreateTariffInput.omit({ id: true, productType: true }).partial().strict();
export type UpdateTariffInput = z.infer<typeof UpdateTariffInput>;

const addonCommon = {
  kind: z.enum(['control_panel', 'cpu', 'ram', 'disk', 'ipv4', 'generic']),
  label: Name,
  required: z.boolean().optional(),
  sortOrder: z.number().int().min(0).max(1_000_000).optional(),
};
export const AddonInput = z.discriminatedUnion('valueType', [
  z.strictObject({
    ...addonCommon,
    valueType: z.literal('boolean'),
    defaultValue: z.boolean().nullable().optional(),
    prices: PriceMap.optional().meta({ description: 'Price per period when the addon is on' }),
  }),
  z.strictObject({
    ...addonCommon,
    valueType: z.literal('integer'),
    defaultValue: z.number().int().nullable().optional(),
    unit: z.string().trim().min(1).max(20),
    included: z.number().int().min(0).optional(),
    min: z.number().int().min(0),
    max: z.number().int().min(0),
    step: z.number().int(),
    prices: PriceMap.optional().meta({
      description: 'Price per period of each unit above the included amount',
    }),
  }),
  z.strictObject({
    ...addonCommon,
    valueType: z.literal('enumeration'),
    enumerationId: z.number().int().positive(),
    defaultValue: z
      .number()
      .int()
      .positive()
      .nullable()
      .optional()
      .meta({ description: 'An enumeration value id' }),
    values: z
      .array(
        z.strictObject({
          valueId: z.number().int().positive(),
          offered: z.boolean().optional(),
          prices: PriceMap.optional(),
        }),
      )
      .max(500),
  }),
]);
export type AddonInput = z.infer<typeof AddonInput>;
/**
 * An addon as created by a command: optionally with a chosen id (e.g. 55236, the upstream
 * `addon_55236`), as a tariff's id may be chosen.
 */
export type CreateAddonInput = AddonInput & { id?: number };

// ---- responses ----
const PeriodPrice = z.object({
  period: z.number(),
  price: z
    .string()
    .nullable()
    .meta({ description: 'Null when neither this period nor the month has a price' }),
  explicit: z.boolean(),
});

export const ProductTypeView = z.object({
  id: z.number(),
  code: z.string(),
  name: z.string(),
  deletionDelayDays: z.number(),
  clientCanDelete: z.boolean(),
  refundUnusedDays: z.boolean(),
  serviceParams: z.array(z.string()),
});

export const EnumerationValueView = z.object({
  id: z.number(),
  enumerationId: z.number(),
  name: z.string(),
  internalName: z.string(),
  sortOrder: z.number(),
  status: z.enum(['active', 'disabled']),
});
export const EnumerationView = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string(),
  values: z.array(EnumerationValueView),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const AddonView = z.object({
  id: z.number(),
  tariffId: z.number(),
  kind: z.string(),
  label: z.string(),
  valueType: z.enum(['boolean', 'integer', 'enumeration']),
  required: z.boolean(),
  defaultValue: z.union([z.boolean(), z.number()]).nullable(),
  sortOrder: z.number(),
  unit: z.string().nullable(),
  included: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  step: z.number().nullable(),
  enumerationId: z.number().nullable(),
  prices: z.array(PeriodPrice),
  values: z.array(
    z.object({
      valueId: z.number(),
      name: z.string(),
      internalName: z.string(),
      offered: z.boolean(),
      active: z.boolean(),
      prices: z.array(PeriodPrice),
    }),
  ),
});

export const TariffView = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string(),
  productType: z.string(),
  status: TariffStatus,
  currency: z.string(),
  periods: z.array(PeriodPrice),
  trialDays: z.number().nullable(),
  setupFee: z.string().nullable(),
  expiresOn: z.string().nullable(),
  addons: z.array(AddonView),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const TariffHistoryView = z.object({
  id: z.number(),
  change: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  actor: z.object({ userId: z.number().nullable(), label: z.string() }),
  createdAt: z.string(),
});

/** One control-panel configuration problem of a tariff (provisioning/panel-config.ts). */
export const TariffProblemView = z.object({
  code: z.enum(['panel_price_missing', 'panel_not_upstream_tariff', 'license_server_missing']),
  tariffId: z.number(),
  addonId: z.number().optional(),
  valueId: z.number().optional(),
  period: z.number().optional(),
  internalName: z.string().optional(),
  moduleId: z.number().optional(),
  licenseServerId: z.number().optional(),
  message: z.string(),
});

export const CatalogView = z.object({
  currency: z.string(),
  today: z.string(),
  productTypes: z.array(z.object({ code: z.string(), name: z.string(), serviceParams: z.array(z.string()) })),
  tariffs: z.array(
    z.object({
      id: z.number(),
      name: z.string(),
      description: z.string(),
      productType: z.string(),
      currency: z.string(),
      periods: z.array(z.object({ period: z.number(), price: z.string(), trialDays: z.number().optional() })),
      setupFee: z.string().nullable(),
      expiresOn: z.string().nullable(),
      addons: z.array(
        z.object({
          id: z.number(),
          kind: z.string(),
          label: z.string(),
          valueType: z.enum(['boolean', 'integer', 'enumeration']),
          required: z.boolean(),
          defaultValue: z.union([z.boolean(), z.number()]).nullable(),
          unit: z.string().nullable(),
          included: z.number().nullable(),
          min: z.number().nullable(),
          max: z.number().nullable(),
          step: z.number().nullable(),
          prices: z.array(z.object({ period: z.number(), price: z.string() })),
          values: z.array(
            z.object({
              id: z.number(),
              name: z.string(),
              internalName: z.string(),
              prices: z.array(z.object({ period: z.number(), price: z.string() })),
            }),
          ),
          unavailableValues: z
            .array(
              z.object({
                id: z.number(),
                name: z.string(),
                internalName: z.string(),
                available: z.literal(false),
                reason: z.enum(['value_disabled', 'not_offered_on_tariff']),
              }),
            )
            .meta({
              description:
                'The addon’s values a client cannot choose, with why: `value_disabled` (switched off by staff), `not_offered_on_tariff` (this tariff does not offer it). Not orderable; shown greyed.',
            }),
        }),
      ),
    }),
  ),
});
