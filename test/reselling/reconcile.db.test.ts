import { Temporal } from 'temporal-polyfill';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemActor } from '../../src/modules/accounts/index.js';
import { runBilling } from '../../src/modules/billing/run.js';
import { reconcileModule } from '../../src/modules/provisioning/reconcile.js';
import { OperationError } from '../../src/modules/services/engine.js';
import { expectLedgerBalanced } from '../helpers/context.js';
import { expectError } from '../helpers/http.js';
import { openResellingShop, orderLicense, type ResellingShop, sellLite } from '../helpers/reselling.js';
import { call, getService, ok } from '../helpers/shop.js';

/**
 * Reading services back (POST /api/v1/services/{id}/sync) and reconciling a module with its
 * upstream (POST /api/v1/modules/{id}/reconcile, GET /api/v1/reconciliation, resolve), against
 * the in-memory upstream: each finding kind, reruns that update and resolve without
 * duplicating, the resolve actions, two reconciliations at once, and the daily step.
 */

let shop: ResellingShop;
let lite: number;
beforeEach(async () => {
  shop = await openResellingShop();
  lite = await sellLite(shop);
});
afterEach(async () => {
  await expectLedgerBalanced(shop.ctx);
  await shop.t.close();
});

const sync = (id: number) => call(shop, 'POST', `/api/v1/services/${id}/sync`, shop.admin);
const reconcile = async () =>
  ok(await call(shop, 'POST', `/api/v1/modules/${shop.moduleId}/reconcile`, shop.admin));
const findings = async (query = '') =>
  ok(await call(shop, 'GET', `/api/v1/reconciliation?module=${shop.moduleId}${query}`, shop.admin)).items;
const resolve = (id: number, action: string) =>
  call(shop, 'POST', `/api/v1/reconciliation/${id}/resolve`, shop.admin, { action });
const externalIdOf = async (serviceId: number) =>
  (
    await shop.ctx.db.kysely
      .selectFrom('services')
      .select('external_id')
      .where('id', '=', serviceId)
      .executeTakeFirstOrThrow()
  ).external_id!;
const findingRows = () =>
  shop.ctx.db.kysely.selectFrom('reconciliation_findings').selectAll().orderBy('id').execute();

describe('sync one service', () => {
  it('matches after the order; then takes a new key and reports status, expiry and IP without changing them', async () => {
    const id = await orderLicense(shop, lite);
    const service = await getService(shop, id);
    expect(service.status).toBe('active');
    const first = ok(await sync(id));
    expect(first).toMatchObject({
      serviceId: id,
      moduleId: shop.moduleId,
      differences: [],
      keyUpdated: false,
    });
    expect(first.upstream).toMatchObject({
      remoteId: String(id),
      status: 'active',
      expiresOn: service.expiresOn,
    });

    const item = shop.remote.item(await externalIdOf(id));
    item.key = 'KEY-NEW-2';
    item.status = 'suspended';
    item.expiresOn = '2022-02-16';
    item.ip = '192.0.2.77';
    const r = ok(await sync(id));
    expect(r.differences).toEqual([
      { field: 'status', local: 'active', upstream: 'suspended' },
      { field: 'expiresOn', local: service.expiresOn, upstream: '2022-02-16' },
      { field: 'ip', local: service.params.ip, upstream: '192.0.2.77' },
      { field: 'key', local: 'KEY-7001-1', upstream: 'KEY-NEW-2' },
    ]);
    expect(r.keyUpdated).toBe(true);
    const after = await getService(shop, id);
    expect(after.params.key).toBe('KEY-NEW-2');
    expect(after).toMatchObject({
      status: 'active',
      expiresOn: service.expiresOn,
      params: { ip: service.params.ip },
    });
    const history = ok(await call(shop, 'GET', `/api/v1/services/${id}/history`, shop.admin)).items;
    const entry = history.find((h: { event: string }) => h.event === 'key_synced');
    expect(entry.details).toEqual({ source: 'upstream', moduleId: shop.moduleId, replaced: true });
    expect(JSON.stringify(history)).not.toContain('KEY-NEW-2');
    // The key is now the same: a second sync writes nothing more.
    expect(ok(await sync(id)).keyUpdated).toBe(false);
  });

  it('reports an item gone upstream as missing', async () => {
    const id = await orderLicense(shop, lite);
    shop.remote.items.delete(await externalIdOf(id));
    const r = ok(await sync(id));
    expect(r.upstream).toBeNull();
    expect(r.differences).toEqual([{ field: 'missing', local: 'active', upstream: null }]);
  });

  it('refuses a service no module serves, and passes the upstream failure on', async () => {
    const { serviceId: plain } = await (async () => {
      const { orderPaid, payIn } = await import('../helpers/shop.js');
      await payIn(shop, shop.alpha.accountId, '50.00');
      return orderPaid(shop, shop.alpha, {
        tariffId: shop.tariffs.license,
        period: 1,
        params: { ip: '203.0.113.99', licname: 'x' },
      });
    })();
    expectError(await sync(plain), 409, 'sync_unsupported');
    const id = await orderLicense(shop, lite);
    shop.remote.failNext = new OperationError('upstream_timeout', 'No answer.', true);
    expectError(await sync(id), 503, 'upstream_timeout');
    expectError(await sync(999999), 404, 'service_not_found');
  });
});

describe('reconciliation', () => {
  it('finds orphans, missing items and differences; a rerun updates, resolves and never duplicates', async () => {
    const a = await orderLicense(shop, lite);
    const b = await orderLicense(shop, lite);
    const aItem = shop.remote.item(await externalIdOf(a));
    const bItem = shop.remote.item(await externalIdOf(b));
    aItem.ip = '192.0.2.10';
    aItem.expiresOn = '2022-03-01';
    shop.remote.items.delete(bItem.externalId);
    const orphan = shop.remote.addItem({
      remoteId: null,
      name: 'bought by hand',
      plan: '55227',
      status: 'active',
      expiresOn: '2022-05-01',
      ip: '192.0.2.200',
    });
    const r = await reconcile();
    expect(r).toEqual({
      moduleId: shop.moduleId,
      items: 2,
      compared: 2,
      opened: 3,
      seenAgain: 0,
      resolved: 0,
      open: 3,
    });
    const list = await findings();
    expect(
      list.map((f: { kind: string; serviceId: number | null; externalId: string }) => [
        f.kind,
        f.serviceId,
        f.externalId,
      ]),
    ).toEqual([
      ['orphan', null, orphan.externalId],
      ['missing', b, bItem.externalId],
      ['differs', a, aItem.externalId],
    ]);
    const differs = list[2];
    expect(differs.details.differences).toEqual([
      { field: 'expiresOn', local: '2022-01-16', upstream: '2022-03-01' },
      { field: 'ip', local: (await getService(shop, a)).params.ip, upstream: '192.0.2.10' },
    ]);
    expect(differs.fix.action).toBe('accept_upstream');
    expect(list[0].fix.action).toBe('review_orphan');
    expect(list[1].fix.action).toBe('review_missing');
    expect(differs).toMatchObject({ status: 'open', firstSeenAt: '2021-12-16T10:00:00.000Z' });

    shop.ctx.clock.set(new Date('2021-12-17T08:00:00Z'));
    const again = await reconcile();
    expect(again).toMatchObject({ opened: 0, seenAgain: 3, resolved: 0, open: 3 });
    expect(await findingRows()).toHaveLength(3);
    expect((await findings())[2]).toMatchObject({
      firstSeenAt: '2021-12-16T10:00:00.000Z',
      lastSeenAt: '2021-12-17T08:00:00.000Z',
    });

    // B's item comes back: the missing finding resolves itself; nothing else moves.
    shop.remote.items.set(bItem.externalId, bItem);
    const third = await reconcile();
    expect(third).toMatchObject({ opened: 0, seenAgain: 2, resolved: 1, open: 2 });
    expect((await findings('&kind=missing'))[0]).toMatchObject({
      status: 'resolved',
      resolution: 'no_longer_true',
    });
    expect(await findings('&status=open')).toHaveLength(2);
    // ... and when it goes again, the same finding opens again.
    shop.remote.items.delete(bItem.externalId);
    expect(await reconcile()).toMatchObject({ opened: 1, open: 3 });
    expect(await findingRows()).toHaveLength(3);
    // Paged like other lists.
    const page1 = ok(await call(shop, 'GET', '/api/v1/reconciliation?limit=2', shop.admin));
    expect(page1.items).toHaveLength(2);
    const page2 = ok(
      await call(shop, 'GET', `/api/v1/reconciliation?limit=2&before=${page1.nextBefore}`, shop.admin),
    );
    expect(page2.items).toHaveLength(1);
    expect(page2.nextBefore).toBeNull();
  });

  it('accept_upstream takes the expiry and IP under the lock, with history; dismiss leaves a finding dismissed', async () => {
    const a = await orderLicense(shop, lite);
    const other = await orderLicense(shop, lite);
    const aItem = shop.remote.item(await externalIdOf(a));
    aItem.ip = '192.0.2.10';
    aItem.expiresOn = '2022-03-01';
    shop.remote.addItem({
      remoteId: '424242',
      name: null,
      plan: '55227',
      status: 'active',
      expiresOn: null,
      ip: null,
    });
    await reconcile();
    const [orphan, differs] = await findings();
    expect([orphan.kind, differs.kind]).toEqual(['orphan', 'differs']);

    expectError(await resolve(orphan.id, 'accept_upstream'), 400, 'action_not_applicable');
    const accepted = ok(await resolve(differs.id, 'accept_upstream'));
    expect(accepted).toMatchObject({
      status: 'resolved',
      resolution: 'accept_upstream',
      resolvedBy: expect.stringMatching(/^user:/),
    });
    const service = await getService(shop, a);
    expect(service).toMatchObject({ expiresOn: '2022-03-01', params: { ip: '192.0.2.10' } });
    const hold = await shop.ctx.db.kysely
      .selectFrom('license_ips')
      .selectAll()
      .where('service_id', '=', a)
      .execute();
    expect(hold.map((h) => h.ip)).toEqual(['192.0.2.10']);
    const history = ok(await call(shop, 'GET', `/api/v1/services/${a}/history`, shop.admin)).items;
    expect(
      history.find((h: { event: string }) => h.event === 'upstream_values_accepted').details,
    ).toMatchObject({
      findingId: differs.id,
      changes: [
        { field: 'expiresOn', from: '2022-01-16', to: '2022-03-01' },
        { field: 'ip', to: '192.0.2.10' },
      ],
    });
    expectError(await resolve(differs.id, 'dismiss'), 409, 'finding_not_open');
    expect(await reconcile()).toMatchObject({ opened: 0, seenAgain: 1, open: 1 });

    const dismissed = ok(await resolve(orphan.id, 'dismiss'));
    expect(dismissed).toMatchObject({ status: 'dismissed', resolution: 'dismiss' });
    // Still there upstream, unchanged: it stays dismissed.
    expect(await reconcile()).toMatchObject({ opened: 0, seenAgain: 1, open: 0 });

    // An IP another license holds is refused, and nothing changes.
    const otherIp = (await getService(shop, other)).params.ip;
    shop.remote.item(await externalIdOf(other)).expiresOn = '2022-01-16';
    aItem.ip = otherIp;
    await reconcile();
    const again = (await findings('&kind=differs&status=open'))[0];
    expectError(await resolve(again.id, 'accept_upstream'), 409, 'ip_taken');
    expect((await getService(shop, a)).params.ip).toBe('192.0.2.10');
    expectError(await resolve(999999, 'dismiss'), 404, 'finding_not_found');
    expectError(
      await call(shop, 'POST', `/api/v1/reconciliation/${again.id}/resolve`, shop.admin, {
        action: 'delete',
      }),
      400,
      'validation_failed',
    );
  });

  it('a service changed since the reconciliation is not overwritten (finding_stale); a status difference stays for staff', async () => {
    const a = await orderLicense(shop, lite);
    const item = shop.remote.item(await externalIdOf(a));
    item.expiresOn = '2022-03-01';
    item.status = 'suspended';
    await reconcile();
    const [f] = await findings();
    expect(f.details.differences.map((d: { field: string }) => d.field)).toEqual(['status', 'expiresOn']);
    await shop.ctx.db.kysely
      .updateTable('services')
      .set({ expires_on: '2022-01-20' })
      .where('id', '=', a)
      .execute();
    expectError(await resolve(f.id, 'accept_upstream'), 409, 'finding_stale');
    await shop.ctx.db.kysely
      .updateTable('services')
      .set({ expires_on: '2022-01-16' })
      .where('id', '=', a)
      .execute();
    const partly = ok(await resolve(f.id, 'accept_upstream'));
    expect(partly).toMatchObject({ status: 'open', fix: { action: 'review_status' } });
    expect(partly.details.differences).toEqual([{ field: 'status', local: 'active', upstream: 'suspended' }]);
    expect((await getService(shop, a)).status).toBe('active');
    expectError(await resolve(f.id, 'accept_upstream'), 400, 'action_not_applicable');
  });

  it('leaves a service with an operation under way alone', async () => {
    const a = await orderLicense(shop, lite);
    ok(await call(shop, 'POST', `/api/v1/services/${a}/suspend`, shop.admin, { reason: 'admin' }));
    shop.remote.items.delete(await externalIdOf(a));
    expect(await reconcile()).toMatchObject({ compared: 0, opened: 0, open: 0 });
  });

  it('two reconciliations of one module at once record each finding once', async () => {
    const a = await orderLicense(shop, lite);
    shop.remote.item(await externalIdOf(a)).expiresOn = '2022-03-01';
    for (let i = 0; i < 5; i++)
      shop.remote.addItem({
        remoteId: null,
        name: `stray ${i}`,
        plan: '55227',
        status: 'active',
        expiresOn: null,
        ip: null,
      });
    const actor = systemActor('test');
    const results = await Promise.all([1, 2, 3].map(() => reconcileModule(shop.ctx, actor, shop.moduleId)));
    expect(results.reduce((n, r) => n + r.opened, 0)).toBe(6);
    const rows = await findingRows();
    expect(rows).toHaveLength(6);
    expect(new Set(rows.map((r) => `${r.kind}|${r.subject_key}`)).size).toBe(6);
  });
});

describe('the daily step', () => {
  it("today's run reconciles every enabled module that lists its items; a failing one is a staff task, not a failed run", async () => {
    const a = await orderLicense(shop, lite);
    shop.remote.items.delete(await externalIdOf(a));
    const today = Temporal.PlainDate.from('2021-12-16');
    const summary = await runBilling(shop.ctx, { date: today });
    expect(summary.reconciliation).toEqual({ modules: 1, opened: 1, resolved: 0, failed: [] });
    expect(await findings('&kind=missing')).toHaveLength(1);
    // A catch-up of a past day does not reconcile.
    expect((await runBilling(shop.ctx, { date: today.subtract({ days: 1 }) })).reconciliation).toBeNull();

    shop.ctx.clock.set(new Date('2021-12-17T10:00:00Z'));
    shop.remote.failNext = new OperationError('upstream_auth', 'The upstream refused the password.', false);
    const failed = await runBilling(shop.ctx, { date: today.add({ days: 1 }) });
    expect(failed.reconciliation).toMatchObject({
      modules: 1,
      failed: [{ moduleId: shop.moduleId, name: 'Upstream', code: 'upstream_auth' }],
    });
    const run = await shop.ctx.db.kysely
      .selectFrom('billing_runs')
      .selectAll()
      .where('run_date', '=', '2021-12-17')
      .executeTakeFirstOrThrow();
    expect(run.status).toBe('completed');
    const tasks = ok(await call(shop, 'GET', '/api/v1/tasks?kind=billing_error', shop.admin)).items;
    expect(tasks).toHaveLength(1);
    expect(tasks[0].title).toContain('module "Upstream"');
    // The findings stay as they were.
    expect(await findings('&status=open')).toHaveLength(1);
  });
});
