export { issueLicense } from './commands.js';
export { registerLicenseRoutes } from './routes.js';
