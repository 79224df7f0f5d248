/** The orders module: quotes, orders, checkout, paying awaiting orders when money arrives. */
export { cancelOrder, payAwaitingOrders, payOrder, placeOrder, quoteItem } from './commands.js';
export { registerOrderRoutes } from './routes.js';
