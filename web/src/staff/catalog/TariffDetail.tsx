import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  Group,
  List,
  Modal,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { EmptyState, ErrorState, Loading, QueryView } from '../../pages/states';
import { Link } from '../../router';
import { AddonForm } from './AddonForm';
import { type Addon, idPath, periodLabel, RefusalAlert, type Tariff, useStaffMutation } from './common';
import { TariffModules } from './TariffModules';
import { statusColor, TARIFFS_KEY, TariffForm } from './Tariffs';

/** One tariff: its terms, what is wrong with it, its addons, the modules serving it, its history. */
export function TariffPage({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const tariff = useQuery({
    queryKey: [...TARIFFS_KEY, id],
    queryFn: () => call(api.GET('/api/v1/tariffs/{id}', idPath(id))),
  });
  const [editing, setEditing] = useState(false);
  if (tariff.isPending) return <Loading />;
  if (tariff.isError) return <ErrorState error={tariff.error} onRetry={() => tariff.refetch()} />;
  const x = tariff.data;
  return (
    <Stack gap="md">
      <Anchor component={Link} href="/staff/catalog/tariffs" size="sm">
        {s.allTariffs}
      </Anchor>
      <Group justify="space-between" align="flex-start">
        <Stack gap={2}>
          <Title order={2}>{x.name}</Title>
          <Group gap="xs">
            <Badge variant="light" color={statusColor(x.status)}>
              {s.tariffStatus[x.status] ?? x.status}
            </Badge>
            <Text size="sm" c="dimmed">
              {s.id} {x.id} · {x.productType} · {x.currency}
            </Text>
          </Group>
        </Stack>
        <Button variant="default" onClick={() => setEditing(true)}>
          {s.editTariff}
        </Button>
      </Group>
      <Problems id={id} />
      <Card withBorder>
        <Stack gap="xs">
          <Table aria-label={s.prices} variant="vertical" layout="fixed" maw={520}>
            <Table.Tbody>
              {x.periods.map((p) => (
                <Table.Tr key={p.period}>
                  <Table.Th>{periodLabel(t, p.period)}</Table.Th>
                  <Table.Td>
                    {p.price ?? t.never}
                    {p.explicit ? '' : ` (${s.fromMonthly})`}
                  </Table.Td>
                </Table.Tr>
              ))}
              <Table.Tr>
                <Table.Th>{s.setupFee}</Table.Th>
                <Table.Td>{x.setupFee ?? t.never}</Table.Td>
              </Table.Tr>
              <Table.Tr>
                <Table.Th>{s.expiresOn}</Table.Th>
                <Table.Td>{x.expiresOn ?? t.never}</Table.Td>
              </Table.Tr>
              {x.trialDays !== null ? (
                <Table.Tr>
                  <Table.Th>{s.trialDays}</Table.Th>
                  <Table.Td>{x.trialDays}</Table.Td>
                </Table.Tr>
              ) : null}
            </Table.Tbody>
          </Table>
          {x.description ? <Text size="sm">{x.description}</Text> : null}
        </Stack>
      </Card>
      <Addons tariff={x} />
      <TariffModules tariff={x} />
      <History id={id} />
      <Modal opened={editing} onClose={() => setEditing(false)} title={s.editTariff} size="lg">
        {editing ? <TariffForm tariff={x} onDone={() => setEditing(false)} /> : null}
      </Modal>
    </Stack>
  );
}

function Problems({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const problems = useQuery({
    queryKey: [...TARIFFS_KEY, id, 'problems'],
    queryFn: () => call(api.GET('/api/v1/tariffs/{id}/problems', idPath(id))),
  });
  if (!problems.data || problems.data.items.length === 0) return null;
  return (
    <Alert color="orange" title={s.problems} role="alert">
      <List size="sm">
        {problems.data.items.map((p) => (
          <List.Item key={`${p.code}-${p.addonId}-${p.valueId}-${p.period}-${p.moduleId}`}>
            {p.message}
          </List.Item>
        ))}
      </List>
    </Alert>
  );
}

function Addons({ tariff }: { tariff: Tariff }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const [editing, setEditing] = useState<Addon | 'new' | null>(null);
  const remove = useStaffMutation(
    (a: Addon) =>
      call(
        api.DELETE('/api/v1/tariffs/{id}/addons/{addonId}', {
          params: { path: { id: String(tariff.id), addonId: String(a.id) } },
        }),
      ),
    { invalidate: [TARIFFS_KEY], done: (_r, a) => s.addonRemoved(a.label) },
  );
  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <Title order={3}>{s.addons}</Title>
        <Button size="xs" onClick={() => setEditing('new')}>
          {s.addAddon}
        </Button>
      </Group>
      <RefusalAlert error={remove.error} />
      {tariff.addons.length === 0 ? (
        <EmptyState text={s.noAddons} />
      ) : (
        tariff.addons.map((a) => (
          <Card key={a.id} withBorder padding="sm" aria-label={a.label} component="section">
            <Group justify="space-between" align="flex-start">
              <Stack gap={2}>
                <Text fw={600}>{a.label}</Text>
                <Text size="sm" c="dimmed">
                  {s.addonKinds[a.kind] ?? a.kind} · {s.valueTypes[a.valueType]}
                  {a.required ? ` · ${s.requiredAddon}` : ''}
                  {a.valueType === 'integer' ? ` · ${a.min}–${a.max} ${a.unit ?? ''}` : ''}
                </Text>
              </Stack>
              <Group gap={4}>
                <Button size="xs" variant="default" onClick={() => setEditing(a)}>
                  {s.edit}
                </Button>
                <Button
                  size="xs"
                  variant="subtle"
                  color="red"
                  loading={remove.isPending && remove.variables?.id === a.id}
                  onClick={() => remove.mutate(a)}
                >
                  {s.remove}
                </Button>
              </Group>
            </Group>
            {a.valueType === 'enumeration' ? (
              <Table.ScrollContainer minWidth={240 + tariff.periods.length * 90} mt="xs">
                <Table aria-label={`${a.label}: ${s.priceGrid}`} fz="sm">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>{s.value}</Table.Th>
                      <Table.Th>{s.offered}</Table.Th>
                      {tariff.periods.map((p) => (
                        <Table.Th key={p.period}>{periodLabel(t, p.period)}</Table.Th>
                      ))}
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {a.values.map((v) => (
                      <Table.Tr key={v.valueId}>
                        <Table.Td>
                          {v.name} <Code>{v.internalName}</Code>
                        </Table.Td>
                        <Table.Td>{v.offered && v.active ? s.yes : s.no}</Table.Td>
                        {tariff.periods.map((p) => (
                          <Table.Td key={p.period}>
                            {v.prices.find((x) => x.period === p.period)?.price ?? t.never}
                          </Table.Td>
                        ))}
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            ) : (
              <Text size="sm" mt="xs">
                {a.prices.map((p) => `${periodLabel(t, p.period)}: ${p.price ?? t.never}`).join(' · ')}
              </Text>
            )}
          </Card>
        ))
      )}
      <Modal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === 'new' ? s.addAddon : s.editAddon}
        size="xl"
      >
        {editing !== null ? (
          <AddonForm
            tariff={tariff}
            addon={editing === 'new' ? null : editing}
            onDone={() => setEditing(null)}
          />
        ) : null}
      </Modal>
    </Stack>
  );
}

function History({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const history = useQuery({
    queryKey: [...TARIFFS_KEY, id, 'history'],
    queryFn: () => call(api.GET('/api/v1/tariffs/{id}/history', idPath(id))),
  });
  return (
    <Stack gap="xs">
      <Title order={3}>{s.history}</Title>
      <QueryView query={history} isEmpty={(data) => data.items.length === 0} empty={s.noHistory}>
        {(data) => (
          <Table.ScrollContainer minWidth={560}>
            <Table aria-label={s.history} fz="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{s.when}</Table.Th>
                  <Table.Th>{s.who}</Table.Th>
                  <Table.Th>{s.change}</Table.Th>
                  <Table.Th>{s.changed}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((h) => (
                  <Table.Tr key={h.id}>
                    <Table.Td>{h.createdAt.slice(0, 16).replace('T', ' ')}</Table.Td>
                    <Table.Td>{h.actor.label}</Table.Td>
                    <Table.Td>{s.historyChange[h.change] ?? h.change}</Table.Td>
                    <Table.Td>
                      <Text size="xs" style={{ wordBreak: 'break-word' }}>
                        {changedFields(h.before, h.after)}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </QueryView>
    </Stack>
  );
}

/** Fields every change touches, not worth a line. */
const UNSHOWN = new Set(['createdAt', 'updatedAt']);

/**
 * "field: before → after" for the top-level fields a change touched; long values (an addon's
 * whole configuration) are cut, a list by its length.
 */
function changedFields(before: unknown, after: unknown): string {
  const b = (before ?? {}) as Record<string, unknown>;
  const a = (after ?? {}) as Record<string, unknown>;
  const show = (v: unknown) => {
    if (v === undefined) return '∅';
    if (Array.isArray(v) && JSON.stringify(v).length > 60) return `[${v.length}]`;
    const text = JSON.stringify(v);
    return text.length > 60 ? `${text.slice(0, 57)}…` : text;
  };
  return [...new Set([...Object.keys(b), ...Object.keys(a)])]
    .filter((k) => !UNSHOWN.has(k) && JSON.stringify(b[k]) !== JSON.stringify(a[k]))
    .map((k) => `${k}: ${show(b[k])} → ${show(a[k])}`)
    .join('; ');
}
