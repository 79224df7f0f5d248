export { BUILTIN_MODULE_TYPES } from './builtin.js';
export { resolveHandler } from './dispatch.js';
export type { AnyModuleType, ModuleType, OperationCall, OperationOutcome } from './plugin.js';
export { defineModuleType } from './plugin.js';
export { createPluginRegistry, type PluginRegistry, RegistryError } from './registry.js';
export { registerModuleRoutes } from './routes.js';
