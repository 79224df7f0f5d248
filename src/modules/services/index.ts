/** The services module: what customers bought, its lifecycle, renewals, tariff changes, the operations contract. */
export { getServiceFor, setAutoprolong } from './commands.js';
export { deleteService } from './deletion.js';
export { runQueuedOperations } from './executor.js';
export { completeOperation } from './lifecycle.js';
export { enqueueOperation } from './operations.js';
export { presentService } from './presenters.js';
export { planRenewal, quoteRenewal, renewService } from './renewal.js';
export { registerServiceRoutes } from './routes.js';
export { resumeService, suspendService } from './suspension.js';
export { changeTariff, planTariffChange } from './tariff-change.js';
