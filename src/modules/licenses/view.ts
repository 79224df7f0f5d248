import { IP_CHANGE_RULE, ipChangeAllowed, ipChangeRule, nextIpChangeOn } from '../../domain/licenses.js';
import type { AppContext } from '../../platform/context.js';
import type { OperationRow, ServiceRow, Tx } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import type { LicenseSource } from './source.js';

type Reader = Tx | AppContext['db']['kysely'];

export type LicenseChangeKind = 'ip' | 'key';

/** An IP change or a new key on its way to the upstream. */
export interface PendingLicenseChange {
  readonly kind: LicenseChangeKind;
  readonly operationId: number;
  readonly status: 'queued' | 'running' | 'retry_wait';
  /** The address asked for (an IP change); null for a new key. */
  readonly value: string | null;
  readonly requestedAt: string;
  /** A retry is under way after this error (the upstream was not reachable, say). */
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string } | null;
}

/** The latest IP change or new key that did not happen, with the upstream's own words. */
export interface FailedLicenseChange {
  readonly kind: LicenseChangeKind;
  readonly operationId: number;
  readonly value: string | null;
  readonly code: string;
  readonly message: string;
  readonly at: string;
}

export interface LicenseView {
  readonly source: LicenseSource;
  readonly status: ServiceRow['status'];
  readonly key: string | null;
  readonly ip: string | null;
  readonly expiresOn: string | null;
  readonly ipChangedOn: string | null;
  readonly keyChangedOn: string | null;
  readonly ipChangeAllowed: boolean;
  readonly nextIpChangeOn: string | null;
  readonly ipChangeRule: string;
  readonly pending: PendingLicenseChange[];
  readonly lastError: FailedLicenseChange | null;
}

const PENDING = ['queued', 'running', 'retry_wait'] as const;

interface ChangeOp {
  readonly kind: LicenseChangeKind;
  readonly op: OperationRow;
  readonly value: string | null;
}

/** The service's license IP changes and new keys asked through the license API, newest first. */
export async function licenseChanges(db: Reader, serviceId: number): Promise<ChangeOp[]> {
  const ops = await db
    .selectFrom('operations')
    .selectAll()
    .where('service_id', '=', serviceId)
    .where('kind', '=', 'set_param')
    .orderBy('id', 'desc')
    .limit(200)
    .execute();
  const out: ChangeOp[] = [];
  for (const op of ops) {
    const p = JSON.parse(op.payload) as { param?: unknown; value?: unknown };
    if (p.param !== 'ip' && p.param !== 'key') continue;
    out.push({ kind: p.param, op, value: typeof p.value === 'string' ? p.value : null });
  }
  return out;
}

export const isPendingChange = (c: ChangeOp): boolean =>
  (PENDING as readonly string[]).includes(c.op.status) || c.op.status === 'failed';

const errorOf = (op: OperationRow) => {
  if (!op.last_error) return null;
  const e = JSON.parse(op.last_error) as { code?: string; message?: string; at?: string };
  return { code: e.code ?? 'unknown', message: e.message ?? '', at: e.at ?? op.updated_at };
};

/**
 * What the owner sees of a license, whoever serves it: its state and key, the IP rule
 * explained before they try, what is on its way and what was refused.
 *
 * - `key` is null while the license is being issued and once it is deleted.
 * - For a Billfold-issued license the change days come from `issued_licenses`; for a
 *   module-served one from the service's parameters (what the module learnt).
 * - `lastError`: of the newest finished IP change and new key, one that failed (the newest
 *   such); a later success of the same kind clears it.
 */
export async function buildLicenseView(
  db: Reader,
  service: ServiceRow,
  source: LicenseSource,
  issued: { license_key: string; ip_changed_on: string | null; key_changed_on: string | null } | null,
  opts: { today: string; canChangeIp: boolean },
): Promise<LicenseView> {
  const params = JSON.parse(service.params) as Record<string, string>;
  const deleted = service.status === 'deleted';
  const ipChangedOn = (source === 'billfold' ? issued?.ip_changed_on : params.ipChangedOn) ?? null;
  const keyChangedOn = (source === 'billfold' ? issued?.key_changed_on : params.keyChangedOn) ?? null;
  const rawKey = source === 'billfold' ? (issued?.license_key ?? null) : (params.key ?? null);
  const changes = await licenseChanges(db, toId(service.id));
  const pending: PendingLicenseChange[] = changes
    .filter((c) => (PENDING as readonly string[]).includes(c.op.status))
    .reverse()
    .map((c) => ({
      kind: c.kind,
      operationId: toId(c.op.id),
      status: c.op.status as PendingLicenseChange['status'],
      value: c.value,
      requestedAt: c.op.created_at,
      lastError: errorOf(c.op) && c.op.status === 'retry_wait' ? errorOf(c.op) : null,
    }));
  let lastError: FailedLicenseChange | null = null;
  for (const kind of ['ip', 'key'] as const) {
    const newest = changes.find(
      (c) => c.kind === kind && !(PENDING as readonly string[]).includes(c.op.status),
    );
    if (!newest || newest.op.status === 'done') continue;
    const e = errorOf(newest.op);
    if (!e || (lastError && toId(newest.op.id) < lastError.operationId)) continue;
    lastError = { kind, operationId: toId(newest.op.id), value: newest.value, ...e };
  }
  const today = opts.today;
  const ipPending = pending.some((p) => p.kind === 'ip');
  const allowedByRule = ipChangeAllowed(ipChangedOn, today);
  // Where this license stands: deleted, waiting for an answer, or by the monthly rule.
  const rule = deleted
    ? `${IP_CHANGE_RULE} The license is deleted: its address no longer changes.`
    : ipPending
      ? `${IP_CHANGE_RULE} A change to ${pending.find((p) => p.kind === 'ip')!.value} is on its way to the license server; another can be asked for once it is answered.`
      : `${ipChangeRule(ipChangedOn, today)}${opts.canChangeIp ? '' : ' This license cannot change its IP address now.'}`;
  return {
    source,
    status: service.status,
    key: deleted ? null : rawKey,
    ip: params.ip ?? null,
    expiresOn: service.expires_on,
    ipChangedOn,
    keyChangedOn,
    ipChangeAllowed: !deleted && opts.canChangeIp && !ipPending && allowedByRule,
    nextIpChangeOn: deleted || !opts.canChangeIp || ipPending ? null : nextIpChangeOn(ipChangedOn, today),
    ipChangeRule: rule,
    pending,
    lastError,
  };
}
