/** The billing module: the daily run, its scheduler, notification events. */

export { registerBillingRoutes } from './routes.js';
export { datesToRun, lastCompletedRunDate, type RunSummary, runBilling } from './run.js';
export { startBackgroundJobs } from './scheduler.js';
