import { Button, Stack, Text, Title } from '@mantine/core';
import { useI18n } from '../i18n';
import { Link } from '../router';

/** Unknown paths and objects the user may not see look the same: the API answers both with 404. */
export function NotFound() {
  const { t } = useI18n();
  return (
    <Stack align="flex-start" gap="sm" py="xl">
      <Title order={2}>{t.notFoundTitle}</Title>
      <Text>{t.notFoundText}</Text>
      <Button component={Link} href="/services" variant="light">
        {t.toServices}
      </Button>
    </Stack>
  );
}
