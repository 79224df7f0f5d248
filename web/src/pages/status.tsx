import { Badge } from '@mantine/core';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n';

export type Service = paths['/api/v1/services/{id}']['get']['responses'][200]['content']['application/json'];
export type Operation = Service['operations'][number];

const COLORS: Record<string, string> = {
  ordered: 'gray',
  processing: 'blue',
  active: 'green',
  suspended: 'orange',
  deleted: 'gray',
};

export function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  return (
    <Badge color={COLORS[status] ?? 'gray'} variant="light">
      {t.serviceStatus[status] ?? status}
    </Badge>
  );
}

/**
 * An operation's state in the client's words: setting a service up is "being set up" while it
 * runs, a manual step is "waiting for staff", a temporary failure is being retried.
 */
export function operationState(op: Operation): string {
  if (op.status === 'failed' || op.status === 'done' || op.status === 'cancelled') return op.status;
  if (op.waitingForTaskId !== null) return 'waiting_for_staff';
  if (op.status === 'retry_wait') return 'retrying';
  return op.kind === 'open' ? 'being_set_up' : 'in_progress';
}
