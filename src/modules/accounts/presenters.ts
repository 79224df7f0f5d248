import { formatAmount } from '../../domain/money.js';
import { formatVatRate } from '../../domain/vat.js';
import type {
  AccountRow,
  LedgerEntryRow,
  PaymentRow,
  ProviderRow,
  UserRow,
} from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';

export const presentLegalDetails = (r: {
  legal_name: string | null;
  legal_address: string | null;
  tax_id: string | null;
  vat_number: string | null;
}) => ({ legalName: r.legal_name, legalAddress: r.legal_address, taxId: r.tax_id, vatNumber: r.vat_number });

export const presentProvider = (p: ProviderRow) => ({
  name: p.name,
  currency: p.currency,
  timeZone: p.time_zone,
  signupEnabled: p.signup === 'open',
  ...presentLegalDetails(p),
  vatRate: p.vat_rate_bp === null ? null : formatVatRate(Number(p.vat_rate_bp)),
  updatedAt: p.updated_at,
});

/** Rows → API objects: ids as numbers, money as decimal strings in the record's currency. */
export const presentAccount = (a: AccountRow) => ({
  id: toId(a.id),
  name: a.name,
  email: a.email,
  currency: a.currency,
  status: a.status,
  balance: formatAmount(a.balance_minor, a.currency),
  creditLimit: formatAmount(a.credit_limit_minor, a.currency),
  ...presentLegalDetails(a),
  createdAt: a.created_at,
  updatedAt: a.updated_at,
});

export const presentUser = (u: UserRow) => ({
  id: toId(u.id),
  email: u.email,
  role: u.role,
  accountId: u.account_id === null ? null : toId(u.account_id),
  status: u.status,
  createdAt: u.created_at,
  lastLoginAt: u.last_login_at,
});

export const presentLedgerEntry = (e: LedgerEntryRow) => ({
  id: toId(e.id),
  accountId: toId(e.account_id),
  kind: e.kind,
  amount: formatAmount(e.amount_minor, e.currency),
  currency: e.currency,
  balanceAfter: formatAmount(e.balance_after_minor, e.currency),
  description: e.description,
  refType: e.ref_type,
  refId: e.ref_id === null ? null : toId(e.ref_id),
  createdAt: e.created_at,
});

export const presentPayment = (p: PaymentRow) => ({
  id: toId(p.id),
  accountId: toId(p.account_id),
  amount: formatAmount(p.amount_minor, p.currency),
  currency: p.currency,
  method: p.method,
  reference: p.external_ref,
  note: p.note,
  ledgerEntryId: toId(p.ledger_entry_id),
  createdAt: p.created_at,
});

export const presentBalance = (a: AccountRow) => ({
  accountId: toId(a.id),
  currency: a.currency,
  balance: formatAmount(a.balance_minor, a.currency),
  creditLimit: formatAmount(a.credit_limit_minor, a.currency),
  available: formatAmount(a.balance_minor + a.credit_limit_minor, a.currency),
});
