/**
 * Comparing what the upstream holds with what we hold, for one service (sync) or a whole
 * module (reconciliation). Pure: the caller reads both sides and writes what it decides.
 *
 * What is compared, and why only that:
 * - `missing`: the upstream has no item for the service, or has it deleted;
 * - `status`: only `active` against `suspended` — the states both sides have for a service
 *   that is running; `ordered`/`processing` on either side is a change under way, and an
 *   upstream `unknown` says nothing;
 * - `expiresOn`: when the upstream tells one;
 * - `ip`: when the upstream reports one (an item with no address reports none);
 * - `key`: only for sync, which writes it — a key is the upstream's to define, so a
 *   difference is no finding, just the local copy to refresh.
 */
export type DifferenceField = 'missing' | 'status' | 'expiresOn' | 'ip' | 'key';

export interface Difference {
  readonly field: DifferenceField;
  readonly local: string | null;
  readonly upstream: string | null;
}

/** The upstream's view of an item (the plug-in interface's `RemoteItem`, restated for the domain). */
export interface UpstreamItem {
  readonly externalId: string;
  readonly remoteId: string | null;
  readonly name: string | null;
  readonly status: 'ordered' | 'processing' | 'active' | 'suspended' | 'deleted' | 'unknown';
  readonly expiresOn: string | null;
  readonly params: Readonly<Record<string, string>>;
}

export interface LocalService {
  readonly id: number;
  readonly status: string;
  readonly expiresOn: string | null;
  readonly params: Readonly<Record<string, string>>;
  readonly externalId: string | null;
}

const RUNNING = ['active', 'suspended'];

/** The differences between a service and its upstream item (null: the upstream has none). */
export function compareItem(
  local: Omit<LocalService, 'id' | 'externalId'>,
  upstream: UpstreamItem | null,
  opts: { key?: boolean } = {},
): Difference[] {
  if (!upstream || upstream.status === 'deleted')
    return [{ field: 'missing', local: local.status, upstream: upstream ? 'deleted' : null }];
  const out: Difference[] = [];
  if (RUNNING.includes(local.status) && RUNNING.includes(upstream.status) && local.status !== upstream.status)
    out.push({ field: 'status', local: local.status, upstream: upstream.status });
  if (upstream.expiresOn !== null && local.expiresOn !== upstream.expiresOn)
    out.push({ field: 'expiresOn', local: local.expiresOn, upstream: upstream.expiresOn });
  if (Object.hasOwn(upstream.params, 'ip') && (local.params.ip ?? null) !== upstream.params.ip)
    out.push({ field: 'ip', local: local.params.ip ?? null, upstream: upstream.params.ip ?? null });
  if (opts.key && Object.hasOwn(upstream.params, 'key') && (local.params.key ?? null) !== upstream.params.key)
    out.push({ field: 'key', local: local.params.key ?? null, upstream: upstream.params.key ?? null });
  return out;
}

/** The service's upstream item: by the upstream id we recorded, else by our id the upstream keeps (`remoteid`). */
export function matchItem(
  service: Pick<LocalService, 'id' | 'externalId'>,
  byExternal: ReadonlyMap<string, UpstreamItem>,
  byRemote: ReadonlyMap<string, UpstreamItem>,
): UpstreamItem | null {
  if (service.externalId !== null) {
    const item = byExternal.get(service.externalId);
    if (item) return item;
  }
  return byRemote.get(String(service.id)) ?? null;
}

export type FindingKind = 'orphan' | 'missing' | 'differs';

/** What staff can do about a finding: `accept_upstream` is carried out by Billfold; the rest by hand. */
export type FixAction = 'accept_upstream' | 'review_orphan' | 'review_missing' | 'review_status';

export interface FindingPlan {
  readonly kind: FindingKind;
  readonly subjectKey: string;
  readonly serviceId: number | null;
  readonly externalId: string | null;
  readonly details: Record<string, unknown>;
  readonly fix: string;
  readonly action: FixAction;
}

export interface ReconcileInput {
  /** Every service the module serves, deleted ones included (an item of a deleted service is an orphan). */
  readonly services: readonly (LocalService & { readonly busy: boolean })[];
  readonly items: readonly UpstreamItem[];
}

export interface ReconcilePlan {
  readonly findings: FindingPlan[];
  /** Subjects not judged this time (a service with an operation under way): their findings stay as they are. */
  readonly untouched: string[];
  readonly compared: number;
}

export const serviceSubject = (id: number) => `service:${id}`;
export const itemSubject = (externalId: string) => `item:${externalId}`;

const itemView = (item: UpstreamItem) => ({
  externalId: item.externalId,
  remoteId: item.remoteId,
  name: item.name,
  status: item.status,
  expiresOn: item.expiresOn,
  params: { ...item.params },
});

/**
 * Everything wrong between a module's services and its upstream items. A service with an
 * operation under way (`busy`) is left alone: what it will change is not a finding yet — and
 * its item is not an orphan either.
 */
export function planReconciliation(input: ReconcileInput): ReconcilePlan {
  const byExternal = new Map(input.items.map((i) => [i.externalId, i]));
  const byRemote = new Map<string, UpstreamItem>();
  for (const i of input.items)
    if (i.remoteId !== null && !byRemote.has(i.remoteId)) byRemote.set(i.remoteId, i);
  const claimed = new Set<string>();
  const deletedMatch = new Map<string, number>();
  const findings: FindingPlan[] = [];
  const untouched: string[] = [];
  let compared = 0;
  const live = input.services.filter((s) => s.status !== 'deleted');
  for (const s of live) {
    const item = matchItem(s, byExternal, byRemote);
    if (item) claimed.add(item.externalId);
    if (s.busy) {
      untouched.push(serviceSubject(s.id));
      continue;
    }
    // A service never opened upstream (no upstream id, none found) is not missing: it was never there.
    if (!item && s.externalId === null && (s.status === 'ordered' || s.status === 'processing')) continue;
    compared++;
    const diffs = compareItem(s, item);
    if (diffs.length === 0) continue;
    if (diffs[0]!.field === 'missing') {
      findings.push({
        kind: 'missing',
        subjectKey: serviceSubject(s.id),
        serviceId: s.id,
        externalId: item?.externalId ?? s.externalId,
        details: { localStatus: s.status, upstream: item ? itemView(item) : null },
        fix: item
          ? `The upstream item ${item.externalId} is deleted: order it again upstream, or delete service #${s.id} here.`
          : `The upstream has no item for service #${s.id}: order it again upstream, or delete the service here.`,
        action: 'review_missing',
      });
      continue;
    }
    const acceptable = diffs.some((d) => d.field === 'expiresOn' || d.field === 'ip');
    findings.push({
      kind: 'differs',
      subjectKey: serviceSubject(s.id),
      serviceId: s.id,
      externalId: item!.externalId,
      details: { differences: diffs, upstream: itemView(item!) },
      fix: acceptable
        ? `Take the upstream's ${diffs
            .filter((d) => d.field !== 'status')
            .map((d) => `${d.field} ${d.upstream ?? '(none)'}`)
            .join(
              ' and ',
            )} for service #${s.id}${diffs.some((d) => d.field === 'status') ? '; the status difference is fixed by suspending or resuming by hand' : ''}.`
        : `Service #${s.id} is ${diffs[0]!.local} here and ${diffs[0]!.upstream} upstream: suspend or resume it on the side that is wrong.`,
      action: acceptable ? 'accept_upstream' : 'review_status',
    });
  }
  for (const s of input.services) {
    if (s.status !== 'deleted') continue;
    const item = matchItem(s, byExternal, byRemote);
    if (item && !claimed.has(item.externalId)) deletedMatch.set(item.externalId, s.id);
  }
  for (const item of input.items) {
    if (claimed.has(item.externalId) || item.status === 'deleted') continue;
    const deletedService = deletedMatch.get(item.externalId) ?? null;
    findings.push({
      kind: 'orphan',
      subjectKey: itemSubject(item.externalId),
      serviceId: deletedService,
      externalId: item.externalId,
      details: { upstream: itemView(item), deletedServiceId: deletedService },
      fix:
        deletedService !== null
          ? `Service #${deletedService} is deleted here but its upstream item ${item.externalId} is still ${item.status}: delete it upstream.`
          : `No service here uses upstream item ${item.externalId}${item.remoteId ? ` (remoteid ${item.remoteId})` : ''}: delete it upstream, or attach it to a service by hand.`,
      action: 'review_orphan',
    });
  }
  return { findings, untouched, compared };
}
