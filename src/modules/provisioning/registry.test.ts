import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createContext } from '../../app/context.js';
import { manualModuleType } from '../../integrations/manual/module.js';
import { loadConfig } from '../../platform/config.js';
import { silentLogger } from '../../platform/logger.js';
import { type AnyModuleType, defineModuleType } from './plugin.js';
import { createPluginRegistry, RegistryError } from './registry.js';

const base = {
  type: 'sample',
  title: 'Sample',
  productTypes: ['soft'],
  configSchema: z.strictObject({ url: z.string(), password: z.string() }),
  secretFields: ['password'],
  features: ['open', 'close'] as const,
  open: async () => ({}),
  close: async () => ({}),
};
const sample = (extra: Partial<AnyModuleType> = {}): AnyModuleType =>
  defineModuleType({ ...base, ...extra } as AnyModuleType);

describe('the plug-in registry', () => {
  it('holds the types it was given, looked up by code', () => {
    const r = createPluginRegistry([manualModuleType, sample()]);
    expect(r.list().map((t) => t.type)).toEqual(['manual', 'sample']);
    expect(r.get('sample')?.features).toEqual(['open', 'close']);
    expect(r.get('nope')).toBeUndefined();
  });

  it.each([
    ['a duplicate type', [sample(), sample()], 'registered twice'],
    [
      'a declared feature without its handler',
      [sample({ features: ['open', 'close', 'suspend'] })],
      'no handler',
    ],
    ['a handler it does not declare', [sample({ resume: async () => ({}) })], 'does not declare'],
    ['an unknown feature', [sample({ features: ['open', 'close', 'teleport' as never] })], 'unknown feature'],
    ['no close', [sample({ features: ['open'], close: undefined })], 'must support "close"'],
    ['a secret outside its schema', [sample({ secretFields: ['token'] })], 'not in its schema'],
    ['no product type', [sample({ productTypes: [] })], 'serves no product type'],
    ['a bad type code', [sample({ type: 'Bad Type' })], 'not valid'],
  ])('refuses %s', (_name, types, message) => {
    expect(() => createPluginRegistry(types)).toThrow(RegistryError);
    expect(() => createPluginRegistry(types)).toThrow(message);
  });

  it('an application with a broken plug-in set refuses to start', () => {
    // The registry is checked before the database is opened or the master key is read.
    const config = loadConfig({
      BILLFOLD_SECRET_KEY: 'a'.repeat(64),
      BILLFOLD_DATA_DIR: '/nonexistent/billfold',
    });
    expect(() =>
      createContext(config, silentLogger(), { moduleTypes: [sample({ type: 'manual' })] }),
    ).toThrow(/"manual" is registered twice/);
  });
});
