import { Center, Loader } from '@mantine/core';
import { useEffect } from 'react';
import { Layout } from './Layout';
import { BalancePage } from './pages/Balance';
import { NotFound } from './pages/NotFound';
import { OrderPage } from './pages/Order';
import { ServiceDetail } from './pages/ServiceDetail';
import { ServicesPage } from './pages/Services';
import { SettingsPage } from './pages/Settings';
import { SignIn } from './pages/SignIn';
import { ErrorState } from './pages/states';
import { navigate, usePath } from './router';
import { useMe } from './session';
import { catalogRoutes } from './staff/catalogRoutes';

/** Routes: signed out, every path shows the sign-in page (and comes back to it after). */
export function App() {
  const me = useMe();
  const path = usePath();
  const signedIn = !!me.data;
  // Staff pages (issue 15 part B, until the staff shell of part A replaces this wiring).
  const staff = me.data?.user.role === 'admin';

  useEffect(() => {
    if (signedIn && (path === '/' || path === '/sign-in')) navigate('/services', { replace: true });
    if (signedIn && !staff && (path === '/staff' || path.startsWith('/staff/')))
      navigate('/services', { replace: true });
  }, [signedIn, staff, path]);

  if (me.isPending)
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  if (me.isError) return <ErrorState error={me.error} onRetry={() => me.refetch()} />;
  if (!me.data) return <SignIn />;

  const serviceId = /^\/services\/(\d+)$/.exec(path)?.[1];
  const staffPage =
    staff && path.startsWith('/staff/')
      ? (catalogRoutes.map((r) => r.match(path)).find((p) => p !== null) ?? <NotFound />)
      : null;
  return (
    <Layout me={me.data}>
      {staffPage ? (
        staffPage
      ) : path === '/services' ? (
        <ServicesPage />
      ) : path === '/order' ? (
        <OrderPage />
      ) : serviceId ? (
        <ServiceDetail id={Number(serviceId)} />
      ) : path === '/balance' ? (
        <BalancePage me={me.data} />
      ) : path === '/settings' ? (
        <SettingsPage />
      ) : path === '/' || path === '/sign-in' ? null : (
        <NotFound />
      )}
    </Layout>
  );
}
