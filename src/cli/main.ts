#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatAmount } from '../domain/money.js';
import { parseDate } from '../domain/periods.js';
import {
  createAccount,
  createAdminUser,
  createApiTokenForEmail,
  findAccountByEmail,
  findLedgerMismatches,
  listLedger,
  presentAccount,
  recordPayment,
  systemActor,
} from '../modules/accounts/index.js';
import {
  CreateAccountInput,
  CreateTokenInput,
  CreateUserInput,
  RecordPaymentInput,
} from '../modules/accounts/schemas.js';
import { runBilling } from '../modules/billing/index.js';
import { CONTROL_PANEL_ENUMERATION, seedControlPanels } from '../modules/catalog/index.js';
import { seedDemo } from '../modules/catalog/seed-demo.js';
import { LICENSE_MODULE_NAME, seedIspsystem } from '../modules/catalog/seed-ispsystem.js';
import {
  getDocumentByNumber,
  type PdfLanguage,
  parseContent,
  presentDocument,
  renderDocumentPdf,
} from '../modules/invoices/index.js';
import { runQueuedOperations } from '../modules/services/index.js';
import { startWorker } from '../modules/services/worker.js';
import { today as todayIn } from '../platform/calendar.js';
import type { AppContext } from '../platform/context.js';
import { migrateToLatest } from '../platform/db/index.js';
import { parseInput } from '../platform/validation.js';
import { VERSION } from '../version.js';
import { CliError, reportError, withContext } from './context.js';
import { seedDemoLines } from './demo.js';
import { positiveId, registerResellingCommands } from './reselling.js';
import { serve } from './serve.js';

const cli = new Command('billfold')
  .description('Billing and provisioning for hosting providers')
  .version(VERSION, '-V, --version')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: true });

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
};

const cliActor = systemActor('cli');
const out = (text: string) => process.stdout.write(`${text}\n`);

cli
  .command('version')
  .description('print the version')
  .action(() => {
    out(VERSION);
  });

cli
  .command('migrate')
  .description('apply pending database migrations')
  .action(async () => {
    await withContext({ setup: true }, async (ctx, config) => {
      const applied = await migrateToLatest(ctx.db);
      const where = config.database.kind === 'sqlite' ? config.database.file : 'PostgreSQL';
      out(
        applied.length
          ? `Applied ${applied.length} migration(s) to ${where}: ${applied.join(', ')}`
          : `${where} is up to date.`,
      );
    });
  });

cli
  .command('serve')
  .description('migrate, then serve the API (and later the UI and workers)')
  .addOption(
    new Option('-p, --port <port>', 'port to listen on (default: BILLFOLD_PORT or 8080)').argParser(port),
  )
  .option('--host <host>', 'address to bind (default: BILLFOLD_HOST or localhost)')
  .option('--no-worker', 'serve HTTP only: no daily billing run, no operation executor in this process')
  .option(
    '--demo',
    'on an empty database: start a fake VMmanager 6, a fake DCImanager 6 and a selling Billfold in this process, seed the bundled-license demo and a demo client, and print how to order',
  )
  .option(
    '--starter-catalog',
    'on a database without tariffs: create the ISPsystem license tariffs (catalog seed-ispsystem) so clients have something to order (npm start does)',
  )
  .action(
    async (opts: {
      port?: number;
      host?: string;
      worker?: boolean;
      demo?: boolean;
      starterCatalog?: boolean;
    }) => serve(opts),
  );

const admin = cli.command('admin').description('staff users');
admin
  .command('create')
  .description('create a staff (admin) user')
  .requiredOption('--email <email>', 'email address (the login)')
  .requiredOption('--password <password>', 'password, at least 10 characters')
  .action(async (opts: { email: string; password: string }) => {
    await withContext({}, async (ctx) => {
      const user = await createAdminUser(ctx, cliActor, parseInput(CreateUserInput, opts));
      out(`Created admin user ${user.email} (id ${user.id}).`);
    });
  });

const token = cli.command('token').description('API tokens');
token
  .command('create')
  .description('create an API token for a user and print it (once): for scripts')
  .requiredOption('--email <email>', 'the user (staff or client login) the token acts as')
  .option('--name <name>', 'what the token is for, shown in the user’s token list', 'cli')
  .action(async (opts: { email: string; name: string }) => {
    await withContext({}, async (ctx) => {
      const { name } = parseInput(CreateTokenInput, { name: opts.name });
      const made = await createApiTokenForEmail(ctx, opts.email, name);
      // The secret alone on stdout, so `TOKEN=$(billfold token create …)` works.
      out(made.token);
      process.stderr.write(
        `Created API token ${made.row.id} "${made.row.name}"; it is shown only this once. Send it as "Authorization: Bearer <token>".\n`,
      );
    });
  });

const account = cli.command('account').description('client accounts');
account
  .command('create')
  .description('create a client account (and its login when --password is given)')
  .requiredOption('--email <email>', 'contact email, also the login')
  .requiredOption('--name <name>', 'account name')
  .option('--currency <code>', 'ISO 4217 currency (default: the provider currency)')
  .option('--credit-limit <amount>', 'how far the balance may go below zero, e.g. 50.00')
  .option('--password <password>', 'create a client user with this password')
  .action(
    async (opts: {
      email: string;
      name: string;
      currency?: string;
      creditLimit?: string;
      password?: string;
    }) => {
      await withContext({}, async (ctx) => {
        const input = parseInput(CreateAccountInput, opts);
        const { account: a, user } = await createAccount(ctx, cliActor, input);
        out(
          `Created account ${a.id} ${a.name} <${a.email}> in ${a.currency}${user ? ', with a login' : ''}.`,
        );
      });
    },
  );

account
  .command('show')
  .description('show an account with its balance')
  .requiredOption('--email <email>', 'the account email')
  .option('--json', 'print JSON')
  .action(async (opts: { email: string; json?: boolean }) => {
    await withContext({}, async (ctx) => {
      const a = await findAccountByEmail(ctx, opts.email);
      if (!a) throw new CliError(`No account with email ${opts.email}.`);
      const view = presentAccount(a);
      if (opts.json) {
        out(JSON.stringify(view, null, 2));
        return;
      }
      const recent = await listLedger(ctx, cliActor, view.id, { limit: 5 });
      out(`Account ${view.id}: ${view.name} <${view.email}>`);
      out(`  status:       ${view.status}`);
      out(`  balance:      ${view.balance} ${view.currency}`);
      out(`  credit limit: ${view.creditLimit} ${view.currency}`);
      out(`  created:      ${view.createdAt}`);
      if (recent.length) {
        out('  recent ledger entries:');
        for (const e of recent) {
          out(
            `    ${e.created_at}  ${e.kind.padEnd(10)} ${formatAmount(e.amount_minor, e.currency).padStart(12)}  ${e.description}`,
          );
        }
      }
    });
  });

const payment = cli.command('payment').description('payments');
payment
  .command('add')
  .description('record a payment received for an account')
  .requiredOption('--email <email>', 'the account email')
  .requiredOption('--amount <amount>', 'amount in the account currency, e.g. 100.00')
  .requiredOption('--method <method>', 'payment method, e.g. manual, bank, stripe')
  .requiredOption('--ref <reference>', 'external reference, unique per method')
  .option('--note <text>', 'a note for staff')
  .action(async (opts: { email: string; amount: string; method: string; ref: string; note?: string }) => {
    await withContext({}, async (ctx) => {
      const a = await findAccountByEmail(ctx, opts.email);
      if (!a) throw new CliError(`No account with email ${opts.email}.`);
      const input = parseInput(RecordPaymentInput, {
        amount: opts.amount,
        method: opts.method,
        reference: opts.ref,
        ...(opts.note ? { note: opts.note } : {}),
      });
      const awaiting = await awaitingOrderIds(ctx, Number(a.id));
      // Awaiting orders the payment covers are paid in the payment's own transaction.
      const p = await recordPayment(ctx, cliActor, Number(a.id), input);
      const stillAwaiting = new Set(await awaitingOrderIds(ctx, Number(a.id)));
      const paid = awaiting.filter((id) => !stillAwaiting.has(id));
      if (paid.length) out(`Paid awaiting order(s): ${paid.join(', ')}.`);
      const after = await findAccountByEmail(ctx, opts.email);
      out(
        `Recorded payment ${p.id}: ${formatAmount(p.amount_minor, p.currency)} ${p.currency} (${p.method} ${p.external_ref}); balance ${formatAmount(after!.balance_minor, after!.currency)} ${after!.currency}.`,
      );
    });
  });

async function awaitingOrderIds(ctx: AppContext, accountId: number): Promise<number[]> {
  const rows = await ctx.db.kysely
    .selectFrom('orders')
    .select('id')
    .where('account_id', '=', accountId)
    .where('status', '=', 'awaiting_payment')
    .orderBy('id')
    .execute();
  return rows.map((r) => Number(r.id));
}

const catalog = cli.command('catalog').description('the product catalog');
catalog
  .command('seed-control-panels')
  .description(
    `create the "${CONTROL_PANEL_ENUMERATION}" enumeration with the six ISPmanager values (idempotent)`,
  )
  .action(async () => {
    await withContext({}, async (ctx) => {
      const { enumerationId, created } = await seedControlPanels(ctx);
      out(
        created.length
          ? `Enumeration ${enumerationId} "${CONTROL_PANEL_ENUMERATION}": added ${created.length} value(s): ${created.join(', ')}.`
          : `Enumeration ${enumerationId} "${CONTROL_PANEL_ENUMERATION}" already has all six values.`,
      );
    });
  });

catalog
  .command('seed-ispsystem')
  .description(
    `create the ISPsystem license tariffs under their upstream ids (ISPmanager, CloudLinux, Softaculous, KernelCare, VMmanager 6, DCImanager 6) with example prices, served by the "${LICENSE_MODULE_NAME}" license-issuer module (idempotent)`,
  )
  .option('--json', 'print the summary as JSON')
  .action(async (opts: { json?: boolean }) => {
    await withContext({}, async (ctx) => {
      const s = await seedIspsystem(ctx, cliActor);
      if (opts.json) {
        out(JSON.stringify(s, null, 2));
        return;
      }
      const list = (ids: number[]) => (ids.length ? `: ${ids.join(', ')}` : '');
      const m = s.module;
      out(
        `Module ${m.id} "${m.name}" (license-issuer): ${m.created ? 'created' : 'found'}${m.productTypesAdded.length ? `; now also serves ${m.productTypesAdded.join(', ')}` : ''}.`,
      );
      out(`Tariffs: created ${s.tariffs.created.length}${list(s.tariffs.created)}.`);
      out(`Tariffs: found ${s.tariffs.found.length}${list(s.tariffs.found)}.`);
      out(`Addons: created ${s.addons.created.length}${list(s.addons.created)}.`);
      out(`Addons: found ${s.addons.found.length}${list(s.addons.found)}.`);
      out(`Linked to module ${m.id}: ${s.linked.length}${list(s.linked)}.`);
      if (s.servedElsewhere.length)
        out(`Left with their own modules: ${s.servedElsewhere.length}${list(s.servedElsewhere)}.`);
      out(`Prices are examples in ${s.currency}: edit them in the catalog.`);
    });
  });

const ids = (v: string): number[] => {
  const list = v.split(',').map((x) => x.trim());
  if (list.length === 0 || list.some((x) => !/^[1-9][0-9]{0,15}$/.test(x)))
    throw new InvalidArgumentError('must be ids separated by commas, e.g. 1,2');
  return list.map(Number);
};

catalog
  .command('seed-demo')
  .description(
    `build the bundled-license demo of the product brief (idempotent): the "${CONTROL_PANEL_ENUMERATION}" enumeration with "No panel" (none), a billmanager license server with its tariffs imported (ISPmanager 5 ending 2021-12-31), vmmanager6 and dcimanager6 modules using it, a VPS and a Dedicated tariff with a priced "Control panel" addon`,
  )
  .requiredOption(
    '--billmanager-url <url>',
    'the selling BILLmanager (or Billfold) API, e.g. http://host/billmgr',
  )
  .requiredOption('--billmanager-user <login>', 'the reseller account there')
  .requiredOption('--billmanager-password <password>', "the reseller account's password")
  .requiredOption('--vmmanager-url <url>', 'the VMmanager 6 panel')
  .requiredOption('--vmmanager-user <email>', "the panel administrator's e-mail")
  .requiredOption('--vmmanager-password <password>', "the panel administrator's password")
  .option('--vmmanager-cluster <id>', 'the cluster VPSs are created in', positiveId, 1)
  .option('--vmmanager-os <ids>', 'the OS template ids offered, the first the default', ids, [1, 2])
  .requiredOption('--dcimanager-url <url>', 'the DCImanager 6 panel')
  .requiredOption('--dcimanager-user <email>', "an administrator's e-mail")
  .requiredOption('--dcimanager-password <password>', "the administrator's password")
  .option('--dcimanager-location <id>', 'the location servers are taken from', positiveId, 1)
  .option('--dcimanager-configuration <text>', 'the hardware configuration sold', 'i9-9900K-64Gb-2x1024NVMe')
  .option('--dcimanager-os <ids>', 'the OS template ids offered, the first the default', ids, [11, 12])
  .option('--json', 'print the summary as JSON')
  .action(
    async (o: {
      billmanagerUrl: string;
      billmanagerUser: string;
      billmanagerPassword: string;
      vmmanagerUrl: string;
      vmmanagerUser: string;
      vmmanagerPassword: string;
      vmmanagerCluster: number;
      vmmanagerOs: number[];
      dcimanagerUrl: string;
      dcimanagerUser: string;
      dcimanagerPassword: string;
      dcimanagerLocation: number;
      dcimanagerConfiguration: string;
      dcimanagerOs: number[];
      json?: boolean;
    }) => {
      await withContext({}, async (ctx) => {
        const s = await seedDemo(ctx, cliActor, {
          billmanager: {
            url: o.billmanagerUrl,
            username: o.billmanagerUser,
            password: o.billmanagerPassword,
          },
          vmmanager: {
            url: o.vmmanagerUrl,
            email: o.vmmanagerUser,
            password: o.vmmanagerPassword,
            clusterId: o.vmmanagerCluster,
            osIds: o.vmmanagerOs,
          },
          dcimanager: {
            url: o.dcimanagerUrl,
            email: o.dcimanagerUser,
            password: o.dcimanagerPassword,
            locationId: o.dcimanagerLocation,
            configuration: o.dcimanagerConfiguration,
            osIds: o.dcimanagerOs,
          },
        });
        if (o.json) out(JSON.stringify(s, null, 2));
        else for (const line of seedDemoLines(s)) out(line);
      });
    },
  );

const billing = cli.command('billing').description('the daily billing run');
billing
  .command('run')
  .description('renew, suspend, delete and remind for one date (default: today); safe to rerun')
  .option('--date <YYYY-MM-DD>', 'the date to bill (default: today by the Billfold clock)')
  .option('--dry-run', 'print what the run would do and change nothing')
  .option('--json', 'print the summary as JSON')
  .action(async (opts: { date?: string; dryRun?: boolean; json?: boolean }) => {
    await withContext({}, async (ctx) => {
      let date: ReturnType<typeof parseDate>;
      const today = await todayIn(ctx);
      try {
        date = opts.date ? parseDate(opts.date) : today;
      } catch {
        throw new CliError(`--date must be a calendar date YYYY-MM-DD, not "${opts.date}".`);
      }
      // A real run ahead of time would suspend services that are still paid for.
      if (!opts.dryRun && date.toString() > today.toString()) {
        throw new CliError(`${date} is in the future: only a --dry-run may look ahead.`);
      }
      const tty = process.stderr.isTTY === true && !opts.json;
      let last = 0;
      const summary = await runBilling(ctx, {
        date,
        dryRun: opts.dryRun ?? false,
        listActions: opts.dryRun ?? false,
        onProgress: tty
          ? (done, total, step) => {
              const now = Date.now();
              if (done !== total && now - last < 100) return;
              last = now;
              const width = 30;
              const filled = total ? Math.round((done / total) * width) : width;
              process.stderr.write(
                `\r${step.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
              );
              if (done === total) process.stderr.write('\n');
            }
          : undefined,
      });
      const executed = opts.dryRun ? 0 : await runQueuedOperations(ctx);
      if (opts.json) {
        out(JSON.stringify(summary, null, 2));
        return;
      }
      out(`Billing run for ${summary.date}${summary.dryRun ? ' (dry run: nothing changed)' : ''}:`);
      out(`  renewed:        ${summary.renewed} (${summary.renewedAmount} ${summary.currency})`);
      out(`  renewal failed: ${summary.renewFailed}`);
      out(`  suspended:      ${summary.suspended}`);
      out(`  deleted:        ${summary.deleted}`);
      out(`  reminders:      ${summary.reminders}, low balance: ${summary.lowBalance}`);
      if (summary.alreadyDone) out(`  already done earlier: ${summary.alreadyDone}`);
      if (!summary.dryRun) out(`  operations completed: ${executed}`);
      for (const a of summary.actions)
        out(`    service ${a.serviceId}: ${a.step} → ${a.outcome}${a.amount ? ` (${a.amount})` : ''}`);
    });
  });

cli
  .command('worker')
  .description('run operation workers only (no HTTP); several processes may share one PostgreSQL')
  .option(
    '--concurrency <n>',
    'operations run at once in this process',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64)
        throw new InvalidArgumentError('must be a whole number from 1 to 64');
      return n;
    },
    1,
  )
  .action(async (opts: { concurrency: number }) => {
    await withContext({ logLevel: 'info' }, async (ctx) => {
      const worker = startWorker(ctx, { concurrency: opts.concurrency });
      await new Promise<void>((resolve) => {
        // Once: Ctrl-C under `npm run billfold` delivers SIGINT twice (terminal and npm).
        let stopping = false;
        const stop = () => {
          if (stopping) return;
          stopping = true;
          void worker.stop().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        // Announced only once a signal is handled: a supervisor that signals on this line
        // must get a clean stop.
        process.stderr.write(
          `worker ${worker.id} running ${opts.concurrency} slot(s); stop with SIGTERM or Ctrl-C\n`,
        );
      });
    });
  });

const ledger = cli.command('ledger').description('the balance ledger');
ledger
  .command('check')
  .description('verify that every stored balance equals the sum of its entries and respects the credit limit')
  .action(async () => {
    await withContext({}, async (ctx) => {
      const bad = await findLedgerMismatches(ctx);
      if (bad.length === 0) {
        out('Ledger OK: every balance equals the sum of its entries.');
        return;
      }
      for (const m of bad)
        out(
          `account ${m.accountId}: stored ${m.stored}, entries sum ${m.sumOfEntries}, credit limit ${m.creditLimit}`,
        );
      throw new CliError(`${bad.length} account(s) out of balance.`, 3);
    });
  });

const invoice = cli.command('invoice').description('invoices and receipts');
invoice
  .command('show')
  .description('print a receipt or invoice by its number, and write its PDF with --pdf')
  .argument('<number>', 'the document number', positiveId)
  .option('--pdf <file>', 'write the PDF to this file')
  .addOption(new Option('--lang <lang>', 'language of the PDF').choices(['en', 'ru']).default('en'))
  .option('--json', 'print JSON')
  .action(async (number: number, opts: { pdf?: string; lang: PdfLanguage; json?: boolean }) => {
    await withContext({}, async (ctx) => {
      const doc = await getDocumentByNumber(ctx, cliActor, number);
      const view = presentDocument(doc);
      if (opts.json) out(JSON.stringify(view, null, 2));
      else {
        out(
          `${view.kind === 'receipt' ? 'Receipt' : 'Invoice'} ${view.number} of ${view.issuedOn} (id ${view.id})`,
        );
        out(`  seller: ${view.seller.legalName ?? view.seller.name}`);
        out(
          `  buyer:  ${view.buyer.legalName ?? view.buyer.name} <${view.buyer.email}> (account ${view.accountId})`,
        );
        for (const l of view.lines) {
          const period =
            l.start && l.end ? `${l.start} – ${l.end}` : l.months !== null ? `${l.months} mo.` : '';
          out(`    ${l.description.padEnd(40)} ${period.padEnd(24)} ${l.amount.padStart(12)}`);
        }
        out(`  net:    ${view.net} ${view.currency}`);
        out(
          `  VAT:    ${view.vat} ${view.currency}${view.vatRate === null ? ' (no VAT)' : ` (${view.vatRate} %, included)`}`,
        );
        out(`  total:  ${view.total} ${view.currency}`);
      }
      if (opts.pdf) {
        const pdf = await renderDocumentPdf(parseContent(doc.content), opts.lang);
        writeFileSync(opts.pdf, pdf);
        (opts.json ? process.stderr : process.stdout).write(`Wrote ${opts.pdf} (${pdf.length} bytes).\n`);
      }
    });
  });

registerResellingCommands(cli, out);

cli.parseAsync(process.argv).catch((err: unknown) => {
  process.exitCode = reportError(err);
});
