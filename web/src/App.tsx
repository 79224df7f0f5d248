import { Center, Loader } from '@mantine/core';
import { useEffect } from 'react';
import { Layout } from './Layout';
import { BalancePage } from './pages/Balance';
import { NotFound } from './pages/NotFound';
import { OrderPage } from './pages/Order';
import { ForgotPassword, ResetPassword } from './pages/PasswordReset';
import { ServiceDetail } from './pages/ServiceDetail';
import { ServicesPage } from './pages/Services';
import { SettingsPage } from './pages/Settings';
import { SignIn } from './pages/SignIn';
import { ErrorState } from './pages/states';
import { navigate, usePath } from './router';
import { useMe } from './session';

/** Routes: signed out, every path shows the sign-in page (and comes back to it after). */
export function App() {
  const me = useMe();
  const path = usePath();
  const signedIn = !!me.data;

  useEffect(() => {
    if (signedIn && (path === '/' || path === '/sign-in')) navigate('/services', { replace: true });
  }, [signedIn, path]);

  if (me.isPending)
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  if (me.isError) return <ErrorState error={me.error} onRetry={() => me.refetch()} />;
  if (!me.data)
    return path === '/forgot-password' ? (
      <ForgotPassword />
    ) : path === '/reset-password' ? (
      <ResetPassword />
    ) : (
      <SignIn />
    );

  const serviceId = /^\/services\/(\d+)$/.exec(path)?.[1];
  return (
    <Layout me={me.data}>
      {path === '/services' ? (
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
