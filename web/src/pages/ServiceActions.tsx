import { Alert, Button, Group, Paper, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError, api, call } from '../api/client';
import type { paths } from '../api/schema';
import { errorSentence, useI18n } from '../i18n';
import { useMe } from '../session';
import { ResponsiveTable } from './ResponsiveTable';
import { EmptyState, ErrorState } from './states';
import type { Service } from './status';

type RenewalQuote =
  paths['/api/v1/services/{id}/renewal-quote']['post']['responses'][200]['content']['application/json'];
export type License =
  paths['/api/v1/services/{id}/license']['get']['responses'][200]['content']['application/json'];

const path = (id: number) => ({ params: { path: { id: String(id) } } });

/** What to tell the client about a refused action: the sentence for its code. */
function useRefusal() {
  const { t } = useI18n();
  return (err: unknown): string => {
    if (!(err instanceof ApiError)) return errorSentence(t, 'network_error');
    // The monthly IP rule says when the next change is possible; the sentence names that day.
    const next = (err.details as { nextIpChangeOn?: unknown } | undefined)?.nextIpChangeOn;
    if (err.code === 'ip_change_limit' && typeof next === 'string') return t.ipChangeLimit(next);
    return errorSentence(t, err.code);
  };
}

/** The service and everything shown about it are read again after an action changed it. */
function useRefresh(id: number) {
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: ['service', id] }),
      queryClient.invalidateQueries({ queryKey: ['license', id] }),
      queryClient.invalidateQueries({ queryKey: ['history', id] }),
    ]);
}

/**
 * Renewal in two steps: the server prices it (days granted of the full period, the amount,
 * the new end — a tariff that stops selling cuts it), the client reads that, then pays.
 */
export function Renew({ service }: { service: Service }) {
  const { t } = useI18n();
  const refusal = useRefusal();
  const refresh = useRefresh(service.id);
  const [quote, setQuote] = useState<RenewalQuote | null>(null);
  const preview = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/services/{id}/renewal-quote', {
          ...path(service.id),
          body: { period: service.period },
        }),
      ),
    onSuccess: setQuote,
  });
  const renew = useMutation({
    mutationFn: (idempotencyKey: string) =>
      call(
        api.POST('/api/v1/services/{id}/renew', {
          ...path(service.id),
          body: { period: service.period, idempotencyKey },
        }),
      ),
    onSuccess: async (r) => {
      setQuote(null);
      notifications.show({ color: 'teal', message: t.renewed(r.service.expiresOn ?? t.never) });
      await refresh();
    },
  });
  // One key per preview: a double click or a retry after a lost answer renews once.
  const [key] = useState(() => crypto.randomUUID());
  if (service.status === 'deleted') return null;

  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t.renewTitle}
      </Title>
      <Stack gap="sm" align="flex-start">
        {quote === null ? (
          <Button
            onClick={() => {
              renew.reset();
              preview.mutate();
            }}
            loading={preview.isPending}
          >
            {t.renewPreview}
          </Button>
        ) : (
          <>
            <Alert color="blue" title={t.renewQuoteTitle} w="100%" aria-label={t.renewQuoteTitle}>
              <Stack gap={4}>
                <Text>{t.renewDays(quote.grantedDays, quote.fullDays, quote.total, quote.currency)}</Text>
                <Text size="sm">{t.renewRange(quote.start, quote.end)}</Text>
                {quote.cut && <Text size="sm">{t.renewCut(quote.end)}</Text>}
                {quote.resumes && <Text size="sm">{t.renewResumes}</Text>}
              </Stack>
            </Alert>
            <Group gap="sm">
              <Button onClick={() => renew.mutate(`${key}:${quote.start}`)} loading={renew.isPending}>
                {t.renewPay(quote.total, quote.currency)}
              </Button>
              <Button variant="default" onClick={() => setQuote(null)} disabled={renew.isPending}>
                {t.cancel}
              </Button>
            </Group>
          </>
        )}
        {(preview.isError || renew.isError) && (
          <Alert color="red" role="alert" w="100%">
            {refusal(preview.error ?? renew.error)}
          </Alert>
        )}
      </Stack>
    </Paper>
  );
}

export function AutoRenew({ service }: { service: Service }) {
  const { t } = useI18n();
  const refusal = useRefusal();
  const refresh = useRefresh(service.id);
  const toggle = useMutation({
    mutationFn: (on: boolean) =>
      call(
        api.PUT('/api/v1/services/{id}/autoprolong', {
          ...path(service.id),
          body: { period: on ? service.period : null },
        }),
      ),
    onSuccess: async (s) => {
      notifications.show({ color: 'teal', message: s.autoprolong === null ? t.autoRenewOff : t.autoRenewOn });
      await refresh();
    },
  });
  if (service.status === 'deleted') return null;
  return (
    <Stack gap="xs">
      <Switch
        label={t.autoRenewSwitch}
        checked={service.autoprolong !== null}
        disabled={toggle.isPending}
        onChange={(e) => toggle.mutate(e.currentTarget.checked)}
      />
      {toggle.isError && (
        <Alert color="red" role="alert">
          {refusal(toggle.error)}
        </Alert>
      )}
    </Stack>
  );
}

/**
 * A license's own actions: another IP address — the monthly rule is stated before the client
 * tries, and a refusal says why — and a new key.
 */
export function LicenseActions({ service, license }: { service: Service; license: License }) {
  const { t } = useI18n();
  const refusal = useRefusal();
  const refresh = useRefresh(service.id);
  const [ip, setIp] = useState('');
  const changeIp = useMutation({
    mutationFn: (address: string) =>
      call(api.POST('/api/v1/services/{id}/license/ip', { ...path(service.id), body: { ip: address } })),
    onSuccess: async () => {
      notifications.show({ color: 'teal', message: t.ipChangeAsked });
      setIp('');
      await refresh();
    },
  });
  const newKey = useMutation({
    mutationFn: () => call(api.POST('/api/v1/services/{id}/license/key', path(service.id))),
    onSuccess: async () => {
      notifications.show({ color: 'teal', message: t.newKeyAsked });
      await refresh();
    },
  });
  if (license.status === 'deleted') return null;
  const rule = license.ipChangeAllowed
    ? t.ipRuleAllowed(license.ipChangedOn)
    : t.ipRuleNotNow(license.ipChangedOn, license.nextIpChangeOn);

  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t.licenseActions}
      </Title>
      <Stack gap="sm">
        <Text size="sm" aria-label={t.ipRuleLabel}>
          {t.ipRule} {rule}
        </Text>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            changeIp.mutate(ip.trim());
          }}
        >
          <Group gap="sm" align="flex-end" wrap="wrap">
            <TextInput
              label={t.newIp}
              placeholder="203.0.113.7"
              value={ip}
              onChange={(e) => setIp(e.currentTarget.value)}
              required
              style={{ flex: '1 1 12rem' }}
            />
            <Button type="submit" loading={changeIp.isPending}>
              {t.changeIp}
            </Button>
          </Group>
        </form>
        {changeIp.isError && (
          <Alert color="red" role="alert" title={t.ipChangeRefused}>
            {refusal(changeIp.error)}
          </Alert>
        )}
        {license.pending.map((p) => (
          <Text size="sm" c="blue" key={p.operationId}>
            {p.kind === 'ip' ? t.pendingIp(p.value ?? '') : t.pendingKey}
            {p.lastError ? ` ${t.pendingRetry(p.lastError.message)}` : ''}
          </Text>
        ))}
        {license.lastError && (
          <Alert color="orange" title={t.lastRefusedTitle}>
            {license.lastError.kind === 'ip'
              ? t.lastIpRefused(license.lastError.value ?? '', license.lastError.message)
              : t.lastKeyRefused(license.lastError.message)}
          </Alert>
        )}
        <Group>
          <Button variant="light" onClick={() => newKey.mutate()} loading={newKey.isPending}>
            {t.newKey}
          </Button>
        </Group>
        {newKey.isError && (
          <Alert color="red" role="alert">
            {refusal(newKey.error)}
          </Alert>
        )}
      </Stack>
    </Paper>
  );
}

/** Every change of the service, newest first: what, who, when. */
export function History({ service }: { service: Service }) {
  const { t } = useI18n();
  const me = useMe().data;
  /** "You", "Staff", "System (daily run)"…: never a raw `user:7`. */
  const who = (h: { actor: string; actorKind: 'staff' | 'client' | 'system' }) => {
    const w = t.whoLabel;
    if (h.actorKind === 'staff') return w.staff;
    if (h.actorKind === 'client') return me && h.actor === `user:${me.user.id}` ? w.you : w.client;
    return w.systemJob[h.actor.replace(/^system:/, '')] ?? w.system;
  };
  const history = useQuery({
    // Asked again when the service's status changes (the detail page follows it): "Set up" shows
    // up without a reload.
    queryKey: ['history', service.id, service.status],
    queryFn: () => call(api.GET('/api/v1/services/{id}/history', path(service.id))),
    placeholderData: keepPreviousData,
  });
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t.history}
      </Title>
      {history.isPending ? (
        <Text c="dimmed">{t.loading}</Text>
      ) : history.isError ? (
        <ErrorState error={history.error} onRetry={() => history.refetch()} />
      ) : history.data.items.length === 0 ? (
        <EmptyState text={t.noHistory} />
      ) : (
        <ResponsiveTable minWidth={360}>
          <Table aria-label={t.history}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t.when}</Table.Th>
                <Table.Th>{t.what}</Table.Th>
                <Table.Th>{t.who}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {[...history.data.items].reverse().map((h) => (
                <Table.Tr key={h.id}>
                  <Table.Td>{new Date(h.createdAt).toLocaleString()}</Table.Td>
                  <Table.Td>{t.historyEvent[h.event] ?? h.event.replaceAll('_', ' ')}</Table.Td>
                  <Table.Td>{who(h)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ResponsiveTable>
      )}
    </Paper>
  );
}

type DeletionQuote =
  paths['/api/v1/services/{id}/deletion-quote']['post']['responses'][200]['content']['application/json'];

/**
 * Deletion in two steps: the server says first whether the client may and what it refunds
 * (the same computation the deletion makes), then the client confirms.
 */
export function Delete({ service }: { service: Service }) {
  const { t } = useI18n();
  const refusal = useRefusal();
  const refresh = useRefresh(service.id);
  const [quote, setQuote] = useState<DeletionQuote | null>(null);
  const preview = useMutation({
    mutationFn: () => call(api.POST('/api/v1/services/{id}/deletion-quote', path(service.id))),
    onSuccess: setQuote,
  });
  const remove = useMutation({
    mutationFn: () => call(api.DELETE('/api/v1/services/{id}', path(service.id))),
    onSuccess: async () => {
      setQuote(null);
      notifications.show({ color: 'teal', message: t.deleteAsked });
      await refresh();
    },
  });
  if (service.status === 'deleted') return null;

  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t.deleteTitle}
      </Title>
      <Stack gap="sm" align="flex-start">
        {quote === null ? (
          <Button
            color="red"
            variant="light"
            onClick={() => {
              remove.reset();
              preview.mutate();
            }}
            loading={preview.isPending}
          >
            {t.deletePreview}
          </Button>
        ) : (
          <>
            <Alert color={quote.allowed ? 'orange' : 'gray'} w="100%" aria-label={t.deleteQuoteTitle}>
              {!quote.allowed
                ? t.deleteStaffOnly
                : quote.pending
                  ? t.deletePending
                  : quote.refundsUnusedDays
                    ? t.deleteRefund(quote.refund, quote.currency, quote.unusedDays)
                    : t.deleteNoRefund}
            </Alert>
            <Group gap="sm">
              {quote.allowed && !quote.pending && (
                <Button color="red" onClick={() => remove.mutate()} loading={remove.isPending}>
                  {t.deleteConfirm}
                </Button>
              )}
              <Button variant="default" onClick={() => setQuote(null)} disabled={remove.isPending}>
                {t.cancel}
              </Button>
            </Group>
          </>
        )}
        {(preview.isError || remove.isError) && (
          <Alert color="red" role="alert" w="100%">
            {refusal(preview.error ?? remove.error)}
          </Alert>
        )}
      </Stack>
    </Paper>
  );
}
