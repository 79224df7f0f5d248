import { z } from 'zod';
import { isCurrency } from '../../domain/money.js';
import { parseVatRate } from '../../domain/vat.js';
import { isTimeZone } from '../../platform/calendar.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.js';

/**
 * Input and output shapes of the accounts module. The same schemas validate HTTP bodies,
 * document the API (OpenAPI) and check CLI arguments, so the three never disagree.
 */
/** The longest email address a user can have (RFC 5321's path limit less its brackets). */
export const MAX_EMAIL_LENGTH = 254;

export const Email = z
  .string()
  .trim()
  .max(MAX_EMAIL_LENGTH)
  .pipe(z.email({ error: 'must be a valid email address' }))
  .transform((e) => e.toLowerCase());

export const Password = z
  .string()
  .min(MIN_PASSWORD_LENGTH, { error: `must be at least ${MIN_PASSWORD_LENGTH} characters` })
  .max(MAX_PASSWORD_LENGTH);

export const Currency = z
  .string()
  .regex(/^[A-Z]{3}$/, { error: 'must be an ISO 4217 code such as EUR', abort: true })
  .refine(isCurrency, { error: 'is not a supported currency', params: { code: 'unknown_currency' } });

/** Amounts travel as decimal strings ("100.00"); the command parses them in the account's currency. */
export const AmountText = z
  .string()
  .max(40)
  .regex(/^-?\d+(\.\d+)?$/, { error: 'must be a decimal number such as "100.00"' })
  .meta({ example: '100.00' });

export const Name = z.string().trim().min(1).max(200);

/** A path or query id: plain decimal digits only (no `0x10`, `1e3` or spaces), within the safe range. */
export const IdText = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, { error: 'must be a positive whole number' })
  .transform(Number)
  .refine(Number.isSafeInteger, { error: 'is too large' });
export const IdParam = z.strictObject({ id: IdText });

/**
 * Legal details printed on invoices and receipts (migration 0019): the seller's on the provider,
 * the buyer's on an account. `null` clears one; documents already issued keep what they printed.
 */
const DetailText = (max: number) => z.string().trim().min(1).max(max).nullable();
export const LegalDetailsInput = {
  legalName: DetailText(300).optional(),
  legalAddress: DetailText(1000).optional(),
  taxId: DetailText(64).optional(),
  vatNumber: DetailText(64).optional(),
};
export const LegalDetailsView = {
  legalName: z.string().nullable(),
  legalAddress: z.string().nullable(),
  taxId: z.string().nullable(),
  vatNumber: z.string().nullable(),
};

export const CreateAccountInput = z.strictObject({
  name: Name,
  email: Email,
  currency: Currency.optional(),
  creditLimit: AmountText.optional(),
  password: Password.optional(),
});
export type CreateAccountInput = z.infer<typeof CreateAccountInput>;

export const UpdateAccountInput = z.strictObject({
  name: Name.optional(),
  creditLimit: AmountText.optional(),
  status: z.enum(['active', 'blocked', 'closed']).optional(),
  ...LegalDetailsInput,
});
export type UpdateAccountInput = z.infer<typeof UpdateAccountInput>;

export const CreateUserInput = z.strictObject({
  email: Email,
  password: Password,
});
export type CreateUserInput = z.infer<typeof CreateUserInput>;

export const TimeZone = z
  .string()
  .min(1)
  .max(64)
  .refine(isTimeZone, { error: 'must be an IANA time zone such as Europe/Moscow or UTC' })
  .meta({ example: 'Europe/Moscow' });

export const UpdateProviderInput = z.strictObject({
  name: Name.optional(),
  currency: Currency.optional(),
  /** "Today" for renewals, the daily run and once-a-month rules is the date in this zone. */
  timeZone: TimeZone.optional(),
  /** Whether people may create their own client account (`POST /auth/signup`). */
  signupEnabled: z.boolean().optional(),
  ...LegalDetailsInput,
  /** Percent, VAT included in prices (D-invoices); null: no VAT is charged. */
  vatRate: z
    .string()
    .refine((v) => parseVatRate(v) !== null, {
      error: 'must be a percentage from 0 to 100, e.g. "20" or "8.5"',
    })
    .nullable()
    .optional()
    .meta({ example: '20' }),
});
export type UpdateProviderInput = z.infer<typeof UpdateProviderInput>;

export const PaymentMethod = z
  .string()
  .trim()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9][a-z0-9_.-]*$/, { error: 'must be lower-case letters, digits, "_", "-" or "."' });

export const RecordPaymentInput = z.strictObject({
  amount: AmountText,
  method: PaymentMethod,
  reference: z.string().trim().min(1).max(200),
  note: z.string().max(1000).optional(),
});
export type RecordPaymentInput = z.infer<typeof RecordPaymentInput>;

export const AdjustmentInput = z.strictObject({
  amount: AmountText,
  description: z.string().trim().min(1).max(500),
  idempotencyKey: z.string().min(1).max(200).optional(),
});
export type AdjustmentInput = z.infer<typeof AdjustmentInput>;

export const LoginInput = z.strictObject({
  email: z
    .string()
    .trim()
    .min(1)
    .max(MAX_EMAIL_LENGTH)
    .transform((e) => e.toLowerCase()),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

export const ChangePasswordInput = z.strictObject({
  currentPassword: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  newPassword: Password,
});

export const CreateTokenInput = z.strictObject({ name: z.string().trim().min(1).max(100) });

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: IdText.optional(),
});

/** A page of a keyset-paginated list: pass `nextBefore` as `before` for the next page (null at the end). */
export const NextBefore = z.number().nullable();
export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextBefore: NextBefore });
export const nextBefore = (rows: readonly { id: bigint | number }[], limit: number): number | null =>
  rows.length === limit ? Number(rows[rows.length - 1]!.id) : null;

export const AccountListQuery = PageQuery.extend({
  q: z.string().trim().max(200).optional(),
  status: z.enum(['active', 'blocked', 'closed']).optional(),
});

// ---- responses ----
export const Money = z
  .string()
  .meta({ example: '12.50', description: 'Decimal amount in the currency of the record' });

export const AccountView = z.object({
  id: z.number(),
  name: z.string(),
  email: z.string(),
  currency: z.string(),
  status: z.enum(['active', 'blocked', 'closed']),
  balance: Money,
  creditLimit: Money,
  ...LegalDetailsView,
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const UserView = z.object({
  id: z.number(),
  email: z.string(),
  role: z.enum(['admin', 'client']),
  accountId: z.number().nullable(),
  status: z.enum(['active', 'disabled']),
  createdAt: z.string(),
  lastLoginAt: z.string().nullable(),
});

export const LedgerEntryView = z.object({
  id: z.number(),
  accountId: z.number(),
  kind: z.enum(['payment', 'charge', 'refund', 'adjustment']),
  amount: Money,
  currency: z.string(),
  balanceAfter: Money,
  description: z.string(),
  refType: z.string().nullable(),
  refId: z.number().nullable(),
  createdAt: z.string(),
});

export const PaymentView = z.object({
  id: z.number(),
  accountId: z.number(),
  amount: Money,
  currency: z.string(),
  method: z.string(),
  reference: z.string(),
  note: z.string().nullable(),
  ledgerEntryId: z.number(),
  createdAt: z.string(),
});

export const BalanceView = z.object({
  accountId: z.number(),
  currency: z.string(),
  balance: Money,
  creditLimit: Money,
  available: Money,
});

export const ProviderView = z.object({
  name: z.string(),
  currency: z.string(),
  timeZone: z.string(),
  signupEnabled: z.boolean(),
  ...LegalDetailsView,
  vatRate: z.string().nullable().meta({ description: 'Percent, included in prices; null: no VAT' }),
  updatedAt: z.string(),
});

/** What the sign-in page may know before anyone signs in. */
export const AuthOptionsView = z.object({
  providerName: z.string(),
  signupEnabled: z.boolean(),
});

export const SignupInput = z.strictObject({
  name: Name,
  email: Email,
  password: Password,
});
export type SignupInput = z.infer<typeof SignupInput>;

export const TokenView = z.object({
  id: z.number(),
  name: z.string(),
  hint: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
