import {
  Anchor,
  Button,
  Group,
  Paper,
  PasswordInput,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, api, call } from '../api/client';
import { errorSentence, useI18n } from '../i18n';
import { NotFound } from '../pages/NotFound';
import { Pager, useCursorPages } from '../pages/paging';
import { ErrorState, Loading, QueryView } from '../pages/states';
import { StatusBadge } from '../pages/status';
import { Link, navigate } from '../router';

const PAGE = 20;
const idPath = (id: number) => ({ params: { path: { id: String(id) } } });

/** What to tell staff about a refused request. */
export function useRefusal() {
  const { t } = useI18n();
  return (err: unknown) =>
    notifications.show({
      color: 'red',
      title: t.somethingWrong,
      message: errorSentence(t, err instanceof ApiError ? err.code : 'network_error'),
    });
}

/** Client accounts: search by name or email, newest first, and a form for a new one. */
export function ClientsPage() {
  const { t } = useI18n();
  const s = t.staff;
  const pages = useCursorPages();
  const [text, setText] = useState('');
  const [q, setQ] = useState('');
  const before = pages.before;
  const list = useQuery({
    queryKey: ['staff', 'accounts', q, before],
    queryFn: () =>
      call(
        api.GET('/api/v1/accounts', {
          params: {
            query: {
              limit: PAGE,
              ...(q ? { q } : {}),
              ...pages.query,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const search = (e: FormEvent) => {
    e.preventDefault();
    setQ(text.trim());
  };

  return (
    <Stack gap="md">
      <Title order={2}>{s.clients}</Title>
      <form onSubmit={search}>
        <Group align="flex-end" gap="xs">
          <TextInput
            label={s.searchClients}
            placeholder={s.searchPlaceholder}
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            style={{ flex: 1 }}
          />
          <Button type="submit" variant="default">
            {s.search}
          </Button>
        </Group>
      </form>
      <QueryView query={list} isEmpty={(data) => data.items.length === 0} empty={s.noClients}>
        {(data) => (
          <Paper withBorder>
            <Table.ScrollContainer minWidth={360}>
              <Table striped highlightOnHover aria-label={s.clients}>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{s.clientName}</Table.Th>
                    <Table.Th>{t.email}</Table.Th>
                    <Table.Th>{s.balance}</Table.Th>
                    <Table.Th visibleFrom="sm">{t.status}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.items.map((a) => (
                    <Table.Tr key={a.id}>
                      <Table.Td>
                        <Anchor component={Link} href={`/staff/clients/${a.id}`}>
                          {a.name}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>{a.email}</Table.Td>
                      <Table.Td>
                        {a.balance} {a.currency}
                      </Table.Td>
                      <Table.Td visibleFrom="sm">{s.accountStatus[a.status] ?? a.status}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Paper>
        )}
      </QueryView>
      <Pager pages={pages} nextBefore={list.data?.nextBefore} busy={list.isFetching} label={s.clients} />
      <CreateClient />
    </Stack>
  );
}

function CreateClient() {
  const { t } = useI18n();
  const s = t.staff;
  const refusal = useRefusal();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/accounts', {
          body: { name: name.trim(), email: email.trim(), ...(password ? { password } : {}) },
        }),
      ),
    onSuccess: async (r) => {
      notifications.show({ message: s.clientCreated(r.account.name) });
      await queryClient.invalidateQueries({ queryKey: ['staff', 'accounts'] });
      navigate(`/staff/clients/${r.account.id}`);
    },
    onError: refusal,
  });
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {s.newClient}
      </Title>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <TextInput
            label={s.clientName}
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <TextInput
            label={t.email}
            type="email"
            required
            value={email}
            onChange={(e) => setEmail(e.currentTarget.value)}
          />
          <PasswordInput
            label={s.firstPassword}
            description={s.firstPasswordHint}
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
          />
        </SimpleGrid>
        <Button type="submit" mt="sm" loading={create.isPending}>
          {s.createClient}
        </Button>
      </form>
    </Paper>
  );
}

/** One client: balance and credit limit, money in (payment, adjustment), ledger, services, orders. */
export function ClientDetail({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staff;
  const account = useQuery({
    queryKey: ['staff', 'account', id],
    queryFn: () => call(api.GET('/api/v1/accounts/{id}', idPath(id))),
  });
  if (account.isPending) return <Loading />;
  if (account.isError) {
    if (account.error instanceof ApiError && account.error.status === 404) return <NotFound />;
    return <ErrorState error={account.error} onRetry={() => account.refetch()} />;
  }
  const a = account.data;
  return (
    <Stack gap="md">
      <Anchor component={Link} href="/staff/clients" size="sm">
        ← {s.allClients}
      </Anchor>
      <Group justify="space-between">
        <Title order={2}>{a.name}</Title>
        <Text c="dimmed">{a.email}</Text>
      </Group>
      <Paper withBorder p="md">
        <SimpleGrid cols={{ base: 2, sm: 4 }}>
          <Field label={s.balance} value={`${a.balance} ${a.currency}`} />
          <Field label={s.creditLimit} value={`${a.creditLimit} ${a.currency}`} />
          <Field label={t.status} value={s.accountStatus[a.status] ?? a.status} />
          <Field label={s.since} value={a.createdAt.slice(0, 10)} />
        </SimpleGrid>
      </Paper>
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <RecordPayment id={id} currency={a.currency} />
        <Adjust id={id} currency={a.currency} />
        <CreditLimit id={id} current={a.creditLimit} currency={a.currency} />
      </SimpleGrid>
      <ClientServices id={id} />
      <ClientOrders id={id} />
      <Ledger id={id} />
    </Stack>
  );
}

export function Field({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text>{value}</Text>
    </div>
  );
}

function useAccountRefresh(id: number) {
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: ['staff', 'account', id] }),
      queryClient.invalidateQueries({ queryKey: ['staff', 'ledger', id] }),
      queryClient.invalidateQueries({ queryKey: ['staff', 'client-orders', id] }),
      queryClient.invalidateQueries({ queryKey: ['staff', 'accounts'] }),
    ]);
}

function RecordPayment({ id, currency }: { id: number; currency: string }) {
  const { t } = useI18n();
  const s = t.staff;
  const refusal = useRefusal();
  const refresh = useAccountRefresh(id);
  const [amount, setAmount] = useState('');
  const [method, setMethod] = useState('bank');
  const [reference, setReference] = useState('');
  const pay = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/accounts/{id}/payments', {
          ...idPath(id),
          body: { amount: amount.trim(), method: method.trim(), reference: reference.trim() },
        }),
      ),
    onSuccess: async (p) => {
      notifications.show({ message: s.paymentRecorded(`${p.amount} ${currency}`) });
      setAmount('');
      setReference('');
      await refresh();
    },
    onError: refusal,
  });
  return (
    <Paper withBorder p="md">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          pay.mutate();
        }}
      >
        <Title order={3} size="h4" mb="sm">
          {s.recordPayment}
        </Title>
        <Stack gap="xs">
          <TextInput
            label={s.amountIn(currency)}
            required
            inputMode="decimal"
            value={amount}
            onChange={(e) => setAmount(e.currentTarget.value)}
          />
          <TextInput
            label={s.method}
            required
            value={method}
            onChange={(e) => setMethod(e.currentTarget.value)}
          />
          <TextInput
            label={s.reference}
            required
            value={reference}
            onChange={(e) => setReference(e.currentTarget.value)}
          />
          <Button type="submit" loading={pay.isPending}>
            {s.recordPayment}
          </Button>
        </Stack>
      </form>
    </Paper>
  );
}

function Adjust({ id, currency }: { id: number; currency: string }) {
  const { t } = useI18n();
  const s = t.staff;
  const refusal = useRefusal();
  const refresh = useAccountRefresh(id);
  const [amount, setAmount] = useState('');
  const [description, setDescription] = useState('');
  const adjust = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/accounts/{id}/adjustments', {
          ...idPath(id),
          body: { amount: amount.trim(), description: description.trim() },
        }),
      ),
    onSuccess: async (e) => {
      notifications.show({ message: s.adjustmentPosted(`${e.amount} ${currency}`) });
      setAmount('');
      setDescription('');
      await refresh();
    },
    onError: refusal,
  });
  return (
    <Paper withBorder p="md">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          adjust.mutate();
        }}
      >
        <Title order={3} size="h4" mb="sm">
          {s.adjustment}
        </Title>
        <Stack gap="xs">
          <TextInput
            label={s.amountIn(currency)}
            description={s.adjustmentHint}
            required
            value={amount}
            onChange={(e) => setAmount(e.currentTarget.value)}
          />
          <TextInput
            label={s.reason}
            required
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
          />
          <Button type="submit" variant="light" loading={adjust.isPending}>
            {s.postAdjustment}
          </Button>
        </Stack>
      </form>
    </Paper>
  );
}

function CreditLimit({ id, current, currency }: { id: number; current: string; currency: string }) {
  const { t } = useI18n();
  const s = t.staff;
  const refusal = useRefusal();
  const refresh = useAccountRefresh(id);
  const [limit, setLimit] = useState(current);
  const save = useMutation({
    mutationFn: () =>
      call(api.PATCH('/api/v1/accounts/{id}', { ...idPath(id), body: { creditLimit: limit.trim() } })),
    onSuccess: async (a) => {
      notifications.show({ message: s.creditLimitSet(`${a.creditLimit} ${currency}`) });
      await refresh();
    },
    onError: refusal,
  });
  return (
    <Paper withBorder p="md">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Title order={3} size="h4" mb="sm">
          {s.creditLimit}
        </Title>
        <Stack gap="xs">
          <TextInput
            label={s.amountIn(currency)}
            description={s.creditLimitHint}
            required
            value={limit}
            onChange={(e) => setLimit(e.currentTarget.value)}
          />
          <Button type="submit" variant="light" loading={save.isPending}>
            {s.setCreditLimit}
          </Button>
        </Stack>
      </form>
    </Paper>
  );
}

function ClientServices({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staff;
  const pages = useCursorPages();
  const before = pages.before;
  const list = useQuery({
    queryKey: ['staff', 'services', { accountId: id }, before],
    queryFn: () =>
      call(
        api.GET('/api/v1/services', {
          params: {
            query: {
              limit: 10,
              accountId: String(id),
              ...pages.query,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t.services}
      </Title>
      <QueryView query={list} isEmpty={(data) => data.items.length === 0} empty={s.clientHasNoServices}>
        {(data) => (
          <Table.ScrollContainer minWidth={320}>
            <Table aria-label={s.clientServices}>
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
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </QueryView>
      <Pager
        pages={pages}
        nextBefore={list.data?.nextBefore}
        busy={list.isFetching}
        label={s.clientServices}
      />
    </Paper>
  );
}

function ClientOrders({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staff;
  const pages = useCursorPages();
  const before = pages.before;
  const list = useQuery({
    queryKey: ['staff', 'client-orders', id, before],
    queryFn: () =>
      call(
        api.GET('/api/v1/orders', {
          params: {
            query: {
              limit: 10,
              accountId: String(id),
              ...pages.query,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {s.orders}
      </Title>
      <QueryView query={list} isEmpty={(data) => data.items.length === 0} empty={s.noOrders}>
        {(data) => (
          <Table.ScrollContainer minWidth={320}>
            <Table aria-label={s.orders}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>#</Table.Th>
                  <Table.Th>{t.status}</Table.Th>
                  <Table.Th>{s.total}</Table.Th>
                  <Table.Th>{s.placed}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((o) => (
                  <Table.Tr key={o.id}>
                    <Table.Td>{o.id}</Table.Td>
                    <Table.Td>{s.orderStatus[o.status] ?? o.status}</Table.Td>
                    <Table.Td>
                      {o.total} {o.currency}
                    </Table.Td>
                    <Table.Td>{new Date(o.createdAt).toLocaleString()}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </QueryView>
      <Pager pages={pages} nextBefore={list.data?.nextBefore} busy={list.isFetching} label={s.orders} />
    </Paper>
  );
}

function Ledger({ id }: { id: number }) {
  const { t } = useI18n();
  const pages = useCursorPages();
  const before = pages.before;
  const list = useQuery({
    queryKey: ['staff', 'ledger', id, before],
    queryFn: () =>
      call(
        api.GET('/api/v1/accounts/{id}/ledger', {
          ...idPath(id),
          params: {
            ...idPath(id).params,
            query: { limit: 20, ...pages.query },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t.accountArea.ledger}
      </Title>
      <QueryView
        query={list}
        isEmpty={(data) => data.items.length === 0}
        empty={t.accountArea.noLedgerEntries}
      >
        {(data) => (
          <Table.ScrollContainer minWidth={420}>
            <Table striped aria-label={t.accountArea.ledger}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t.when}</Table.Th>
                  <Table.Th>{t.what}</Table.Th>
                  <Table.Th ta="right">{t.accountArea.amount}</Table.Th>
                  <Table.Th ta="right">{t.accountArea.balanceAfter}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((e) => (
                  <Table.Tr key={e.id}>
                    <Table.Td>{new Date(e.createdAt).toLocaleString()}</Table.Td>
                    <Table.Td>
                      {t.accountArea.ledgerKind[e.kind] ?? e.kind}
                      <Text size="xs" c="dimmed">
                        {e.description}
                      </Text>
                    </Table.Td>
                    <Table.Td ta="right">{e.amount}</Table.Td>
                    <Table.Td ta="right">{e.balanceAfter}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </QueryView>
      <Pager
        pages={pages}
        nextBefore={list.data?.nextBefore}
        busy={list.isFetching}
        label={t.accountArea.ledgerPages}
      />
    </Paper>
  );
}
