import {
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type ReactNode, useRef, useState } from 'react';
import { ApiError, api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n';
import { NotFound } from '../pages/NotFound';
import { Pager, useCursorPages } from '../pages/paging';
import { EmptyState, ErrorState, Loading } from '../pages/states';
import type { Operation } from '../pages/status';
import { Link } from '../router';
import { Field, useRefusal } from './Clients';
import { errorText } from './Dashboard';

type Task = paths['/api/v1/tasks']['get']['responses'][200]['content']['application/json']['items'][number];
const idPath = (id: number) => ({ params: { path: { id: String(id) } } });
const OP_COLORS: Record<string, string> = {
  queued: 'gray',
  running: 'blue',
  retry_wait: 'yellow',
  done: 'green',
  failed: 'red',
  cancelled: 'gray',
};

export function OpStatus({ status }: { status: string }) {
  const { t } = useI18n();
  return (
    <Badge color={OP_COLORS[status] ?? 'gray'} variant="light">
      {t.staff.opStatus[status] ?? status}
    </Badge>
  );
}

/** Operations with their status, attempts and last error; each opens its detail (steps, retry). */
export function OperationsTable({ operations }: { operations: Operation[] }) {
  const { t } = useI18n();
  const s = t.staff;
  if (operations.length === 0) return <EmptyState text={t.noOperations} />;
  return (
    <Table.ScrollContainer minWidth={420}>
      <Table aria-label={t.operations}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t.operation}</Table.Th>
            <Table.Th>{t.status}</Table.Th>
            <Table.Th>{s.attempts}</Table.Th>
            <Table.Th>{t.started}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {operations.map((op) => (
            <Table.Tr key={op.id}>
              <Table.Td>
                <Anchor component={Link} href={`/staff/operations/${op.id}`}>
                  {s.operationTitle(op.id, t.opKind[op.kind] ?? op.kind)}
                </Anchor>
              </Table.Td>
              <Table.Td>
                <OpStatus status={op.status} />
              </Table.Td>
              <Table.Td>{op.attempts}</Table.Td>
              <Table.Td>{new Date(op.createdAt).toLocaleString()}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function useQueueRefresh() {
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: ['staff', 'queue'] }),
      queryClient.invalidateQueries({ queryKey: ['staff', 'operation'] }),
      queryClient.invalidateQueries({ queryKey: ['staff', 'dashboard'] }),
      queryClient.invalidateQueries({ queryKey: ['service'] }),
    ]);
}

const PAGE = 20;

/**
 * The staff queue: open tasks (manual steps, failed operations, billing errors), then failed
 * operations that have no open task; each list newest first, a page at a time, so nothing is
 * out of reach however long the queue grows.
 */
export function QueuePage() {
  const { t } = useI18n();
  const s = t.staff;
  const taskPages = useCursorPages();
  const opPages = useCursorPages();
  const tasks = useQuery({
    queryKey: ['staff', 'queue', 'tasks', taskPages.before],
    queryFn: () =>
      call(
        api.GET('/api/v1/tasks', {
          params: { query: { status: 'open', limit: PAGE, ...taskPages.query } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const failed = useQuery({
    queryKey: ['staff', 'queue', 'failed', opPages.before],
    queryFn: () =>
      call(
        api.GET('/api/v1/operations', {
          params: { query: { status: 'failed', openTask: 'false', limit: PAGE, ...opPages.query } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  if (tasks.isPending || failed.isPending) return <Loading />;
  if (tasks.isError) return <ErrorState error={tasks.error} onRetry={() => tasks.refetch()} />;
  if (failed.isError) return <ErrorState error={failed.error} onRetry={() => failed.refetch()} />;
  const noTasks = tasks.data.items.length === 0 && !taskPages.hasNewer;
  const noLoose = failed.data.items.length === 0 && !opPages.hasNewer;
  return (
    <Stack gap="md">
      <Title order={2}>{s.queue}</Title>
      <Text c="dimmed" size="sm">
        {s.queueHelp}
      </Text>
      {noTasks && noLoose ? (
        <EmptyState text={s.queueEmpty} />
      ) : (
        <>
          {!noTasks && (
            <QueueList title={s.queueTasks} pages={taskPages} list={tasks}>
              {tasks.data.items.map((task) => (
                <TaskCard key={task.id} task={task} />
              ))}
            </QueueList>
          )}
          {!noLoose && (
            <QueueList title={s.queueLoose} pages={opPages} list={failed}>
              {failed.data.items.map((op) => (
                <FailedCard key={op.id} op={op} />
              ))}
            </QueueList>
          )}
        </>
      )}
    </Stack>
  );
}

/** One of the queue's lists: its title, its cards, and its pager. */
function QueueList({
  title,
  pages,
  list,
  children,
}: {
  title: string;
  pages: ReturnType<typeof useCursorPages>;
  list: { data: { nextBefore: number | null }; isFetching: boolean };
  children: ReactNode;
}) {
  const top = useRef<HTMLElement>(null);
  return (
    <section aria-label={title} ref={top} style={BELOW_HEADER}>
      <Stack gap="sm">
        <Title order={3} size="h4">
          {title}
        </Title>
        {children}
        <Pager
          pages={pages}
          nextBefore={list.data.nextBefore}
          busy={list.isFetching}
          label={title}
          top={top}
        />
      </Stack>
    </section>
  );
}

/** A section scrolled to its start stops below the app shell's fixed header, not under it. */
const BELOW_HEADER = { scrollMarginTop: 'calc(var(--app-shell-header-height, 60px) + 16px)' };

function TaskCard({ task }: { task: Task }) {
  const { t } = useI18n();
  const s = t.staff;
  const refusal = useRefusal();
  const refresh = useQueueRefresh();
  const details = (task.details ?? {}) as { fields?: string[]; message?: string; instructions?: string };
  const fields = details.fields ?? [];
  const [values, setValues] = useState<Record<string, string>>({});
  const complete = useMutation({
    mutationFn: () =>
      call(api.POST('/api/v1/tasks/{id}/complete', { ...idPath(task.id), body: { params: values } })),
    onSuccess: async () => {
      notifications.show({ message: s.taskCompleted });
      await refresh();
    },
    onError: refusal,
  });
  const cancel = useMutation({
    mutationFn: () => call(api.POST('/api/v1/tasks/{id}/cancel', idPath(task.id))),
    onSuccess: async () => {
      notifications.show({ message: s.taskCancelled });
      await refresh();
    },
    onError: refusal,
  });
  const retry = useRetry(task.operationId);
  return (
    <Paper withBorder p="md" aria-label={task.title} role="region">
      <Group justify="space-between" wrap="nowrap" mb="xs">
        <Text fw={600}>{task.title}</Text>
        <Badge variant="light" color="orange">
          {s.taskKind[task.kind] ?? task.kind}
        </Badge>
      </Group>
      <Group gap="md" mb="xs">
        {task.serviceId !== null && (
          <Anchor component={Link} href={`/staff/services/${task.serviceId}`} size="sm">
            {s.serviceNumber(task.serviceId)}
          </Anchor>
        )}
        {task.operationId !== null && (
          <Anchor component={Link} href={`/staff/operations/${task.operationId}`} size="sm">
            {s.operationNumber(task.operationId)}
          </Anchor>
        )}
        <Text size="xs" c="dimmed">
          {new Date(task.createdAt).toLocaleString()}
        </Text>
      </Group>
      {details.message && <Text size="sm">{details.message}</Text>}
      {details.instructions && (
        <Text size="sm" mb="xs" style={{ whiteSpace: 'pre-wrap' }}>
          {details.instructions}
        </Text>
      )}
      {task.kind === 'manual_action' && fields.length > 0 && (
        <SimpleGrid cols={{ base: 1, sm: 3 }} mb="xs">
          {fields.map((f) => (
            <TextInput
              key={f}
              label={s.taskField[f] ?? f}
              required
              value={values[f] ?? ''}
              onChange={(e) => {
                const v = e.currentTarget.value;
                setValues((old) => ({ ...old, [f]: v }));
              }}
            />
          ))}
        </SimpleGrid>
      )}
      <Group gap="xs" mt="xs">
        {task.kind === 'operation_failed' && task.operationId !== null ? (
          <Button size="xs" onClick={() => retry.mutate()} loading={retry.isPending}>
            {s.retry}
          </Button>
        ) : (
          <Button size="xs" onClick={() => complete.mutate()} loading={complete.isPending}>
            {s.complete}
          </Button>
        )}
        <Button size="xs" variant="default" onClick={() => cancel.mutate()} loading={cancel.isPending}>
          {s.cancelTask}
        </Button>
      </Group>
    </Paper>
  );
}

function useRetry(operationId: number | null) {
  const { t } = useI18n();
  const refusal = useRefusal();
  const refresh = useQueueRefresh();
  return useMutation({
    mutationFn: () => call(api.POST('/api/v1/operations/{id}/retry', idPath(operationId ?? 0))),
    onSuccess: async () => {
      notifications.show({ message: t.staff.retryQueued });
      await refresh();
    },
    onError: refusal,
  });
}

function useCancelOp(operationId: number) {
  const { t } = useI18n();
  const refusal = useRefusal();
  const refresh = useQueueRefresh();
  return useMutation({
    mutationFn: () => call(api.POST('/api/v1/operations/{id}/cancel', idPath(operationId))),
    onSuccess: async () => {
      notifications.show({ message: t.staff.operationCancelled });
      await refresh();
    },
    onError: refusal,
  });
}

function FailedCard({ op }: { op: Operation }) {
  const { t } = useI18n();
  const s = t.staff;
  const retry = useRetry(op.id);
  const cancel = useCancelOp(op.id);
  return (
    <Paper withBorder p="md">
      <Group justify="space-between" wrap="nowrap" mb="xs">
        <Anchor component={Link} href={`/staff/operations/${op.id}`} fw={600}>
          {s.operationTitle(op.id, t.opKind[op.kind] ?? op.kind)}
        </Anchor>
        <OpStatus status={op.status} />
      </Group>
      <Anchor component={Link} href={`/staff/services/${op.serviceId}`} size="sm">
        {s.serviceNumber(op.serviceId)}
      </Anchor>
      <Text size="sm">{errorText(op.lastError)}</Text>
      <Group gap="xs" mt="xs">
        <Button size="xs" onClick={() => retry.mutate()} loading={retry.isPending}>
          {s.retry}
        </Button>
        <Button size="xs" variant="default" onClick={() => cancel.mutate()} loading={cancel.isPending}>
          {s.cancelOperation}
        </Button>
      </Group>
    </Paper>
  );
}

const live = (status: string) => !['done', 'failed', 'cancelled'].includes(status);

/** One operation: what it does, its attempts, the module's saved steps, the last error; retry or cancel it. */
export function OperationDetail({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staff;
  const op = useQuery({
    queryKey: ['staff', 'operation', id],
    queryFn: () => call(api.GET('/api/v1/operations/{id}', idPath(id))),
    refetchInterval: (q) => (q.state.data && live(q.state.data.status) ? 1000 : false),
  });
  const retry = useRetry(id);
  const cancel = useCancelOp(id);
  if (op.isPending) return <Loading />;
  if (op.isError) {
    if (op.error instanceof ApiError && op.error.status === 404) return <NotFound />;
    return <ErrorState error={op.error} onRetry={() => op.refetch()} />;
  }
  const o = op.data;
  const steps =
    o.progress && typeof o.progress === 'object' ? Object.entries(o.progress as Record<string, unknown>) : [];
  const retryable = o.status === 'failed' || o.status === 'retry_wait';
  const cancellable = o.status !== 'done' && o.status !== 'cancelled';
  return (
    <Stack gap="md">
      <Anchor component={Link} href="/staff/queue" size="sm">
        ← {s.queue}
      </Anchor>
      <Group justify="space-between">
        <Title order={2}>{s.operationTitle(o.id, t.opKind[o.kind] ?? o.kind)}</Title>
        <OpStatus status={o.status} />
      </Group>
      <Paper withBorder p="md">
        <SimpleGrid cols={{ base: 2, sm: 4 }}>
          <div>
            <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
              {t.service}
            </Text>
            <Anchor component={Link} href={`/staff/services/${o.serviceId}`}>
              {s.serviceNumber(o.serviceId)}
            </Anchor>
          </div>
          <Field label={s.attempts} value={String(o.attempts)} />
          <Field label={t.started} value={new Date(o.createdAt).toLocaleString()} />
          <Field
            label={s.completed}
            value={o.completedAt ? new Date(o.completedAt).toLocaleString() : t.never}
          />
        </SimpleGrid>
        {o.lastError !== null && o.lastError !== undefined && (
          <Text mt="sm" c={o.status === 'failed' ? 'red' : undefined} size="sm">
            {s.lastError}: {errorText(o.lastError)}
          </Text>
        )}
        <Group gap="xs" mt="md">
          {retryable && (
            <Button onClick={() => retry.mutate()} loading={retry.isPending}>
              {s.retry}
            </Button>
          )}
          {cancellable && (
            <Button variant="default" onClick={() => cancel.mutate()} loading={cancel.isPending}>
              {s.cancelOperation}
            </Button>
          )}
        </Group>
      </Paper>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {s.steps}
        </Title>
        {steps.length === 0 ? (
          <EmptyState text={s.noSteps} />
        ) : (
          <Table aria-label={s.steps}>
            <Table.Tbody>
              {steps.map(([name, value]) => (
                <Table.Tr key={name}>
                  <Table.Td fw={600}>{name}</Table.Td>
                  <Table.Td>
                    <Code>{JSON.stringify(value)}</Code>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Paper>
      {o.payload !== null && o.payload !== undefined && Object.keys(o.payload as object).length > 0 && (
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {s.payload}
          </Title>
          <Code block>{JSON.stringify(o.payload, null, 2)}</Code>
        </Paper>
      )}
    </Stack>
  );
}
