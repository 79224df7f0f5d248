export { resolveHandler } from './dispatch.js';
export type {
  AnyModuleType,
  HandOff,
  ImportedTariff,
  LifecycleFn,
  ModuleInstance,
  ModuleType,
  OperationCall,
  OperationOutcome,
  ServiceSnapshot,
} from './plugin.js';
export { defineModuleType } from './plugin.js';
export { createPluginRegistry, type PluginRegistry, RegistryError } from './registry.js';
export { registerModuleRoutes } from './routes.js';
