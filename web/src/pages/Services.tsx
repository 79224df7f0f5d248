import { Anchor, Paper, Table, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { Pager, useCursorPages } from './paging';
import { ResponsiveTable } from './ResponsiveTable';
import { QueryView } from './states';
import { StatusBadge } from './status';

const PAGE = 20;

/** The services, newest first, a page at a time with the API's keyset cursor (`before`). */
export function ServicesPage() {
  const { t } = useI18n();
  const pages = useCursorPages();
  const before = pages.before;
  const list = useQuery({
    queryKey: ['services', before],
    queryFn: () =>
      call(
        api.GET('/api/v1/services', {
          params: { query: { limit: PAGE, ...pages.query } },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <Title order={2} mb="md">
        {t.services}
      </Title>
      <QueryView query={list} isEmpty={(data) => data.items.length === 0} empty={t.noServices}>
        {(data) => (
          <Paper withBorder p={{ base: 'sm', xs: 0 }}>
            <ResponsiveTable minWidth={320}>
              <Table striped highlightOnHover aria-label={t.services}>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t.service}</Table.Th>
                    <Table.Th>{t.status}</Table.Th>
                    <Table.Th>{t.expires}</Table.Th>
                    <Table.Th visibleFrom="sm">{t.ip}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.items.map((s) => (
                    <Table.Tr key={s.id}>
                      <Table.Td>
                        <Anchor component={Link} href={`/services/${s.id}`}>
                          {s.name}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>
                        <StatusBadge status={s.status} />
                      </Table.Td>
                      <Table.Td>{s.expiresOn ?? t.never}</Table.Td>
                      <Table.Td visibleFrom="sm">{s.params.ip ?? t.never}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </ResponsiveTable>
          </Paper>
        )}
      </QueryView>
      <Pager pages={pages} nextBefore={list.data?.nextBefore} busy={list.isFetching} label={t.services} />
    </>
  );
}
