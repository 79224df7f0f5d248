import {
  Alert,
  Anchor,
  Badge,
  Button,
  Group,
  Modal,
  NumberInput,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { EmptyState, ErrorState, Loading } from '../../pages/states';
import { Link, navigate } from '../../router';
import { type Enumeration, idPath, RefusalAlert, useStaffMutation } from './common';

export const ENUMERATIONS_KEY = ['staff', 'enumerations'] as const;
type Value = Enumeration['values'][number];

export function useEnumerations() {
  return useQuery({ queryKey: ENUMERATIONS_KEY, queryFn: () => call(api.GET('/api/v1/enumerations')) });
}

/** Enumerations (lists of choices, e.g. "Server Control Panel"), each with its values' count. */
export function EnumerationsPage() {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const list = useEnumerations();
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const create = useStaffMutation(
    () =>
      call(
        api.POST('/api/v1/enumerations', {
          body: { name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) },
        }),
      ),
    {
      invalidate: [ENUMERATIONS_KEY],
      done: (e) => s.saved(e.name),
      onSuccess: (e) => navigate(`/staff/catalog/enumerations/${e.id}`),
    },
  );
  if (list.isPending) return <Loading />;
  if (list.isError) return <ErrorState error={list.error} onRetry={() => list.refetch()} />;
  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2}>{s.enumerations}</Title>
        <Button onClick={() => setCreating(true)}>{s.newEnumeration}</Button>
      </Group>
      {list.data.items.length === 0 ? (
        <EmptyState text={s.noEnumerations} />
      ) : (
        <Table striped aria-label={s.enumerations}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{s.name}</Table.Th>
              <Table.Th>{s.values}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {list.data.items.map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td>
                  <Anchor component={Link} href={`/staff/catalog/enumerations/${e.id}`}>
                    {e.name}
                  </Anchor>
                </Table.Td>
                <Table.Td>{e.values.length}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Modal opened={creating} onClose={() => setCreating(false)} title={s.newEnumeration}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate(undefined);
          }}
        >
          <Stack gap="sm">
            <TextInput
              label={s.name}
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
            />
            <Textarea
              label={s.description}
              value={description}
              onChange={(e) => setDescription(e.currentTarget.value)}
            />
            <RefusalAlert error={create.error} />
            <Group justify="flex-end">
              <Button type="submit" loading={create.isPending}>
                {s.create}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </Stack>
  );
}

/** One enumeration: its values with their internal names (e.g. upstream license tariff ids). */
export function EnumerationPage({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const key = [...ENUMERATIONS_KEY, id];
  const e = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET('/api/v1/enumerations/{id}', idPath(id))),
  });
  const [editing, setEditing] = useState<Value | 'new' | null>(null);
  const [removing, setRemoving] = useState<Value | null>(null);
  const setStatus = useStaffMutation(
    (v: { value: Value; status: 'active' | 'disabled' }) =>
      call(
        api.PATCH('/api/v1/enumerations/{id}/values/{valueId}', {
          params: { path: { id: String(id), valueId: String(v.value.id) } },
          body: { status: v.status },
        }),
      ),
    {
      invalidate: [ENUMERATIONS_KEY, ['staff', 'tariffs']],
      done: (v) => (v.status === 'disabled' ? s.valueDisabled(v.name) : s.valueEnabled(v.name)),
    },
  );
  if (e.isPending) return <Loading />;
  if (e.isError) return <ErrorState error={e.error} onRetry={() => e.refetch()} />;
  const en = e.data;
  return (
    <Stack gap="md">
      <Anchor component={Link} href="/staff/catalog/enumerations" size="sm">
        {s.allEnumerations}
      </Anchor>
      <Group justify="space-between">
        <Title order={2}>{en.name}</Title>
        <Button onClick={() => setEditing('new')}>{s.addValue}</Button>
      </Group>
      {en.description ? <Text c="dimmed">{en.description}</Text> : null}
      <Text size="sm" c="dimmed">
        {s.internalNameHint}
      </Text>
      <RefusalAlert error={setStatus.error} />
      {en.values.length === 0 ? (
        <EmptyState text={s.noValues} />
      ) : (
        <Table.ScrollContainer minWidth={560}>
          <Table striped aria-label={s.values}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{s.name}</Table.Th>
                <Table.Th>{s.internalName}</Table.Th>
                <Table.Th>{s.sortOrder}</Table.Th>
                <Table.Th>{t.status}</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {en.values.map((v) => (
                <Table.Tr key={v.id}>
                  <Table.Td>{v.name}</Table.Td>
                  <Table.Td>
                    <code>{v.internalName}</code>
                  </Table.Td>
                  <Table.Td>{v.sortOrder}</Table.Td>
                  <Table.Td>
                    <Badge color={v.status === 'active' ? 'teal' : 'gray'} variant="light">
                      {s.valueStatus[v.status]}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button
                        size="xs"
                        variant="default"
                        aria-label={`${s.edit} ${v.name}`}
                        onClick={() => setEditing(v)}
                      >
                        {s.edit}
                      </Button>
                      <Button
                        size="xs"
                        variant="default"
                        aria-label={`${v.status === 'active' ? s.disable : s.enable} ${v.name}`}
                        loading={setStatus.isPending && setStatus.variables?.value.id === v.id}
                        onClick={() =>
                          setStatus.mutate({
                            value: v,
                            status: v.status === 'active' ? 'disabled' : 'active',
                          })
                        }
                      >
                        {v.status === 'active' ? s.disable : s.enable}
                      </Button>
                      <Button
                        size="xs"
                        variant="subtle"
                        color="red"
                        aria-label={`${s.delete} ${v.name}`}
                        onClick={() => setRemoving(v)}
                      >
                        {s.delete}
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === 'new' ? s.addValue : s.editValue}
      >
        {editing !== null ? (
          <ValueForm
            enumerationId={id}
            value={editing === 'new' ? null : editing}
            nextSort={(en.values.at(-1)?.sortOrder ?? -10) + 10}
            onDone={() => setEditing(null)}
          />
        ) : null}
      </Modal>
      <Modal opened={removing !== null} onClose={() => setRemoving(null)} title={s.deleteValue}>
        {removing ? (
          <DeleteValue enumerationId={id} value={removing} onDone={() => setRemoving(null)} />
        ) : null}
      </Modal>
    </Stack>
  );
}

function ValueForm({
  enumerationId,
  value,
  nextSort,
  onDone,
}: {
  enumerationId: number;
  value: Value | null;
  nextSort: number;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const [name, setName] = useState(value?.name ?? '');
  const [internalName, setInternalName] = useState(value?.internalName ?? '');
  const [sortOrder, setSortOrder] = useState<number | string>(value?.sortOrder ?? nextSort);
  const save = useStaffMutation(
    () => {
      const body = {
        name: name.trim(),
        internalName: internalName.trim(),
        sortOrder: Number(sortOrder) || 0,
      };
      return value
        ? call(
            api.PATCH('/api/v1/enumerations/{id}/values/{valueId}', {
              params: { path: { id: String(enumerationId), valueId: String(value.id) } },
              body,
            }),
          )
        : call(api.POST('/api/v1/enumerations/{id}/values', { ...idPath(enumerationId), body }));
    },
    { invalidate: [ENUMERATIONS_KEY, ['staff', 'tariffs']], done: (v) => s.saved(v.name), onSuccess: onDone },
  );
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate(undefined);
      }}
    >
      <Stack gap="sm">
        <TextInput label={s.name} required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <TextInput
          label={s.internalName}
          description={s.internalNameHint}
          required
          value={internalName}
          onChange={(e) => setInternalName(e.currentTarget.value)}
        />
        <NumberInput label={s.sortOrder} min={0} value={sortOrder} onChange={setSortOrder} />
        <RefusalAlert error={save.error} />
        <Group justify="flex-end">
          <Button type="submit" loading={save.isPending}>
            {s.save}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** Deleting a value in use is refused by the API; the page says who uses it and offers to disable it. */
function DeleteValue({
  enumerationId,
  value,
  onDone,
}: {
  enumerationId: number;
  value: Value;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const path = { params: { path: { id: String(enumerationId), valueId: String(value.id) } } };
  const remove = useStaffMutation(
    () => call(api.DELETE('/api/v1/enumerations/{id}/values/{valueId}', path)),
    {
      invalidate: [ENUMERATIONS_KEY],
      done: () => s.valueDeleted(value.name),
      onSuccess: onDone,
    },
  );
  const disable = useStaffMutation(
    () =>
      call(
        api.PATCH('/api/v1/enumerations/{id}/values/{valueId}', { ...path, body: { status: 'disabled' } }),
      ),
    {
      invalidate: [ENUMERATIONS_KEY, ['staff', 'tariffs']],
      done: (v) => s.valueDisabled(v.name),
      onSuccess: onDone,
    },
  );
  const inUse =
    remove.error instanceof ApiError && remove.error.code === 'enumeration_value_in_use'
      ? (remove.error.details as { tariffIds?: number[]; serviceIds?: number[] } | undefined)
      : undefined;
  return (
    <Stack gap="sm">
      <Text>{s.deleteValueQuestion(value.name)}</Text>
      {inUse ? (
        <Alert color="orange" role="alert" title={s.valueInUse}>
          <Stack gap={4}>
            {inUse.tariffIds?.length ? (
              <Text size="sm">
                {s.usedByTariffs}{' '}
                {inUse.tariffIds.map((tid, i) => (
                  <span key={tid}>
                    {i > 0 ? ', ' : ''}
                    <Anchor component={Link} href={`/staff/catalog/tariffs/${tid}`}>
                      {tid}
                    </Anchor>
                  </span>
                ))}
              </Text>
            ) : null}
            {inUse.serviceIds?.length ? (
              <Text size="sm">
                {s.usedByServices} {inUse.serviceIds.join(', ')}
              </Text>
            ) : null}
            <Text size="sm">{s.disableInstead}</Text>
          </Stack>
        </Alert>
      ) : (
        <RefusalAlert error={remove.error} />
      )}
      <RefusalAlert error={disable.error} />
      <Group justify="flex-end">
        {inUse && value.status === 'active' ? (
          <Button color="orange" loading={disable.isPending} onClick={() => disable.mutate(undefined)}>
            {s.disable}
          </Button>
        ) : null}
        {!inUse ? (
          <Button color="red" loading={remove.isPending} onClick={() => remove.mutate(undefined)}>
            {s.delete}
          </Button>
        ) : null}
      </Group>
    </Stack>
  );
}
