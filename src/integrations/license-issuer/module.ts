import { z } from 'zod';
import { issueLicense } from '../../modules/licenses/index.js';
import { defineModuleType } from '../../modules/provisioning/index.js';

/**
 * The `license-issuer` module type: Billfold itself is the license server. `open` issues the
 * key (once, whichever attempt or worker runs it); the license's state otherwise follows its
 * service — suspended, resumed, renewed and deleted with it — so those need nothing remote.
 */
export const licenseIssuerModuleType = defineModuleType({
  type: 'license-issuer',
  title: 'License issuer (Billfold sells its own licenses)',
  productTypes: ['soft', 'softexternal', 'platform'],
  configSchema: z.strictObject({}),
  secretFields: [],
  features: ['open', 'close'],
  licenseSource: true,
  issuesLocally: true,
  async open(call) {
    await call.step('issue', () => issueLicense(call.ctx, call.service.id));
    return {};
  },
  async close() {
    return {};
  },
});
