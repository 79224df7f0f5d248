import { Alert, Button, Center, Loader, Stack, Text } from '@mantine/core';
import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { ApiError } from '../api/client';
import { errorSentence, useI18n } from '../i18n';

export function Loading() {
  const { t } = useI18n();
  return (
    <Center py="xl">
      <Loader aria-label={t.loading} />
    </Center>
  );
}

/** A failed load: what went wrong in the user's words, and a way to try again. */
export function ErrorState({ error, onRetry }: { error: unknown; onRetry: () => void }) {
  const { t } = useI18n();
  const code = error instanceof ApiError ? error.code : 'network_error';
  return (
    <Alert color="red" title={t.somethingWrong} role="alert" m="md">
      <Stack gap="sm" align="flex-start">
        <Text size="sm">{errorSentence(t, code)}</Text>
        <Button size="xs" variant="light" color="red" onClick={onRetry}>
          {t.retry}
        </Button>
      </Stack>
    </Alert>
  );
}

export function EmptyState({ text }: { text: string }) {
  return (
    <Text c="dimmed" ta="center" py="xl">
      {text}
    </Text>
  );
}

/**
 * A query's page section: loading, failed (with a retry), empty (when `isEmpty` says so), or
 * `children` with the data — the same three states in the same words on every page.
 */
export function QueryView<T>({
  query,
  isEmpty,
  empty,
  children,
}: {
  query: UseQueryResult<T>;
  isEmpty?: (data: T) => boolean;
  empty?: string;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading />;
  if (query.isError) return <ErrorState error={query.error} onRetry={() => query.refetch()} />;
  if (isEmpty?.(query.data) && empty !== undefined) return <EmptyState text={empty} />;
  return children(query.data);
}
