import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSecrets } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: 'trace', pretty: false, destination }), lines };
}

describe('redactSecrets', () => {
  it('replaces the values of secret query and form parameters, keeps the others', () => {
    expect(redactSecrets("/billmgr?authinfo=a%40b.c:p;a'ss&func=soft&elid=1&auth=0123abcd&out=json")).toBe(
      '/billmgr?authinfo=[redacted]&func=soft&elid=1&auth=[redacted]&out=json',
    );
    expect(redactSecrets('func=auth&username=a%40b.c&password=s3cret&checkcookie=no')).toBe(
      'func=auth&username=a%40b.c&password=[redacted]&checkcookie=no',
    );
    expect(redactSecrets('func=session.newkey&username=u&key=K-123')).toBe(
      'func=session.newkey&username=u&key=[redacted]',
    );
    // Names are matched by what they contain, also percent-encoded.
    expect(redactSecrets('/x?new_password=a&lickey=b&x-csrf-token=c&pass%77d=d&period=1')).toBe(
      '/x?new_password=[redacted]&lickey=[redacted]&x-csrf-token=[redacted]&pass%77d=[redacted]&period=1',
    );
  });

  it('redacts cookie and authorization headers, JSON fields and API tokens in any text', () => {
    expect(redactSecrets('cookie: theme=dark; bf_session=abc123')).toBe(
      'cookie: theme=dark; bf_session=[redacted]',
    );
    expect(redactSecrets('authorization: Bearer bf_abcdefghijklmnopqrstuvwxyz')).toBe(
      'authorization: Bearer [redacted]',
    );
    expect(redactSecrets('Basic dXNlcjpwYXNz')).toBe('Basic [redacted]');
    expect(redactSecrets('{"email":"a@b.c","password":"x\\"y","csrfToken" : "t"}')).toBe(
      '{"email":"a@b.c","password":"[redacted]","csrfToken" : "[redacted]"}',
    );
    expect(redactSecrets('token bf_0123456789abcdefghijKLMNOP_- leaked')).toBe('token bf_[redacted] leaked');
    expect(redactSecrets('GET /api/v1/catalog?productType=vds')).toBe('GET /api/v1/catalog?productType=vds');
  });
});

describe('the logger', () => {
  it('redacts secret fields of logged objects, messages and errors', () => {
    const { logger, lines } = capture();
    logger.info(
      {
        headers: { authorization: 'Bearer x1', cookie: 'bf_session=x2', 'x-csrf-token': 'x3', host: 'h' },
        body: { email: 'a@b.c', password: 'x4', nested: { key: 'x5' } },
        token: 'x6',
      },
      'request at /billmgr?authinfo=u:x7&func=soft',
    );
    logger.error(new Error('bad url /billmgr?password=x8'));
    logger.warn({ err: new Error('failed: auth=x9&func=soft') }, 'wrapped');
    const all = lines.join('\n');
    for (let i = 1; i <= 9; i++) expect(all).not.toContain(`x${i}`);
    expect(all).toContain('func=soft');
    expect(all).toContain('"host":"h"');
    expect(all).toContain('"email":"a@b.c"');
    expect(JSON.parse(lines[1]!).msg).toBe('bad url /billmgr?password=[redacted]');
  });
});
