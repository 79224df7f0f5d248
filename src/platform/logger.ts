import { type DestinationStream, type LogFn, type Logger, pino } from 'pino';

export type { Logger };

/**
 * What callers prove themselves with never reaches the log: passwords (`password`, `passwd`,
 * the `authinfo=user:password` pair), sessions (`auth=<id>`, `bf_session`), one-time login and
 * license keys (`key`, `lickey`), API and CSRF tokens. A parameter, form field, cookie or JSON
 * field is secret when its name contains one of these words.
 */
const SECRET_NAME = /pass|key|token|auth|csrf|secret|session/i;

const CENSOR = '[redacted]';

const decodeName = (name: string): string => {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
};

/**
 * `name=value` in a query string, a form body or a cookie header. The value runs to the next
 * `&`, white space or double quote (a raw `;` or `'` can be part of a password in a URL).
 */
const PAIR = /(^|[?&;\s])([^=&?;\s"]+)=([^&\s"]*)/g;
/** `"name": "value"` in JSON text. */
const JSON_FIELD = /"((?:[^"\\]|\\.)*)"(\s*:\s*)"(?:[^"\\]|\\.)*"/g;
/** `Authorization: Bearer …` / `Basic …`. */
const SCHEME_CREDENTIALS = /\b(Bearer|Basic)\s+[^\s",]+/gi;
/** An API token wherever it appears (its prefix is there for exactly this). */
const API_TOKEN = /\bbf_[A-Za-z0-9_-]{20,}/g;

/**
 * The one redaction of text: URLs, form bodies, cookie and authorization headers, JSON text,
 * messages. Names stay (the line still says `authinfo=…&func=soft`), secret values go.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(JSON_FIELD, (all, name: string, colon: string) =>
      SECRET_NAME.test(name) ? `"${name}"${colon}"${CENSOR}"` : all,
    )
    .replace(PAIR, (all, before: string, name: string) =>
      SECRET_NAME.test(decodeName(name)) ? `${before}${name}=${CENSOR}` : all,
    )
    .replace(SCHEME_CREDENTIALS, (_all, scheme: string) => `${scheme} ${CENSOR}`)
    .replace(API_TOKEN, `bf_${CENSOR}`);
}

/** Object fields redacted wherever a log call passes them, down to two levels below the top. */
const SECRET_FIELDS = [
  'password',
  'authinfo',
  'auth',
  'key',
  'token',
  'csrfToken',
  'sessionToken',
  'authorization',
  'cookie',
  'set-cookie',
  'x-csrf-token',
];
const REDACT = SECRET_FIELDS.map((f) => `["${f}"]`).flatMap((f) => [f, `*${f}`, `*.*${f}`]);

interface LoggedRequest {
  readonly method: string;
  readonly url: string;
  readonly host?: string;
  readonly ip?: string;
  readonly socket?: { readonly remotePort?: number } | null;
}

/** Fastify's request line (method, URL, host, client) with the URL's secrets redacted. */
const serializeRequest = (req: LoggedRequest) => ({
  method: req.method,
  url: redactSecrets(req.url),
  host: req.host,
  remoteAddress: req.ip,
  remotePort: req.socket?.remotePort,
});

/** Errors keep type, message and stack; a URL or form quoted in them loses its secrets. */
const serializeError = (err: Error) => {
  const out = pino.stdSerializers.err(err) as ReturnType<typeof pino.stdSerializers.err> & {
    message?: unknown;
    stack?: unknown;
  };
  if (typeof out.message === 'string') out.message = redactSecrets(out.message);
  if (typeof out.stack === 'string') out.stack = redactSecrets(out.stack);
  return out;
};

/** Every message string (Fastify's included, e.g. its "Route … not found") is redacted too. */
function logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  const a = args as unknown[];
  for (let i = 0; i < a.length; i++) if (typeof a[i] === 'string') a[i] = redactSecrets(a[i] as string);
  // `log.error(err)` takes its message from the error: give it the redacted one.
  if (a.length === 1 && a[0] instanceof Error) a.push(redactSecrets(a[0].message));
  method.apply(this, a as Parameters<LogFn>);
}

/**
 * JSON logs by default (one line per event, for log shippers); pretty on a developer's
 * terminal. `stream` 2 sends logs to stderr: the CLI's stdout is the command's output, which
 * scripts parse (`account show --json`), and a warning must not end up inside it.
 */
export function createLogger(opts: {
  level: string;
  pretty: boolean;
  stream?: 1 | 2;
  /** Where JSON lines go instead of a file descriptor (tests capture them). */
  destination?: DestinationStream;
}): Logger {
  const fd = opts.stream ?? 1;
  const options = {
    level: opts.level,
    base: { app: 'billfold' },
    redact: { paths: REDACT, censor: CENSOR },
    // Fastify takes these over its own: its `req` serializer logs the URL as sent.
    serializers: { req: serializeRequest, err: serializeError },
    hooks: { logMethod },
  };
  if (opts.pretty) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: {
          destination: fd,
          colorize: true,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,app',
        },
      },
    });
  }
  if (opts.destination) return pino(options, opts.destination);
  return fd === 1 ? pino(options) : pino(options, pino.destination({ fd, sync: true }));
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
