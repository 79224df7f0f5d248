import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { down, up } from '../../src/platform/db/migrations/0014_license_ip_claims.js';
import { client, licenseTariff, orderLicense, service } from '../helpers/billing.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

/**
 * Migration 0014 (license IP claims): stored IPv6 addresses are rewritten in their canonical
 * form, two spellings of one held address keep the older license's hold, and the migration
 * goes down and up again on both engines.
 */
let ctx: TestContext;
beforeEach(async () => {
  ctx = await createTestContext();
});
afterEach(async () => {
  await ctx.testDb.destroy();
});

describe('migration 0014_license_ip_claims', () => {
  it('rewrites stored IPv6 addresses canonically; the older license keeps a doubly spelt address', async () => {
    const tariff = await licenseTariff(ctx);
    const who = await client(ctx, 'mig@example.com', '100.00');
    const [a, b, c] = [
      await orderLicense(ctx, who.actor, tariff.id),
      await orderLicense(ctx, who.actor, tariff.id),
      await orderLicense(ctx, who.actor, tariff.id),
    ];
    const k = ctx.db.kysely;
    await down(k);
    // As an older Billfold stored them: whatever spelling the order had.
    const spell = async (id: number, ip: string) => {
      const params = JSON.parse((await service(ctx, id)).params) as Record<string, string>;
      await k
        .updateTable('services')
        .set({ params: JSON.stringify({ ...params, ip }) })
        .where('id', '=', id)
        .execute();
      await k.updateTable('license_ips').set({ ip }).where('service_id', '=', id).execute();
    };
    await spell(a, '2001:DB8:0:0:0:0:0:1');
    await spell(b, '2001:db8::0:1');
    await spell(c, '2001:0DB8:0000::00AB');
    await up(k);
    const ips = await Promise.all(
      [a, b, c].map(async (id) => JSON.parse((await service(ctx, id)).params).ip),
    );
    expect(ips).toEqual(['2001:db8::1', '2001:db8::1', '2001:db8::ab']);
    const holds = await k
      .selectFrom('license_ips')
      .select(['ip', 'service_id', 'operation_id'])
      .orderBy('ip')
      .execute();
    expect(holds.map((h) => [h.ip, Number(h.service_id), h.operation_id])).toEqual([
      ['2001:db8::1', a, null],
      ['2001:db8::ab', c, null],
    ]);
    // A service holds one address; claims (with an operation) come beside it.
    await expect(
      k
        .insertInto('license_ips')
        .values({ family: 'soft', ip: '192.0.2.9', service_id: a, operation_id: null })
        .execute(),
    ).rejects.toThrow();
    const op = await k
      .selectFrom('operations')
      .select('id')
      .where('service_id', '=', a)
      .executeTakeFirstOrThrow();
    await k
      .insertInto('license_ips')
      .values({ family: 'soft', ip: '192.0.2.9', service_id: a, operation_id: op.id })
      .execute();
    // Down drops the claims and restores one row per service; up again works.
    await down(k);
    expect(await k.selectFrom('license_ips').select('ip').orderBy('ip').execute()).toHaveLength(2);
    await up(k);
    expect(await k.selectFrom('license_ips').select('ip').orderBy('ip').execute()).toHaveLength(2);
  });

  it('the older license keeps the address also when only the newer one had the canonical spelling', async () => {
    const tariff = await licenseTariff(ctx);
    const who = await client(ctx, 'mig2@example.com', '100.00');
    const [older, newer] = [
      await orderLicense(ctx, who.actor, tariff.id),
      await orderLicense(ctx, who.actor, tariff.id),
    ];
    const k = ctx.db.kysely;
    await down(k);
    await k.updateTable('license_ips').set({ ip: '2001:DB8::7' }).where('service_id', '=', older).execute();
    await k.updateTable('license_ips').set({ ip: '2001:db8::7' }).where('service_id', '=', newer).execute();
    await up(k);
    const holds = await k
      .selectFrom('license_ips')
      .select(['ip', 'service_id'])
      .where('ip', 'like', '2001:%')
      .execute();
    expect(holds.map((h) => [h.ip, Number(h.service_id)])).toEqual([['2001:db8::7', older]]);
  });
});
