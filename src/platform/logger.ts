import { type Logger, pino } from 'pino';

export type { Logger };

/** JSON logs by default (one line per event, for log shippers); pretty on a developer's terminal. */
export function createLogger(opts: { level: string; pretty: boolean }): Logger {
  return pino({
    level: opts.level,
    base: { app: 'billfold' },
    redact: {
      paths: [
        'password',
        '*.password',
        'req.headers.authorization',
        'req.headers.cookie',
        'token',
        '*.token',
      ],
      censor: '[redacted]',
    },
    ...(opts.pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app' },
          },
        }
      : {}),
  });
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
