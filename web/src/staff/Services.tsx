import {
  Anchor,
  Button,
  Code,
  Group,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n';
import { NotFound } from '../pages/NotFound';
import { Pager, useCursorPages } from '../pages/paging';
import { Delete, History } from '../pages/ServiceActions';
import { ErrorState, Loading, QueryView } from '../pages/states';
import { type Service, StatusBadge } from '../pages/status';
import { Link } from '../router';
import { Field, useRefusal } from './Clients';
import { OperationsTable } from './Queue';

const PAGE = 20;
const idPath = (id: number) => ({ params: { path: { id: String(id) } } });
const STATUSES = ['ordered', 'processing', 'active', 'suspended', 'deleted'] as const;
type Status = (typeof STATUSES)[number];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Every service, filtered on the server (status, product type, module, expiring between), a page at a time. */
export function StaffServicesPage() {
  const { t } = useI18n();
  const s = t.staff;
  const pages = useCursorPages();
  const [status, setStatus] = useState<string | null>(null);
  const [productType, setProductType] = useState<string | null>(null);
  const [moduleId, setModuleId] = useState<string | null>(null);
  const [expiresFrom, setFrom] = useState('');
  const [expiresTo, setTo] = useState('');
  const before = pages.before;
  const types = useQuery({
    queryKey: ['staff', 'product-types'],
    queryFn: () => call(api.GET('/api/v1/product-types')),
  });
  const modules = useQuery({
    queryKey: ['staff', 'modules'],
    queryFn: () => call(api.GET('/api/v1/modules', { params: { query: { limit: 100 } } })),
  });
  const filters = {
    ...(status ? { status: status as Status } : {}),
    ...(productType ? { productType } : {}),
    ...(moduleId ? { moduleId } : {}),
    ...(DAY.test(expiresFrom) ? { expiresFrom } : {}),
    ...(DAY.test(expiresTo) ? { expiresTo } : {}),
  };
  const list = useQuery({
    queryKey: ['staff', 'services', filters, before],
    queryFn: () =>
      call(
        api.GET('/api/v1/services', {
          params: {
            query: { limit: PAGE, ...filters, ...pages.query },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const dateError = (v: string) => (v === '' || DAY.test(v) ? undefined : s.dateFormat);
  // A new filter starts from the first page.
  const set =
    <T,>(f: (v: T) => void) =>
    (v: T) => {
      f(v);
      while (pages.hasNewer) pages.newer();
    };

  return (
    <Stack gap="md">
      <Title order={2}>{t.services}</Title>
      <Paper withBorder p="sm">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 5 }} spacing="xs">
          <Select
            label={t.status}
            clearable
            placeholder={s.any}
            data={STATUSES.map((v) => ({ value: v, label: t.serviceStatus[v] ?? v }))}
            value={status}
            onChange={set(setStatus)}
          />
          <Select
            label={s.productType}
            clearable
            placeholder={s.any}
            data={(types.data?.items ?? []).map((p) => ({ value: p.code, label: p.name }))}
            value={productType}
            onChange={set(setProductType)}
          />
          <Select
            label={s.module}
            clearable
            placeholder={s.any}
            data={(modules.data?.items ?? []).map((m) => ({ value: String(m.id), label: m.name }))}
            value={moduleId}
            onChange={set(setModuleId)}
          />
          <TextInput
            label={s.expiresFrom}
            placeholder={s.dateFormat}
            value={expiresFrom}
            error={dateError(expiresFrom)}
            onChange={(e) => set(setFrom)(e.currentTarget.value.trim())}
          />
          <TextInput
            label={s.expiresTo}
            placeholder={s.dateFormat}
            value={expiresTo}
            error={dateError(expiresTo)}
            onChange={(e) => set(setTo)(e.currentTarget.value.trim())}
          />
        </SimpleGrid>
      </Paper>
      <QueryView query={list} isEmpty={(data) => data.items.length === 0} empty={s.noMatchingServices}>
        {(data) => (
          <Paper withBorder>
            <Table.ScrollContainer minWidth={360}>
              <Table striped highlightOnHover aria-label={t.services}>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t.service}</Table.Th>
                    <Table.Th>{t.status}</Table.Th>
                    <Table.Th>{t.expires}</Table.Th>
                    <Table.Th visibleFrom="sm">{s.client}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.items.map((sv) => (
                    <Table.Tr key={sv.id}>
                      <Table.Td>
                        <Anchor component={Link} href={`/staff/services/${sv.id}`}>
                          {sv.name}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>
                        <StatusBadge status={sv.status} />
                      </Table.Td>
                      <Table.Td>{sv.expiresOn ?? t.never}</Table.Td>
                      <Table.Td visibleFrom="sm">
                        <Anchor component={Link} href={`/staff/clients/${sv.accountId}`}>
                          #{sv.accountId}
                        </Anchor>
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Paper>
        )}
      </QueryView>
      <Pager pages={pages} nextBefore={list.data?.nextBefore} busy={list.isFetching} label={t.services} />
    </Stack>
  );
}

const settled = (sv: Service) =>
  sv.operations.every((o) => ['done', 'failed', 'cancelled'].includes(o.status));

/** One service as staff see it: parameters, operations with their steps, history, and the staff actions. */
export function StaffServiceDetail({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staff;
  const service = useQuery({
    queryKey: ['service', id],
    queryFn: () => call(api.GET('/api/v1/services/{id}', idPath(id))),
    refetchInterval: (q) => (q.state.data && !settled(q.state.data) ? 2000 : false),
  });
  const tariffId = service.data?.tariffId;
  const tariff = useQuery({
    queryKey: ['staff', 'tariff', tariffId],
    enabled: tariffId !== undefined,
    queryFn: () => call(api.GET('/api/v1/tariffs/{id}', idPath(tariffId!))),
  });
  const accountId = service.data?.accountId;
  const account = useQuery({
    queryKey: ['staff', 'account', accountId],
    enabled: accountId !== undefined,
    queryFn: () => call(api.GET('/api/v1/accounts/{id}', idPath(accountId!))),
  });
  if (service.isPending) return <Loading />;
  if (service.isError) {
    if (service.error instanceof ApiError && service.error.status === 404) return <NotFound />;
    return <ErrorState error={service.error} onRetry={() => service.refetch()} />;
  }
  const sv = service.data;
  return (
    <Stack gap="md">
      <Anchor component={Link} href="/staff/services" size="sm">
        ← {s.allServices}
      </Anchor>
      <Group justify="space-between">
        <Title order={2}>{sv.name}</Title>
        <StatusBadge status={sv.status} />
      </Group>
      <Paper withBorder p="md">
        <SimpleGrid cols={{ base: 2, sm: 4 }}>
          <Field label={s.client} value={account.data?.name ?? `#${sv.accountId}`} />
          <Field label={s.tariff} value={tariff.data?.name ?? `#${sv.tariffId}`} />
          <Field label={t.expires} value={sv.expiresOn ?? t.never} />
          <Field label={t.period} value={t.months(sv.period)} />
          <Field
            label={s.suspendReason}
            value={sv.suspendReason ? (s.reasons[sv.suspendReason] ?? sv.suspendReason) : t.never}
          />
          <Field label={s.module} value={sv.moduleId === null ? t.never : `#${sv.moduleId}`} />
          <Field label={s.externalId} value={sv.externalId ?? t.never} />
          <Field label={t.autoRenew} value={sv.autoprolong === null ? t.off : t.months(sv.autoprolong)} />
        </SimpleGrid>
        <Group gap="xs" mt="sm">
          <Anchor component={Link} href={`/staff/clients/${sv.accountId}`} size="sm">
            {s.openClient}
          </Anchor>
        </Group>
        {Object.keys(sv.params).length > 0 && (
          <Code block mt="sm">
            {Object.entries(sv.params)
              .map(([k, v]) => `${k}: ${v}`)
              .join('\n')}
          </Code>
        )}
      </Paper>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <SuspendResume service={sv} />
        <ChangeTariff service={sv} />
      </SimpleGrid>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t.operations}
        </Title>
        <OperationsTable operations={[...sv.operations].reverse()} />
      </Paper>
      <History service={sv} />
      <Delete service={sv} />
    </Stack>
  );
}

function useServiceRefresh(id: number) {
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: ['service', id] }),
      queryClient.invalidateQueries({ queryKey: ['history', id] }),
      queryClient.invalidateQueries({ queryKey: ['staff', 'services'] }),
    ]);
}

function SuspendResume({ service }: { service: Service }) {
  const { t } = useI18n();
  const s = t.staff;
  const refusal = useRefusal();
  const refresh = useServiceRefresh(service.id);
  const [reason, setReason] = useState<string | null>('admin');
  const suspend = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/services/{id}/suspend', {
          ...idPath(service.id),
          body: { reason: (reason ?? 'admin') as 'admin' | 'abuse' },
        }),
      ),
    onSuccess: async () => {
      notifications.show({ message: s.suspendQueued });
      await refresh();
    },
    onError: refusal,
  });
  const resume = useMutation({
    mutationFn: () => call(api.POST('/api/v1/services/{id}/resume', idPath(service.id))),
    onSuccess: async () => {
      notifications.show({ message: s.resumeQueued });
      await refresh();
    },
    onError: refusal,
  });
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {s.suspension}
      </Title>
      {service.status === 'suspended' ? (
        <Stack gap="xs" align="flex-start">
          <Text size="sm">{s.suspendedBecause(s.reasons[service.suspendReason ?? ''] ?? '')}</Text>
          <Button onClick={() => resume.mutate()} loading={resume.isPending}>
            {s.resume}
          </Button>
        </Stack>
      ) : service.status === 'active' ? (
        <Group align="flex-end" gap="xs">
          <Select
            label={s.reason}
            data={[
              { value: 'admin', label: s.reasons.admin! },
              { value: 'abuse', label: s.reasons.abuse! },
            ]}
            value={reason}
            onChange={setReason}
            allowDeselect={false}
            w={200}
          />
          <Button color="orange" onClick={() => suspend.mutate()} loading={suspend.isPending}>
            {s.suspend}
          </Button>
        </Group>
      ) : (
        <Text size="sm" c="dimmed">
          {s.notSuspendable}
        </Text>
      )}
    </Paper>
  );
}

type TariffQuote =
  paths['/api/v1/services/{id}/tariff-change-quote']['post']['responses'][200]['content']['application/json'];

/** A tariff change in two steps: the quote (what it charges or credits), then the change. */
function ChangeTariff({ service }: { service: Service }) {
  const { t } = useI18n();
  const s = t.staff;
  const refusal = useRefusal();
  const refresh = useServiceRefresh(service.id);
  const [target, setTarget] = useState<string | null>(null);
  const [quote, setQuote] = useState<TariffQuote | null>(null);
  const current = useQuery({
    queryKey: ['staff', 'tariff', service.tariffId],
    queryFn: () => call(api.GET('/api/v1/tariffs/{id}', idPath(service.tariffId))),
  });
  const tariffs = useQuery({
    queryKey: ['staff', 'tariffs', current.data?.productType],
    enabled: !!current.data,
    queryFn: () =>
      call(api.GET('/api/v1/tariffs', { params: { query: { productType: current.data!.productType } } })),
  });
  const body = () => ({ tariffId: Number(target) });
  const preview = useMutation({
    mutationFn: () =>
      call(api.POST('/api/v1/services/{id}/tariff-change-quote', { ...idPath(service.id), body: body() })),
    onSuccess: setQuote,
    onError: refusal,
  });
  const change = useMutation({
    mutationFn: () =>
      call(api.POST('/api/v1/services/{id}/change-tariff', { ...idPath(service.id), body: body() })),
    onSuccess: async () => {
      notifications.show({ message: s.tariffChanged });
      setQuote(null);
      setTarget(null);
      await refresh();
    },
    onError: refusal,
  });
  const live = service.status === 'active' || service.status === 'suspended';
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {s.changeTariff}
      </Title>
      {!live ? (
        <Text size="sm" c="dimmed">
          {s.notChangeable}
        </Text>
      ) : (
        <Stack gap="xs">
          <Group align="flex-end" gap="xs">
            <Select
              label={s.newTariff}
              placeholder={current.data?.name}
              data={(tariffs.data?.items ?? [])
                .filter((x) => x.id !== service.tariffId)
                .map((x) => ({ value: String(x.id), label: x.name }))}
              value={target}
              onChange={(v) => {
                setTarget(v);
                setQuote(null);
              }}
              style={{ flex: 1 }}
            />
            <Button
              variant="default"
              disabled={!target}
              onClick={() => preview.mutate()}
              loading={preview.isPending}
            >
              {s.quote}
            </Button>
          </Group>
          {quote && (
            <Paper bg="gray.0" p="sm">
              <Text size="sm">
                {s.quoteText(quote.remainingDays, quote.fullDays, quote.oldAmount, quote.newAmount)}
              </Text>
              <Text fw={700}>
                {quote.difference.startsWith('-')
                  ? s.willCredit(quote.difference.slice(1))
                  : s.willCharge(quote.difference)}
              </Text>
              <Button mt="xs" onClick={() => change.mutate()} loading={change.isPending}>
                {s.confirmChange}
              </Button>
            </Paper>
          )}
        </Stack>
      )}
    </Paper>
  );
}
