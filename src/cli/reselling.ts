import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { systemActor } from '../modules/accounts/index.js';
import {
  MARGIN_GROUPS,
  type MarginGroupBy,
  type MarginRow,
  marginReport,
} from '../modules/billing/margins.js';
import { importTariffs } from '../modules/provisioning/import.js';
import { type ReconcileResult, reconcileModule } from '../modules/provisioning/reconcile.js';
import { syncService } from '../modules/provisioning/sync.js';
import type { AppContext } from '../platform/context.js';
import { toId } from '../platform/ids.js';
import { CliError, withContext } from './context.js';

/**
 * CLI commands for reselling: `modules import-tariffs`, `services sync`, `licenses reconcile`,
 * `report margins`. Each is a function of a context and a writer (tests run them in-process
 * with their own plug-ins) plus its commander wiring.
 */

const actor = systemActor('cli');
export type Out = (line: string) => void;

export const positiveId = (v: string): number => {
  if (!/^[1-9][0-9]{0,15}$/.test(v)) throw new InvalidArgumentError('must be a positive whole number');
  return Number(v);
};

export async function importTariffsCommand(ctx: AppContext, moduleId: number, json: boolean, out: Out) {
  const r = await importTariffs(ctx, actor, moduleId);
  if (json) return out(JSON.stringify(r, null, 2));
  out(`Import from module ${moduleId}:`);
  out(`  created:   ${r.created.length}`);
  for (const c of r.created)
    out(
      `    tariff ${c.tariffId} "${c.name}" (upstream ${c.externalId}, ${c.productType}), hidden, ${c.pricesCopied ? 'prices copied' : 'no prices: set them'}`,
    );
  out(`  updated:   ${r.updated.length}`);
  for (const u of r.updated) {
    const what = [u.costChanged ? 'upstream cost' : null, u.settingsChanged ? 'settings' : null].filter(
      Boolean,
    );
    const prices = u.after.prices.map((p) => `${p.period}m ${p.amount}`).join(', ');
    out(
      `    tariff ${u.tariffId} "${u.name}" (upstream ${u.externalId}): ${what.join(' and ')} changed; now ${prices} ${u.after.currency}`,
    );
  }
  out(`  unchanged: ${r.unchanged}`);
  out(`  gone:      ${r.gone.length}`);
  for (const g of r.gone)
    out(
      `    tariff ${g.tariffId} "${g.name}" (upstream ${g.externalId}) is no longer offered upstream; kept`,
    );
}

export async function syncCommand(ctx: AppContext, serviceId: number, json: boolean, out: Out) {
  const r = await syncService(ctx, actor, serviceId);
  if (json) return out(JSON.stringify(r, null, 2));
  const u = r.upstream;
  out(`Service ${r.serviceId} (module ${r.moduleId}):`);
  out(`  here:     ${r.local.status}, expires ${r.local.expiresOn ?? '-'}, ip ${r.local.ip ?? '-'}`);
  out(
    u
      ? `  upstream: ${u.externalId} ${u.status}, expires ${u.expiresOn ?? '-'}, ip ${u.params.ip ?? '-'}`
      : '  upstream: no such item',
  );
  if (r.differences.length === 0) out('  no differences');
  for (const d of r.differences)
    out(
      `  differs:  ${d.field}: here ${d.field === 'key' ? (d.local ? 'set' : '-') : (d.local ?? '-')}, upstream ${d.field === 'key' ? 'set' : (d.upstream ?? '-')}`,
    );
  if (r.keyUpdated) out('  the key was taken from the upstream');
}

/** Reconciles one module, or every enabled module that can list its items; exit code 1 when one failed. */
export async function reconcileCommand(
  ctx: AppContext,
  moduleId: number | undefined,
  json: boolean,
  out: Out,
) {
  let ids: number[];
  if (moduleId !== undefined) ids = [moduleId];
  else {
    const rows = await ctx.db.kysely
      .selectFrom('processing_modules')
      .select(['id', 'module_type'])
      .where('enabled', '=', 1)
      .orderBy('id')
      .execute();
    ids = rows.filter((r) => ctx.plugins.get(r.module_type)?.listItems).map((r) => toId(r.id));
  }
  const done: ReconcileResult[] = [];
  const failed: { moduleId: number; code: string; message: string }[] = [];
  for (const id of ids) {
    try {
      done.push(await reconcileModule(ctx, actor, id));
    } catch (err) {
      // One module's failure is reported with the others' results; a single module's is the command's error.
      if (moduleId !== undefined) throw err;
      const code =
        typeof (err as { code?: unknown }).code === 'string'
          ? (err as { code: string }).code
          : 'internal_error';
      failed.push({ moduleId: id, code, message: err instanceof Error ? err.message : String(err) });
    }
  }
  if (json) out(JSON.stringify({ modules: done, failed }, null, 2));
  else {
    if (ids.length === 0) out('No enabled module can list its upstream items.');
    for (const r of done)
      out(
        `Module ${r.moduleId}: ${r.items} upstream item(s), ${r.compared} service(s) compared; ${r.opened} finding(s) new, ${r.seenAgain} seen again, ${r.resolved} resolved; ${r.open} open.`,
      );
    for (const f of failed) out(`Module ${f.moduleId}: failed: ${f.code}: ${f.message}`);
  }
  if (failed.length > 0)
    throw new CliError(`${failed.length} module(s) could not be reconciled.`, 1, 'reconcile_failed');
}

const costText = (r: MarginRow) => r.costs.map((c) => `${c.amount} ${c.currency}`).join(' + ') || '0.0000';

export async function marginsCommand(
  ctx: AppContext,
  opts: { from?: string; to?: string; groupBy?: MarginGroupBy; json?: boolean },
  out: Out,
) {
  const r = await marginReport(ctx, actor, {
    ...(opts.from ? { from: opts.from } : {}),
    ...(opts.to ? { to: opts.to } : {}),
    ...(opts.groupBy ? { groupBy: opts.groupBy } : {}),
  });
  if (opts.json) return out(JSON.stringify(r, null, 2));
  const label = (row: MarginRow) =>
    r.groupBy === 'service'
      ? `#${row.serviceId} ${row.serviceName}`
      : r.groupBy === 'tariff'
        ? `#${row.tariffId} ${row.tariffName}`
        : row.month!;
  const lines = [
    [r.groupBy, 'currency', 'revenue', 'cost', 'margin'],
    ...r.rows.map((row) => [label(row), row.currency, row.revenue, costText(row), row.margin ?? '-']),
    ...r.totals.map((row) => ['total', row.currency, row.revenue, costText(row), row.margin ?? '-']),
  ];
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  out(`Margins ${r.from} .. ${r.to} by ${r.groupBy}`);
  for (const l of lines)
    out(
      l
        .map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    );
}

const groupByOption = (v: string): MarginGroupBy => {
  if (!(MARGIN_GROUPS as readonly string[]).includes(v))
    throw new InvalidArgumentError(`must be one of ${MARGIN_GROUPS.join(', ')}`);
  return v as MarginGroupBy;
};

export function registerResellingCommands(cli: Command, out: Out): void {
  const modules = cli.command('modules').description('processing modules');
  modules
    .command('import-tariffs')
    .description(
      "import the module's upstream tariffs (new ones hidden; re-import updates the upstream cost, never our price)",
    )
    .argument('<moduleId>', 'the module', positiveId)
    .option('--json', 'print JSON')
    .action(async (moduleId: number, opts: { json?: boolean }) => {
      await withContext({}, (ctx) => importTariffsCommand(ctx, moduleId, opts.json ?? false, out));
    });

  const services = cli.command('services').description("customers' services");
  services
    .command('sync')
    .description("read a service back from its module's upstream: differences shown, the key taken")
    .argument('<serviceId>', 'the service', positiveId)
    .option('--json', 'print JSON')
    .action(async (serviceId: number, opts: { json?: boolean }) => {
      await withContext({}, (ctx) => syncCommand(ctx, serviceId, opts.json ?? false, out));
    });

  const licenses = cli.command('licenses').description('licenses resold through modules');
  licenses
    .command('reconcile')
    .description(
      'compare upstream items with our services and record the findings (GET /api/v1/reconciliation)',
    )
    .option(
      '--module <id>',
      'only this module (default: every enabled module that lists its items)',
      positiveId,
    )
    .option('--json', 'print JSON')
    .action(async (opts: { module?: number; json?: boolean }) => {
      await withContext({}, (ctx) => reconcileCommand(ctx, opts.module, opts.json ?? false, out));
    });

  const report = cli.command('report').description('reports');
  report
    .command('margins')
    .description('revenue against upstream cost per service, tariff or month')
    .option('--from <YYYY-MM-DD>', 'first day (default: the first of the month of --to)')
    .option('--to <YYYY-MM-DD>', 'last day (default: today)')
    .option('--group-by <what>', `${MARGIN_GROUPS.join(', ')} (default: service)`, groupByOption)
    .option('--json', 'print JSON')
    .action(async (opts: { from?: string; to?: string; groupBy?: MarginGroupBy; json?: boolean }) => {
      await withContext({}, (ctx) => marginsCommand(ctx, opts, out));
    });
}
