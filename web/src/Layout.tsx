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

/**
 * The client area's navigation; the staff area (web/src/staff/StaffApp.tsx) passes its own.
 */
function navItems(t: ReturnType<typeof useI18n>['t']) {
  return [
    { href: '/services', label: t.navServices },
    { href: '/order', label: t.navOrder },
    { href: '/balance', label: t.accountArea.navBalance },
    { href: '/settings', label: t.accountArea.navSettings },
  ];
}

/** A nav entry; `exact`: active only on its own path (the staff dashboard at `/staff`). */
export interface NavItem {
  readonly href: string;
  readonly label: string;
  readonly exact?: boolean;
}

/** The app shell; `nav` replaces the client area's entries (the staff area passes its own). */
export function Layout({ me, nav, children }: { me: Me; nav?: readonly NavItem[]; children: ReactNode }) {
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
        {(nav ?? navItems(t)).map((item: NavItem) => (
          <NavLink
            key={item.href}
            component={Link}
            href={item.href}
            label={item.label}
            active={path === item.href || (!item.exact && path.startsWith(`${item.href}/`))}
            onClick={close}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
