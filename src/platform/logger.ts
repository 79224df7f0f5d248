import { type Logger, pino } from 'pino';

export type { Logger };

const REDACT = [
  'password',
  '*.password',
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  '*.token',
];

/**
 * JSON logs by default (one line per event, for log shippers); pretty on a developer's
 * terminal. `stream` 2 sends logs to stderr: the CLI's stdout is the command's output, which
 * scripts parse (`account show --json`), and a warning must not end up inside it.
 */
export function createLogger(opts: { level: string; pretty: boolean; stream?: 1 | 2 }): Logger {
  const fd = opts.stream ?? 1;
  const options = {
    level: opts.level,
    base: { app: 'billfold' },
    redact: { paths: REDACT, censor: '[redacted]' },
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
  return fd === 1 ? pino(options) : pino(options, pino.destination({ fd, sync: true }));
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
