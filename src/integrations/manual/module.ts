import { z } from 'zod';
import {
  defineModuleType,
  type HandOff,
  type LifecycleFn,
  type OperationCall,
} from '../../modules/provisioning/index.js';

const ManualConfig = z
  .object({
    /** What staff are told to do, shown on every task this module opens. */
    instructions: z.string().max(2000).optional(),
    /** Service parameters staff must enter when completing an `open` (e.g. `ip`). */
    openFields: z
      .array(z.string().regex(/^[a-z][a-z0-9_]{0,39}$/, 'a lower-case parameter name'))
      .max(20)
      .optional(),
  })
  .strict();
type ManualConfig = z.infer<typeof ManualConfig>;

const VERB = { open: 'Open', suspend: 'Suspend', resume: 'Resume', close: 'Close' } as const;

const task =
  (verb: keyof typeof VERB): LifecycleFn<ManualConfig> =>
  async (call: OperationCall<ManualConfig>): Promise<HandOff> => ({
    handOff: {
      title: `${VERB[verb]} service #${call.service.id} "${call.service.name}" (${call.module.name})`,
      ...(call.module.config.instructions ? { instructions: call.module.config.instructions } : {}),
      fields: verb === 'open' ? (call.module.config.openFields ?? []) : [],
    },
  });

/**
 * The `manual` module type: a person does the work. Each lifecycle step opens a staff task;
 * the operation waits, held by that task, until staff complete it (entering the fields it
 * asks for, such as an IP) or cancel it. Serves every product type.
 */
export const manualModuleType = defineModuleType<ManualConfig>({
  type: 'manual',
  title: 'Manual (staff tasks)',
  productTypes: ['vds', 'dedic', 'soft', 'softexternal', 'platform'],
  configSchema: ManualConfig,
  secretFields: [],
  features: ['open', 'suspend', 'resume', 'close'],
  open: task('open'),
  suspend: task('suspend'),
  resume: task('resume'),
  close: task('close'),
});
