import {
  type Difference,
  type FindingPlan,
  planReconciliation,
  type UpstreamItem,
} from '../../domain/reconciliation.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import {
  type FindingKind,
  type FindingStatus,
  inTransaction,
  lockRows,
  type ReconciliationFindingRow,
  type Tx,
} from '../../platform/db/index.js';
import { conflict, invalid, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorLabel, requireStaff, systemActor } from '../accounts/actor.js';
import { recordHistory } from '../services/history.js';
import { bindLicenseIp, licenseFamily } from '../services/license-ips.js';
import { lockService, PENDING_OPERATION, productTypeOf } from '../services/repository.js';
import { openModuleFor, upstreamFailure } from './upstream.js';

/**
 * Reconciliation (issue 12): a module's upstream items (`listItems`) against the services it
 * serves. Findings — orphans, missing items, differences — are kept per module, one row per
 * subject and kind (`reconciliation_findings`), with the fix offered; nothing about a service
 * changes unless staff accept the upstream's values (`resolveFinding`).
 *
 * The upstream is asked before any transaction; the findings are then written in one. Two
 * reconciliations of one module at once cannot duplicate a finding: each one inserts with
 * "on conflict do nothing" on the unique (module, kind, subject), then locks the row it
 * found and updates it.
 */

export interface ReconcileResult {
  moduleId: number;
  /** Upstream items listed. */
  items: number;
  /** Services compared with their upstream item. */
  compared: number;
  /** Findings new or true again. */
  opened: number;
  /** Findings still true (open or dismissed), brought up to date. */
  seenAgain: number;
  /** Findings no longer true, resolved now. */
  resolved: number;
  /** Open findings of the module after this run. */
  open: number;
}

interface ItemShape {
  externalId: unknown;
}
const validItem = (i: ItemShape): i is UpstreamItem =>
  typeof i.externalId === 'string' && i.externalId !== '';

/** Lists the module's upstream items and records what differs from our services. */
export async function reconcileModule(
  ctx: AppContext,
  actor: Actor,
  moduleId: number,
): Promise<ReconcileResult> {
  requireStaff(actor);
  const { row, plugin, instance } = await openModuleFor(ctx, moduleId, 'listItems', 'reconcile_unsupported');
  let items: readonly UpstreamItem[];
  try {
    items = await plugin.listItems!(instance, ctx);
  } catch (err) {
    throw upstreamFailure(err, row.name, 'list its upstream items');
  }
  const bad = items.find((i) => !validItem(i));
  if (bad)
    throw conflict('upstream_bad_answer', `Module "${row.name}" listed an item without an id.`, { moduleId });
  const db = ctx.db.kysely;
  const services = await db
    .selectFrom('services')
    .select(['id', 'status', 'expires_on', 'params', 'external_id'])
    .where('module_id', '=', moduleId)
    .orderBy('id')
    .execute();
  const busy = new Set(
    (
      await db
        .selectFrom('operations as o')
        .innerJoin('services as s', 's.id', 'o.service_id')
        .select('o.service_id')
        .distinct()
        .where('s.module_id', '=', moduleId)
        .where('o.status', 'in', [...PENDING_OPERATION])
        .execute()
    ).map((r) => toId(r.service_id)),
  );
  const plan = planReconciliation({
    services: services.map((s) => ({
      id: toId(s.id),
      status: s.status,
      expiresOn: s.expires_on,
      params: JSON.parse(s.params) as Record<string, string>,
      externalId: s.external_id,
      busy: busy.has(toId(s.id)),
    })),
    items,
  });
  const now = isoNow(ctx.clock);
  return inTransaction(ctx.db, async (tx) => {
    let opened = 0;
    let seenAgain = 0;
    const current = new Set<string>();
    for (const f of plan.findings) {
      current.add(`${f.kind}|${f.subjectKey}`);
      const outcome = await upsertFinding(tx, moduleId, f, now);
      if (outcome === 'opened') opened++;
      else seenAgain++;
    }
    const untouched = new Set(plan.untouched);
    const open = await tx
      .selectFrom('reconciliation_findings')
      .select(['id', 'kind', 'subject_key'])
      .where('module_id', '=', moduleId)
      .where('status', '=', 'open')
      .execute();
    const stale = open
      .filter((r) => !current.has(`${r.kind}|${r.subject_key}`) && !untouched.has(r.subject_key))
      .map((r) => r.id);
    if (stale.length > 0) {
      await tx
        .updateTable('reconciliation_findings')
        .set({
          status: 'resolved',
          resolution: 'no_longer_true',
          resolved_at: now,
          resolved_by: actorLabel(actor),
          updated_at: now,
        })
        .where('id', 'in', stale)
        .where('status', '=', 'open')
        .execute();
    }
    const left = await tx
      .selectFrom('reconciliation_findings')
      .select((eb) => eb.fn.countAll<string | number | bigint>().as('n'))
      .where('module_id', '=', moduleId)
      .where('status', '=', 'open')
      .executeTakeFirstOrThrow();
    return {
      moduleId,
      items: items.length,
      compared: plan.compared,
      opened,
      seenAgain,
      resolved: stale.length,
      open: Number(left.n),
    };
  });
}

/**
 * Writes one finding: new → open; resolved and true again → open again; dismissed → stays
 * dismissed while staff saw the same thing, opens again when it changed; open → brought up to date.
 */
async function upsertFinding(
  tx: Tx,
  moduleId: number,
  f: FindingPlan,
  now: string,
): Promise<'opened' | 'seen'> {
  const details = JSON.stringify(f.details);
  const inserted = await tx
    .insertInto('reconciliation_findings')
    .values({
      module_id: moduleId,
      kind: f.kind,
      subject_key: f.subjectKey,
      service_id: f.serviceId,
      external_id: f.externalId,
      details,
      fix: f.fix,
      action: f.action,
      status: 'open',
      first_seen_at: now,
      last_seen_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.columns(['module_id', 'kind', 'subject_key']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return 'opened';
  const existing = await tx
    .selectFrom('reconciliation_findings')
    .selectAll()
    .where('module_id', '=', moduleId)
    .where('kind', '=', f.kind)
    .where('subject_key', '=', f.subjectKey)
    .$call((q) => lockRows(tx, q))
    .executeTakeFirstOrThrow();
  const reopen =
    existing.status === 'resolved' || (existing.status === 'dismissed' && existing.details !== details);
  await tx
    .updateTable('reconciliation_findings')
    .set({
      service_id: f.serviceId,
      external_id: f.externalId,
      details,
      fix: f.fix,
      action: f.action,
      last_seen_at: now,
      updated_at: now,
      ...(reopen
        ? {
            status: 'open' as const,
            first_seen_at: existing.status === 'resolved' ? now : existing.first_seen_at,
            resolved_at: null,
            resolved_by: null,
            resolution: null,
          }
        : {}),
    })
    .where('id', '=', existing.id)
    .execute();
  return reopen ? 'opened' : 'seen';
}

export function presentFinding(r: ReconciliationFindingRow) {
  return {
    id: toId(r.id),
    moduleId: toId(r.module_id),
    kind: r.kind,
    serviceId: r.service_id === null ? null : toId(r.service_id),
    externalId: r.external_id,
    details: JSON.parse(r.details) as Record<string, unknown>,
    fix: { text: r.fix, action: r.action },
    status: r.status,
    firstSeenAt: r.first_seen_at,
    lastSeenAt: r.last_seen_at,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    resolution: r.resolution,
  };
}
export type FindingView = ReturnType<typeof presentFinding>;

export interface FindingFilter {
  moduleId?: number;
  kind?: FindingKind;
  status?: FindingStatus;
  limit: number;
  before?: number;
}

export async function listFindings(ctx: AppContext, actor: Actor, filter: FindingFilter) {
  requireStaff(actor);
  let q = ctx.db.kysely
    .selectFrom('reconciliation_findings')
    .selectAll()
    .orderBy('id', 'desc')
    .limit(filter.limit);
  if (filter.moduleId !== undefined) q = q.where('module_id', '=', filter.moduleId);
  if (filter.kind) q = q.where('kind', '=', filter.kind);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.before !== undefined) q = q.where('id', '<', filter.before);
  return q.execute();
}

export type ResolveAction = 'dismiss' | 'accept_upstream';

const notOpen = (r: ReconciliationFindingRow) =>
  conflict(
    'finding_not_open',
    `Finding #${toId(r.id)} is ${r.status}: only an open finding can be resolved.`,
    {
      findingId: toId(r.id),
      status: r.status,
    },
  );

async function lockFinding(tx: Tx, id: number): Promise<ReconciliationFindingRow> {
  const row = await tx
    .selectFrom('reconciliation_findings')
    .selectAll()
    .where('id', '=', id)
    .$call((q) => lockRows(tx, q))
    .executeTakeFirst();
  if (!row) throw notFound('finding', { findingId: id });
  return row;
}

/**
 * Staff act on a finding. `dismiss`: leave it as it is (it stays dismissed while the same
 * thing is seen). `accept_upstream` (a `differs` finding): the service takes the upstream's
 * expiry and IP — under the service's lock, taken first; the values must still be those the
 * finding recorded (else `finding_stale`: reconcile again); the IP moves through the license
 * IP registry (`ip_taken` when another license holds it); a history entry records it. A
 * status difference is not Billfold's to copy: it stays, as the finding's remainder.
 */
export async function resolveFinding(
  ctx: AppContext,
  actor: Actor,
  id: number,
  action: ResolveAction,
): Promise<ReconciliationFindingRow> {
  requireStaff(actor);
  const seen = await ctx.db.kysely
    .selectFrom('reconciliation_findings')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!seen) throw notFound('finding', { findingId: id });
  const now = isoNow(ctx.clock);
  if (action === 'dismiss') {
    return inTransaction(ctx.db, async (tx) => {
      const f = await lockFinding(tx, id);
      if (f.status !== 'open') throw notOpen(f);
      return tx
        .updateTable('reconciliation_findings')
        .set({
          status: 'dismissed',
          resolution: 'dismiss',
          resolved_at: now,
          resolved_by: actorLabel(actor),
          updated_at: now,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  }
  if (seen.kind !== 'differs' || seen.action !== 'accept_upstream' || seen.service_id === null)
    throw invalid(
      'action_not_applicable',
      `Finding #${id} (${seen.kind}) has nothing Billfold can take from the upstream: ${seen.fix}`,
      { findingId: id, kind: seen.kind, offered: seen.action },
    );
  const serviceId = toId(seen.service_id);
  return inTransaction(ctx.db, async (tx) => {
    const service = await lockService(tx, serviceId);
    const f = await lockFinding(tx, id);
    if (f.status !== 'open') throw notOpen(f);
    if (f.action !== 'accept_upstream') throw invalid('action_not_applicable', f.fix, { findingId: id });
    const differences = (JSON.parse(f.details) as { differences: Difference[] }).differences;
    const params = JSON.parse(service.params) as Record<string, string>;
    const taken = differences.filter((d) => d.field === 'expiresOn' || d.field === 'ip');
    const localNow = (d: Difference) => (d.field === 'ip' ? (params.ip ?? null) : service.expires_on);
    const moved = taken.filter((d) => localNow(d) !== d.local);
    if (moved.length > 0 || service.status === 'deleted')
      throw conflict(
        'finding_stale',
        `Service #${serviceId} changed since the reconciliation: reconcile again.`,
        {
          findingId: id,
          fields: moved.map((d) => d.field),
        },
      );
    const change: { expires_on?: string | null; params?: string; updated_at: string } = { updated_at: now };
    for (const d of taken) {
      if (d.field === 'expiresOn') change.expires_on = d.upstream;
      if (d.field === 'ip') {
        const family = licenseFamily((await productTypeOf(tx, service)).code, toId(service.tariff_id));
        if (family) await bindLicenseIp(tx, serviceId, family, d.upstream);
        if (d.upstream === null) delete params.ip;
        else params.ip = d.upstream;
        change.params = JSON.stringify(params);
      }
    }
    await tx.updateTable('services').set(change).where('id', '=', serviceId).execute();
    await recordHistory(tx, ctx, actor, serviceId, 'upstream_values_accepted', {
      details: {
        findingId: id,
        moduleId: toId(f.module_id),
        changes: taken.map((d) => ({ field: d.field, from: d.local, to: d.upstream })),
      },
    });
    const rest = differences.filter((d) => d.field !== 'expiresOn' && d.field !== 'ip');
    const details = { ...(JSON.parse(f.details) as Record<string, unknown>), differences: rest };
    return tx
      .updateTable('reconciliation_findings')
      .set(
        rest.length === 0
          ? {
              status: 'resolved',
              resolution: 'accept_upstream',
              resolved_at: now,
              resolved_by: actorLabel(actor),
              updated_at: now,
            }
          : {
              details: JSON.stringify(details),
              action: 'review_status',
              fix: `Service #${serviceId} is ${rest[0]!.local} here and ${rest[0]!.upstream} upstream: suspend or resume it on the side that is wrong.`,
              updated_at: now,
            },
      )
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

export interface DailyReconciliation {
  modules: number;
  opened: number;
  resolved: number;
  failed: { moduleId: number; name: string; code: string; message: string }[];
}

/**
 * The daily step, after the billing run: every enabled module whose plug-in lists its items is
 * reconciled, one after the other, each outside any transaction while it asks its upstream. A
 * module that fails is logged and left for staff as an open task (one per module and date),
 * and the others go on; the step itself never fails.
 */
export async function reconcileEnabledModules(ctx: AppContext, date: string): Promise<DailyReconciliation> {
  const actor = systemActor('reconciliation');
  const out: DailyReconciliation = { modules: 0, opened: 0, resolved: 0, failed: [] };
  const modules = await ctx.db.kysely
    .selectFrom('processing_modules')
    .select(['id', 'name', 'module_type'])
    .where('enabled', '=', 1)
    .orderBy('id')
    .execute();
  for (const m of modules) {
    if (!ctx.plugins.get(m.module_type)?.listItems) continue;
    const moduleId = toId(m.id);
    out.modules++;
    try {
      const r = await reconcileModule(ctx, actor, moduleId);
      out.opened += r.opened;
      out.resolved += r.resolved;
    } catch (err) {
      const code =
        typeof (err as { code?: unknown })?.code === 'string'
          ? (err as { code: string }).code
          : 'internal_error';
      const message = err instanceof Error ? err.message : String(err);
      out.failed.push({ moduleId, name: m.name, code, message });
      ctx.logger.error({ err, moduleId, date }, 'daily reconciliation: a module failed');
      await recordModuleFailure(ctx, moduleId, m.name, date, code, message).catch((e: unknown) =>
        ctx.logger.error({ err: e, moduleId }, 'daily reconciliation: could not record the failure'),
      );
    }
  }
  return out;
}

async function recordModuleFailure(
  ctx: AppContext,
  moduleId: number,
  name: string,
  date: string,
  code: string,
  message: string,
) {
  const title = `Reconciliation ${date}: module "${name}" (#${moduleId}) failed`;
  await inTransaction(ctx.db, async (tx) => {
    const already = await tx
      .selectFrom('staff_tasks')
      .select('id')
      .where('kind', '=', 'billing_error')
      .where('status', '=', 'open')
      .where('title', '=', title)
      .executeTakeFirst();
    if (already) return;
    await tx
      .insertInto('staff_tasks')
      .values({
        operation_id: null,
        service_id: null,
        kind: 'billing_error',
        status: 'open',
        title,
        details: JSON.stringify({ date, step: 'reconcile', moduleId, code, message }),
        created_at: isoNow(ctx.clock),
      })
      .execute();
  });
}
