import { useI18n } from '../i18n';
import { Layout, type NavItem } from '../Layout';
import { NotFound } from '../pages/NotFound';
import type { Me } from '../session';
import { catalogRoutes } from './catalogRoutes';
import { opsRoutes } from './opsRoutes';
import type { StaffRoute } from './route-type';

/**
 * The staff area: every `/staff/...` page, composed from the areas' route lists (the catalog's
 * catalog's and the operations'). App.tsx sends staff users here and keeps clients out.
 */
const routes: readonly StaffRoute[] = [...opsRoutes, ...catalogRoutes];

export function StaffApp({ me, path }: { me: Me; path: string }) {
  const { t } = useI18n();
  const nav: NavItem[] = routes
    .filter((r) => r.label)
    .map((r) => ({ href: r.href, label: r.label!(t), exact: r.href === '/staff' }));
  let page = null;
  for (const r of routes) {
    page = r.match(path);
    if (page) break;
  }
  return (
    <Layout me={me} nav={nav}>
      {page ?? <NotFound />}
    </Layout>
  );
}
