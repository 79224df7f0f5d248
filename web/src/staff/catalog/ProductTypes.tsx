import {
  Button,
  Checkbox,
  Group,
  Modal,
  NumberInput,
  Stack,
  Table,
  TagsInput,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { ErrorState, Loading } from '../../pages/states';
import { type ProductType, RefusalAlert, useStaffMutation } from './common';

export const PRODUCT_TYPES_KEY = ['staff', 'product-types'] as const;

export function useProductTypes() {
  return useQuery({
    queryKey: PRODUCT_TYPES_KEY,
    queryFn: () => call(api.GET('/api/v1/product-types')),
  });
}

/** Product types: what a tariff sells, with its lifecycle policy and the parameters an order asks for. */
export function ProductTypesPage() {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const types = useProductTypes();
  const [editing, setEditing] = useState<ProductType | 'new' | null>(null);
  if (types.isPending) return <Loading />;
  if (types.isError) return <ErrorState error={types.error} onRetry={() => types.refetch()} />;
  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2}>{s.productTypes}</Title>
        <Button onClick={() => setEditing('new')}>{s.newProductType}</Button>
      </Group>
      <Table.ScrollContainer minWidth={560}>
        <Table striped aria-label={s.productTypes}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{s.code}</Table.Th>
              <Table.Th>{s.name}</Table.Th>
              <Table.Th>{s.deletionDelayDays}</Table.Th>
              <Table.Th>{s.serviceParams}</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {types.data.items.map((p) => (
              <Table.Tr key={p.code}>
                <Table.Td>{p.code}</Table.Td>
                <Table.Td>{p.name}</Table.Td>
                <Table.Td>{p.deletionDelayDays}</Table.Td>
                <Table.Td>{p.serviceParams.join(', ') || t.never}</Table.Td>
                <Table.Td>
                  <Button size="xs" variant="default" onClick={() => setEditing(p)}>
                    {s.edit}
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Modal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === 'new' ? s.newProductType : s.editProductType}
      >
        {editing !== null ? (
          <ProductTypeForm type={editing === 'new' ? null : editing} onDone={() => setEditing(null)} />
        ) : null}
      </Modal>
    </Stack>
  );
}

function ProductTypeForm({ type, onDone }: { type: ProductType | null; onDone: () => void }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const [code, setCode] = useState(type?.code ?? '');
  const [name, setName] = useState(type?.name ?? '');
  const [delay, setDelay] = useState<number | string>(type?.deletionDelayDays ?? 0);
  const [clientCanDelete, setClientCanDelete] = useState(type?.clientCanDelete ?? true);
  const [refund, setRefund] = useState(type?.refundUnusedDays ?? true);
  const [params, setParams] = useState<string[]>(type?.serviceParams ?? []);
  const save = useStaffMutation(
    async () => {
      const body = {
        name: name.trim(),
        deletionDelayDays: Number(delay) || 0,
        clientCanDelete,
        refundUnusedDays: refund,
        serviceParams: params,
      };
      return type
        ? call(api.PATCH('/api/v1/product-types/{code}', { params: { path: { code: type.code } }, body }))
        : call(api.POST('/api/v1/product-types', { body: { code: code.trim(), ...body } }));
    },
    { invalidate: [PRODUCT_TYPES_KEY], done: (p) => s.saved(p.name), onSuccess: onDone },
  );
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate(undefined);
      }}
    >
      <Stack gap="sm">
        <TextInput
          label={s.code}
          description={s.codeHint}
          required
          disabled={!!type}
          value={code}
          onChange={(e) => setCode(e.currentTarget.value)}
        />
        <TextInput label={s.name} required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <NumberInput label={s.deletionDelayDays} min={0} max={3650} value={delay} onChange={setDelay} />
        <Checkbox
          label={s.clientCanDelete}
          checked={clientCanDelete}
          onChange={(e) => setClientCanDelete(e.currentTarget.checked)}
        />
        <Checkbox
          label={s.refundUnusedDays}
          checked={refund}
          onChange={(e) => setRefund(e.currentTarget.checked)}
        />
        <TagsInput
          label={s.serviceParams}
          description={s.serviceParamsHint}
          value={params}
          onChange={setParams}
        />
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
