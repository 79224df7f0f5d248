import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  importTariffsCommand,
  marginsCommand,
  reconcileCommand,
  syncCommand,
} from '../../src/cli/reselling.js';
import { OperationError } from '../../src/modules/services/engine.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { openResellingShop, orderLicense, type ResellingShop } from '../helpers/reselling.js';
import { call, ok } from '../helpers/shop.js';

/**
 * The reselling CLI commands' output, run in-process against the in-memory upstream (a child
 * process cannot reach it; test/cli/cli.db.test.ts runs the same commands as processes).
 */

let shop: ResellingShop;
let lines: string[];
const out = (line: string) => {
  lines.push(...line.split('\n'));
};
beforeEach(async () => {
  shop = await openResellingShop();
  lines = [];
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

describe('billfold modules import-tariffs / services sync / licenses reconcile / report margins', () => {
  it('prints what each did', async () => {
    await importTariffsCommand(shop.ctx, shop.moduleId, false, out);
    expect(lines).toEqual([
      `Import from module ${shop.moduleId}:`,
      '  created:   2',
      expect.stringMatching(
        /^ {4}tariff \d+ "ISPmanager 6 Lite" \(upstream 55227, soft\), hidden, prices copied$/,
      ),
      expect.stringMatching(
        /^ {4}tariff \d+ "ISPmanager 6 Pro" \(upstream 55228, soft\), hidden, no prices: set them$/,
      ),
      '  updated:   0',
      '  unchanged: 0',
      '  gone:      0',
    ]);
    lines = [];
    shop.remote.tariffs.get('55227')!.prices[0]!.amount = '8.0000';
    await importTariffsCommand(shop.ctx, shop.moduleId, true, out);
    const json = JSON.parse(lines.join('\n'));
    expect(json.updated[0]).toMatchObject({ externalId: '55227', costChanged: true });

    const lite = Number(json.updated[0].tariffId);
    ok(
      await call(shop, 'PATCH', `/api/v1/tariffs/${lite}`, shop.admin, {
        status: 'active',
        prices: { '1': '10.00' },
      }),
    );
    const id = await orderLicense(shop, lite);
    const item = [...shop.remote.items.values()][0]!;
    item.ip = '192.0.2.5';
    lines = [];
    await syncCommand(shop.ctx, id, false, out);
    expect(lines[0]).toBe(`Service ${id} (module ${shop.moduleId}):`);
    expect(lines).toContain(`  upstream: ${item.externalId} active, expires 2022-01-16, ip 192.0.2.5`);
    expect(lines.some((l) => /^ {2}differs: {2}ip: here 198\.\S+, upstream 192\.0\.2\.5$/.test(l))).toBe(
      true,
    );

    lines = [];
    await reconcileCommand(shop.ctx, undefined, false, out);
    expect(lines).toEqual([
      `Module ${shop.moduleId}: 1 upstream item(s), 1 service(s) compared; 1 finding(s) new, 0 seen again, 0 resolved; 1 open.`,
    ]);
    shop.remote.failNext = new OperationError('upstream_auth', 'refused', false);
    lines = [];
    await expect(reconcileCommand(shop.ctx, undefined, false, out)).rejects.toMatchObject({
      code: 'reconcile_failed',
    });
    expect(lines).toEqual([
      `Module ${shop.moduleId}: failed: upstream_auth: Module "Upstream" could not list its upstream items: refused`,
    ]);

    lines = [];
    await marginsCommand(shop.ctx, { from: '2021-12-01', to: '2021-12-31', groupBy: 'tariff' }, out);
    const label = `#${lite} ISPmanager 6 Lite`;
    expect(lines).toEqual([
      'Margins 2021-12-01 .. 2021-12-31 by tariff',
      `${'tariff'.padEnd(label.length)}  currency  revenue        cost  margin`,
      `${label}  EUR         10.00  8.0000 EUR  2.0000`,
      `${'total'.padEnd(label.length)}  EUR         10.00  8.0000 EUR  2.0000`,
    ]);
  });
});
