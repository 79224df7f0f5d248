import { isClosing } from '../../domain/lifecycle.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, type OperationRow } from '../../platform/db/index.js';
import { conflict } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { requireIp } from '../../platform/ip.js';
import { type Actor, requireStaff } from '../accounts/actor.js';
import type { ServerParam, SetParamPayload } from '../provisioning/plugin.js';
import { recordHistory } from './history.js';
import { enqueueOperation } from './operations.js';
import { requestKey, servingPlugin, unsettledSetParams } from './remote-changes.js';
import { lockService, serviceState } from './repository.js';

/**
 * A server's owner (or staff) asks its module for a reinstall with another OS or a new root
 * password: a `set_param` operation (`{param: 'os', value}` / `{param: 'password'}`) queued
 * under the service's lock, as a license's IP change is (licenses/remote.ts). The module's
 * plug-in does it and reports the new OS and sealed password; the service's params change when
 * the operation completes. A reinstall is `refusable`: an OS the tariff does not offer, or an
 * install the panel fails, ends the request with the panel's words for the client (the
 * operation `cancelled` with its error), not a staff task.
 *
 * Refused at once, with nothing queued: a deleted or closing service (`service_deleted`), a
 * suspended one (`service_suspended`), one not active yet (`service_not_active`), one whose
 * module cannot do it (`reinstall_unsupported`, `root_password_unsupported`); a reinstall to
 * another OS while one is on its way (`reinstall_pending`). The same request again while it is
 * on its way finds that operation.
 */
export type ServerChange =
  | { readonly param: 'os'; readonly value: string }
  | { readonly param: 'password' }
  | { readonly param: 'ip'; readonly value: string };

const WHAT: Record<ServerParam, { unsupported: string; label: string; history: string }> = {
  os: { unsupported: 'reinstall_unsupported', label: 'reinstall its OS', history: 'reinstall_requested' },
  password: {
    unsupported: 'root_password_unsupported',
    label: 'set a new root password',
    history: 'root_password_reset_requested',
  },
  ip: { unsupported: 'server_ip_unsupported', label: 'take another address', history: 'ip_change_requested' },
};

export async function requestServerChange(
  ctx: AppContext,
  actor: Actor,
  serviceId: number,
  change: ServerChange,
): Promise<OperationRow> {
  const what = WHAT[change.param];
  if (change.param === 'ip') requireStaff(actor);
  const value =
    change.param === 'password' ? null : change.param === 'ip' ? requireIp(change.value) : change.value;
  return inTransaction(ctx.db, async (tx) => {
    const service = await lockService(tx, serviceId, actor);
    if (service.status === 'deleted' || isClosing(await serviceState(tx, service)))
      throw conflict('service_deleted', 'The server is deleted or being deleted.', { serviceId });
    if (service.status === 'suspended')
      throw conflict(
        'service_suspended',
        `A suspended server cannot ${what.label}; it must be resumed first.`,
        {
          serviceId,
          suspendReason: service.suspend_reason,
        },
      );
    if (service.status !== 'active')
      throw conflict('service_not_active', `The server is not active yet: it cannot ${what.label}.`, {
        serviceId,
        status: service.status,
      });
    const plugin = await servingPlugin(ctx, tx, service);
    if (
      !plugin?.setParam ||
      !plugin.features.includes('setParam') ||
      !plugin.serverParams?.includes(change.param)
    )
      throw conflict(what.unsupported, `This server's module cannot ${what.label}.`, {
        serviceId,
        module: plugin?.type ?? null,
      });
    const pending = await unsettledSetParams(tx, serviceId, change.param);
    const same = pending.find((p) => p.value === value);
    if (same) return same.op;
    if (pending.length > 0)
      throw conflict(
        change.param === 'ip' ? 'ip_change_pending' : 'reinstall_pending',
        `A request to ${what.label} is already on its way for this server; wait for it.`,
        {
          serviceId,
          operationId: toId(pending[0]!.op.id),
          value: pending[0]!.value,
        },
      );
    const previous = (JSON.parse(service.params) as { ip?: string }).ip ?? null;
    if (change.param === 'ip' && previous === value)
      throw conflict('same_ip', `The server already has the address ${value}.`, { serviceId, ip: value });
    const payload: SetParamPayload =
      change.param === 'os'
        ? { param: 'os', value: change.value, refusable: true }
        : change.param === 'ip'
          ? { param: 'ip', value: value!, previous }
          : { param: 'password' };
    const operation = await enqueueOperation(
      tx,
      ctx,
      serviceId,
      'set_param',
      payload,
      await requestKey(tx, serviceId, 'server', value !== null ? `${change.param}:${value}` : 'password'),
    );
    await recordHistory(tx, ctx, actor, serviceId, what.history, {
      details: { operationId: toId(operation.id), ...(value !== null ? { [change.param]: value } : {}) },
    });
    return operation;
  });
}
