import type { Language } from '../../platform/db/index.js';
import { invalid } from '../../platform/errors.js';

/**
 * The mail Billfold sends: one template per kind, plain text + HTML, English and Russian.
 * Templates are data (this file); staff may override one per kind + language
 * (`notification_templates`), checked by rendering it against the kind's sample first.
 *
 * The language is a tiny one, rendered without eval:
 * - `{{name}}`: the variable, HTML-escaped in the HTML body; an unknown name is an error;
 * - `{{#name}}…{{/name}}`: the part inside only when the variable is set and not empty.
 * Variables arrive already formatted (`formatVariables`: money in the provider's currency,
 * dates and instants in the provider's time zone, both in the account's language).
 */
export const LANGUAGES = ['en', 'ru'] as const satisfies readonly Language[];

export const MAIL_KINDS = [
  'renewal_reminder',
  'low_balance',
  'renewal_failed',
  'service_suspended',
  'service_deleted',
  'order_paid',
  'service_active',
  'payment_received',
  'password_reset',
] as const;
export type MailKind = (typeof MAIL_KINDS)[number];
export const isMailKind = (k: string): k is MailKind => (MAIL_KINDS as readonly string[]).includes(k);

/** Reminder kinds a client may turn off; security and payment mail always goes. */
export const OPTIONAL_KINDS = ['renewal_reminder', 'low_balance'] as const satisfies readonly MailKind[];
export type OptionalKind = (typeof OPTIONAL_KINDS)[number];

export interface Template {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Variables every kind has. */
const COMMON = ['providerName', 'accountName'] as const;

/** Each kind's variables, with a sample value (formatted as a real one would be). */
export const SAMPLES: Readonly<Record<MailKind, Readonly<Record<string, string>>>> = {
  renewal_reminder: {
    serviceId: '42',
    serviceName: 'ISPmanager Lite',
    expiresOn: '20 December 2021',
    daysLeft: '3',
  },
  low_balance: {
    serviceId: '42',
    serviceName: 'ISPmanager Lite',
    expiresOn: '20 December 2021',
    daysLeft: '3',
    needed: '€10.00',
  },
  renewal_failed: {
    serviceId: '42',
    serviceName: 'ISPmanager Lite',
    expiresOn: '20 December 2021',
    reason: 'insufficient_balance',
    needed: '€10.00',
  },
  service_suspended: {
    serviceId: '42',
    serviceName: 'ISPmanager Lite',
    expiresOn: '20 December 2021',
    reason: 'expired',
  },
  service_deleted: { serviceId: '42', serviceName: 'ISPmanager Lite', suspendedOn: '20 December 2021' },
  order_paid: { orderId: '7', total: '€10.00' },
  service_active: {
    serviceId: '42',
    serviceName: 'ISPmanager Lite',
    expiresOn: '16 January 2022',
    licenseKey: 'ABCD-EFGH',
    serverIp: '203.0.113.7',
  },
  payment_received: { amount: '€25.00', balance: '€40.00', receivedAt: '16 December 2021, 13:00' },
  password_reset: {
    resetUrl: 'https://billing.example.com/reset?token=sample',
    expiresAt: '16 December 2021, 14:00',
  },
};

const en = (subject: string, lines: string[]): Template => ({
  subject,
  text: `Hello {{accountName}},\n\n${lines.join('\n')}\n\n— {{providerName}}\n`,
  html: `<p>Hello {{accountName}},</p>\n${lines.map((l) => `<p>${l}</p>`).join('\n')}\n<p>— {{providerName}}</p>\n`,
});
const ru = (subject: string, lines: string[]): Template => ({
  subject,
  text: `Здравствуйте, {{accountName}}!\n\n${lines.join('\n')}\n\n— {{providerName}}\n`,
  html: `<p>Здравствуйте, {{accountName}}!</p>\n${lines.map((l) => `<p>${l}</p>`).join('\n')}\n<p>— {{providerName}}</p>\n`,
});

export const BUILTIN: Readonly<Record<MailKind, Readonly<Record<Language, Template>>>> = {
  renewal_reminder: {
    en: en('{{serviceName}} (#{{serviceId}}) expires on {{expiresOn}}', [
      'Your service {{serviceName}} (#{{serviceId}}) expires on {{expiresOn}} ({{daysLeft}} days left).',
      'Renew it in time to keep it running.',
    ]),
    ru: ru('Услуга {{serviceName}} (#{{serviceId}}) истекает {{expiresOn}}', [
      'Срок услуги {{serviceName}} (#{{serviceId}}) истекает {{expiresOn}} (осталось дней: {{daysLeft}}).',
      'Продлите её вовремя, чтобы она продолжала работать.',
    ]),
  },
  low_balance: {
    en: en('Not enough money to renew {{serviceName}} (#{{serviceId}})', [
      'Your service {{serviceName}} (#{{serviceId}}) renews itself on {{expiresOn}} ({{daysLeft}} days left), and needs {{needed}}.',
      'Your balance does not cover it: please top it up.',
    ]),
    ru: ru('Не хватает средств для продления {{serviceName}} (#{{serviceId}})', [
      'Услуга {{serviceName}} (#{{serviceId}}) продлевается автоматически {{expiresOn}} (осталось дней: {{daysLeft}}); нужно {{needed}}.',
      'Средств на балансе не хватает: пополните его.',
    ]),
  },
  renewal_failed: {
    en: en('Renewal of {{serviceName}} (#{{serviceId}}) failed', [
      'We could not renew your service {{serviceName}} (#{{serviceId}}) ({{reason}}).{{#needed}} The renewal needs {{needed}}.{{/needed}}',
      'It expires on {{expiresOn}}.',
    ]),
    ru: ru('Не удалось продлить {{serviceName}} (#{{serviceId}})', [
      'Не удалось продлить услугу {{serviceName}} (#{{serviceId}}) ({{reason}}).{{#needed}} Для продления нужно {{needed}}.{{/needed}}',
      'Дата окончания срока: {{expiresOn}}',
    ]),
  },
  service_suspended: {
    en: en('{{serviceName}} (#{{serviceId}}) is suspended', [
      'Your service {{serviceName}} (#{{serviceId}}) was suspended ({{reason}}); it expired on {{expiresOn}}.',
      'Renew it to resume it.',
    ]),
    ru: ru('Услуга {{serviceName}} (#{{serviceId}}) приостановлена', [
      'Услуга {{serviceName}} (#{{serviceId}}) приостановлена ({{reason}}); дата окончания срока: {{expiresOn}}',
      'Продлите её, чтобы возобновить.',
    ]),
  },
  service_deleted: {
    en: en('{{serviceName}} (#{{serviceId}}) was deleted', [
      'Your service {{serviceName}} (#{{serviceId}}), suspended since {{suspendedOn}}, was deleted.',
    ]),
    ru: ru('Услуга {{serviceName}} (#{{serviceId}}) удалена', [
      'Услуга {{serviceName}} (#{{serviceId}}) удалена (приостановлена с {{suspendedOn}}).',
    ]),
  },
  order_paid: {
    en: en('Order #{{orderId}} is paid', [
      'We received the payment of {{total}} for your order #{{orderId}}.',
    ]),
    ru: ru('Заказ #{{orderId}} оплачен', ['Заказ #{{orderId}} на сумму {{total}} оплачен.']),
  },
  service_active: {
    en: en('{{serviceName}} (#{{serviceId}}) is ready', [
      'Your service {{serviceName}} (#{{serviceId}}) is active until {{expiresOn}}.',
      '{{#licenseKey}}License key: {{licenseKey}}{{/licenseKey}}{{#serverIp}} Server IP: {{serverIp}}{{/serverIp}}',
    ]),
    ru: ru('Услуга {{serviceName}} (#{{serviceId}}) готова', [
      'Услуга {{serviceName}} (#{{serviceId}}) активна; дата окончания срока: {{expiresOn}}',
      '{{#licenseKey}}Лицензионный ключ: {{licenseKey}}{{/licenseKey}}{{#serverIp}} IP-адрес сервера: {{serverIp}}{{/serverIp}}',
    ]),
  },
  payment_received: {
    en: en('Payment of {{amount}} received', [
      'We received your payment of {{amount}} on {{receivedAt}}. Your balance is {{balance}}.',
    ]),
    ru: ru('Платёж {{amount}} получен', ['Платёж {{amount}} получен {{receivedAt}}. Баланс: {{balance}}.']),
  },
  password_reset: {
    en: en('Reset your password', [
      'Someone asked to reset the password of your account. To choose a new one, open {{resetUrl}} before {{expiresAt}}.',
      'If it was not you, ignore this message.',
    ]),
    ru: ru('Сброс пароля', [
      'Кто-то запросил сброс пароля вашей учётной записи. Чтобы задать новый, откройте {{resetUrl}} до {{expiresAt}}.',
      'Если это были не вы, просто проигнорируйте это письмо.',
    ]),
  },
};

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const TAG = /\{\{\s*([#/]?)([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g;

/** Why a template cannot be rendered with `names`, or null when it can. */
export function templateProblem(source: string, names: ReadonlySet<string>): string | null {
  const open: string[] = [];
  for (const m of source.matchAll(TAG)) {
    const [, mark, name] = m as unknown as [string, string, string];
    if (!names.has(name)) return `unknown variable "${name}"`;
    if (mark === '#') open.push(name);
    else if (mark === '/' && open.pop() !== name) return `"{{/${name}}}" closes nothing open`;
  }
  if (open.length > 0) return `"{{#${open.at(-1)}}}" is never closed`;
  const stray = source.replace(TAG, '');
  if (stray.includes('{{') || stray.includes('}}')) return 'a "{{" or "}}" that is not a variable';
  return null;
}

/** Renders one template source; `html` escapes the values. Assumes `templateProblem` found none. */
export function renderSource(source: string, vars: Readonly<Record<string, string>>, html: boolean): string {
  // Sections first (innermost first, so nesting works), then variables.
  let out = source;
  const section = /\{\{\s*#([A-Za-z][A-Za-z0-9_]*)\s*\}\}((?:(?!\{\{\s*#)[\s\S])*?)\{\{\s*\/\1\s*\}\}/;
  for (let m = section.exec(out); m; m = section.exec(out)) {
    out = out.slice(0, m.index) + (vars[m[1]!] ? m[2]! : '') + out.slice(m.index + m[0].length);
  }
  return out.replace(TAG, (_all, _mark: string, name: string) => {
    const v = vars[name] ?? '';
    return html ? escapeHtml(v) : v;
  });
}

export const variablesOf = (kind: MailKind): ReadonlySet<string> =>
  new Set([...COMMON, ...Object.keys(SAMPLES[kind])]);

/** Checks a template against its kind: every part renders with the sample. Throws `template_invalid`. */
export function validateTemplate(kind: MailKind, t: Template): void {
  const names = variablesOf(kind);
  for (const part of ['subject', 'text', 'html'] as const) {
    const problem = templateProblem(t[part], names);
    if (problem)
      throw invalid('template_invalid', `The template's ${part} cannot be rendered: ${problem}.`, {
        part,
        problem,
        variables: [...names],
      });
  }
  const sample = { providerName: 'Example Hosting', accountName: 'Jane Doe', ...SAMPLES[kind] };
  const subject = renderSource(t.subject, sample, false);
  if (subject.trim() === '' || /[\r\n]/.test(subject))
    throw invalid('template_invalid', "The template's subject must render to one non-empty line.", {
      part: 'subject',
      problem: 'empty or several lines',
      variables: [...names],
    });
}

export function render(t: Template, vars: Readonly<Record<string, string>>): Template {
  return {
    subject: renderSource(t.subject, vars, false).trim(),
    text: renderSource(t.text, vars, false),
    html: renderSource(t.html, vars, true),
  };
}
