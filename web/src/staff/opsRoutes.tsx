import { BillingRunPage } from './BillingRun';
import { ClientDetail, ClientsPage } from './Clients';
import { DashboardPage } from './Dashboard';
import { OperationDetail, QueuePage } from './Queue';
import type { StaffRoute } from './route-type';
import { StaffServiceDetail, StaffServicesPage } from './Services';

/** The page for `/staff/<section>/<id>`, or null. */
const byId = (section: string, page: (id: number) => React.ReactNode) => (path: string) => {
  const id = new RegExp(`^/staff/${section}/(\\d+)$`).exec(path)?.[1];
  return id ? page(Number(id)) : null;
};
const exact = (href: string, page: () => React.ReactNode) => (path: string) =>
  path === href ? page() : null;

/** The staff area's operations half: dashboard, clients, services, the queue, the billing run. */
export const opsRoutes: StaffRoute[] = [
  { href: '/staff', label: (t) => t.staff.navDashboard, match: exact('/staff', () => <DashboardPage />) },
  {
    href: '/staff/clients',
    label: (t) => t.staff.navClients,
    match: exact('/staff/clients', () => <ClientsPage />),
  },
  { href: '/staff/clients/:id', match: byId('clients', (id) => <ClientDetail key={id} id={id} />) },
  {
    href: '/staff/services',
    label: (t) => t.staff.navServices,
    match: exact('/staff/services', () => <StaffServicesPage />),
  },
  { href: '/staff/services/:id', match: byId('services', (id) => <StaffServiceDetail key={id} id={id} />) },
  { href: '/staff/queue', label: (t) => t.staff.navQueue, match: exact('/staff/queue', () => <QueuePage />) },
  { href: '/staff/operations/:id', match: byId('operations', (id) => <OperationDetail key={id} id={id} />) },
  {
    href: '/staff/billing',
    label: (t) => t.staff.navBilling,
    match: exact('/staff/billing', () => <BillingRunPage />),
  },
];
