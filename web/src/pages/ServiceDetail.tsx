import { Anchor, Code, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { ApiError, api, call } from '../api/client';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { CopyValue } from './CopyValue';
import { NotFound } from './NotFound';
import { ResponsiveTable } from './ResponsiveTable';
import { AutoRenew, Delete, History, LicenseActions, Renew } from './ServiceActions';
import { EmptyState, ErrorState, Loading } from './states';
import { operationState, type Service, StatusBadge } from './status';

/** Operations still under way are refreshed until they settle, so "being set up" turns into a result. */
const settled = (s: Service) => s.operations.every((o) => ['done', 'failed', 'cancelled'].includes(o.status));

export function ServiceDetail({ id }: { id: number }) {
  const { t } = useI18n();
  const service = useQuery({
    queryKey: ['service', id],
    queryFn: () => call(api.GET('/api/v1/services/{id}', { params: { path: { id: String(id) } } })),
    refetchInterval: (q) => (q.state.data && !settled(q.state.data) ? 3000 : false),
  });

  if (service.isPending) return <Loading />;
  if (service.isError) {
    if (service.error instanceof ApiError && service.error.status === 404) return <NotFound />;
    return <ErrorState error={service.error} onRetry={() => service.refetch()} />;
  }
  const s = service.data;
  return (
    <Stack gap="md">
      <Anchor component={Link} href="/services" size="sm">
        ← {t.back}
      </Anchor>
      <Group justify="space-between" align="center">
        <Title order={2}>{s.name}</Title>
        <StatusBadge status={s.status} />
      </Group>
      <Paper withBorder p="md">
        <SimpleGrid cols={{ base: 1, xs: 2 }} spacing="md">
          <Field label={t.ip} value={s.params.ip ?? t.never} />
          <Field label={t.expires} value={s.expiresOn ?? t.never} />
          <Field label={t.period} value={t.months(s.period)} />
          <Field label={t.autoRenew} value={s.autoprolong === null ? t.off : t.months(s.autoprolong)} />
        </SimpleGrid>
        <Stack mt="md">
          <AutoRenew service={s} />
        </Stack>
      </Paper>
      <Renew service={s} />
      <LicenseKey service={s} />
      <Operations service={s} />
      <History service={s} />
      <Delete service={s} />
    </Stack>
  );
}

function Field({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text>{value}</Text>
    </div>
  );
}

/** The license query's answer while the key is not issued yet (409 license_not_issued). */
const ISSUING = 'issuing' as const;

/**
 * A server's bundled control-panel license keeps its key in the service's params; a license
 * service's key comes from its license view (null while it is being issued).
 */
function LicenseKey({ service }: { service: Service }) {
  const { t } = useI18n();
  const bundled = service.params.licenseKey;
  const license = useQuery({
    queryKey: ['license', service.id],
    enabled: bundled === undefined,
    queryFn: async () => {
      try {
        return await call(
          api.GET('/api/v1/services/{id}/license', { params: { path: { id: String(service.id) } } }),
        );
      } catch (err) {
        // Not a license (a VPS without a panel): nothing to show, not an error.
        if (err instanceof ApiError && err.code === 'not_a_license') return null;
        // Ordered, not issued yet: "being issued", and asked again below until it is.
        if (err instanceof ApiError && err.code === 'license_not_issued') return ISSUING;
        throw err;
      }
    },
    // A key being issued shows up by itself: asked again every few seconds until it is there.
    refetchInterval: (q) => {
      const d = q.state.data;
      return d === ISSUING || (d && d.key === null && d.status !== 'deleted') ? 3000 : false;
    },
  });
  if (bundled === undefined && license.isPending) return null;
  if (bundled === undefined && license.isError)
    return <ErrorState error={license.error} onRetry={() => license.refetch()} />;
  if (bundled === undefined && license.data === null) return null;
  const view = license.data === ISSUING ? undefined : license.data;
  const key = bundled ?? view?.key ?? null;

  return (
    <>
      <Paper withBorder p="md">
        <Title order={3} size="h4" mb="sm">
          {t.licenseKey}
        </Title>
        {key === null ? (
          <Text c="dimmed">{t.keyBeingIssued}</Text>
        ) : (
          <Group gap="sm" wrap="nowrap" align="center">
            <Code
              block
              style={{ flex: 1, wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}
              aria-label={t.licenseKey}
            >
              {key}
            </Code>
            <CopyValue value={key} done={t.keyCopied} />
          </Group>
        )}
      </Paper>
      {view && <LicenseActions service={service} license={view} />}
    </>
  );
}

function Operations({ service }: { service: Service }) {
  const { t } = useI18n();
  return (
    <Paper withBorder p="md">
      <Title order={3} size="h4" mb="sm">
        {t.operations}
      </Title>
      {service.operations.length === 0 ? (
        <EmptyState text={t.noOperations} />
      ) : (
        <ResponsiveTable minWidth={360}>
          <Table aria-label={t.operations}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t.operation}</Table.Th>
                <Table.Th>{t.status}</Table.Th>
                <Table.Th>{t.started}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {service.operations.map((op) => (
                <Table.Tr key={op.id}>
                  <Table.Td>{t.opKind[op.kind] ?? op.kind}</Table.Td>
                  <Table.Td>{t.opState[operationState(op)]}</Table.Td>
                  <Table.Td>{new Date(op.createdAt).toLocaleString()}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ResponsiveTable>
      )}
    </Paper>
  );
}
