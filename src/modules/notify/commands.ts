import { randomBytes } from 'node:crypto';
import { isoNow } from '../../platform/clock.js';
import type { AppContext } from '../../platform/context.js';
import { inTransaction, type Language, type WebhookRow } from '../../platform/db/index.js';
import { AppError, invalid, notFound } from '../../platform/errors.js';
import { toId } from '../../platform/ids.js';
import { type Actor, actorLabel, requireStaff } from '../accounts/actor.js';
import type { WebhookEvent } from './events.js';
import {
  BUILTIN,
  type MailKind,
  OPTIONAL_KINDS,
  type OptionalKind,
  type Template,
  validateTemplate,
} from './templates.js';
import { urlProblem } from './webhook-send.js';

/** Staff: register an endpoint. Its secret is generated unless given; it is shown once, then kept sealed. */
export async function createWebhook(
  ctx: AppContext,
  actor: Actor,
  input: {
    url: string;
    events: readonly WebhookEvent[];
    secret?: string | undefined;
    description?: string | undefined;
  },
): Promise<{ row: WebhookRow; secret: string }> {
  requireStaff(actor);
  const problem = await urlProblem(ctx, input.url);
  if (problem)
    throw invalid('webhook_url_refused', `The webhook URL is refused: ${problem}.`, {
      param: 'url',
      problem,
    });
  const secret = input.secret ?? `whsec_${randomBytes(24).toString('base64url')}`;
  const now = isoNow(ctx.clock);
  const row = await ctx.db.kysely
    .insertInto('webhooks')
    .values({
      url: input.url,
      secret: ctx.secrets.seal(secret),
      events: JSON.stringify([...new Set(input.events)]),
      status: 'active',
      description: input.description ?? null,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { row, secret };
}

export async function getWebhook(ctx: AppContext, actor: Actor, id: number): Promise<WebhookRow> {
  requireStaff(actor);
  const row = await ctx.db.kysely.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('webhook');
  return row;
}

/** Staff: change an endpoint's events or status (disabled: nothing more is queued; queued calls fail). */
export async function updateWebhook(
  ctx: AppContext,
  actor: Actor,
  id: number,
  input: { events?: readonly WebhookEvent[] | undefined; status?: 'active' | 'disabled' | undefined },
): Promise<WebhookRow> {
  await getWebhook(ctx, actor, id);
  return ctx.db.kysely
    .updateTable('webhooks')
    .set({
      ...(input.events ? { events: JSON.stringify([...new Set(input.events)]) } : {}),
      ...(input.status ? { status: input.status } : {}),
      updated_at: isoNow(ctx.clock),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A template override, validated by rendering it against the kind's sample; a bad one saves nothing. */
export async function saveTemplate(
  ctx: AppContext,
  actor: Actor,
  kind: MailKind,
  language: Language,
  t: Template,
): Promise<void> {
  requireStaff(actor);
  validateTemplate(kind, t);
  const now = isoNow(ctx.clock);
  await ctx.db.kysely
    .insertInto('notification_templates')
    .values({
      kind,
      language,
      subject: t.subject,
      text_body: t.text,
      html_body: t.html,
      updated_by: actorLabel(actor),
      updated_at: now,
    })
    .onConflict((oc) =>
      oc.columns(['kind', 'language']).doUpdateSet({
        subject: t.subject,
        text_body: t.text,
        html_body: t.html,
        updated_by: actorLabel(actor),
        updated_at: now,
      }),
    )
    .execute();
}

/** Staff: back to the built-in template. */
export async function resetTemplate(ctx: AppContext, actor: Actor, kind: MailKind, language: Language) {
  requireStaff(actor);
  await ctx.db.kysely
    .deleteFrom('notification_templates')
    .where('kind', '=', kind)
    .where('language', '=', language)
    .execute();
}

export async function templateView(ctx: AppContext, kind: MailKind, language: Language) {
  const o = await ctx.db.kysely
    .selectFrom('notification_templates')
    .selectAll()
    .where('kind', '=', kind)
    .where('language', '=', language)
    .executeTakeFirst();
  const t = o ? { subject: o.subject, text: o.text_body, html: o.html_body } : BUILTIN[kind][language];
  return {
    kind,
    language,
    ...t,
    overridden: o !== undefined,
    updatedBy: o?.updated_by ?? null,
    updatedAt: o?.updated_at ?? null,
  };
}

export interface NotificationPreferences {
  language: Language;
  /** Each reminder kind: true = sent. Security and payment mail cannot be turned off. */
  reminders: Record<OptionalKind, boolean>;
}

function ownAccount(actor: Actor): number {
  if (actor.type !== 'user' || actor.accountId === null || actor.accountId === undefined)
    throw new AppError('forbidden', 'no_account', 'This user has no client account.');
  return actor.accountId;
}

export async function getPreferences(ctx: AppContext, actor: Actor): Promise<NotificationPreferences> {
  const accountId = ownAccount(actor);
  const account = await ctx.db.kysely
    .selectFrom('accounts')
    .select('language')
    .where('id', '=', accountId)
    .executeTakeFirstOrThrow();
  const off = await ctx.db.kysely
    .selectFrom('notification_opt_outs')
    .select('kind')
    .where('account_id', '=', accountId)
    .execute();
  const offKinds = new Set(off.map((o) => o.kind));
  return {
    language: account.language,
    reminders: Object.fromEntries(OPTIONAL_KINDS.map((k) => [k, !offKinds.has(k)])) as Record<
      OptionalKind,
      boolean
    >,
  };
}

export async function setPreferences(
  ctx: AppContext,
  actor: Actor,
  input: { language?: Language | undefined; reminders?: Partial<Record<OptionalKind, boolean>> | undefined },
): Promise<NotificationPreferences> {
  const accountId = ownAccount(actor);
  const now = isoNow(ctx.clock);
  await inTransaction(ctx.db, async (tx) => {
    if (input.language)
      await tx
        .updateTable('accounts')
        .set({ language: input.language, updated_at: now })
        .where('id', '=', accountId)
        .execute();
    for (const [kind, on] of Object.entries(input.reminders ?? {})) {
      if (on)
        await tx
          .deleteFrom('notification_opt_outs')
          .where('account_id', '=', accountId)
          .where('kind', '=', kind)
          .execute();
      else
        await tx
          .insertInto('notification_opt_outs')
          .values({ account_id: accountId, kind, created_at: now })
          .onConflict((oc) => oc.columns(['account_id', 'kind']).doNothing())
          .execute();
    }
  });
  return getPreferences(ctx, actor);
}

export const presentWebhook = (w: WebhookRow) => ({
  id: toId(w.id),
  url: w.url,
  events: JSON.parse(w.events) as string[],
  status: w.status,
  description: w.description,
  createdAt: w.created_at,
  updatedAt: w.updated_at,
});
