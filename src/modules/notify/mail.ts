import nodemailer, { type Transporter } from 'nodemailer';
import type { AppContext } from '../../platform/context.js';
import type { DeliveryRow } from '../../platform/db/index.js';
import { toId } from '../../platform/ids.js';
import { DeliveryError } from './delivery-error.js';
import type { SendOutcome } from './outbox.js';

/**
 * Email through nodemailer, to the SMTP server `BILLFOLD_SMTP_URL` names. Unset: the message is
 * written to the log and the delivery is `held` in the outbox (it goes once a server is set).
 * The Message-ID is stable per delivery, so a resend after a worker died is recognisable.
 */
const transports = new Map<string, Transporter>();

function transportFor(url: string): Transporter {
  let t = transports.get(url);
  if (!t) {
    t = nodemailer.createTransport(url, {
      // Bounded, well inside the delivery lease (60 s): a hung server is a retry, not a stuck lease.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
    transports.set(url, t);
  }
  return t;
}

/** `<delivery-<id>@<host>>`, the host being the sender address's domain. */
export function messageIdOf(ctx: AppContext, deliveryId: number | bigint): string {
  const host = ctx.config.mail.from.split('@').pop() ?? 'localhost';
  return `<delivery-${toId(deliveryId)}@${host}>`;
}

export async function sendMail(ctx: AppContext, d: DeliveryRow): Promise<SendOutcome> {
  const mail = JSON.parse(d.payload) as { subject: string; text: string; html: string };
  const messageId = messageIdOf(ctx, d.id);
  const url = ctx.config.mail.smtpUrl;
  if (!url) {
    ctx.logger.info(
      { deliveryId: toId(d.id), to: d.target, messageId, subject: mail.subject, text: mail.text },
      'mail held in the outbox: BILLFOLD_SMTP_URL is not set',
    );
    return { held: true };
  }
  try {
    await transportFor(url).sendMail({
      from: ctx.config.mail.from,
      to: d.target,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId,
      headers: { 'X-Billfold-Kind': d.kind },
    });
    return { sent: true };
  } catch (err) {
    const e = err as Error & { responseCode?: number; code?: string };
    // 5xx: the server refuses this message for good (bad address); anything else is passing.
    const permanent = typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600;
    throw new DeliveryError(
      permanent ? 'smtp_rejected' : 'smtp_unavailable',
      e.message,
      !permanent,
      e.responseCode,
    );
  }
}
