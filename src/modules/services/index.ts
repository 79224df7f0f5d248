/** The services module: what customers bought, its lifecycle, renewals, tariff changes, the operations contract. */
export {
  changeTariff,
  deleteService,
  getServiceFor,
  planRenewal,
  planTariffChange,
  quoteRenewal,
  renewService,
  resumeService,
  setAutoprolong,
  suspendService,
} from './commands.js';
export { runQueuedOperations } from './executor.js';
export { completeOperation, enqueueOperation } from './lifecycle.js';
export { presentService } from './presenters.js';
export { registerServiceRoutes } from './routes.js';
