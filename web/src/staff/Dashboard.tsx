import { BarChart, DonutChart } from '@mantine/charts';
import {
  Anchor,
  Badge,
  ColorSwatch,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, api, call } from '../api/client';
import type { paths } from '../api/schema';
import { errorSentence, useI18n } from '../i18n';
import { EmptyState, ErrorState, Loading } from '../pages/states';
import { Link } from '../router';

type Report = paths['/api/v1/reports/dashboard']['get']['responses'][200]['content']['application/json'];
type Point = Report['revenueByDay'][number];

const STATUS_COLORS: Record<string, string> = {
  ordered: 'gray.5',
  processing: 'blue.6',
  active: 'teal.6',
  suspended: 'orange.6',
  deleted: 'gray.7',
};

/** A decimal amount for a chart's scale (display only; the answer's strings stay exact). */
const num = (s: string | null | undefined) => (s ? Number(s) : 0);

/** Revenue, cost (same currency) and margin of each point, for a bar chart. */
function moneyRows(points: Point[], label: (key: string) => string) {
  return points.map((p) => ({
    key: label(p.key),
    revenue: num(p.revenue),
    cost: p.costs.filter((c) => c.currency === p.currency).reduce((s, c) => s + num(c.amount), 0),
    margin: p.margin === null ? 0 : num(p.margin),
  }));
}

/**
 * The staff dashboard: one call (`GET /reports/dashboard`) for the numbers; each module's
 * upstream balance is its own request, so a slow upstream delays only its own card.
 */
export function DashboardPage() {
  const { t } = useI18n();
  const s = t.staff;
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const valid = (d: string) => d === '' || /^\d{4}-\d{2}-\d{2}$/.test(d);
  const range = valid(from) && valid(to) ? { from, to } : { from: '', to: '' };
  const report = useQuery({
    queryKey: ['staff', 'dashboard', range.from, range.to],
    queryFn: () =>
      call(
        api.GET('/api/v1/reports/dashboard', {
          params: {
            query: { ...(range.from ? { from: range.from } : {}), ...(range.to ? { to: range.to } : {}) },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end">
        <Title order={2}>{s.dashboard}</Title>
        <Group gap="xs" align="flex-end">
          <TextInput
            size="xs"
            label={s.from}
            placeholder={s.dateFormat}
            value={from}
            onChange={(e) => setFrom(e.currentTarget.value.trim())}
            error={valid(from) ? undefined : s.dateFormat}
            w={130}
          />
          <TextInput
            size="xs"
            label={s.to}
            placeholder={s.dateFormat}
            value={to}
            onChange={(e) => setTo(e.currentTarget.value.trim())}
            error={valid(to) ? undefined : s.dateFormat}
            w={130}
          />
        </Group>
      </Group>
      {report.isPending ? (
        <Loading />
      ) : report.isError ? (
        <ErrorState error={report.error} onRetry={() => report.refetch()} />
      ) : (
        <DashboardBody r={report.data} />
      )}
    </Stack>
  );
}

function DashboardBody({ r }: { r: Report }) {
  const { t } = useI18n();
  const s = t.staff;
  const currency = r.revenueByDay[0]?.currency ?? '';
  const money = [
    { name: 'revenue', label: s.revenue, color: 'indigo.6' },
    { name: 'cost', label: s.upstreamCost, color: 'orange.6' },
    { name: 'margin', label: s.margin, color: 'teal.6' },
  ];
  const types = [...new Set(r.servicesByStatus.map((x) => x.productType))];
  const statuses = [...new Set(r.servicesByStatus.map((x) => x.status))];
  const byType = types.map((code) => ({
    type: r.servicesByStatus.find((x) => x.productType === code)?.productTypeName ?? code,
    ...Object.fromEntries(
      r.servicesByStatus.filter((x) => x.productType === code).map((x) => [x.status, x.count]),
    ),
  }));
  const statusSeries = statuses.map((st) => ({
    name: st,
    label: t.serviceStatus[st] ?? st,
    color: STATUS_COLORS[st] ?? 'gray.5',
  }));
  const licenses = r.licensesByTariff.map((l) => ({
    name: l.tariffName,
    value: Object.values(l.counts).reduce((a, b) => a + b, 0),
  }));
  const palette = ['indigo.6', 'teal.6', 'orange.6', 'grape.6', 'cyan.6', 'lime.6', 'pink.6', 'yellow.6'];

  return (
    <>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
        <Stat
          label={s.revenueRange(r.from, r.to)}
          value={`${sumOf(r.revenueByDay, 'revenue')} ${currency}`}
        />
        <Stat label={s.marginRange} value={`${sumOf(r.revenueByDay, 'margin')} ${currency}`} />
        <Stat
          label={s.failedOperations}
          value={String(r.failedOperations.count)}
          href="/staff/queue"
          alert={r.failedOperations.count > 0}
        />
        <Stat
          label={s.openTasks}
          value={String(r.openTasks.count)}
          href="/staff/queue"
          alert={r.openTasks.count > 0}
        />
      </SimpleGrid>

      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {s.revenueByDay} ({currency})
        </Title>
        <BarChart
          h={220}
          data={moneyRows(r.revenueByDay, (k) => k.slice(5))}
          dataKey="key"
          series={money}
          withLegend
          tickLine="y"
          aria-label={s.revenueByDay}
        />
      </Paper>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {s.revenueByMonth} ({currency})
        </Title>
        <BarChart
          h={220}
          data={moneyRows(r.revenueByMonth, (k) => k)}
          dataKey="key"
          series={money}
          withLegend
          tickLine="y"
          aria-label={s.revenueByMonth}
        />
      </Paper>

      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {s.servicesByStatus}
          </Title>
          {byType.length === 0 ? (
            <EmptyState text={s.noServicesYet} />
          ) : (
            <BarChart
              h={220}
              data={byType}
              dataKey="type"
              type="stacked"
              series={statusSeries}
              withLegend
              aria-label={s.servicesByStatus}
            />
          )}
        </Paper>
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {s.licensesByTariff}
          </Title>
          {licenses.length === 0 ? (
            <EmptyState text={s.noLicensesYet} />
          ) : (
            <Group justify="center" gap="xl">
              <DonutChart
                size={160}
                thickness={26}
                data={licenses.map((l, i) => ({ ...l, color: palette[i % palette.length]! }))}
                aria-label={s.licensesByTariff}
              />
              <Stack gap={4}>
                {licenses.map((l, i) => (
                  <Group key={l.name} gap="xs" wrap="nowrap">
                    <ColorSwatch
                      color={`var(--mantine-color-${palette[i % palette.length]!.replace('.', '-')})`}
                      size={12}
                    />
                    <Text size="sm">
                      {l.name}: <b>{l.value}</b>
                    </Text>
                  </Group>
                ))}
              </Stack>
            </Group>
          )}
        </Paper>
      </SimpleGrid>

      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {s.failedOperations}
          </Title>
          {r.failedOperations.latest.length === 0 ? (
            <EmptyState text={s.noFailedOperations} />
          ) : (
            <Table.ScrollContainer minWidth={320}>
              <Table aria-label={s.failedOperations}>
                <Table.Tbody>
                  {r.failedOperations.latest.map((o) => (
                    <Table.Tr key={o.id}>
                      <Table.Td>
                        <Anchor component={Link} href={`/staff/operations/${o.id}`}>
                          {s.operationTitle(o.id, t.opKind[o.kind] ?? o.kind)}
                        </Anchor>
                        <Text size="xs" c="dimmed">
                          {o.serviceName}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm">{errorText(o.lastError)}</Text>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Paper>
        <Paper withBorder p="md">
          <Title order={3} size="h4" mb="sm">
            {s.openTasks}
          </Title>
          {r.openTasks.latest.length === 0 ? (
            <EmptyState text={s.noOpenTasks} />
          ) : (
            <Stack gap={4}>
              {r.openTasks.latest.map((task) => (
                <Group key={task.id} justify="space-between" wrap="nowrap">
                  <Anchor component={Link} href="/staff/queue" size="sm">
                    {task.title}
                  </Anchor>
                  <Badge variant="light" color="orange" style={{ flexShrink: 0, overflow: 'visible' }}>
                    {s.taskKind[task.kind] ?? task.kind}
                  </Badge>
                </Group>
              ))}
            </Stack>
          )}
        </Paper>
      </SimpleGrid>

      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {s.moduleBalances}
        </Title>
        {r.modules.length === 0 ? (
          <EmptyState text={s.noModules} />
        ) : (
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
            {r.modules.map((m) => (
              <ModuleBalance key={m.id} module={m} />
            ))}
          </SimpleGrid>
        )}
      </Paper>

      <Paper withBorder p="md">
        <Group justify="space-between" mb="sm">
          <Title order={3} size="h4">
            {s.lastRuns}
          </Title>
          <Anchor component={Link} href="/staff/billing" size="sm">
            {s.navBilling}
          </Anchor>
        </Group>
        <RunsTable runs={r.billingRuns} />
      </Paper>
    </>
  );
}

function sumOf(points: Point[], field: 'revenue' | 'margin'): string {
  // Exact decimal sum in minor units of the answer's own precision.
  let scale = 0;
  for (const p of points) {
    const v = p[field];
    if (v) scale = Math.max(scale, v.split('.')[1]?.length ?? 0);
  }
  let total = 0n;
  for (const p of points) {
    const v = p[field];
    if (!v) continue;
    const [int, frac = ''] = v.replace('-', '').split('.');
    const minor = BigInt(int! + frac.padEnd(scale, '0'));
    total += v.startsWith('-') ? -minor : minor;
  }
  const neg = total < 0n;
  const digits = (neg ? -total : total).toString().padStart(scale + 1, '0');
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return neg ? `-${text}` : text;
}

/** An operation's stored error in words: its message (the code is for the logs). */
export function errorText(e: unknown): string {
  if (e && typeof e === 'object') {
    const o = e as { message?: unknown; code?: unknown };
    if (typeof o.message === 'string') return o.message;
    if (typeof o.code === 'string') return o.code;
  }
  return e === null || e === undefined ? '' : String(e);
}

function Stat({
  label,
  value,
  href,
  alert,
}: {
  label: string;
  value: string;
  href?: string;
  alert?: boolean;
}) {
  return (
    <Paper withBorder p="md">
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      {href ? (
        <Anchor component={Link} href={href} fz="xl" fw={700} c={alert ? 'red' : undefined}>
          {value}
        </Anchor>
      ) : (
        <Text fz="xl" fw={700}>
          {value}
        </Text>
      )}
    </Paper>
  );
}

function ModuleBalance({ module: m }: { module: Report['modules'][number] }) {
  const { t } = useI18n();
  const s = t.staff;
  const balance = useQuery({
    queryKey: ['staff', 'module-balance', m.id],
    enabled: m.reportsBalance && m.enabled,
    queryFn: () => call(api.GET('/api/v1/modules/{id}/balance', { params: { path: { id: String(m.id) } } })),
    retry: false,
  });
  return (
    <Paper withBorder p="sm">
      <Group justify="space-between" wrap="nowrap">
        <Text fw={600}>{m.name}</Text>
        <Text size="xs" c="dimmed">
          {m.type}
        </Text>
      </Group>
      {!m.enabled ? (
        <Text size="sm" c="dimmed">
          {s.moduleDisabled}
        </Text>
      ) : !m.reportsBalance ? (
        <Text size="sm" c="dimmed">
          {s.noBalanceReported}
        </Text>
      ) : balance.isPending ? (
        <Text size="sm" c="dimmed">
          {t.loading}
        </Text>
      ) : balance.isError ? (
        <Text size="sm" c="red">
          {errorSentence(t, balance.error instanceof ApiError ? balance.error.code : 'network_error')}
        </Text>
      ) : (
        <Text size="lg" fw={700} c={balance.data.below ? 'red' : undefined}>
          {balance.data.amount} {balance.data.currency}
          {balance.data.below && (
            <Badge ml="xs" color="red" variant="light">
              {s.belowMinimum(balance.data.minimum ?? '')}
            </Badge>
          )}
        </Text>
      )}
    </Paper>
  );
}

export type RunRow = Report['billingRuns'][number];

export function RunsTable({ runs }: { runs: RunRow[] }) {
  const { t } = useI18n();
  const s = t.staff;
  if (runs.length === 0) return <EmptyState text={s.noRuns} />;
  return (
    <Table.ScrollContainer minWidth={480}>
      <Table striped aria-label={s.lastRuns}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{s.runDate}</Table.Th>
            <Table.Th>{t.status}</Table.Th>
            <Table.Th>{s.renewed}</Table.Th>
            <Table.Th>{s.suspended}</Table.Th>
            <Table.Th>{s.deleted}</Table.Th>
            <Table.Th>{s.reminded}</Table.Th>
            <Table.Th>{s.errorsCount}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {runs.map((run) => (
            <Table.Tr key={run.id}>
              <Table.Td>{run.date}</Table.Td>
              <Table.Td>{s.runStatus[run.status] ?? run.status}</Table.Td>
              <Table.Td>
                {run.renewed}
                {run.renewedAmount ? ` (${run.renewedAmount})` : ''}
              </Table.Td>
              <Table.Td>{run.suspended}</Table.Td>
              <Table.Td>{run.deleted}</Table.Td>
              <Table.Td>{run.reminders}</Table.Td>
              <Table.Td>{run.errors}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
