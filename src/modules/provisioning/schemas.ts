import { z } from 'zod';
import { AmountText, Name } from '../accounts/schemas.js';
import { ProductTypeCode } from '../catalog/schemas.js';

/**
 * Processing-module shapes. `params` are checked by the module type's own schema (listed,
 * as JSON Schema, by `GET /module-types`); secret fields go in `params` too, are stored
 * encrypted and come back only as `set`/`unset`.
 */
export const ModuleTypeCode = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,40}$/, { error: 'must be a module type code' });

const ModuleFields = {
  name: Name,
  productTypes: z.array(ProductTypeCode).min(1).max(20),
  enabled: z.boolean().optional(),
  sortOrder: z.number().int().min(0).max(1_000_000).optional(),
  licenseServerId: z.number().int().positive().nullable().optional().meta({
    description:
      'A license module (e.g. a BILLmanager) that orders the licenses of servers this module opens',
  }),
  minBalance: AmountText.nullable()
    .optional()
    .meta({ description: 'Warn when the upstream balance falls below this (provider currency)' }),
};

export const CreateModuleInput = z.strictObject({
  ...ModuleFields,
  type: ModuleTypeCode,
  params: z
    .record(z.string(), z.unknown())
    .optional()
    .meta({ example: { url: 'https://api.example.com/billmgr', username: 'reseller', password: 'secret' } }),
});
export type CreateModuleInput = z.infer<typeof CreateModuleInput>;

export const UpdateModuleInput = z.strictObject({
  name: ModuleFields.name.optional(),
  productTypes: ModuleFields.productTypes.optional(),
  enabled: ModuleFields.enabled,
  sortOrder: ModuleFields.sortOrder,
  licenseServerId: ModuleFields.licenseServerId,
  minBalance: ModuleFields.minBalance,
  params: z.record(z.string(), z.unknown()).optional().meta({
    description: 'Merged into the current parameters; a field set to null is removed (a secret unset)',
  }),
});
export type UpdateModuleInput = z.infer<typeof UpdateModuleInput>;

export const ModuleView = z.object({
  id: z.number(),
  name: z.string(),
  type: z.string(),
  productTypes: z.array(z.string()),
  params: z.record(z.string(), z.unknown()),
  secrets: z.record(z.string(), z.enum(['set', 'unset'])),
  enabled: z.boolean(),
  sortOrder: z.number(),
  licenseServerId: z.number().nullable(),
  minBalance: z.string().nullable(),
  features: z.array(z.string()),
  lastCheck: z.object({ at: z.string(), ok: z.boolean(), message: z.string() }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const ModuleTypeView = z.object({
  type: z.string(),
  title: z.string(),
  productTypes: z.array(z.string()),
  features: z.array(z.string()),
  secretFields: z.array(z.string()),
  licenseSource: z.boolean(),
  usesLicenseServer: z.boolean(),
  serverParams: z.array(z.enum(['os', 'password', 'ip'])).meta({
    description:
      'Server changes its services can ask for: os (reinstall), password (root), ip (staff: address moved)',
  }),
  daily: z.boolean().meta({ description: 'It has a daily upkeep after the billing run' }),
  paramsSchema: z.unknown(),
  tariffSettingsSchema: z
    .unknown()
    .meta({ description: 'JSON Schema of per-tariff settings, null when none' }),
});

export const CheckView = z.object({ ok: z.boolean(), message: z.string(), checkedAt: z.string() });

export const TariffModulesInput = z.strictObject({
  modules: z
    .array(
      z.strictObject({
        moduleId: z.number().int().positive(),
        sortOrder: z.number().int().min(0).max(1_000_000).optional(),
        settings: z.record(z.string(), z.unknown()).optional().meta({
          description:
            "The plug-in's settings for this tariff (its module type's tariffSettingsSchema); kept as they were when absent",
        }),
      }),
    )
    .max(20),
});
export type TariffModulesInput = z.infer<typeof TariffModulesInput>;

export const TariffModuleView = z.object({
  moduleId: z.number(),
  name: z.string(),
  type: z.string(),
  enabled: z.boolean(),
  sortOrder: z.number(),
  settings: z.record(z.string(), z.unknown()),
  externalId: z
    .string()
    .nullable()
    .meta({ description: 'The upstream tariff this tariff was imported from' }),
  upstreamPrices: z
    .object({
      currency: z.string(),
      prices: z.array(z.object({ period: z.number(), amount: z.string() })),
      importedAt: z.string(),
    })
    .nullable()
    .meta({
      description: "The upstream's prices at the last import (its currency); our prices are the tariff's",
    }),
});
