import { AppShell, Burger, Button, Group, NavLink, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { ApiError } from './api/client';
import { errorSentence, useI18n } from './i18n';
import { LanguageSwitch } from './LanguageSwitch';
import { Link, navigate, usePath } from './router';
import { ME_KEY, type Me, signOut } from './session';
import { catalogRoutes } from './staff/catalogRoutes';

/**
 * The navigation a role sees. Clients: their services (the rest of the client area follows).
 * Staff see the same list (all accounts' services) until the staff area arrives in part 2.
 */
function navItems(t: ReturnType<typeof useI18n>['t'], me: Me) {
  // Staff: the catalog's pages too (issue 15 part B; the staff shell of part A replaces this).
  const staff =
    me.user.role === 'admin'
      ? catalogRoutes.flatMap((r) => (r.label ? [{ href: r.href, label: r.label(t) }] : []))
      : [];
  return [
    { href: '/services', label: t.navServices },
    { href: '/order', label: t.navOrder },
    { href: '/balance', label: t.accountArea.navBalance },
    { href: '/settings', label: t.accountArea.navSettings },
    ...staff,
  ];
}

export function Layout({ me, children }: { me: Me; children: ReactNode }) {
  const { t } = useI18n();
  const path = usePath();
  const [opened, { toggle, close }] = useDisclosure();
  const queryClient = useQueryClient();
  const out = useMutation({
    mutationFn: signOut,
    onSuccess: () => {
      queryClient.clear();
      queryClient.setQueryData(ME_KEY, null);
      navigate('/sign-in', { replace: true });
      notifications.show({ message: t.signedOut });
    },
    onError: (err) =>
      notifications.show({
        color: 'red',
        title: t.somethingWrong,
        message: errorSentence(t, err instanceof ApiError ? err.code : 'network_error'),
      }),
  });

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={t.openNavigation}
            />
            <Title order={3}>{t.appName}</Title>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <LanguageSwitch />
            <Text size="sm" visibleFrom="sm" c="dimmed">
              {me.account?.name ?? me.user.email}
            </Text>
            <Button variant="default" size="xs" onClick={() => out.mutate()} loading={out.isPending}>
              {t.signOut}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label={t.mainNavigation}>
        {navItems(t, me).map((item) => (
          <NavLink
            key={item.href}
            component={Link}
            href={item.href}
            label={item.label}
            active={path === item.href || path.startsWith(`${item.href}/`)}
            onClick={close}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
