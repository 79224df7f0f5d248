import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Code,
  Group,
  Modal,
  Paper,
  PasswordInput,
  SegmentedControl,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, api, call } from '../api/client';
import type { paths } from '../api/schema';
import { errorSentence, useI18n } from '../i18n';
import { CopyValue } from './CopyValue';
import { ResponsiveTable } from './ResponsiveTable';
import { ErrorState, Loading, QueryView } from './states';

type Token =
  paths['/api/v1/me/tokens']['get']['responses'][200]['content']['application/json']['items'][number];

const TOKENS_KEY = ['me', 'tokens'] as const;
/** The server's rule for a new password (src/modules/accounts/passwords.ts MIN_PASSWORD_LENGTH). */
export const MIN_PASSWORD_LENGTH = 10;

const codeOf = (err: unknown) => (err instanceof ApiError ? err.code : 'network_error');
const when = (iso: string | null, never: string) => (iso ? new Date(iso).toLocaleString() : never);

export function SettingsPage() {
  const { t } = useI18n();
  return (
    <Stack gap="md">
      <Title order={2}>{t.accountArea.settingsTitle}</Title>
      <PasswordChange />
      <NotificationPreferences />
      <ApiTokens />
    </Stack>
  );
}

/** Current, new and repeated: the two new ones must match and be long enough before anything is sent. */
function PasswordChange() {
  const { t } = useI18n();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [checked, setChecked] = useState(false);
  const tooShort = next.length < MIN_PASSWORD_LENGTH;
  const mismatch = repeat !== next;
  const change = useMutation({
    mutationFn: () =>
      call(api.POST('/api/v1/me/password', { body: { currentPassword: current, newPassword: next } })),
    onSuccess: () => {
      setCurrent('');
      setNext('');
      setRepeat('');
      setChecked(false);
      notifications.show({ color: 'teal', message: t.accountArea.passwordChanged });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (tooShort || mismatch || current === '') return;
    change.mutate();
  };

  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} aria-labelledby="password-title" noValidate>
        <Stack gap="sm" maw={420}>
          <Title order={3} size="h4" id="password-title">
            {t.accountArea.changePassword}
          </Title>
          {change.isError && (
            <Alert color="red" role="alert">
              {errorSentence(t, codeOf(change.error))}
            </Alert>
          )}
          <PasswordInput
            label={t.accountArea.currentPassword}
            autoComplete="current-password"
            required
            value={current}
            error={checked && current === '' ? t.accountArea.fillCurrentPassword : undefined}
            onChange={(e) => setCurrent(e.currentTarget.value)}
          />
          <PasswordInput
            label={t.accountArea.newPassword}
            description={t.accountArea.passwordRule(MIN_PASSWORD_LENGTH)}
            autoComplete="new-password"
            required
            value={next}
            error={checked && tooShort ? t.accountArea.passwordTooShort(MIN_PASSWORD_LENGTH) : undefined}
            onChange={(e) => setNext(e.currentTarget.value)}
          />
          <PasswordInput
            label={t.accountArea.repeatPassword}
            autoComplete="new-password"
            required
            value={repeat}
            error={checked && mismatch ? t.accountArea.passwordsDiffer : undefined}
            onChange={(e) => setRepeat(e.currentTarget.value)}
          />
          <Text size="sm" c="dimmed">
            {t.accountArea.otherSessionsEnd}
          </Text>
          <Group>
            <Button type="submit" loading={change.isPending}>
              {t.accountArea.changePassword}
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

export function ApiTokens() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const tokens = useQuery({
    queryKey: TOKENS_KEY,
    queryFn: () => call(api.GET('/api/v1/me/tokens')),
  });
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/me/tokens', { body: { name: name.trim() } })),
    onSuccess: (r) => {
      setCreated({ name: r.name, token: r.token });
      setName('');
      queryClient.invalidateQueries({ queryKey: TOKENS_KEY });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: number) =>
      call(api.DELETE('/api/v1/me/tokens/{id}', { params: { path: { id: String(id) } } })),
    onSuccess: (r) => {
      setRevoking(null);
      notifications.show({ message: t.accountArea.tokenRevoked(r.name) });
      queryClient.invalidateQueries({ queryKey: TOKENS_KEY });
    },
    onError: (err) => notifications.show({ color: 'red', message: errorSentence(t, codeOf(err)) }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim() === '') return;
    create.mutate();
  };

  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="xs">
        {t.accountArea.apiTokens}
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        {t.accountArea.apiTokensHelp}
      </Text>

      {created && (
        <Alert color="teal" title={t.accountArea.tokenCreated(created.name)} mb="md" role="status">
          <Stack gap="sm">
            <Text size="sm">{t.accountArea.tokenShownOnce}</Text>
            <Group gap="sm" wrap="nowrap" align="center">
              <Code
                block
                style={{ flex: 1, wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}
                aria-label={t.accountArea.newToken}
              >
                {created.token}
              </Code>
              <CopyValue value={created.token} done={t.accountArea.tokenCopied} />
            </Group>
            <Group>
              <Button size="xs" variant="default" onClick={() => setCreated(null)}>
                {t.accountArea.tokenSaved}
              </Button>
            </Group>
          </Stack>
        </Alert>
      )}

      <form onSubmit={submit} aria-label={t.accountArea.createToken}>
        <Group align="flex-end" gap="sm" mb="md">
          <TextInput
            label={t.accountArea.tokenName}
            placeholder={t.accountArea.tokenNameExample}
            required
            maxLength={100}
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            style={{ flex: 1, minWidth: 180 }}
          />
          <Button type="submit" loading={create.isPending} disabled={name.trim() === ''}>
            {t.accountArea.createToken}
          </Button>
        </Group>
        {create.isError && (
          <Alert color="red" role="alert" mb="md">
            {errorSentence(t, codeOf(create.error))}
          </Alert>
        )}
      </form>

      <QueryView query={tokens} isEmpty={(data) => data.items.length === 0} empty={t.accountArea.noTokens}>
        {(data) => (
          <ResponsiveTable minWidth={340}>
            <Table aria-label={t.accountArea.apiTokens}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t.accountArea.tokenName}</Table.Th>
                  <Table.Th>{t.accountArea.token}</Table.Th>
                  <Table.Th visibleFrom="sm">{t.accountArea.lastUsed}</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((tok) => (
                  <Table.Tr key={tok.id}>
                    <Table.Td>{tok.name}</Table.Td>
                    <Table.Td>
                      <Code>{tok.hint}</Code>
                    </Table.Td>
                    <Table.Td visibleFrom="sm">{when(tok.lastUsedAt, t.never)}</Table.Td>
                    <Table.Td ta="right">
                      {tok.revokedAt ? (
                        <Badge color="gray" variant="light">
                          {t.accountArea.revoked}
                        </Badge>
                      ) : (
                        <Button
                          size="xs"
                          variant="light"
                          color="red"
                          aria-label={t.accountArea.revokeToken(tok.name)}
                          onClick={() => setRevoking(tok)}
                        >
                          {t.accountArea.revoke}
                        </Button>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ResponsiveTable>
        )}
      </QueryView>

      <Modal
        opened={revoking !== null}
        onClose={() => setRevoking(null)}
        title={revoking ? t.accountArea.revokeToken(revoking.name) : ''}
      >
        <Stack>
          <Text size="sm">{t.accountArea.revokeWarning}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setRevoking(null)}>
              {t.accountArea.cancel}
            </Button>
            <Button
              color="red"
              loading={revoke.isPending}
              onClick={() => revoking && revoke.mutate(revoking.id)}
            >
              {t.accountArea.revoke}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}

// — issue 16: notification preferences —
type Preferences =
  paths['/api/v1/me/notification-preferences']['get']['responses'][200]['content']['application/json'];
const PREFS_KEY = ['me', 'notification-preferences'] as const;

/** The account's mail language and the reminder kinds it gets (a staff user has no account: nothing shown). */
function NotificationPreferences() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const prefs = useQuery({
    queryKey: PREFS_KEY,
    queryFn: () => call(api.GET('/api/v1/me/notification-preferences')),
    retry: false,
  });
  const [draft, setDraft] = useState<Preferences | null>(null);
  const save = useMutation({
    mutationFn: (body: Preferences) => call(api.PUT('/api/v1/me/notification-preferences', { body })),
    onSuccess: (r) => {
      queryClient.setQueryData(PREFS_KEY, r);
      setDraft(null);
      notifications.show({ color: 'teal', message: t.notifyPrefs.saved });
    },
  });
  if (prefs.isError && codeOf(prefs.error) === 'no_account') return null;
  const current = draft ?? prefs.data;
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="notify-title">
      <Stack gap="sm" maw={560}>
        <Title order={3} size="h4" id="notify-title">
          {t.notifyPrefs.title}
        </Title>
        {prefs.isPending ? (
          <Loading />
        ) : prefs.isError || !current ? (
          <ErrorState error={prefs.error} onRetry={() => prefs.refetch()} />
        ) : (
          <>
            {save.isError && (
              <Alert color="red" role="alert">
                {errorSentence(t, codeOf(save.error))}
              </Alert>
            )}
            <Text size="sm" fw={500} id="notify-language">
              {t.notifyPrefs.language}
            </Text>
            <SegmentedControl
              aria-labelledby="notify-language"
              value={current.language}
              onChange={(v) => setDraft({ ...current, language: v as Preferences['language'] })}
              data={(['en', 'ru'] as const).map((l) => ({
                value: l,
                label: t.notifyPrefs.languages[l] ?? l,
              }))}
              style={{ alignSelf: 'flex-start' }}
            />
            <Text size="sm" fw={500}>
              {t.notifyPrefs.reminders}
            </Text>
            {(['renewal_reminder', 'low_balance'] as const).map((kind) => (
              <Checkbox
                key={kind}
                label={t.notifyPrefs[kind]}
                checked={current.reminders[kind]}
                onChange={(e) =>
                  setDraft({
                    ...current,
                    reminders: { ...current.reminders, [kind]: e.currentTarget.checked },
                  })
                }
              />
            ))}
            <Text size="sm" c="dimmed">
              {t.notifyPrefs.alwaysSent}
            </Text>
            <Group>
              <Button onClick={() => save.mutate(current)} loading={save.isPending} disabled={draft === null}>
                {t.notifyPrefs.save}
              </Button>
            </Group>
          </>
        )}
      </Stack>
    </Paper>
  );
}
