import type { TestContext } from '../helpers/context.js';
import { snapshot } from '../helpers/shop.js';

/**
 * Tables beyond the money, services and orders (`snapshot`) that a fuzzed request could write,
 * with the columns that only record use left out (a token's last use, a user's last sign-in).
 */
const MORE = {
  provider: [],
  users: ['last_login_at'],
  api_tokens: ['last_used_at'],
  enumerations: [],
  enumeration_values: [],
  tariff_periods: [],
  addons: [],
  addon_values: [],
  addon_prices: [],
  tariff_history: [],
  staff_tasks: [],
  processing_modules: [],
  tariff_modules: [],
  issued_licenses: [],
  license_ips: [],
  mgr_login_keys: [],
} as const satisfies Record<string, readonly string[]>;

const bigintSafe = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/**
 * What a refused request must leave as it was: the ledger, balances, orders, services,
 * operations and charges (test/helpers/shop.ts `snapshot`), and the catalog, users, tokens,
 * modules, tasks and licenses. Read in parallel (PostgreSQL's pool), one query per table.
 */
export async function fuzzState(ctx: TestContext): Promise<string> {
  const db = ctx.db.kysely;
  const tables = Object.entries(MORE) as [keyof typeof MORE, readonly string[]][];
  const [core, ...rows] = await Promise.all([
    snapshot(ctx),
    ...tables.map(async ([table, skip]) => {
      const all = (await db.selectFrom(table).selectAll().execute()) as Record<string, unknown>[];
      // Sorted as text: a stable order whatever the table's key and the engine's row order.
      return all
        .map((r) =>
          JSON.stringify(
            Object.fromEntries(Object.entries(r).filter(([k]) => !(skip as readonly string[]).includes(k))),
            bigintSafe,
          ),
        )
        .sort()
        .join('\n');
    }),
  ]);
  return JSON.stringify({ core, ...Object.fromEntries(tables.map(([t], i) => [t, rows[i]])) });
}

/** Which parts of two states differ, and where the first difference is, for a failure message. */
export function firstDifference(before: string, after: string): string {
  const a = JSON.parse(before) as Record<string, string>;
  const b = JSON.parse(after) as Record<string, string>;
  const parts = Object.keys(a).filter((k) => a[k] !== b[k]);
  const [x = before, y = after] = parts.length > 0 ? [a[parts[0]!], b[parts[0]!]] : [];
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  const from = Math.max(0, i - 150);
  return `changed: ${parts.join(', ')}\n  before: …${x.slice(from, i + 250)}…\n   after: …${y.slice(from, i + 250)}…`;
}
