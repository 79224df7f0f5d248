import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { TestContext } from './context.js';

/**
 * A real SMTP server on 127.0.0.1 (the `smtp-server` package) that keeps every message it
 * accepted, decoded enough for assertions: Message-ID, To, Subject, the text and HTML parts.
 * `stop()` takes it down (connections refused) and `start()` brings it back on the same port.
 * `delayDataMs` makes it sit on a message's DATA before answering (a worker killed meanwhile).
 */
export interface ReceivedMail {
  messageId: string;
  to: string;
  subject: string;
  kind: string;
  text: string;
  html: string;
  raw: string;
}

export interface FakeSmtp {
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedMail[];
  /** DATA blocks whose receipt began (before the answer), counted per Message-ID. */
  readonly dataStarted: string[];
  delayDataMs: number;
  /** Recipients refused for good (550). */
  readonly refuse: Set<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function decodeWords(s: string): string {
  return s
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_all, _cs: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : decodeQp(text.replace(/_/g, ' ')),
    );
}

function decodeQp(s: string): string {
  const soft = s.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(soft[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function splitHead(raw: string): { headers: Map<string, string>; body: string } {
  const at = raw.indexOf('\r\n\r\n');
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at + 4);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return { headers, body };
}

function decodeBody(headers: Map<string, string>, body: string): string {
  const enc = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') return decodeQp(body);
  return body;
}

export function parseMail(raw: string): ReceivedMail {
  const { headers, body } = splitHead(raw);
  let text = '';
  let html = '';
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/.exec(type)?.[1];
  if (boundary) {
    for (const part of body.split(`--${boundary}`).slice(1)) {
      if (part.startsWith('--')) break;
      const p = splitHead(part.replace(/^\r\n/, ''));
      const t = p.headers.get('content-type') ?? '';
      const decoded = decodeBody(p.headers, p.body.replace(/\r\n$/, ''));
      if (t.startsWith('text/plain')) text = decoded;
      else if (t.startsWith('text/html')) html = decoded;
    }
  } else if (type.startsWith('text/html')) html = decodeBody(headers, body);
  else text = decodeBody(headers, body);
  return {
    messageId: headers.get('message-id') ?? '',
    to: headers.get('to') ?? '',
    subject: decodeWords(headers.get('subject') ?? ''),
    kind: headers.get('x-billfold-kind') ?? '',
    text: text.replace(/\r\n/g, '\n'),
    html: html.replace(/\r\n/g, '\n'),
    raw,
  };
}

export async function startFakeSmtp(): Promise<FakeSmtp> {
  const received: ReceivedMail[] = [];
  const dataStarted: string[] = [];
  let server: SMTPServer | null = null;
  let port = 0;
  const fake: FakeSmtp = {
    get url() {
      return `smtp://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    received,
    dataStarted,
    delayDataMs: 0,
    refuse: new Set(),
    async start() {
      const s = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        onRcptTo(address, _session, callback) {
          if (fake.refuse.has(address.address))
            callback(Object.assign(new Error('No such mailbox here'), { responseCode: 550 }));
          else callback();
        },
        onData(stream, _session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const mail = parseMail(Buffer.concat(chunks).toString('utf8'));
            dataStarted.push(mail.messageId);
            const accept = () => {
              received.push(mail);
              callback();
            };
            if (fake.delayDataMs > 0) setTimeout(accept, fake.delayDataMs);
            else accept();
          });
        },
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      port = (s.server.address() as AddressInfo).port;
      server = s;
    },
    async stop() {
      const s = server;
      server = null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async close() {
      await fake.stop();
    },
  };
  await fake.start();
  return fake;
}

/** The context with mail going to `url` (undefined: no SMTP server configured), from `billing@hosting.example`. */
export function withSmtp(c: TestContext, url: string | undefined): TestContext {
  return { ...c, config: { ...c.config, mail: { smtpUrl: url, from: 'billing@hosting.example' } } };
}
