import type { AnyModuleType } from '../modules/provisioning/index.js';
import { billmanagerModuleType } from './billmanager/module.js';
import { dcimanager6ModuleType } from './dcimanager6/module.js';
import { licenseIssuerModuleType } from './license-issuer/module.js';
import { manualModuleType } from './manual/module.js';
import { vmmanager6ModuleType } from './vmmanager6/module.js';

/**
 * The module types (integrations) every installation has, one folder each under
 * `src/integrations/<type>/`: the remote API's client, the plug-in, a stateful fake of the
 * remote API and their tests. The core knows them only through the plug-in interface.
 */
export const BUILTIN_MODULE_TYPES: readonly AnyModuleType[] = [
  manualModuleType,
  licenseIssuerModuleType,
  billmanagerModuleType,
  vmmanager6ModuleType,
  dcimanager6ModuleType,
];
