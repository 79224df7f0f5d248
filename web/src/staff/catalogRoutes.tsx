import { EnumerationPage, EnumerationsPage } from './catalog/Enumerations';
import { ProductTypesPage } from './catalog/ProductTypes';
import { TariffPage } from './catalog/TariffDetail';
import { TariffsPage } from './catalog/Tariffs';
import { ModulePage, ModulesPage, NewModulePage } from './modules/Modules';
import type { StaffRoute } from './route-type';
import { StaffSettingsPage } from './settings/StaffSettings';

const idOf = (re: RegExp, path: string): number | null => {
  const m = re.exec(path);
  return m ? Number(m[1]) : null;
};

/** Part B of the staff area: the catalog, processing modules and settings (issue 15 items 3, 4, 7). */
export const catalogRoutes: StaffRoute[] = [
  {
    href: '/staff/catalog/tariffs',
    label: (t) => t.staffCatalog.navTariffs,
    match: (path) => (path === '/staff/catalog/tariffs' ? <TariffsPage /> : null),
  },
  {
    href: '/staff/catalog/tariffs/:id',
    match: (path) => {
      const id = idOf(/^\/staff\/catalog\/tariffs\/(\d+)$/, path);
      return id === null ? null : <TariffPage key={id} id={id} />;
    },
  },
  {
    href: '/staff/catalog/enumerations',
    label: (t) => t.staffCatalog.navEnumerations,
    match: (path) => (path === '/staff/catalog/enumerations' ? <EnumerationsPage /> : null),
  },
  {
    href: '/staff/catalog/enumerations/:id',
    match: (path) => {
      const id = idOf(/^\/staff\/catalog\/enumerations\/(\d+)$/, path);
      return id === null ? null : <EnumerationPage key={id} id={id} />;
    },
  },
  {
    href: '/staff/catalog/product-types',
    label: (t) => t.staffCatalog.navProductTypes,
    match: (path) => (path === '/staff/catalog/product-types' ? <ProductTypesPage /> : null),
  },
  {
    href: '/staff/modules',
    label: (t) => t.staffCatalog.navModules,
    match: (path) =>
      path === '/staff/modules' ? <ModulesPage /> : path === '/staff/modules/new' ? <NewModulePage /> : null,
  },
  {
    href: '/staff/modules/:id',
    match: (path) => {
      const id = idOf(/^\/staff\/modules\/(\d+)$/, path);
      return id === null ? null : <ModulePage key={id} id={id} />;
    },
  },
  {
    href: '/staff/settings',
    label: (t) => t.staffCatalog.navSettings,
    match: (path) => (path === '/staff/settings' ? <StaffSettingsPage /> : null),
  },
];
