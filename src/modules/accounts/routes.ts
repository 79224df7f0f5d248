import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppContext } from '../../platform/context.js';
import type { AccountRow, UserRow } from '../../platform/db/index.js';
import { errorResponses } from '../../platform/http/errors.js';
import { toId } from '../../platform/ids.js';
import {
  changePassword,
  createApiToken,
  getUser,
  listApiTokens,
  listUserTokens,
  login,
  logout,
  revokeApiToken,
  revokeUserToken,
  signUp,
} from './auth.js';
import {
  createAccount,
  createAdminUser,
  createClientUser,
  postAdjustment,
  recordPayment,
  setUserStatus,
  updateAccount,
  updateProvider,
} from './commands.js';
import { assertCsrf, CSRF_HEADER, requireActor, SESSION_COOKIE } from './http-auth.js';
import { confirmPasswordReset, requestPasswordReset } from './password-reset.js';
import {
  presentAccount,
  presentBalance,
  presentLedgerEntry,
  presentPayment,
  presentProvider,
  presentUser,
} from './presenters.js';
import {
  getAccount,
  getPayment,
  getProvider,
  listAccounts,
  listAccountUsers,
  listLedger,
  listPayments,
  listUsers,
} from './queries.js';
import {
  AccountListQuery,
  AccountView,
  AdjustmentInput,
  AuthOptionsView,
  BalanceView,
  ChangePasswordInput,
  CreateAccountInput,
  CreateTokenInput,
  CreateUserInput,
  IdParam,
  IdText,
  LedgerEntryView,
  LoginInput,
  MAX_EMAIL_LENGTH,
  nextBefore,
  PageQuery,
  Password,
  PaymentView,
  ProviderView,
  page,
  RecordPaymentInput,
  SignupInput,
  TokenView,
  UpdateAccountInput,
  UpdateProviderInput,
  UserView,
} from './schemas.js';

const MeView = z.object({
  user: UserView,
  account: AccountView.nullable(),
  csrfToken: z
    .string()
    .nullable()
    .meta({
      description: `Echo in the ${CSRF_HEADER} header on state-changing requests made with the session cookie`,
    }),
});

const presentToken = (t: {
  id: bigint | number;
  name: string;
  token_hint: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}) => ({
  id: toId(t.id),
  name: t.name,
  hint: t.token_hint,
  createdAt: t.created_at,
  lastUsedAt: t.last_used_at,
  revokedAt: t.revoked_at,
});

export function registerAccountRoutes(root: FastifyInstance, ctx: AppContext): void {
  const app = root.withTypeProvider<ZodTypeProvider>();

  // ---------- authentication ----------
  /** Sets the session cookie of a new session and answers with who is now signed in. */
  const signedIn = (
    reply: FastifyReply,
    result: { sessionToken: string; csrfToken: string; user: UserRow },
    account: AccountRow | null,
  ) => {
    reply.setCookie(SESSION_COOKIE, result.sessionToken, {
      httpOnly: true,
      sameSite: 'lax',
      secure: ctx.config.cookieSecure,
      path: '/',
      // Max-Age, not Expires: the browser counts it on its own clock, so the cookie lives as
      // long as the session even when the server's clock is not the browser's (BILLFOLD_CLOCK).
      maxAge: ctx.config.sessionTtlHours * 3600,
    });
    return {
      user: presentUser(result.user),
      account: account ? presentAccount(account) : null,
      csrfToken: result.csrfToken,
    };
  };

  app.post(
    '/api/v1/auth/login',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email and password; sets the session cookie',
        body: LoginInput,
        response: { 200: MeView, ...errorResponses(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const result = await login(ctx, {
        email: request.body.email,
        password: request.body.password,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      const account =
        result.user.account_id === null
          ? null
          : await ctx.db.kysely
              .selectFrom('accounts')
              .selectAll()
              .where('id', '=', result.user.account_id)
              .executeTakeFirstOrThrow();
      return signedIn(reply, result, account);
    },
  );

  app.get(
    '/api/v1/auth/options',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary:
          'What the sign-in page offers before anyone signs in: the provider’s name, whether sign-up is open',
        response: { 200: AuthOptionsView },
      },
    },
    async () => {
      const p = await getProvider(ctx);
      return { providerName: p.name, signupEnabled: p.signup === 'open' };
    },
  );

  app.post(
    '/api/v1/auth/signup',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary:
          'Create my own client account (when the provider takes sign-ups) and sign in; sets the session cookie',
        body: SignupInput,
        response: { 201: MeView, ...errorResponses(400, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const result = await signUp(ctx, {
        name: request.body.name,
        email: request.body.email,
        password: request.body.password,
        ip: request.ip,
        userAgent: request.headers['user-agent'],
      });
      return reply.status(201).send(signedIn(reply, result, result.account));
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      // Public, so a cookie whose session is gone can still be cleared; ending a live session
      // is a state change made with the cookie and needs the CSRF token like any other.
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: `End the browser session (with the session cookie: send the ${CSRF_HEADER} header)`,
        response: { 204: z.null(), ...errorResponses(403) },
      },
    },
    async (request, reply) => {
      if (request.authVia === 'cookie') assertCsrf(request);
      const cookie = request.cookies[SESSION_COOKIE];
      if (cookie) await logout(ctx, cookie);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send(null);
    },
  );

  // — issue 16: password reset by mail —
  app.post(
    '/api/v1/auth/password-reset',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary:
          'Ask for a password-reset link by mail; the same 202 whether or not the address has a user (no enumeration)',
        body: z.strictObject({ email: z.string().trim().min(1).max(MAX_EMAIL_LENGTH) }),
        response: { 202: z.object({ accepted: z.literal(true) }), ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      await requestPasswordReset(ctx, request.body.email);
      return reply.status(202).send({ accepted: true });
    },
  );

  app.post(
    '/api/v1/auth/password-reset/confirm',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary:
          'Set a new password with the link’s token (one use, one hour); every session of the user ends. Unknown, expired or used: reset_token_invalid',
        body: z.strictObject({ token: z.string().min(1).max(200), newPassword: Password }),
        response: { 204: z.null(), ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      await confirmPasswordReset(ctx, request.body.token, request.body.newPassword);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'The signed-in user and their account',
        response: { 200: MeView, ...errorResponses(401) },
      },
    },
    async (request) => {
      const actor = requireActor(request);
      const user = await getUser(ctx, actor.type === 'user' ? actor.userId : 0);
      const account = user.account_id === null ? null : await getAccount(ctx, actor, toId(user.account_id));
      return {
        user: presentUser(user),
        account: account ? presentAccount(account) : null,
        csrfToken: request.csrfToken,
      };
    },
  );

  app.post(
    '/api/v1/me/password',
    {
      schema: {
        tags: ['auth'],
        summary:
          'Change my password (the current one is checked within the sign-in limits); my other sessions end, this one stays',
        body: ChangePasswordInput,
        response: { 204: z.null(), ...errorResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      await changePassword(ctx, requireActor(request), {
        currentPassword: request.body.currentPassword,
        newPassword: request.body.newPassword,
        ip: request.ip,
        keepSessionToken: request.authVia === 'cookie' ? (request.cookies[SESSION_COOKIE] ?? null) : null,
      });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/me/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'My API tokens',
        response: { 200: z.object({ items: z.array(TokenView) }), ...errorResponses(401) },
      },
    },
    async (request) => ({ items: (await listApiTokens(ctx, requireActor(request))).map(presentToken) }),
  );

  app.post(
    '/api/v1/me/tokens',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an API token (shown once; send as "Authorization: Bearer <token>")',
        body: CreateTokenInput,
        response: { 201: TokenView.extend({ token: z.string() }), ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { token, row } = await createApiToken(ctx, requireActor(request), request.body.name);
      return reply.status(201).send({ ...presentToken(row), token });
    },
  );

  app.delete(
    '/api/v1/me/tokens/:id',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke one of my API tokens',
        params: IdParam,
        response: { 200: TokenView, ...errorResponses(401, 404) },
      },
    },
    async (request) => presentToken(await revokeApiToken(ctx, requireActor(request), request.params.id)),
  );

  // ---------- provider ----------
  app.get(
    '/api/v1/provider',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['provider'],
        summary: 'The hosting provider',
        response: { 200: ProviderView, ...errorResponses(401, 403) },
      },
    },
    async () => presentProvider(await getProvider(ctx)),
  );

  app.patch(
    '/api/v1/provider',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['provider'],
        summary:
          'Rename the provider, set its time zone, legal details and VAT rate, or change its currency (only while nothing uses it)',
        body: UpdateProviderInput,
        response: { 200: ProviderView, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request) => presentProvider(await updateProvider(ctx, requireActor(request), request.body)),
  );

  // ---------- accounts ----------
  app.get(
    '/api/v1/accounts',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['accounts'],
        summary: 'Client accounts, newest first',
        querystring: AccountListQuery,
        response: { 200: page(AccountView), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const rows = await listAccounts(ctx, requireActor(request), request.query);
      return { items: rows.map(presentAccount), nextBefore: nextBefore(rows, request.query.limit) };
    },
  );

  app.post(
    '/api/v1/accounts',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['accounts'],
        summary: 'Create a client account (and its first user when a password is given)',
        body: CreateAccountInput,
        response: {
          201: z.object({ account: AccountView, user: UserView.nullable() }),
          ...errorResponses(400, 401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      const { account, user } = await createAccount(ctx, requireActor(request), request.body);
      return reply
        .status(201)
        .send({ account: presentAccount(account), user: user ? presentUser(user) : null });
    },
  );

  app.get(
    '/api/v1/accounts/:id',
    {
      schema: {
        tags: ['accounts'],
        summary: 'One account (clients: their own)',
        params: IdParam,
        response: { 200: AccountView, ...errorResponses(401, 404) },
      },
    },
    async (request) => presentAccount(await getAccount(ctx, requireActor(request), request.params.id)),
  );

  app.patch(
    '/api/v1/accounts/:id',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['accounts'],
        summary: 'Rename, block or close an account, or change its credit limit',
        params: IdParam,
        body: UpdateAccountInput,
        response: { 200: AccountView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      presentAccount(await updateAccount(ctx, requireActor(request), request.params.id, request.body)),
  );

  app.get(
    '/api/v1/accounts/:id/balance',
    {
      schema: {
        tags: ['ledger'],
        summary: 'Balance, credit limit and what is available to spend',
        params: IdParam,
        response: { 200: BalanceView, ...errorResponses(401, 404) },
      },
    },
    async (request) => presentBalance(await getAccount(ctx, requireActor(request), request.params.id)),
  );

  app.get(
    '/api/v1/accounts/:id/ledger',
    {
      schema: {
        tags: ['ledger'],
        summary: 'Ledger entries, newest first',
        params: IdParam,
        querystring: PageQuery,
        response: { 200: page(LedgerEntryView), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const rows = await listLedger(ctx, requireActor(request), request.params.id, request.query);
      return { items: rows.map(presentLedgerEntry), nextBefore: nextBefore(rows, request.query.limit) };
    },
  );

  app.post(
    '/api/v1/accounts/:id/adjustments',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['ledger'],
        summary: 'Post a signed correction to the balance',
        params: IdParam,
        body: AdjustmentInput,
        response: { 201: LedgerEntryView, 200: LedgerEntryView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { entry, replayed } = await postAdjustment(
        ctx,
        requireActor(request),
        request.params.id,
        request.body,
      );
      return reply.status(replayed ? 200 : 201).send(presentLedgerEntry(entry));
    },
  );

  app.get(
    '/api/v1/accounts/:id/payments',
    {
      schema: {
        tags: ['payments'],
        summary: 'Payments of an account, newest first',
        params: IdParam,
        querystring: PageQuery,
        response: { 200: page(PaymentView), ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const rows = await listPayments(ctx, requireActor(request), request.params.id, request.query);
      return { items: rows.map(presentPayment), nextBefore: nextBefore(rows, request.query.limit) };
    },
  );

  app.post(
    '/api/v1/accounts/:id/payments',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['payments'],
        summary: 'Record money received; the reference is unique per method',
        params: IdParam,
        body: RecordPaymentInput,
        response: { 201: PaymentView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const actor = requireActor(request);
      // Awaiting orders the payment covers are paid in its own transaction (ctx.hooks.afterCredit).
      const payment = await recordPayment(ctx, actor, request.params.id, request.body);
      return reply.status(201).send(presentPayment(payment));
    },
  );

  app.get(
    '/api/v1/payments/:id',
    {
      schema: {
        tags: ['payments'],
        summary: 'One payment (clients: their own)',
        params: IdParam,
        response: { 200: PaymentView, ...errorResponses(401, 404) },
      },
    },
    async (request) => presentPayment(await getPayment(ctx, requireActor(request), request.params.id)),
  );

  // ---------- users ----------
  app.get(
    '/api/v1/accounts/:id/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Users of an account (clients: their own)',
        params: IdParam,
        response: { 200: z.object({ items: z.array(UserView) }), ...errorResponses(401, 404) },
      },
    },
    async (request) => ({
      items: (await listAccountUsers(ctx, requireActor(request), request.params.id)).map(presentUser),
    }),
  );

  app.post(
    '/api/v1/accounts/:id/users',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['users'],
        summary: 'Add a user to a client account',
        params: IdParam,
        body: CreateUserInput,
        response: { 201: UserView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          presentUser(await createClientUser(ctx, requireActor(request), request.params.id, request.body)),
        ),
  );

  app.get(
    '/api/v1/users',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['users'],
        summary: 'All users, newest first',
        querystring: PageQuery.extend({ role: z.enum(['admin', 'client']).optional() }),
        response: { 200: page(UserView), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const rows = await listUsers(ctx, requireActor(request), request.query);
      return { items: rows.map(presentUser), nextBefore: nextBefore(rows, request.query.limit) };
    },
  );

  app.post(
    '/api/v1/users',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['users'],
        summary: 'Create a staff (admin) user',
        body: CreateUserInput,
        response: { 201: UserView, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(presentUser(await createAdminUser(ctx, requireActor(request), request.body))),
  );

  app.patch(
    '/api/v1/users/:id',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['users'],
        summary: 'Disable (signs the user out everywhere) or re-enable a user',
        params: IdParam,
        body: z.strictObject({ status: z.enum(['active', 'disabled']) }),
        response: { 200: UserView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      presentUser(await setUserStatus(ctx, requireActor(request), request.params.id, request.body.status)),
  );

  // Staff see and revoke any user's API tokens (never the tokens themselves: only their hints);
  // a token is made only by its owner (POST /me/tokens), who alone sees it once.
  app.get(
    '/api/v1/users/:id/tokens',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['users'],
        summary: "A user's API tokens (hints, last use, revocation)",
        params: IdParam,
        response: { 200: z.object({ items: z.array(TokenView) }), ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const user = await getUser(ctx, request.params.id);
      return { items: (await listUserTokens(ctx, toId(user.id))).map(presentToken) };
    },
  );

  app.delete(
    '/api/v1/users/:id/tokens/:tokenId',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['users'],
        summary: "Revoke a user's API token (it stops working at once)",
        params: z.strictObject({ id: IdText, tokenId: IdText }),
        response: { 200: TokenView, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const user = await getUser(ctx, request.params.id);
      return presentToken(await revokeUserToken(ctx, toId(user.id), request.params.tokenId));
    },
  );
}
