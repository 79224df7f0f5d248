import { describe, expect, it } from 'vitest';
import { mibPerUnit } from './module.js';

describe('mibPerUnit', () => {
  it("an explicit setting wins; else the addon's unit; none is MiB; a unit that is no size is refused", () => {
    expect(mibPerUnit({ unit: 'GB' }, 512, 'ramAddonUnitMib')).toBe(512);
    expect(mibPerUnit({ unit: 'GB' }, undefined, 'ramAddonUnitMib')).toBe(1024);
    expect(mibPerUnit({ unit: ' GiB ' }, undefined, 'ramAddonUnitMib')).toBe(1024);
    expect(mibPerUnit({ unit: 'MiB' }, undefined, 'ramAddonUnitMib')).toBe(1);
    expect(mibPerUnit({ unit: 'TB' }, undefined, 'diskAddonUnitMib')).toBe(1024 * 1024);
    expect(mibPerUnit({ unit: null }, undefined, 'ramAddonUnitMib')).toBe(1);
    expect(() => mibPerUnit({ unit: 'slots' }, undefined, 'ramAddonUnitMib')).toThrow(/ramAddonUnitMib/);
  });
});
