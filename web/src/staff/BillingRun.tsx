import {
  Alert,
  Anchor,
  Button,
  Group,
  Paper,
  Progress,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n';
import { EmptyState, ErrorState, Loading } from '../pages/states';
import { Link } from '../router';
import { useRefusal } from './Clients';
import { RunsTable } from './Dashboard';

type Summary = paths['/api/v1/billing/run']['post']['responses'][200]['content']['application/json'];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The daily billing run by hand: pick a date, see what the run would do (a dry run: every
 * renewal, suspension, deletion and reminder with its amount), then run it and see what it did.
 */
export function BillingRunPage() {
  const { t } = useI18n();
  const s = t.staff;
  const refusal = useRefusal();
  const queryClient = useQueryClient();
  const [date, setDate] = useState('');
  const [preview, setPreview] = useState<Summary | null>(null);
  const [done, setDone] = useState<Summary | null>(null);
  const body = (dryRun: boolean) => ({ ...(date ? { date } : {}), dryRun });
  const dry = useMutation({
    mutationFn: () => call(api.POST('/api/v1/billing/run', { body: body(true) })),
    onSuccess: (r) => {
      setPreview(r);
      setDone(null);
    },
    onError: refusal,
  });
  const run = useMutation({
    mutationFn: () => call(api.POST('/api/v1/billing/run', { body: body(false) })),
    onSuccess: async (r) => {
      setDone(r);
      setPreview(null);
      notifications.show({ message: s.runFinished(r.date) });
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: ['staff', 'billing-runs'] }),
        queryClient.invalidateQueries({ queryKey: ['staff', 'dashboard'] }),
      ]);
    },
    onError: refusal,
  });
  const runs = useQuery({
    queryKey: ['staff', 'billing-runs'],
    queryFn: () => call(api.GET('/api/v1/billing/runs', { params: { query: { limit: 20 } } })),
  });
  const dateOk = date === '' || DAY.test(date);

  return (
    <Stack gap="md">
      <Title order={2}>{s.billingRun}</Title>
      <Paper withBorder p="md">
        <Group align="flex-end" gap="xs">
          <TextInput
            label={s.runDate}
            description={s.runDateHint}
            placeholder={s.dateFormat}
            value={date}
            error={dateOk ? undefined : s.dateFormat}
            onChange={(e) => {
              setDate(e.currentTarget.value.trim());
              setPreview(null);
            }}
          />
          <Button
            variant="default"
            disabled={!dateOk || run.isPending}
            onClick={() => dry.mutate()}
            loading={dry.isPending}
          >
            {s.preview}
          </Button>
        </Group>
        {run.isPending && (
          <Stack gap={4} mt="md" aria-live="polite">
            <Text size="sm">{s.running}</Text>
            <Progress value={100} animated striped aria-label={s.running} />
          </Stack>
        )}
      </Paper>
      {preview && (
        <Paper withBorder p="md" role="region" aria-label={s.dryRunOf(preview.date)}>
          <Title order={3} size="h4" mb="sm">
            {s.dryRunOf(preview.date)}
          </Title>
          <Counts summary={preview} />
          <Actions summary={preview} />
          <Button mt="md" color="indigo" onClick={() => run.mutate()} loading={run.isPending}>
            {s.runFor(preview.date)}
          </Button>
        </Paper>
      )}
      {done && (
        <Paper withBorder p="md" role="region" aria-label={s.runOf(done.date)}>
          <Title order={3} size="h4" mb="sm">
            {s.runOf(done.date)}
          </Title>
          <Counts summary={done} />
          {done.errors > 0 && (
            <Alert color="red" mt="sm">
              {s.runErrors(done.errors)}{' '}
              <Anchor component={Link} href="/staff/queue">
                {s.queue}
              </Anchor>
            </Alert>
          )}
          <Actions summary={done} />
        </Paper>
      )}
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {s.runHistory}
        </Title>
        {runs.isPending ? (
          <Loading />
        ) : runs.isError ? (
          <ErrorState error={runs.error} onRetry={() => runs.refetch()} />
        ) : (
          <RunsTable
            runs={runs.data.items.map((r) => {
              const x = (r.summary ?? {}) as Partial<Summary>;
              return {
                id: r.id,
                date: r.date,
                status: r.status,
                startedAt: r.startedAt,
                finishedAt: r.finishedAt,
                renewed: x.renewed ?? 0,
                renewedAmount: x.renewedAmount ?? null,
                suspended: x.suspended ?? 0,
                deleted: x.deleted ?? 0,
                reminders: x.reminders ?? 0,
                errors: x.errors ?? 0,
              };
            })}
          />
        )}
      </Paper>
    </Stack>
  );
}

function Counts({ summary }: { summary: Summary }) {
  const { t } = useI18n();
  const s = t.staff;
  const items: [string, string][] = [
    [s.renewed, `${summary.renewed} (${summary.renewedAmount} ${summary.currency})`],
    [s.renewFailed, String(summary.renewFailed)],
    [s.suspended, String(summary.suspended)],
    [s.deleted, String(summary.deleted)],
    [s.reminded, String(summary.reminders)],
    [s.lowBalance, String(summary.lowBalance)],
    [s.ordersPaid, String(summary.ordersPaid)],
    [s.errorsCount, String(summary.errors)],
  ];
  return (
    <SimpleGrid cols={{ base: 2, sm: 4 }} spacing="sm">
      {items.map(([label, value]) => (
        <div key={label} data-count={label}>
          <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
            {label}
          </Text>
          <Text fw={700}>{value}</Text>
        </div>
      ))}
    </SimpleGrid>
  );
}

function Actions({ summary }: { summary: Summary }) {
  const { t } = useI18n();
  const s = t.staff;
  if (summary.actions.length === 0) return <EmptyState text={s.nothingToDo} />;
  return (
    <Table.ScrollContainer minWidth={360} mt="md">
      <Table striped aria-label={s.actions}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t.service}</Table.Th>
            <Table.Th>{s.step}</Table.Th>
            <Table.Th>{s.outcome}</Table.Th>
            <Table.Th ta="right">{t.accountArea.amount}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {summary.actions.map((a) => (
            <Table.Tr key={`${a.serviceId}-${a.step}`}>
              <Table.Td>
                <Anchor component={Link} href={`/staff/services/${a.serviceId}`}>
                  {s.serviceNumber(a.serviceId)}
                </Anchor>
              </Table.Td>
              <Table.Td>{s.runStep[a.step] ?? a.step}</Table.Td>
              <Table.Td>{s.runOutcome[a.outcome] ?? a.outcome}</Table.Td>
              <Table.Td ta="right">{a.amount ? `${a.amount} ${summary.currency}` : ''}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
