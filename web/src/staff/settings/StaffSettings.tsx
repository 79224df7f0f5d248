import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  PasswordInput,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { ApiTokens } from '../../pages/Settings';
import { ErrorState, Loading } from '../../pages/states';
import { useMe } from '../../session';
import { RefusalAlert, useStaffMutation } from '../catalog/common';

const PROVIDER_KEY = ['staff', 'provider'] as const;
const USERS_KEY = ['staff', 'users'] as const;

/** The provider's name, currency and time zone; the staff users; the signed-in user's API tokens. */
export function StaffSettingsPage() {
  const { t } = useI18n();
  const s = t.staffCatalog;
  return (
    <Stack gap="lg" maw={860}>
      <Title order={2}>{s.settingsTitle}</Title>
      <Provider />
      <StaffUsers />
      <ApiTokens />
    </Stack>
  );
}

function Provider() {
  const provider = useQuery({ queryKey: PROVIDER_KEY, queryFn: () => call(api.GET('/api/v1/provider')) });
  if (provider.isPending) return <Loading />;
  if (provider.isError) return <ErrorState error={provider.error} onRetry={() => provider.refetch()} />;
  return <ProviderForm key={provider.data.updatedAt} provider={provider.data} />;
}

function ProviderForm({ provider }: { provider: { name: string; currency: string; timeZone: string } }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const [name, setName] = useState(provider.name);
  const [currency, setCurrency] = useState(provider.currency);
  const [timeZone, setTimeZone] = useState(provider.timeZone);
  const save = useStaffMutation(
    () =>
      call(
        api.PATCH('/api/v1/provider', {
          body: {
            ...(name.trim() !== provider.name ? { name: name.trim() } : {}),
            ...(currency.trim() !== provider.currency ? { currency: currency.trim().toUpperCase() } : {}),
            ...(timeZone.trim() !== provider.timeZone ? { timeZone: timeZone.trim() } : {}),
          },
        }),
      ),
    { invalidate: [PROVIDER_KEY], done: () => s.providerSaved },
  );
  return (
    <Card withBorder component="section" aria-label={s.provider}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate(undefined);
        }}
      >
        <Stack gap="sm">
          <Title order={3}>{s.provider}</Title>
          <TextInput
            label={s.providerName}
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <Group grow align="flex-start">
            <TextInput
              label={s.currency}
              description={s.currencyHint}
              maxLength={3}
              value={currency}
              onChange={(e) => setCurrency(e.currentTarget.value)}
            />
            <TextInput
              label={s.timeZone}
              description={s.timeZoneHint}
              value={timeZone}
              onChange={(e) => setTimeZone(e.currentTarget.value)}
            />
          </Group>
          <RefusalAlert error={save.error} />
          <Group justify="flex-end">
            <Button type="submit" loading={save.isPending}>
              {s.save}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function StaffUsers() {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const me = useMe();
  const users = useQuery({
    queryKey: USERS_KEY,
    queryFn: () => call(api.GET('/api/v1/users', { params: { query: { role: 'admin', limit: 200 } } })),
  });
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [tokensOf, setTokensOf] = useState<{ id: number; email: string } | null>(null);
  const create = useStaffMutation(
    () => call(api.POST('/api/v1/users', { body: { email: email.trim(), password } })),
    {
      invalidate: [USERS_KEY],
      done: (u) => s.userCreated(u.email),
      onSuccess: () => {
        setEmail('');
        setPassword('');
      },
    },
  );
  const setStatus = useStaffMutation(
    (v: { id: number; status: 'active' | 'disabled' }) =>
      call(
        api.PATCH('/api/v1/users/{id}', {
          params: { path: { id: String(v.id) } },
          body: { status: v.status },
        }),
      ),
    {
      invalidate: [USERS_KEY],
      done: (u) => (u.status === 'disabled' ? s.userDisabled(u.email) : s.userEnabled(u.email)),
    },
  );
  return (
    <Card withBorder component="section" aria-label={s.staffUsers}>
      <Stack gap="sm">
        <Title order={3}>{s.staffUsers}</Title>
        {users.isPending ? (
          <Loading />
        ) : users.isError ? (
          <ErrorState error={users.error} onRetry={() => users.refetch()} />
        ) : (
          <Table.ScrollContainer minWidth={600}>
            <Table aria-label={s.staffUsers}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t.email}</Table.Th>
                  <Table.Th>{t.status}</Table.Th>
                  <Table.Th>{s.lastLogin}</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {users.data.items.map((u) => (
                  <Table.Tr key={u.id}>
                    <Table.Td>{u.email}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={u.status === 'active' ? 'teal' : 'gray'}>
                        {s.valueStatus[u.status] ?? u.status}
                      </Badge>
                    </Table.Td>
                    <Table.Td>{u.lastLoginAt?.slice(0, 16).replace('T', ' ') ?? t.never}</Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Button
                          size="xs"
                          variant="default"
                          aria-label={s.tokensOf(u.email)}
                          onClick={() => setTokensOf({ id: u.id, email: u.email })}
                        >
                          {s.tokens}
                        </Button>
                        {u.id === me.data?.user.id ? (
                          <Text size="xs" c="dimmed">
                            {s.you}
                          </Text>
                        ) : (
                          <Button
                            size="xs"
                            variant="default"
                            aria-label={`${u.status === 'active' ? s.disable : s.enable} ${u.email}`}
                            onClick={() =>
                              setStatus.mutate({
                                id: u.id,
                                status: u.status === 'active' ? 'disabled' : 'active',
                              })
                            }
                          >
                            {u.status === 'active' ? s.disable : s.enable}
                          </Button>
                        )}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        <RefusalAlert error={setStatus.error} />
        <form
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate(undefined);
          }}
        >
          <Group align="flex-end" gap="sm">
            <TextInput
              style={{ flex: '1 1 200px' }}
              label={s.newStaffEmail}
              type="email"
              required
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
            />
            <PasswordInput
              style={{ flex: '1 1 200px' }}
              label={s.newStaffPassword}
              autoComplete="new-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <Button type="submit" loading={create.isPending}>
              {s.addStaff}
            </Button>
          </Group>
        </form>
        <RefusalAlert error={create.error} />
        <Text size="xs" c="dimmed">
          {s.tokensOwnOnly}
        </Text>
      </Stack>
      <Modal
        opened={tokensOf !== null}
        onClose={() => setTokensOf(null)}
        title={tokensOf ? s.tokensOf(tokensOf.email) : ''}
        size="lg"
      >
        {tokensOf ? <UserTokens userId={tokensOf.id} /> : null}
      </Modal>
    </Card>
  );
}

/** A user's API tokens as staff see them: hints only; staff may revoke one. */
function UserTokens({ userId }: { userId: number }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const key = [...USERS_KEY, userId, 'tokens'];
  const tokens = useQuery({
    queryKey: key,
    queryFn: () => call(api.GET('/api/v1/users/{id}/tokens', { params: { path: { id: String(userId) } } })),
  });
  const [confirming, setConfirming] = useState<number | null>(null);
  const revoke = useStaffMutation(
    (tokenId: number) =>
      call(
        api.DELETE('/api/v1/users/{id}/tokens/{tokenId}', {
          params: { path: { id: String(userId), tokenId: String(tokenId) } },
        }),
      ),
    {
      invalidate: [key],
      done: (x) => t.accountArea.tokenRevoked(x.name),
      onSuccess: () => setConfirming(null),
    },
  );
  if (tokens.isPending) return <Loading />;
  if (tokens.isError) return <ErrorState error={tokens.error} onRetry={() => tokens.refetch()} />;
  if (tokens.data.items.length === 0) return <Text c="dimmed">{s.userHasNoTokens}</Text>;
  return (
    <Stack gap="sm">
      <Table.ScrollContainer minWidth={340}>
        <Table aria-label={s.tokens} fz="sm">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t.accountArea.tokenName}</Table.Th>
              <Table.Th>{t.accountArea.token}</Table.Th>
              <Table.Th>{t.accountArea.lastUsed}</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {tokens.data.items.map((x) => (
              <Table.Tr key={x.id}>
                <Table.Td>{x.name}</Table.Td>
                <Table.Td>
                  <code>{x.hint}</code>
                </Table.Td>
                <Table.Td>{x.lastUsedAt?.slice(0, 16).replace('T', ' ') ?? t.never}</Table.Td>
                <Table.Td>
                  {x.revokedAt ? (
                    <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                      {t.accountArea.revoked}
                    </Text>
                  ) : confirming === x.id ? (
                    <Button
                      size="xs"
                      color="red"
                      loading={revoke.isPending}
                      onClick={() => revoke.mutate(x.id)}
                    >
                      {s.revokeNow}
                    </Button>
                  ) : (
                    <Button
                      size="xs"
                      variant="subtle"
                      color="red"
                      aria-label={t.accountArea.revokeToken(x.name)}
                      onClick={() => setConfirming(x.id)}
                    >
                      {t.accountArea.revoke}
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {confirming !== null ? (
        <Text size="sm" c="red">
          {t.accountArea.revokeWarning}
        </Text>
      ) : null}
      <RefusalAlert error={revoke.error} />
    </Stack>
  );
}
