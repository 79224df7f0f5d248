import { compareItem, type Difference } from '../../domain/reconciliation.js';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction } from '../../platform/db/index.js';
import { conflict } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, requireStaff } from '../accounts/actor.js';
import { OperationError } from '../services/engine.js';
import { recordHistory } from '../services/history.js';
import { findService, lockService } from '../services/repository.js';
import { serviceSnapshot, tariffSettingsOf } from './dispatch.js';
import type { RemoteItem } from './plugin.js';
import { openModuleFor, upstreamFailure } from './upstream.js';

/**
 * Reading one service back from its upstream (`syncItem`): the upstream's item, ours, and
 * where they differ. Only the license key is written — the upstream defines it, our copy is
 * a copy — with a history entry. A different status, expiry or IP is reported and left for
 * staff (reconciliation's `accept_upstream`, or an operation), never changed here.
 */

export interface SyncResult {
  serviceId: number;
  moduleId: number;
  upstream: RemoteItem | null;
  local: { status: string; expiresOn: string | null; ip: string | null; key: string | null };
  differences: Difference[];
  keyUpdated: boolean;
}

export async function syncService(ctx: AppContext, actor: Actor, serviceId: number): Promise<SyncResult> {
  requireStaff(actor);
  const service = await findService(ctx.db.kysely, serviceId);
  if (service.module_id === null)
    throw conflict(
      'sync_unsupported',
      `Service #${serviceId} is served by no module: there is nothing to read back.`,
      {
        serviceId,
      },
    );
  const moduleId = toId(service.module_id);
  const { row, plugin, instance } = await openModuleFor(ctx, moduleId, 'syncItem', 'sync_unsupported');
  const snapshot = await serviceSnapshot(ctx.db.kysely, serviceId);
  let tariffSettings: Record<string, unknown>;
  try {
    tariffSettings = await tariffSettingsOf(ctx.db.kysely, plugin, snapshot.tariffId, moduleId);
  } catch (err) {
    if (err instanceof OperationError) throw conflict(err.code, err.message, { serviceId, moduleId });
    throw err;
  }
  let upstream: RemoteItem | null;
  try {
    upstream = await plugin.syncItem!({ ctx, module: instance, service: snapshot, tariffSettings });
  } catch (err) {
    throw upstreamFailure(err, row.name, `read service #${serviceId} back`);
  }
  const local = {
    status: snapshot.status,
    expiresOn: snapshot.expiresOn,
    params: snapshot.params,
  };
  const differences = compareItem(local, upstream, { key: true });
  let keyUpdated = false;
  const key = differences.find((d) => d.field === 'key')?.upstream ?? null;
  if (key !== null) {
    keyUpdated = await inTransaction(ctx.db, async (tx) => {
      const fresh = await lockService(tx, serviceId);
      const params = JSON.parse(fresh.params) as Record<string, string>;
      if (params.key === key) return false;
      const had = params.key !== undefined;
      params.key = key;
      await tx
        .updateTable('services')
        .set({ params: JSON.stringify(params), updated_at: isoNow(ctx.clock) })
        .where('id', '=', serviceId)
        .execute();
      // The key itself stays out of the history: it is the client's secret.
      await recordHistory(tx, ctx, actor, serviceId, 'key_synced', {
        details: { source: 'upstream', moduleId, replaced: had },
      });
      return true;
    });
  }
  return {
    serviceId,
    moduleId,
    upstream,
    local: {
      status: snapshot.status,
      expiresOn: snapshot.expiresOn,
      ip: snapshot.params.ip ?? null,
      key: snapshot.params.key ?? null,
    },
    differences,
    keyUpdated,
  };
}
