import { countsAsIpChange, ipChangeAllowed, ipChangeRule, nextIpChangeOn } from '../../domain/licenses.js';
import { isClosing } from '../../domain/lifecycle.js';
import type { AppContext } from '../../platform/context.js';
import type { OperationRow, ServiceRow, Tx } from '../../platform/db/index.js';
import { conflict } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import type { Actor } from '../accounts/actor.js';
import { recordHistory } from '../services/history.js';
import { claimLicenseIp, ipTaken, licenseFamily, licenseIpHolder } from '../services/license-ips.js';
import { enqueueOperation } from '../services/operations.js';
import { requestKey, servingPlugin } from '../services/remote-changes.js';
import { productTypeOf, serviceState } from '../services/repository.js';
import { isPendingChange, licenseChanges } from './view.js';

/**
 * IP changes and new keys of a module-served license (an upstream issues it): each is a
 * `set_param` operation the module's plug-in carries out (`setParam` for `{param: 'ip'}`,
 * `genKey` for `{param: 'key'}`), queued in the caller's transaction under the service's lock.
 * Nothing in the service's parameters changes until the operation completes: completion
 * merges what the plug-in learnt and moves the address hold (services/lifecycle.ts). The
 * operation is `refusable`: the upstream's refusal ends it with its message for the client
 * (services/engine.ts), nothing else.
 *
 * One request of each kind at a time: asking again for what is already on its way (a double
 * click) finds that operation; asking for another address meanwhile is `ip_change_pending`.
 */
export type RemoteChange = { readonly outcome: 'queued'; readonly operation: OperationRow };

/** The monthly rule refused a counted change: the rule and the day it allows the next one. */
export const ipChangeLimit = (lastChange: string | null, today: string) =>
  conflict('ip_change_limit', 'The IP address of a license can be changed once a calendar month.', {
    lastChange,
    nextIpChangeOn: nextIpChangeOn(lastChange, today),
    rule: ipChangeRule(lastChange, today),
  });

/** Whether a module-served license can change its IP now (ignoring the monthly rule): why not, or null. */
export async function remoteIpChangeBlocker(
  ctx: AppContext,
  db: Tx | AppContext['db']['kysely'],
  service: ServiceRow,
): Promise<'not_live' | 'unsupported' | null> {
  const state = await serviceState(db, service);
  if (isClosing(state) || (service.status !== 'active' && service.status !== 'suspended')) return 'not_live';
  const plugin = await servingPlugin(ctx, db, service);
  if (!plugin?.setParam || !plugin.features.includes('setParam')) return 'unsupported';
  return null;
}

async function assertLive(tx: Tx, service: ServiceRow): Promise<void> {
  const state = await serviceState(tx, service);
  if (isClosing(state)) throw conflict('service_deleted', 'The license is deleted or being deleted.');
  if (service.status !== 'active' && service.status !== 'suspended')
    throw conflict(
      service.status === 'deleted' ? 'service_deleted' : 'license_not_issued',
      service.status === 'deleted'
        ? 'The license is deleted.'
        : 'The license is still being issued; its IP and key can change once it is active.',
      { status: service.status },
    );
}

export async function requestRemoteIpChange(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  service: ServiceRow,
  ip: string,
  today: string,
): Promise<RemoteChange | { readonly outcome: 'unchanged' }> {
  const serviceId = toId(service.id);
  await assertLive(tx, service);
  const params = JSON.parse(service.params) as Record<string, string>;
  const from = params.ip ?? null;
  const pending = (await licenseChanges(tx, serviceId)).filter((c) => c.kind === 'ip' && isPendingChange(c));
  const same = pending.find((c) => c.value === ip);
  if (same) return { outcome: 'queued', operation: same.op };
  if (pending.length > 0)
    throw conflict(
      'ip_change_pending',
      'An IP change of this license is already on its way; wait for its answer.',
      {
        operationId: toId(pending[0]!.op.id),
        value: pending[0]!.value,
      },
    );
  if (from === ip) return { outcome: 'unchanged' };
  const plugin = await servingPlugin(ctx, tx, service);
  if (!plugin?.setParam || !plugin.features.includes('setParam'))
    throw conflict('ip_change_unsupported', "This license's module cannot change its IP address.", {
      module: plugin?.type ?? null,
    });
  const lastChange = params.ipChangedOn ?? null;
  if (countsAsIpChange(from, ip) && !ipChangeAllowed(lastChange, today))
    throw ipChangeLimit(lastChange, today);
  const family = licenseFamily((await productTypeOf(tx, service)).code, toId(service.tariff_id));
  if (family && (await licenseIpHolder(tx, family, ip, serviceId)) !== null) throw ipTaken(ip);
  const operation = await enqueueOperation(
    tx,
    ctx,
    serviceId,
    'set_param',
    { param: 'ip', value: ip, previous: from, refusable: true },
    await requestKey(tx, serviceId, 'license', `ip:${ip}`),
  );
  // The address is claimed in this transaction: a concurrent order or change for it loses.
  if (family) await claimLicenseIp(tx, serviceId, family, ip, toId(operation.id));
  await recordHistory(tx, ctx, actor, serviceId, 'ip_change_requested', {
    details: { from, to: ip, operationId: toId(operation.id), counted: countsAsIpChange(from, ip) },
  });
  return { outcome: 'queued', operation };
}

export async function requestRemoteKey(
  tx: Tx,
  ctx: AppContext,
  actor: Actor,
  service: ServiceRow,
): Promise<RemoteChange> {
  const serviceId = toId(service.id);
  await assertLive(tx, service);
  const pending = (await licenseChanges(tx, serviceId)).find((c) => c.kind === 'key' && isPendingChange(c));
  if (pending) return { outcome: 'queued', operation: pending.op };
  const plugin = await servingPlugin(ctx, tx, service);
  if (!plugin?.genKey || !plugin.features.includes('genKey'))
    throw conflict('key_change_unsupported', "This license's module cannot issue a new key.", {
      module: plugin?.type ?? null,
    });
  const operation = await enqueueOperation(
    tx,
    ctx,
    serviceId,
    'set_param',
    { param: 'key', refusable: true },
    await requestKey(tx, serviceId, 'license', 'key'),
  );
  await recordHistory(tx, ctx, actor, serviceId, 'key_change_requested', {
    details: { operationId: toId(operation.id) },
  });
  return { outcome: 'queued', operation };
}
