export { OperationError } from '../services/engine.js';
export { requireBalanceFor, resolveHandler } from './dispatch.js';
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
export {
  type DailyCall,
  type DailyOutcome,
  defineModuleType,
  featureOf,
  type ItemCall,
  type RemoteItem,
  type SetParamPayload,
  type UpstreamCost,
} from './plugin.js';
export { createPluginRegistry, type PluginRegistry, RegistryError } from './registry.js';
export { registerModuleRoutes } from './routes.js';
