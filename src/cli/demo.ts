import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createContext } from '../app/context.js';
import { buildHttpApp } from '../app/http.js';
import {
  CONFIG_A,
  ADMIN as DCI_ADMIN,
  type FakeDcimanager,
  startFakeDcimanager,
} from '../integrations/dcimanager6/fake-server.js';
import {
  type FakeVmmanager,
  startFakeVmmanager,
  DEFAULT_ADMIN as VM_ADMIN,
} from '../integrations/vmmanager6/fake-server.js';
import {
  createAccount,
  createApiTokenForEmail,
  recordPayment,
  systemActor,
} from '../modules/accounts/index.js';
import { generatePassword } from '../modules/accounts/passwords.js';
import { startBackgroundJobs } from '../modules/billing/index.js';
import { DEMO_VPS_TARIFF, type SeedDemoSummary, seedDemo, seedSeller } from '../modules/catalog/seed-demo.js';
import type { Config } from '../platform/config.js';
import type { AppContext } from '../platform/context.js';
import { migrateToLatest } from '../platform/db/index.js';
import { toId } from '../platform/ids.js';
import type { Logger } from '../platform/logger.js';
import { CliError } from './context.js';

const actor = systemActor('demo');

/** `catalog seed-demo`'s summary, one line each, as `seed-ispsystem` prints its own. */
export function seedDemoLines(s: SeedDemoSummary): string[] {
  const lines = [
    `Enumeration ${s.enumeration.id} "Server Control Panel": ${s.enumeration.valuesAdded.length ? `added ${s.enumeration.valuesAdded.join(', ')}` : 'has all its values'}.`,
  ];
  for (const m of s.modules)
    lines.push(
      `Module ${m.id} "${m.name}" (${m.type}): ${m.outcome}${m.licenseServerId !== null ? `, license server ${m.licenseServerId}` : ''}${m.check ? `; connection ${m.check.ok ? 'ok' : 'FAILED'}: ${m.check.message.replace(/\.$/, '')}` : ''}.`,
    );
  lines.push(
    s.imported
      ? `License tariffs imported: ${s.imported.created} created, ${s.imported.updated} updated, ${s.imported.unchanged} unchanged.`
      : 'License tariffs: imported earlier, not asked again.',
  );
  for (const t of s.ispmanager5.tariffs)
    lines.push(
      `Tariff ${t.id} (upstream ${t.externalId}, ISPmanager 5): ends ${t.expiresOn ?? 'never'}${t.expiryDateSet ? ' (set now)' : ''}.`,
    );
  if (s.ispmanager5.missing.length)
    lines.push(
      `ISPmanager 5 (upstream ${s.ispmanager5.missing.join(', ')}): not listed by the license server, which sells it no more (it ended 2021-12-31); its panel values are priced, not offered.`,
    );
  for (const t of s.tariffs)
    lines.push(
      `Tariff ${t.id} "${t.name}" (${t.productType}): ${t.outcome}${t.linked ? ', linked to its module' : ''}.`,
    );
  for (const a of s.addons)
    lines.push(`Addon ${a.id} "Control panel" on tariff ${a.tariffId}: ${a.outcome}.`);
  lines.push(`Prices are examples in ${s.currency}: edit them in the catalog.`);
  return lines;
}

/** What an installation must not have for `serve --demo` to build its own. */
const DEMO_TABLES = ['accounts', 'tariffs', 'processing_modules', 'enumerations', 'services'] as const;

async function isEmpty(ctx: AppContext): Promise<boolean> {
  for (const table of DEMO_TABLES) {
    const row = await ctx.db.kysely.selectFrom(table).select('id').limit(1).executeTakeFirst();
    if (row) return false;
  }
  return true;
}

export interface Demo {
  /** Printed after the server's own banner, once its URL is known. */
  banner(url: string): string;
  /** Stops the upstream (its worker first), then the fakes. */
  stop(): Promise<void>;
}

const DEMO_CLIENT_EMAIL = 'demo@billfold.local';
const RESELLER_EMAIL = 'reseller@billfold.local';
/** The fakes' tasks (VM created, OS installed) take this long: long enough to watch. */
const TASK_DELAY_MS = 1500;

/**
 * `serve --demo`, on a migrated database with nothing in it: starts the fake VMmanager 6, the
 * fake DCImanager 6 and a selling Billfold (its own SQLite file, `demo-upstream.sqlite` in the
 * data dir, and its own worker) on 127.0.0.1 with ports the system picks; seeds the seller,
 * runs `seed-demo` against the three, and creates a demo client with a balance. Anything that
 * fails on the way stops what was started.
 */
/** The selling Billfold's database: an SQLite file beside the main one. */
const upstreamFileOf = (config: Config) => path.join(config.dataDir, 'demo-upstream.sqlite');

/** Refuses, before the server creates its admin or anything else, a database that is not empty. */
export async function assertDemoPossible(ctx: AppContext, config: Config): Promise<void> {
  const fresh = `start it on a new data directory (BILLFOLD_DATA_DIR${config.database.kind === 'postgres' ? ', and DATABASE_URL naming an empty database' : ''}) — an earlier demo's directory may simply be removed, e.g. \`rm -rf data/demo\` for \`npm run demo\` — or run without --demo`;
  if (!(await isEmpty(ctx)))
    throw new CliError(
      `serve --demo builds its own modules, catalog and clients, and this database has some already: ${fresh}.`,
      1,
      'demo_needs_empty_database',
    );
  const upstreamFile = upstreamFileOf(config);
  if (fs.existsSync(upstreamFile))
    throw new CliError(
      `${upstreamFile} is an earlier demo's selling Billfold: ${fresh}.`,
      1,
      'demo_needs_empty_database',
    );
}

export async function startDemo(ctx: AppContext, config: Config, logger: Logger): Promise<Demo> {
  await assertDemoPossible(ctx, config);
  const upstreamFile = upstreamFileOf(config);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    stops.length = 0;
  };
  try {
    const vm: FakeVmmanager = await startFakeVmmanager({ taskDelayMs: TASK_DELAY_MS });
    stops.push(() => vm.close());
    const dci: FakeDcimanager = await startFakeDcimanager({ taskDelayMs: TASK_DELAY_MS });
    stops.push(() => dci.close());

    // The selling Billfold: the ISPsystem tariffs, a reseller account, its own worker.
    const upstream = createContext(
      { ...config, database: { kind: 'sqlite', file: upstreamFile } },
      // Its requests are the main instance's calls, logged there: only its warnings here.
      logger.child({ instance: 'demo-upstream' }, { level: 'warn' }),
    );
    stops.push(() => upstream.db.close());
    await migrateToLatest(upstream.db);
    const resellerPassword = generatePassword();
    await seedSeller(upstream, actor, {
      email: RESELLER_EMAIL,
      name: 'Demo reseller',
      password: resellerPassword,
      deposit: '1000.00',
    });
    const upstreamApp = await buildHttpApp(upstream);
    stops.push(() => upstreamApp.close());
    await upstreamApp.listen({ host: '127.0.0.1', port: 0 });
    const upstreamUrl = `http://127.0.0.1:${(upstreamApp.server.address() as AddressInfo).port}`;
    const upstreamJobs = startBackgroundJobs(upstream, { operationsEveryMs: 200 });
    stops.push(() => upstreamJobs.stop());

    const seeded = await seedDemo(ctx, actor, {
      billmanager: {
        url: `${upstreamUrl}/billmgr`,
        username: RESELLER_EMAIL,
        password: resellerPassword,
        pollIntervalMs: 200,
      },
      vmmanager: { url: vm.url, ...VM_ADMIN, taskPollMs: 200, clusterId: 1, osIds: [1, 2] },
      dcimanager: {
        url: dci.url,
        ...DCI_ADMIN,
        taskPollMs: 200,
        locationId: 1,
        configuration: CONFIG_A,
        osIds: [11, 12],
      },
    });
    const failed = seeded.modules.filter((m) => m.check && !m.check.ok);
    if (failed.length)
      throw new Error(
        `The demo could not reach ${failed.map((m) => `${m.name}: ${m.check!.message}`).join('; ')}`,
      );

    const clientPassword = generatePassword();
    const { account } = await createAccount(ctx, actor, {
      name: 'Demo client',
      email: DEMO_CLIENT_EMAIL,
      password: clientPassword,
    });
    await recordPayment(ctx, actor, toId(account.id), {
      amount: '500.00',
      method: 'manual',
      reference: 'demo-balance',
    });
    // Staff get a token of the first admin (made by serve before the demo starts).
    const admin = await ctx.db.kysely
      .selectFrom('users')
      .select('email')
      .where('role', '=', 'admin')
      .orderBy('id')
      .executeTakeFirstOrThrow();
    const staffToken = (await createApiTokenForEmail(ctx, admin.email, 'demo')).token;
    const vps = seeded.tariffs.find((t) => t.name === DEMO_VPS_TARIFF)!;
    const vpsAddon = seeded.addons.find((a) => a.tariffId === vps.id)!;
    const pro = await ctx.db.kysely
      .selectFrom('enumeration_values')
      .select('id')
      .where('enumeration_id', '=', seeded.enumeration.id)
      .where('internal_name', '=', '55228')
      .executeTakeFirstOrThrow();
    return {
      banner: (url) =>
        [
          '',
          'Demo: a reseller of VPS and dedicated servers with bundled ISPmanager licenses.',
          `  fake VMmanager 6:   ${vm.url}  (cluster 1, OS 1 Ubuntu 22.04 and 2 AlmaLinux 9)`,
          `  fake DCImanager 6:  ${dci.url}  (free servers of ${CONFIG_A})`,
          `  selling Billfold:   ${upstreamUrl}/billmgr  (its database ${upstreamFile})`,
          ...seedDemoLines(seeded).map((l) => `  ${l}`),
          '',
          'Sign in as the demo client (balance 500.00):',
          `  email:    ${DEMO_CLIENT_EMAIL}`,
          `  password: ${clientPassword}`,
          'Order a VPS with "ISPmanager 6 Pro", paid from the balance:',
          `  curl -s -c jar -H 'content-type: application/json' -d '{"email":"${DEMO_CLIENT_EMAIL}","password":"${clientPassword}"}' ${url}/api/v1/auth/login`,
          `  curl -s -b jar -H "x-csrf-token: <csrfToken from the answer>" -H 'content-type: application/json' \\`,
          `    -d '{"items":[{"tariffId":${vps.id},"period":1,"addonValues":{"${vpsAddon.id}":${toId(pro.id)}},"params":{"hostname":"demo.example.com","os_template":"Ubuntu 22.04"}}],"payNow":true}' \\`,
          `    ${url}/api/v1/orders`,
          `  curl -s -b jar ${url}/api/v1/services/<serviceId from the order>   # active in a few seconds: the IP and the license key`,
          `Staff (${admin.email}): send "Authorization: Bearer ${staffToken}", e.g.`,
          `  curl -s -H 'authorization: Bearer ${staffToken}' ${url}/api/v1/modules`,
          '',
        ].join('\n'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
