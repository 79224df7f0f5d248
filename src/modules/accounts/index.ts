/** The accounts module: provider, client accounts, users, authentication, the ledger and payments. */
export { type Actor, assertAccountVisible, isStaff, requireStaff, systemActor } from './actor.js';
export {
  authenticatePassword,
  createApiTokenForEmail,
  login,
  resolveApiToken,
  resolveSession,
} from './auth.js';
export { ensureInitialAdmin } from './bootstrap.js';
export {
  amountIn,
  createAccount,
  createAdminUser,
  createClientUser,
  postAdjustment,
  recordPayment,
  updateAccount,
  updateProvider,
} from './commands.js';
export { CSRF_HEADER, registerAuth, requireActor, SESSION_COOKIE } from './http-auth.js';
export { type PostEntryInput, type PostedEntry, postEntry } from './ledger.js';
export {
  presentAccount,
  presentBalance,
  presentLedgerEntry,
  presentPayment,
  presentProvider,
  presentUser,
} from './presenters.js';
export { findAccountByEmail, findLedgerMismatches, getAccount, getProvider, listLedger } from './queries.js';
export { registerAccountRoutes } from './routes.js';
