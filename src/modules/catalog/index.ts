/** The catalog module: product types, enumerations, tariff plans with period prices, addons, the public catalog. */
export { type AddonAggregate, loadTariffAggregates, type TariffAggregate } from './aggregate.js';
export {
  addEnumerationValue,
  createAddon,
  createEnumeration,
  createProductType,
  createTariff,
  deleteAddon,
  deleteEnumeration,
  deleteEnumerationValue,
  replaceAddon,
  updateEnumeration,
  updateEnumerationValue,
  updateProductType,
  updateTariff,
} from './commands.js';
export { presentTariff, type TariffPresentation } from './presenters.js';
export { tariffForPricing } from './pricing-adapter.js';
export {
  getProductType,
  getTariffAggregate,
  isOrderable,
  listProductTypes,
  publicCatalog,
} from './queries.js';
export { registerCatalogRoutes } from './routes.js';
export { CONTROL_PANEL_ENUMERATION, CONTROL_PANEL_VALUES, seedControlPanels } from './seed.js';
