import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import type { OrderRow } from '../../platform/db/index.js';
import { notFound } from '../../platform/errors.js';
import { errorResponses } from '../../platform/http/errors.js';
import { toId } from '../../platform/ids.js';
import { assertAccountVisible, isStaff } from '../accounts/actor.js';
import { requireActor } from '../accounts/http-auth.js';
import { IdParam, IdText, nextBefore, PageQuery, page } from '../accounts/schemas.js';
import { presentPricedRange } from '../catalog/quote.js';
import { cancelOrder, payOrder, placeOrder, quoteItem } from './commands.js';
import { presentOrder } from './presenters.js';
import { OrderView, PlaceOrderInput, QuoteInput, QuoteView } from './schemas.js';

export function registerOrderRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const tags = ['orders'];
  const withItems = async (o: OrderRow) =>
    presentOrder(
      o,
      await ctx.db.kysely
        .selectFrom('order_items')
        .selectAll()
        .where('order_id', '=', o.id)
        .orderBy('id')
        .execute(),
    );

  app.post(
    '/api/v1/quotes',
    {
      schema: {
        tags,
        summary: 'Price an item before ordering: lines, dates, the tariff-end cut (no side effects)',
        body: QuoteInput,
        response: { 200: QuoteView, ...errorResponses(400, 401, 409) },
      },
    },
    async (request) => presentPricedRange((await quoteItem(ctx, requireActor(request), request.body)).priced),
  );

  app.post(
    '/api/v1/orders',
    {
      schema: {
        tags,
        summary:
          'Place an order; payNow charges the balance at once (or refuses with insufficient_balance, changing nothing)',
        body: PlaceOrderInput,
        response: { 201: OrderView, 200: OrderView, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request, reply) => {
      const { order, replayed } = await placeOrder(ctx, requireActor(request), request.body);
      return reply.status(replayed ? 200 : 201).send(await withItems(order));
    },
  );

  app.get(
    '/api/v1/orders',
    {
      schema: {
        tags,
        summary: 'Orders, newest first (clients: their own)',
        querystring: PageQuery.extend({
          accountId: IdText.optional(),
          status: z.enum(['awaiting_payment', 'paid', 'cancelled']).optional(),
        }),
        response: {
          200: page(OrderView),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const actor = requireActor(request);
      let q = ctx.db.kysely.selectFrom('orders').selectAll().orderBy('id', 'desc').limit(request.query.limit);
      if (!isStaff(actor))
        q = q.where('account_id', '=', actor.type === 'user' ? (actor.accountId ?? -1) : -1);
      else if (request.query.accountId) q = q.where('account_id', '=', request.query.accountId);
      if (request.query.status) q = q.where('status', '=', request.query.status);
      if (request.query.before) q = q.where('id', '<', request.query.before);
      const rows = await q.execute();
      return {
        items: await Promise.all(rows.map(withItems)),
        nextBefore: nextBefore(rows, request.query.limit),
      };
    },
  );

  app.get(
    '/api/v1/orders/:id',
    {
      schema: {
        tags,
        summary: 'One order with its items',
        params: IdParam,
        response: { 200: OrderView, ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const order = await ctx.db.kysely
        .selectFrom('orders')
        .selectAll()
        .where('id', '=', request.params.id)
        .executeTakeFirst();
      if (!order) throw notFound('order');
      assertAccountVisible(requireActor(request), toId(order.account_id), 'order');
      return withItems(order);
    },
  );

  app.post(
    '/api/v1/orders/:id/pay',
    {
      schema: {
        tags,
        summary: 'Pay an awaiting order from the balance now',
        params: IdParam,
        response: { 200: OrderView, ...errorResponses(401, 404, 409) },
      },
    },
    async (request) => withItems(await payOrder(ctx, requireActor(request), request.params.id)),
  );

  app.post(
    '/api/v1/orders/:id/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel an order that is still awaiting payment',
        params: IdParam,
        response: { 200: OrderView, ...errorResponses(401, 404, 409) },
      },
    },
    async (request) => withItems(await cancelOrder(ctx, requireActor(request), request.params.id)),
  );
}
