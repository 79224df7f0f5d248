import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecretBox, loadMasterKey, MASTER_KEY_FILE, parseMasterKey, SecretBoxError } from './crypto.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'billfold-crypto-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const box = createSecretBox(randomBytes(32));

/** Replaces part `index` (1 iv, 2 tag, 3 ciphertext) of a sealed value. */
const withPart = (sealed: string, index: number, f: (b: Buffer) => Buffer): string => {
  const parts = sealed.split(':');
  parts[index] = f(Buffer.from(parts[index]!, 'base64url')).toString('base64url');
  return parts.join(':');
};
const flipFirstBit = (b: Buffer) => {
  const c = Buffer.from(b);
  c[0] = c[0]! ^ 1;
  return c;
};

describe('secret box (AES-256-GCM)', () => {
  it('opens what it sealed, for any string including unicode', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' })),
        (s) => {
          expect(box.open(box.seal(s))).toBe(s);
        },
      ),
      { numRuns: 300 },
    );
    expect(box.open(box.seal(''))).toBe('');
    expect(box.open(box.seal('пароль 🔑 密码'))).toBe('пароль 🔑 密码');
  });

  it('seals the same plaintext differently each time, without the plaintext in the output', () => {
    const secret = 'upstream-password-1234567890';
    const a = box.seal(secret);
    const b = box.seal(secret);
    expect(a).not.toBe(b);
    expect(a.startsWith('v1:')).toBe(true);
    for (const sealed of [a, b]) {
      expect(sealed).not.toContain(secret);
      expect(sealed).not.toContain(Buffer.from(secret).toString('base64url'));
      expect(sealed).not.toContain(Buffer.from(secret).toString('hex'));
    }
  });

  it('refuses a tampered ciphertext, tag or iv', () => {
    const sealed = box.seal('some secret value');
    for (const index of [1, 2, 3]) {
      expect(() => box.open(withPart(sealed, index, flipFirstBit))).toThrow(SecretBoxError);
    }
  });

  it('refuses a truncated tag (short GCM tags would make forgery cheap) and a short iv', () => {
    const sealed = box.seal('some secret value');
    for (const n of [4, 8, 12, 15]) {
      expect(() => box.open(withPart(sealed, 2, (t) => t.subarray(0, n)))).toThrow(SecretBoxError);
    }
    expect(() => box.open(withPart(sealed, 1, (iv) => iv.subarray(0, 8)))).toThrow(SecretBoxError);
    expect(() => box.open(withPart(sealed, 3, (ct) => Buffer.concat([ct, Buffer.from([0])])))).toThrow(
      SecretBoxError,
    );
  });

  it('refuses values that are not sealed secrets', () => {
    for (const bad of ['', 'plain text', 'v2:a:b:c', 'v1:a:b', 'v1:a:b:c:d']) {
      expect(() => box.open(bad)).toThrow(SecretBoxError);
    }
  });

  it('cannot open with another key', () => {
    const other = createSecretBox(randomBytes(32));
    expect(() => other.open(box.seal('secret'))).toThrow(SecretBoxError);
  });

  it('needs a 32-byte key', () => {
    expect(() => createSecretBox(randomBytes(16))).toThrow(SecretBoxError);
  });
});

describe('master key', () => {
  it('parses 64 hex digits, base64 and base64url of 32 bytes, and nothing else', () => {
    const bytes = randomBytes(32);
    expect(parseMasterKey(bytes.toString('hex'))).toEqual(bytes);
    expect(parseMasterKey(bytes.toString('hex').toUpperCase())).toEqual(bytes);
    expect(parseMasterKey(bytes.toString('base64'))).toEqual(bytes);
    expect(parseMasterKey(bytes.toString('base64').replace(/=$/, ''))).toEqual(bytes);
    expect(parseMasterKey(bytes.toString('base64url'))).toEqual(bytes);
    for (const bad of ['', 'abc', randomBytes(16).toString('hex'), randomBytes(31).toString('base64')]) {
      expect(() => parseMasterKey(bad)).toThrow(SecretBoxError);
    }
    // Node's base64 decoder skips unknown characters; a key must not be taken from noise.
    expect(() => parseMasterKey(`!!!!${'A'.repeat(43)}`)).toThrow(SecretBoxError);
    expect(() => parseMasterKey(`${bytes.toString('base64')} `)).toThrow(SecretBoxError);
  });

  it('generates <dataDir>/secret.key with mode 0600 exactly once, then reads the same key back', () => {
    const dataDir = path.join(tempDir(), 'nested', 'data');
    const first = loadMasterKey({ fromEnv: undefined, dataDir });
    const file = path.join(dataDir, MASTER_KEY_FILE);
    expect(first.source).toBe('generated');
    expect(first.file).toBe(file);
    expect(first.key).toHaveLength(32);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const stored = fs.readFileSync(file, 'utf8');
    expect(stored.trim()).toBe(first.key.toString('hex'));

    const second = loadMasterKey({ fromEnv: undefined, dataDir });
    expect(second.source).toBe('file');
    expect(second.key).toEqual(first.key);
    expect(fs.readFileSync(file, 'utf8')).toBe(stored);
    // No temporary files left behind.
    expect(fs.readdirSync(dataDir)).toEqual([MASTER_KEY_FILE]);

    // A secret sealed with the generated key opens with the key read back.
    const sealed = createSecretBox(first.key).seal('kept across restarts');
    expect(createSecretBox(second.key).open(sealed)).toBe('kept across restarts');
  });

  it('refuses a key file that others can read, and names the fix', () => {
    const dataDir = tempDir();
    const { file } = loadMasterKey({ fromEnv: undefined, dataDir });
    for (const mode of [0o644, 0o604, 0o640]) {
      fs.chmodSync(file!, mode);
      expect(() => loadMasterKey({ fromEnv: undefined, dataDir })).toThrow(/chmod 600/);
    }
    fs.chmodSync(file!, 0o600);
    expect(loadMasterKey({ fromEnv: undefined, dataDir }).source).toBe('file');
  });

  it('refuses a corrupt key file, naming the file rather than the environment variable', () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, MASTER_KEY_FILE);
    fs.writeFileSync(file, 'not a key\n', { mode: 0o600 });
    expect(() => loadMasterKey({ fromEnv: undefined, dataDir })).toThrow(file);
    expect(fs.readFileSync(file, 'utf8')).toBe('not a key\n');
  });

  it('prefers the key from the environment (hex or base64) and writes no file', () => {
    const bytes = randomBytes(32);
    for (const text of [bytes.toString('hex'), bytes.toString('base64')]) {
      const dataDir = tempDir();
      const fromFile = loadMasterKey({ fromEnv: undefined, dataDir });
      const r = loadMasterKey({ fromEnv: text, dataDir });
      expect(r.source).toBe('env');
      expect(r.key).toEqual(bytes);
      expect(r.key).not.toEqual(fromFile.key);
      const empty = tempDir();
      loadMasterKey({ fromEnv: text, dataDir: empty });
      expect(fs.readdirSync(empty)).toEqual([]);
    }
  });
});
