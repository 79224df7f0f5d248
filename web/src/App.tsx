import { Center, Loader } from '@mantine/core';
import { lazy, Suspense, useEffect } from 'react';
import { Layout } from './Layout';
import { BalancePage } from './pages/Balance';
import { NotFound } from './pages/NotFound';
import { OrderPage } from './pages/Order';
import { ForgotPassword, ResetPassword } from './pages/PasswordReset';
import { ServiceDetail } from './pages/ServiceDetail';
import { ServicesPage } from './pages/Services';
import { SettingsPage } from './pages/Settings';
import { SignIn } from './pages/SignIn';
import { SignUp } from './pages/SignUp';
import { ErrorState } from './pages/states';
import { navigate, usePath } from './router';
import { useMe } from './session';
import { isStaffPath } from './staff/paths';

/** The staff area (with its charts) is loaded only by staff: clients never download it. */
const StaffApp = lazy(() => import('./staff/StaffApp').then((m) => ({ default: m.StaffApp })));

/**
 * Routes: signed out, every path but /sign-up shows the sign-in page (and comes back to it
 * after). Staff work in the staff area (`/staff`, its own shell); a client never sees a staff
 * page: typing `/staff/...` lands in the client area (the API refuses its calls there anyway, 403).
 */
export function App() {
  const me = useMe();
  const path = usePath();
  const signedIn = !!me.data;
  const staff = me.data?.user.role === 'admin';
  // A mailed reset link works whoever is signed in on this browser (the link's user is reset).
  const anyone = path === '/forgot-password' || path === '/reset-password';
  const misplaced = signedIn && !anyone && (staff ? !isStaffPath(path) : isStaffPath(path));

  useEffect(() => {
    if (!signedIn || anyone) return;
    if (staff && !isStaffPath(path)) navigate('/staff', { replace: true });
    else if (!staff && (path === '/' || path === '/sign-in' || path === '/sign-up' || isStaffPath(path)))
      navigate('/services', { replace: true });
  }, [signedIn, staff, path, anyone]);

  if (me.isPending)
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  if (me.isError) return <ErrorState error={me.error} onRetry={() => me.refetch()} />;
  if (path === '/forgot-password') return <ForgotPassword />;
  if (path === '/reset-password') return <ResetPassword />;
  if (!me.data) return path === '/sign-up' ? <SignUp /> : <SignIn />;
  if (misplaced) return null;
  if (staff)
    return (
      <Suspense
        fallback={
          <Center h="100vh">
            <Loader aria-label="Loading" />
          </Center>
        }
      >
        <StaffApp me={me.data} path={path} />
      </Suspense>
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
      ) : path === '/' || path === '/sign-in' || path === '/sign-up' ? null : (
        <NotFound />
      )}
    </Layout>
  );
}
