import { Anchor, Badge, Group, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useI18n } from '../i18n';
import type { Me } from '../session';
import { Pager, useCursorPages } from './paging';
import { ResponsiveTable } from './ResponsiveTable';
import { EmptyState, ErrorState, Loading, QueryView } from './states';

const PAGE = 20;

/** "500.00 EUR"; amounts stay the API's decimal strings, never floats. */
const money = (amount: string, currency: string) => `${amount} ${currency}`;
const signed = (amount: string) => (amount.startsWith('-') ? amount.replace('-', '−') : `+${amount}`);
const day = (iso: string) => new Date(iso).toLocaleDateString();

/**
 * The client's money: the balance (and what the credit limit adds to it), the ledger newest
 * first with the balance after each entry — stored with the entry when it was posted, so every
 * page shows the true running balance without adding anything up here — the payments, and the
 * receipts and invoices issued for them.
 */
export function BalancePage({ me }: { me: Me }) {
  const { t } = useI18n();
  if (!me.account) return <EmptyState text={t.accountArea.noAccount} />;
  const id = String(me.account.id);
  return (
    <Stack gap="md">
      <Title order={2}>{t.accountArea.balanceTitle}</Title>
      <BalanceSummary id={id} />
      <Ledger id={id} />
      <Payments id={id} />
      <Documents />
    </Stack>
  );
}

function BalanceSummary({ id }: { id: string }) {
  const { t } = useI18n();
  const balance = useQuery({
    queryKey: ['balance', id],
    queryFn: () => call(api.GET('/api/v1/accounts/{id}/balance', { params: { path: { id } } })),
  });
  if (balance.isPending) return <Loading />;
  if (balance.isError) return <ErrorState error={balance.error} onRetry={() => balance.refetch()} />;
  const b = balance.data;
  return (
    <Paper withBorder p={{ base: 'sm', sm: 'md' }}>
      <SimpleGrid cols={{ base: 1, xs: 3 }} spacing="md">
        <Figure label={t.accountArea.currentBalance} value={money(b.balance, b.currency)} big />
        <Figure label={t.accountArea.creditLimit} value={money(b.creditLimit, b.currency)} />
        <Figure label={t.accountArea.availableToSpend} value={money(b.available, b.currency)} />
      </SimpleGrid>
    </Paper>
  );
}

function Figure({ label, value, big }: { label: string; value: string; big?: boolean }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text size={big ? 'xl' : 'md'} fw={big ? 700 : 400} aria-label={label}>
        {value}
      </Text>
    </div>
  );
}

function Ledger({ id }: { id: string }) {
  const { t } = useI18n();
  const pages = useCursorPages();
  const ledger = useQuery({
    queryKey: ['ledger', id, pages.before],
    queryFn: () =>
      call(
        api.GET('/api/v1/accounts/{id}/ledger', {
          params: {
            path: { id },
            query: { limit: PAGE, ...pages.query },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <Paper withBorder p={{ base: 'sm', sm: 'md' }}>
      <Title order={3} size="h4" mb="sm">
        {t.accountArea.ledger}
      </Title>
      <QueryView
        query={ledger}
        isEmpty={(data) => data.items.length === 0}
        empty={t.accountArea.noLedgerEntries}
      >
        {(data) => (
          <ResponsiveTable minWidth={300}>
            <Table striped aria-label={t.accountArea.ledger}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th visibleFrom="sm">{t.accountArea.date}</Table.Th>
                  <Table.Th>{t.accountArea.entry}</Table.Th>
                  <Table.Th ta="right">{t.accountArea.amount}</Table.Th>
                  <Table.Th ta="right">{t.accountArea.balanceAfter}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((e) => (
                  <Table.Tr key={e.id}>
                    <Table.Td visibleFrom="sm" style={{ whiteSpace: 'nowrap' }}>
                      {day(e.createdAt)}
                    </Table.Td>
                    <Table.Td>
                      {/* On a phone the date column gives way: the date goes over the entry. */}
                      <div>
                        <Text size="xs" c="dimmed" hiddenFrom="sm">
                          {day(e.createdAt)}
                        </Text>
                        <Group gap={6} wrap="wrap">
                          <Badge variant="light" color={e.amount.startsWith('-') ? 'gray' : 'teal'} size="sm">
                            {t.accountArea.ledgerKind[e.kind] ?? e.kind}
                          </Badge>
                          <Text size="sm">{e.description}</Text>
                        </Group>
                      </div>
                    </Table.Td>
                    <Table.Td
                      ta="right"
                      c={e.amount.startsWith('-') ? undefined : 'teal'}
                      style={{ whiteSpace: 'nowrap' }}
                    >
                      {signed(e.amount)}
                    </Table.Td>
                    <Table.Td ta="right" fw={600} style={{ whiteSpace: 'nowrap' }}>
                      {e.balanceAfter}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ResponsiveTable>
        )}
      </QueryView>
      <Pager
        pages={pages}
        nextBefore={ledger.data?.nextBefore}
        busy={ledger.isFetching}
        label={t.accountArea.ledgerPages}
      />
    </Paper>
  );
}

function Payments({ id }: { id: string }) {
  const { t } = useI18n();
  const pages = useCursorPages();
  const payments = useQuery({
    queryKey: ['payments', id, pages.before],
    queryFn: () =>
      call(
        api.GET('/api/v1/accounts/{id}/payments', {
          params: {
            path: { id },
            query: { limit: PAGE, ...pages.query },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <Paper withBorder p={{ base: 'sm', sm: 'md' }}>
      <Title order={3} size="h4" mb="sm">
        {t.accountArea.payments}
      </Title>
      <QueryView
        query={payments}
        isEmpty={(data) => data.items.length === 0}
        empty={t.accountArea.noPayments}
      >
        {(data) => (
          <ResponsiveTable minWidth={300}>
            <Table striped aria-label={t.accountArea.payments}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t.accountArea.date}</Table.Th>
                  <Table.Th visibleFrom="sm">{t.accountArea.paymentMethod}</Table.Th>
                  <Table.Th>{t.accountArea.paymentReference}</Table.Th>
                  <Table.Th ta="right">{t.accountArea.amount}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((p) => (
                  <Table.Tr key={p.id}>
                    <Table.Td style={{ whiteSpace: 'nowrap' }}>{day(p.createdAt)}</Table.Td>
                    <Table.Td visibleFrom="sm">{p.method}</Table.Td>
                    <Table.Td style={{ wordBreak: 'break-all' }}>{p.reference}</Table.Td>
                    <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>
                      {money(p.amount, p.currency)}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ResponsiveTable>
        )}
      </QueryView>
      <Pager
        pages={pages}
        nextBefore={payments.data?.nextBefore}
        busy={payments.isFetching}
        label={t.accountArea.paymentPages}
      />
    </Paper>
  );
}

/**
 * Receipts and invoices (issue 16): the client's documents newest first, each with a link to
 * its PDF, labelled in the language the page is shown in. The link is a plain GET with the
 * session cookie, so the browser downloads the file itself.
 */
function Documents() {
  const { t, lang } = useI18n();
  const pages = useCursorPages();
  const docs = useQuery({
    queryKey: ['invoices', pages.before],
    queryFn: () =>
      call(
        api.GET('/api/v1/invoices', {
          params: {
            query: { limit: PAGE, ...pages.query },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const d = t.documents;
  return (
    <Paper withBorder p={{ base: 'sm', sm: 'md' }}>
      <Title order={3} size="h4" mb={4}>
        {d.title}
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        {d.help}
      </Text>
      <QueryView query={docs} isEmpty={(data) => data.items.length === 0} empty={d.none}>
        {(data) => (
          <Table.ScrollContainer minWidth={300}>
            <Table striped aria-label={d.title}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{d.number}</Table.Th>
                  <Table.Th>{d.document}</Table.Th>
                  <Table.Th visibleFrom="sm">{d.vat}</Table.Th>
                  <Table.Th ta="right">{d.total}</Table.Th>
                  <Table.Th ta="right">{d.download}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((doc) => {
                  const kind = d.kind[doc.kind] ?? doc.kind;
                  const about =
                    doc.orderId !== null
                      ? d.forOrder(doc.orderId)
                      : doc.serviceId !== null
                        ? d.forService(doc.serviceId)
                        : null;
                  return (
                    <Table.Tr key={doc.id}>
                      <Table.Td fw={600}>{doc.number}</Table.Td>
                      <Table.Td>
                        <Group gap={6} wrap="wrap">
                          <Badge variant="light" color={doc.kind === 'receipt' ? 'teal' : 'blue'} size="sm">
                            {kind}
                          </Badge>
                          <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                            {doc.issuedOn}
                          </Text>
                        </Group>
                        {about && (
                          <Text size="xs" c="dimmed">
                            {about}
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td visibleFrom="sm" style={{ whiteSpace: 'nowrap' }}>
                        {doc.vatRate === null ? d.noVat : `${doc.vat} (${doc.vatRate} %)`}
                      </Table.Td>
                      <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>
                        {money(doc.total, doc.currency)}
                      </Table.Td>
                      <Table.Td ta="right">
                        <Anchor
                          href={`/api/v1/invoices/${doc.id}/pdf?lang=${lang}`}
                          download={`${doc.kind}-${doc.number}.pdf`}
                          aria-label={d.downloadLabel(doc.kind, doc.number)}
                          size="sm"
                        >
                          {d.download}
                        </Anchor>
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </QueryView>
      <Pager pages={pages} nextBefore={docs.data?.nextBefore} busy={docs.isFetching} label={d.pages} />
    </Paper>
  );
}
