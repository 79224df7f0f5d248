import { describe, expect, it } from 'vitest';
import { compareItem, planReconciliation, type UpstreamItem } from './reconciliation.js';

const item = (over: Partial<UpstreamItem> = {}): UpstreamItem => ({
  externalId: 'L1',
  remoteId: '1',
  name: null,
  status: 'active',
  expiresOn: '2022-01-16',
  params: { ip: '192.0.2.1', key: 'K' },
  ...over,
});
const local = { status: 'active', expiresOn: '2022-01-16', params: { ip: '192.0.2.1', key: 'K' } };

describe('compareItem', () => {
  it('compares status only between active and suspended, and the key only when asked', () => {
    expect(compareItem(local, item({ status: 'processing', params: { ip: '192.0.2.1', key: 'X' } }))).toEqual(
      [],
    );
    expect(compareItem({ ...local, status: 'processing' }, item({ status: 'suspended' }))).toEqual([]);
    expect(compareItem(local, item({ status: 'unknown', expiresOn: null, params: {} }))).toEqual([]);
    expect(compareItem(local, item({ params: { ip: '192.0.2.1', key: 'X' } }), { key: true })).toEqual([
      { field: 'key', local: 'K', upstream: 'X' },
    ]);
    expect(compareItem(local, item({ status: 'deleted' }))).toEqual([
      { field: 'missing', local: 'active', upstream: 'deleted' },
    ]);
  });
});

describe('planReconciliation', () => {
  const svc = (id: number, over: Record<string, unknown> = {}) => ({
    id,
    status: 'active',
    expiresOn: '2022-01-16',
    params: { ip: '192.0.2.1' },
    externalId: `L${id}`,
    busy: false,
    ...over,
  });
  it('matches by upstream id, then by remoteid; an item of a deleted service is an orphan naming it', () => {
    const plan = planReconciliation({
      services: [
        svc(1, { externalId: null }),
        svc(2, { status: 'deleted' }),
        svc(3, { status: 'ordered', externalId: null }),
        svc(4, { busy: true }),
      ],
      items: [item({ externalId: 'X9', remoteId: '1' }), item({ externalId: 'L2', remoteId: '2' })],
    });
    expect(plan.compared).toBe(1);
    expect(plan.untouched).toEqual(['service:4']);
    expect(plan.findings.map((f) => [f.kind, f.subjectKey, f.serviceId])).toEqual([['orphan', 'item:L2', 2]]);
  });
});
