/**
 * A generated book of services for the daily-run benchmark, written with bulk inserts straight
 * into the tables (the few tariffs go through the catalog commands). Deterministic: the same
 * size and seed give the same book on every engine.
 *
 * Composition (fractions of the book):
 * - ≈1/30 due on the run date (`expiresOn` = date or date + 1): 85 % with `autoprolong` (→ renewal,
 *   some cut by a tariff that ends in 20 days, some on a tariff that ends on the run date →
 *   `tariff_expired`, some on accounts without the balance → `insufficient_balance`), 15 % without
 *   (→ reminder, and suspension when `expiresOn` = date);
 * - 0.5 % active but already expired 1-5 days ago, no autoprolong (→ suspension step);
 * - 0.5 % suspended for non-payment 30-90 days ago (→ deletion step), 0.5 % suspended 1-29 days ago
 *   (looked at, left alone);
 * - the rest active and running, `expiresOn` spread over the rest of their period (some in the
 *   5/3/1-day reminder window → reminders or low-balance notices).
 * Periods: 60 % monthly, 25 % quarterly, 15 % yearly. 70 % of running services auto-renew.
 * 8 % of accounts hold 0.00 or 3.00; the others thousands.
 */
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import type { Temporal } from 'temporal-polyfill';
import { recordPayment, systemActor } from '../src/modules/accounts/index.js';
import { createAddon, createTariff } from '../src/modules/catalog/commands.js';
import type { AppContext } from '../src/platform/context.js';
import { inTransaction, type Tx } from '../src/platform/db/index.js';

const staff = systemActor('bench');
const BATCH = 1000;

export type Category =
  | 'due_autorenew'
  | 'due_manual'
  | 'expired'
  | 'suspended_old'
  | 'suspended_recent'
  | 'running';

export interface Book {
  readonly services: number;
  readonly accounts: number;
  readonly poorAccounts: number;
  /** Active services with `expiresOn ≤ date + 1`: what the run has to renew or suspend. */
  readonly due: number;
  readonly byCategory: Record<Category, number>;
  readonly byPeriod: Record<string, number>;
  readonly byTariff: Record<string, number>;
  readonly seconds: number;
}

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function insertBatches<T>(
  ctx: AppContext,
  rows: T[],
  insert: (tx: Tx, batch: T[]) => Promise<unknown>,
): Promise<void> {
  await inTransaction(ctx.db, async (tx) => {
    for (let i = 0; i < rows.length; i += BATCH) await insert(tx, rows.slice(i, i + BATCH));
  });
}

export async function generateBook(
  ctx: AppContext,
  opts: { services: number; date: Temporal.PlainDate; seed?: number },
): Promise<Book> {
  const t0 = performance.now();
  const rand = rng(opts.seed ?? 20211216);
  const D = opts.date;
  const now = ctx.clock.now().toISOString();
  const db = ctx.db.kysely;

  // ---- tariffs
  const prices = { '1': '10.00', '3': '27.00', '12': '100.00' };
  const lic = await createTariff(ctx, staff, {
    name: 'ISPmanager Lite',
    productType: 'soft',
    periods: [1, 3, 12],
    prices,
  });
  const vds = await createTariff(ctx, staff, {
    name: 'VPS S',
    productType: 'vds',
    periods: [1, 3, 12],
    prices: { '1': '20.00', '3': '57.00', '12': '200.00' },
  });
  const withRam = await createAddon(ctx, staff, vds.id, {
    kind: 'ram',
    label: 'RAM',
    valueType: 'integer',
    unit: 'GB',
    included: 1,
    min: 1,
    max: 64,
    step: 1,
    prices: { '1': '2.00' },
  });
  const ramAddonId = withRam.addons[0]!.id;
  const capped = await createTariff(ctx, staff, {
    name: 'ISPmanager Lite (ending)',
    productType: 'soft',
    periods: [1, 3, 12],
    prices,
    expiresOn: D.add({ days: 20 }).toString(),
  });
  const ended = await createTariff(ctx, staff, {
    name: 'ISPmanager Business (ends today)',
    productType: 'soft',
    periods: [1, 3, 12],
    prices,
    expiresOn: D.toString(),
  });
  const typeOf = new Map(
    (await db.selectFrom('tariffs').select(['id', 'product_type_id']).execute()).map((t) => [
      Number(t.id),
      Number(t.product_type_id),
    ]),
  );
  const tariffName = new Map([
    [lic.id, 'license'],
    [vds.id, 'vps + RAM addon'],
    [capped.id, 'license, ends in 20 days'],
    [ended.id, 'license, ends on the run date'],
  ]);

  // ---- accounts: bulk rows, opening balances as ledger adjustments (balance = sum of entries)
  const nAccounts = Math.max(20, Math.round(opts.services / 10));
  const balances: bigint[] = [];
  let poor = 0;
  for (let i = 0; i < nAccounts; i++) {
    const r = rand();
    if (r < 0.04) balances.push(0n);
    else if (r < 0.08) balances.push(300n);
    else balances.push(BigInt(200_000 + Math.floor(rand() * 800_000)));
    if (r < 0.08) poor++;
  }
  await insertBatches(ctx, [...balances.keys()], (tx, batch) =>
    tx
      .insertInto('accounts')
      .values(
        batch.map((i) => ({
          name: `Bench client ${i}`,
          email: `client-${i}@bench.test`,
          currency: 'EUR',
          credit_limit_minor: 0n,
          balance_minor: balances[i]!,
          status: 'active' as const,
          created_at: now,
          updated_at: now,
        })),
      )
      .execute(),
  );
  const accountIds = (await db.selectFrom('accounts').select('id').orderBy('id').execute()).map((a) =>
    Number(a.id),
  );
  const funded = accountIds.map((id, i) => ({ id, amount: balances[i]! })).filter((a) => a.amount > 0n);
  await insertBatches(ctx, funded, (tx, batch) =>
    tx
      .insertInto('ledger_entries')
      .values(
        batch.map((a) => ({
          account_id: a.id,
          kind: 'adjustment' as const,
          amount_minor: a.amount,
          currency: 'EUR',
          balance_after_minor: a.amount,
          idempotency_key: `bench-opening:${a.id}`,
          description: 'Opening balance (benchmark)',
          created_at: now,
        })),
      )
      .execute(),
  );
  // A few hundred top-ups through the real payment path as well.
  for (const a of funded.slice(0, 200)) {
    await recordPayment(ctx, staff, a.id, { amount: '50.00', method: 'bench', reference: `top-up-${a.id}` });
  }

  // ---- services
  const byCategory: Record<Category, number> = {
    due_autorenew: 0,
    due_manual: 0,
    expired: 0,
    suspended_old: 0,
    suspended_recent: 0,
    running: 0,
  };
  const byPeriod: Record<string, number> = {};
  const byTariff: Record<string, number> = {};
  let due = 0;
  const pick = <T>(choices: readonly (readonly [number, T])[]): T => {
    const r = rand();
    let acc = 0;
    for (const [w, v] of choices) {
      acc += w;
      if (r < acc) return v;
    }
    return choices[choices.length - 1]![1];
  };
  // Generated and inserted 1 000 at a time, in one transaction: a book of a million services
  // never holds more than one batch of rows in memory.
  const serviceRow = (i: number) => {
    const category = pick<Category>([
      [0.85 / 30, 'due_autorenew'],
      [0.15 / 30, 'due_manual'],
      [0.005, 'expired'],
      [0.005, 'suspended_old'],
      [0.005, 'suspended_recent'],
      [1, 'running'],
    ]);
    const period = pick([
      [0.6, 1],
      [0.25, 3],
      [0.15, 12],
    ] as const);
    let tariffId =
      category === 'due_autorenew'
        ? pick([
            [0.5, lic.id],
            [0.3, vds.id],
            [0.15, capped.id],
            [0.05, ended.id],
          ])
        : category === 'running'
          ? pick([
              [0.6, lic.id],
              [0.3, vds.id],
              [0.1, capped.id],
            ])
          : pick([
              [0.65, lic.id],
              [0.35, vds.id],
            ]);
    let expires: Temporal.PlainDate;
    let suspendedOn: string | null = null;
    let autoprolong: number | null = null;
    switch (category) {
      case 'due_autorenew':
        expires = tariffId === ended.id ? D : D.add({ days: rand() < 0.5 ? 0 : 1 });
        autoprolong = period;
        break;
      case 'due_manual':
        expires = D.add({ days: rand() < 0.5 ? 0 : 1 });
        break;
      case 'expired':
        expires = D.subtract({ days: 1 + Math.floor(rand() * 5) });
        break;
      case 'suspended_old':
      case 'suspended_recent': {
        const ago = category === 'suspended_old' ? 30 + Math.floor(rand() * 61) : 1 + Math.floor(rand() * 29);
        expires = D.subtract({ days: ago });
        suspendedOn = expires.toString();
        autoprolong = rand() < 0.5 ? period : null;
        break;
      }
      case 'running': {
        // Not due: expiresOn in [date + 2, end of a period started before the run date).
        const span = Math.max(1, D.add({ months: period }).since(D).days - 2);
        let offset = 2 + Math.floor(rand() * span);
        if (tariffId === capped.id) offset = 2 + (offset % 19); // a capped service ends with its tariff
        expires = D.add({ days: offset });
        autoprolong = rand() < 0.7 ? period : null;
        break;
      }
    }
    if (category !== 'running' && category !== 'due_autorenew' && tariffId === ended.id) tariffId = lic.id;
    if (expires.toString() <= D.add({ days: 1 }).toString() && suspendedOn === null) due++;
    byCategory[category]++;
    byPeriod[String(period)] = (byPeriod[String(period)] ?? 0) + 1;
    byTariff[tariffName.get(tariffId)!] = (byTariff[tariffName.get(tariffId)!] ?? 0) + 1;
    const isVds = tariffId === vds.id;
    const start = expires.subtract({ months: period });
    return {
      account_id: accountIds[Math.floor(rand() * accountIds.length)]!,
      tariff_id: tariffId,
      product_type_id: typeOf.get(tariffId)!,
      name: isVds ? `vm-${i}.bench.test` : `lic-${i}`,
      status: suspendedOn ? ('suspended' as const) : ('active' as const),
      suspend_reason: suspendedOn ? ('expired' as const) : null,
      period,
      autoprolong,
      params: JSON.stringify(
        isVds
          ? { hostname: `vm-${i}.bench.test`, os_template: 'debian-12' }
          : { ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, licname: `lic-${i}` },
      ),
      addon_values: JSON.stringify(isVds ? { [ramAddonId]: 1 + (i % 8) } : {}),
      activated_on: start.toString(),
      period_start: start.toString(),
      expires_on: expires.toString(),
      suspended_on: suspendedOn,
      created_at: now,
      updated_at: now,
    };
  };
  await inTransaction(ctx.db, async (tx) => {
    for (let i = 0; i < opts.services; i += BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(i + BATCH, opts.services); j++) batch.push(serviceRow(j));
      await tx.insertInto('services').values(batch).execute();
    }
  });
  // Planner statistics for what the book filled, as a live database would have them. Only
  // those tables: a table analyzed while empty (notifications, deliveries) makes PostgreSQL keep
  // a sequential-scan plan for the foreign-key checks that reference it, and the run's one
  // session then scans the whole table for each row it inserts as the table grows (a live
  // database's statistics were taken with rows in it, and autovacuum refreshes them as it grows).
  for (const table of ['accounts', 'ledger_entries', 'services'] as const)
    await sql`analyze ${sql.table(table)}`.execute(db);
  return {
    services: opts.services,
    accounts: nAccounts,
    poorAccounts: poor,
    due,
    byCategory,
    byPeriod,
    byTariff,
    seconds: (performance.now() - t0) / 1000,
  };
}
