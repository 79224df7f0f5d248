import { type AnyModuleType, FEATURES, type Feature, type ModuleType } from './plugin.js';

/** A plug-in set that cannot work: the process refuses to start rather than fail at the first order. */
export class RegistryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface PluginRegistry {
  get(type: string): ModuleType | undefined;
  list(): readonly ModuleType[];
}

/** Every plug-in must at least open and close what it serves. */
const REQUIRED: readonly Feature[] = ['open', 'close'];

/**
 * Builds the registry once at start-up and checks it: type codes unique, every declared
 * feature has its function and every function is declared, open and close present.
 */
export function createPluginRegistry(types: readonly AnyModuleType[]): PluginRegistry {
  const byType = new Map<string, ModuleType>();
  for (const t of types as readonly ModuleType[]) {
    if (!/^[a-z][a-z0-9-]{1,40}$/.test(t.type))
      throw new RegistryError(`Module type code "${t.type}" is not valid`);
    if (byType.has(t.type)) throw new RegistryError(`Module type "${t.type}" is registered twice`);
    for (const f of t.features) {
      if (!FEATURES.includes(f))
        throw new RegistryError(`Module type "${t.type}" declares unknown feature "${f}"`);
      if (typeof t[f] !== 'function')
        throw new RegistryError(`Module type "${t.type}" declares "${f}" but has no handler for it`);
    }
    for (const f of FEATURES) {
      if (typeof t[f] === 'function' && !t.features.includes(f))
        throw new RegistryError(`Module type "${t.type}" has a "${f}" handler it does not declare`);
    }
    for (const f of REQUIRED) {
      if (!t.features.includes(f)) throw new RegistryError(`Module type "${t.type}" must support "${f}"`);
    }
    if (t.productTypes.length === 0)
      throw new RegistryError(`Module type "${t.type}" serves no product type`);
    for (const s of t.secretFields) {
      const shape = (t.configSchema as { shape?: Record<string, unknown> }).shape;
      if (shape && !(s in shape))
        throw new RegistryError(`Module type "${t.type}": secret "${s}" is not in its schema`);
    }
    byType.set(t.type, t);
  }
  return {
    get: (type) => byType.get(type),
    list: () => [...byType.values()],
  };
}
