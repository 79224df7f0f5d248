import path from 'node:path';
import { Temporal } from 'temporal-polyfill';
import { z } from 'zod';
import { isMasterKeyText } from './crypto.js';

/**
 * Configuration comes from the environment, is validated once at start and is then a plain
 * frozen object. A bad value stops the process with a message naming the variable.
 */
const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'], {
    error: 'must be one of true/false/1/0/yes/no/on/off',
  })
  .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

/** Decimal digits only: `z.coerce.number()` would take " " as 0 and "0x1F" as 31. */
const portNumber = z
  .string()
  .trim()
  .regex(/^\d{1,5}$/, 'must be a port number (0-65535)')
  .transform(Number)
  .refine((n) => n <= 65535, 'must be a port number (0-65535)');

/**
 * An instant with an explicit offset, parsed strictly: `Date.parse` would read
 * "2021-12-16T10:00:00" in the machine's time zone and roll "2021-02-30" over to March 2.
 * Normalised to `2021-12-16T10:00:00.000Z`.
 */
const instant = z.string().transform((v, c) => {
  try {
    return new Date(Temporal.Instant.from(v).epochMilliseconds).toISOString();
  } catch {
    c.addIssue({
      code: 'custom',
      message: 'must be an ISO instant with an offset, such as 2021-12-16T10:00:00Z',
    });
    return z.NEVER;
  }
});

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(
      /^postgres(ql)?:\/\//,
      'must be a postgres:// URL (leave it unset for the embedded SQLite database)',
    )
    .optional(),
  BILLFOLD_DATA_DIR: z.string().min(1).default('./data'),
  BILLFOLD_PORT: portNumber.optional(),
  PORT: portNumber.optional(),
  BILLFOLD_HOST: z.string().min(1).default('localhost'),
  BILLFOLD_CLOCK: instant.optional(),
  BILLFOLD_SECRET_KEY: z
    .string()
    .refine(isMasterKeyText, 'must be 32 bytes as 64 hex digits or base64')
    .optional(),
  BILLFOLD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BILLFOLD_LOG_PRETTY: bool.optional(),
  BILLFOLD_COOKIE_SECURE: bool.default(false),
  BILLFOLD_TRUST_PROXY: bool.default(false),
  BILLFOLD_ADMIN_EMAIL: z.email('must be an email address').optional(),
  BILLFOLD_ADMIN_PASSWORD: z
    .string()
    .min(10, 'must be at least 10 characters')
    .max(256, 'must be at most 256 characters')
    .optional(),
  BILLFOLD_SESSION_TTL_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 90)
    .default(24 * 14),
  BILLFOLD_OPERATIONS_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(90),
  BILLFOLD_LOGIN_ATTEMPTS_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(30),
  // --- issue 16: mail and webhooks ---
  BILLFOLD_SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL (leave it unset to keep mail in the outbox)')
    .optional(),
  BILLFOLD_MAIL_FROM: z.email('must be an email address').default('billing@localhost'),
  BILLFOLD_WEBHOOKS_ALLOW_PRIVATE: bool.default(false),
  BILLFOLD_PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
});

export interface Config {
  readonly database:
    | { readonly kind: 'sqlite'; readonly file: string }
    | { readonly kind: 'postgres'; readonly url: string };
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  readonly clock: string | undefined;
  readonly secretKey: string | undefined;
  readonly logLevel: string;
  readonly logPretty: boolean;
  readonly cookieSecure: boolean;
  readonly trustProxy: boolean;
  readonly admin: { readonly email: string | undefined; readonly password: string | undefined };
  readonly sessionTtlHours: number;
  /** Finished operations older than this move to the archive after the daily run. */
  readonly operationsRetentionDays: number;
  /** Sign-in attempts older than this are deleted after the daily run (the limits read 15 minutes). */
  readonly loginAttemptsRetentionDays: number;
  /** Outgoing mail: no `smtpUrl` → messages are logged and held in the outbox. */
  readonly mail: { readonly smtpUrl: string | undefined; readonly from: string };
  /** Webhook endpoints on loopback/private addresses allowed (tests only). */
  readonly webhooksAllowPrivate: boolean;
  /** Where people reach the web app (links in mail); default `http://<host>:<port>`. */
  readonly publicUrl: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset: `FOO= billfold serve` should not be an error.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  if ((e.BILLFOLD_ADMIN_EMAIL === undefined) !== (e.BILLFOLD_ADMIN_PASSWORD === undefined)) {
    throw new ConfigError(['BILLFOLD_ADMIN_EMAIL and BILLFOLD_ADMIN_PASSWORD must be set together']);
  }
  const dataDir = path.resolve(e.BILLFOLD_DATA_DIR);
  return Object.freeze({
    database: e.DATABASE_URL
      ? { kind: 'postgres' as const, url: e.DATABASE_URL }
      : { kind: 'sqlite' as const, file: path.join(dataDir, 'billfold.sqlite') },
    dataDir,
    port: e.BILLFOLD_PORT ?? e.PORT ?? 8080,
    host: e.BILLFOLD_HOST,
    clock: e.BILLFOLD_CLOCK,
    secretKey: e.BILLFOLD_SECRET_KEY,
    logLevel: e.BILLFOLD_LOG_LEVEL,
    logPretty: e.BILLFOLD_LOG_PRETTY ?? (process.stdout.isTTY === true && env.NODE_ENV !== 'production'),
    cookieSecure: e.BILLFOLD_COOKIE_SECURE,
    trustProxy: e.BILLFOLD_TRUST_PROXY,
    admin: { email: e.BILLFOLD_ADMIN_EMAIL, password: e.BILLFOLD_ADMIN_PASSWORD },
    sessionTtlHours: e.BILLFOLD_SESSION_TTL_HOURS,
    operationsRetentionDays: e.BILLFOLD_OPERATIONS_RETENTION_DAYS,
    loginAttemptsRetentionDays: e.BILLFOLD_LOGIN_ATTEMPTS_RETENTION_DAYS,
    mail: { smtpUrl: e.BILLFOLD_SMTP_URL, from: e.BILLFOLD_MAIL_FROM },
    webhooksAllowPrivate: e.BILLFOLD_WEBHOOKS_ALLOW_PRIVATE,
    publicUrl: (
      e.BILLFOLD_PUBLIC_URL ?? `http://${e.BILLFOLD_HOST}:${e.BILLFOLD_PORT ?? e.PORT ?? 8080}`
    ).replace(/\/+$/, ''),
  });
}
