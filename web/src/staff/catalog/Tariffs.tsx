import {
  Anchor,
  Badge,
  Button,
  Checkbox,
  Group,
  Modal,
  NumberInput,
  Select,
  Stack,
  Table,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { QueryView } from '../../pages/states';
import { Link, navigate } from '../../router';
import {
  explicitPrices,
  filledPrices,
  PERIODS,
  PricesInput,
  periodLabel,
  RefusalAlert,
  type Tariff,
  useStaffMutation,
} from './common';
import { useProductTypes } from './ProductTypes';

export const TARIFFS_KEY = ['staff', 'tariffs'] as const;
const STATUSES = ['active', 'hidden', 'archived'] as const;
type Status = (typeof STATUSES)[number];

export const statusColor = (status: string) =>
  status === 'active' ? 'teal' : status === 'hidden' ? 'yellow' : 'gray';

/** Tariff plans, filtered by product type and status, with their prices per period. */
export function TariffsPage() {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const types = useProductTypes();
  const [productType, setProductType] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const tariffs = useQuery({
    queryKey: [...TARIFFS_KEY, { productType, status }],
    queryFn: () =>
      call(
        api.GET('/api/v1/tariffs', {
          params: {
            query: {
              ...(productType ? { productType } : {}),
              ...(status ? { status: status as Status } : {}),
            },
          },
        }),
      ),
  });
  const typeName = (code: string) => types.data?.items.find((p) => p.code === code)?.name ?? code;
  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2}>{s.tariffs}</Title>
        <Button onClick={() => setCreating(true)}>{s.newTariff}</Button>
      </Group>
      <Group gap="sm">
        <Select
          label={s.productType}
          placeholder={s.all}
          clearable
          data={(types.data?.items ?? []).map((p) => ({ value: p.code, label: p.name }))}
          value={productType}
          onChange={setProductType}
        />
        <Select
          label={t.status}
          placeholder={s.all}
          clearable
          data={STATUSES.map((x) => ({ value: x, label: s.tariffStatus[x] ?? x }))}
          value={status}
          onChange={setStatus}
        />
      </Group>
      <QueryView query={tariffs} isEmpty={(data) => data.items.length === 0} empty={s.noTariffs}>
        {(data) => (
          <Table.ScrollContainer minWidth={640}>
            <Table striped aria-label={s.tariffs}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{s.id}</Table.Th>
                  <Table.Th>{s.name}</Table.Th>
                  <Table.Th>{s.productType}</Table.Th>
                  <Table.Th>{s.prices}</Table.Th>
                  <Table.Th>{s.expiresOn}</Table.Th>
                  <Table.Th>{t.status}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((x) => (
                  <Table.Tr key={x.id}>
                    <Table.Td>{x.id}</Table.Td>
                    <Table.Td>
                      <Anchor component={Link} href={`/staff/catalog/tariffs/${x.id}`}>
                        {x.name}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>{typeName(x.productType)}</Table.Td>
                    <Table.Td>
                      {x.periods.map((p) => `${periodLabel(t, p.period)}: ${p.price ?? t.never}`).join(' · ')}
                    </Table.Td>
                    <Table.Td>{x.expiresOn ?? t.never}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={statusColor(x.status)}>
                        {s.tariffStatus[x.status] ?? x.status}
                      </Badge>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </QueryView>
      <Modal opened={creating} onClose={() => setCreating(false)} title={s.newTariff} size="lg">
        {creating ? (
          <TariffForm tariff={null} onDone={(x) => navigate(`/staff/catalog/tariffs/${x.id}`)} />
        ) : null}
      </Modal>
    </Stack>
  );
}

/** Create a tariff, or change one: name, status, periods with prices, setup fee, trial, end date. */
export function TariffForm({ tariff, onDone }: { tariff: Tariff | null; onDone: (t: Tariff) => void }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const types = useProductTypes();
  const [id, setId] = useState<number | string>('');
  const [name, setName] = useState(tariff?.name ?? '');
  const [description, setDescription] = useState(tariff?.description ?? '');
  const [productType, setProductType] = useState<string | null>(tariff?.productType ?? null);
  const [status, setStatus] = useState<string>(tariff?.status ?? 'active');
  const [periods, setPeriods] = useState<number[]>(tariff?.periods.map((p) => p.period) ?? [1]);
  const [prices, setPrices] = useState<Record<string, string>>(tariff ? explicitPrices(tariff.periods) : {});
  const [setupFee, setSetupFee] = useState(tariff?.setupFee ?? '');
  const [expiresOn, setExpiresOn] = useState(tariff?.expiresOn ?? '');
  const [trialDays, setTrialDays] = useState<number | string>(tariff?.trialDays ?? '');
  const ordered = PERIODS.filter((p) => periods.includes(p));
  const save = useStaffMutation(
    () => {
      const offered = filledPrices(prices);
      const body = {
        name: name.trim(),
        description: description.trim(),
        status: status as Status,
        periods: ordered,
        prices: Object.fromEntries(
          Object.entries(offered).filter(([p]) => ordered.includes(Number(p) as never)),
        ),
        setupFee: setupFee.trim() ? setupFee.trim() : null,
        expiresOn: expiresOn.trim() ? expiresOn.trim() : null,
        ...(periods.includes(-100) && trialDays !== '' ? { trialDays: Number(trialDays) } : {}),
      };
      return tariff
        ? call(api.PATCH('/api/v1/tariffs/{id}', { params: { path: { id: String(tariff.id) } }, body }))
        : call(
            api.POST('/api/v1/tariffs', {
              body: { ...body, productType: productType ?? '', ...(id !== '' ? { id: Number(id) } : {}) },
            }),
          );
    },
    { invalidate: [TARIFFS_KEY], done: (x) => s.saved(x.name), onSuccess: onDone },
  );
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate(undefined);
      }}
    >
      <Stack gap="sm">
        {tariff ? null : (
          <Group grow align="flex-start">
            <Select
              label={s.productType}
              required
              data={(types.data?.items ?? []).map((p) => ({ value: p.code, label: p.name }))}
              value={productType}
              onChange={setProductType}
            />
            <NumberInput
              label={s.chosenId}
              description={s.chosenIdHint}
              min={1}
              value={id}
              onChange={setId}
            />
          </Group>
        )}
        <TextInput label={s.name} required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <Textarea
          label={s.description}
          autosize
          minRows={1}
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
        />
        <Select
          label={t.status}
          data={STATUSES.map((x) => ({ value: x, label: s.tariffStatus[x] ?? x }))}
          value={status}
          onChange={(v) => setStatus(v ?? 'active')}
          allowDeselect={false}
        />
        <Checkbox.Group
          label={s.periods}
          value={periods.map(String)}
          onChange={(v) => setPeriods(v.map(Number))}
        >
          <Group gap="sm" mt={4}>
            {PERIODS.map((p) => (
              <Checkbox key={p} value={String(p)} label={periodLabel(t, p)} />
            ))}
          </Group>
        </Checkbox.Group>
        <PricesInput label={s.prices} periods={ordered} value={prices} onChange={setPrices} />
        {periods.includes(-100) ? (
          <NumberInput label={s.trialDays} min={1} max={366} value={trialDays} onChange={setTrialDays} />
        ) : null}
        <Group grow align="flex-start">
          <TextInput
            label={s.setupFee}
            placeholder="0.00"
            inputMode="decimal"
            value={setupFee}
            onChange={(e) => setSetupFee(e.currentTarget.value)}
          />
          <TextInput
            label={s.expiresOn}
            description={s.expiresOnHint}
            placeholder="YYYY-MM-DD"
            value={expiresOn}
            onChange={(e) => setExpiresOn(e.currentTarget.value)}
          />
        </Group>
        <RefusalAlert error={save.error} />
        <Group justify="flex-end">
          <Button type="submit" loading={save.isPending}>
            {tariff ? s.save : s.create}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
