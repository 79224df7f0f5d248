import { licenseIssuerModuleType } from '../licenses/issuer.js';
import { manualModuleType } from './manual.js';
import type { AnyModuleType } from './plugin.js';

/** The module types every installation has. */
export const BUILTIN_MODULE_TYPES: readonly AnyModuleType[] = [manualModuleType, licenseIssuerModuleType];
