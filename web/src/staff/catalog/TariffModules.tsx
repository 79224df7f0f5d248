import { Button, Card, Group, Modal, NumberInput, Select, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import type { paths } from '../../api/schema';
import { useI18n } from '../../i18n';
import { EmptyState } from '../../pages/states';
import { useModules, useModuleTypes } from '../modules/queries';
import {
  SchemaFields,
  type SchemaValues,
  schemaInitial,
  schemaOutput,
  schemaProps,
} from '../modules/SchemaForm';
import { idPath, RefusalAlert, type Tariff, useStaffMutation } from './common';
import { TARIFFS_KEY } from './Tariffs';

type Link =
  paths['/api/v1/tariffs/{id}/modules']['get']['responses'][200]['content']['application/json']['items'][number];

/**
 * The processing modules serving a tariff, in the order they are tried, each with the plug-in's
 * per-tariff settings (a form generated from its module type's `tariffSettingsSchema`).
 */
export function TariffModules({ tariff }: { tariff: Tariff }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const key = [...TARIFFS_KEY, tariff.id, 'modules'];
  const links = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET('/api/v1/tariffs/{id}/modules', idPath(tariff.id))),
  });
  const modules = useModules();
  const [editing, setEditing] = useState<{ moduleId: number; link: Link | null } | null>(null);
  const [adding, setAdding] = useState<string | null>(null);
  const current = links.data?.items ?? [];
  const put = useStaffMutation(
    (items: { moduleId: number; sortOrder: number; settings?: Record<string, unknown> }[]) =>
      call(api.PUT('/api/v1/tariffs/{id}/modules', { ...idPath(tariff.id), body: { modules: items } })),
    { invalidate: [TARIFFS_KEY], done: () => s.modulesSaved, onSuccess: () => setEditing(null) },
  );
  const keep = (except?: number) =>
    current
      .filter((l) => l.moduleId !== except)
      .map((l) => ({ moduleId: l.moduleId, sortOrder: l.sortOrder }));
  const candidates = (modules.data?.items ?? []).filter(
    (m) => m.productTypes.includes(tariff.productType) && !current.some((l) => l.moduleId === m.id),
  );
  return (
    <Stack gap="xs">
      <Title order={3}>{s.tariffModules}</Title>
      <RefusalAlert error={editing ? null : put.error} />
      {current.length === 0 ? (
        <EmptyState text={s.noTariffModules} />
      ) : (
        <Table.ScrollContainer minWidth={560}>
          <Table aria-label={s.tariffModules}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{s.module}</Table.Th>
                <Table.Th>{s.sortOrder}</Table.Th>
                <Table.Th>{s.settings}</Table.Th>
                <Table.Th>{s.upstreamTariff}</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {current.map((l) => (
                <Table.Tr key={l.moduleId}>
                  <Table.Td>
                    {l.name}
                    <Text size="xs" c="dimmed">
                      {l.type}
                      {l.enabled ? '' : ` · ${s.disabled}`}
                    </Text>
                  </Table.Td>
                  <Table.Td>{l.sortOrder}</Table.Td>
                  <Table.Td>
                    <Text size="xs" style={{ wordBreak: 'break-word' }}>
                      {Object.keys(l.settings).length ? JSON.stringify(l.settings) : t.never}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    {l.externalId ?? t.never}
                    {l.upstreamPrices ? (
                      <Text size="xs" c="dimmed">
                        {l.upstreamPrices.prices.map((p) => `${p.period}: ${p.amount}`).join(' · ')}{' '}
                        {l.upstreamPrices.currency}
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button
                        size="xs"
                        variant="default"
                        onClick={() => setEditing({ moduleId: l.moduleId, link: l })}
                      >
                        {s.edit}
                      </Button>
                      <Button
                        size="xs"
                        variant="subtle"
                        color="red"
                        onClick={() => put.mutate(keep(l.moduleId))}
                      >
                        {s.unlink}
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {candidates.length ? (
        <Group align="flex-end" gap="xs">
          <Select
            label={s.linkModule}
            placeholder={s.chooseModule}
            data={candidates.map((m) => ({ value: String(m.id), label: `${m.name} (${m.type})` }))}
            value={adding}
            onChange={setAdding}
          />
          <Button
            variant="default"
            disabled={!adding}
            onClick={() => adding && setEditing({ moduleId: Number(adding), link: null })}
          >
            {s.next}
          </Button>
        </Group>
      ) : null}
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={s.linkSettings} size="lg">
        {editing ? (
          <LinkForm
            moduleId={editing.moduleId}
            link={editing.link}
            nextSort={(current.at(-1)?.sortOrder ?? -10) + 10}
            busy={put.isPending}
            error={put.error}
            onSave={(item) => {
              setAdding(null);
              put.mutate([...keep(item.moduleId), item].sort((a, b) => a.sortOrder - b.sortOrder));
            }}
          />
        ) : null}
      </Modal>
    </Stack>
  );
}

function LinkForm({
  moduleId,
  link,
  nextSort,
  busy,
  error,
  onSave,
}: {
  moduleId: number;
  link: Link | null;
  nextSort: number;
  busy: boolean;
  error: unknown;
  onSave: (item: { moduleId: number; sortOrder: number; settings: Record<string, unknown> }) => void;
}) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const modules = useModules();
  const types = useModuleTypes();
  const module = modules.data?.items.find((m) => m.id === moduleId);
  const schema = types.data?.items.find((x) => x.type === module?.type)?.tariffSettingsSchema ?? null;
  const [values, setValues] = useState<SchemaValues | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [sortOrder, setSortOrder] = useState<number | string>(link?.sortOrder ?? nextSort);
  if (!module || !types.data) return null;
  const shown = values ?? schemaInitial(schema, link?.settings ?? {});
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const out = schemaOutput(schema, shown, { secretFields: [], editing: false }, s.fieldWords);
        setErrors(out.errors);
        if (Object.keys(out.errors).length === 0)
          onSave({ moduleId, sortOrder: Number(sortOrder) || 0, settings: out.value });
      }}
    >
      <Stack gap="sm">
        <Card withBorder padding="xs">
          <Text fw={600}>{module.name}</Text>
          <Text size="xs" c="dimmed">
            {module.type}
          </Text>
        </Card>
        <NumberInput
          label={s.sortOrder}
          description={s.linkSortHint}
          min={0}
          value={sortOrder}
          onChange={setSortOrder}
        />
        {schemaProps(schema).length ? (
          <SchemaFields schema={schema} values={shown} onChange={setValues} errors={errors} />
        ) : (
          <Text size="sm" c="dimmed">
            {s.noSettings}
          </Text>
        )}
        <RefusalAlert error={error} />
        <Group justify="flex-end">
          <Button type="submit" loading={busy}>
            {s.save}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
