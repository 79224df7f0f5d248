import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Secrets at rest (upstream passwords, API keys of processing modules) are sealed with
 * AES-256-GCM. Format: `v1:<iv>:<tag>:<ciphertext>`, each base64url; the version prefix
 * lets us rotate the scheme later. GCM authenticates, so a tampered value fails to open
 * instead of decrypting to garbage.
 */
export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new SecretBoxError('The master key must be 32 bytes');
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return ['v1', iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join(':');
    },
    open(sealed) {
      const parts = sealed.split(':');
      if (parts.length !== 4 || parts[0] !== 'v1') throw new SecretBoxError('Not a sealed secret');
      const [, iv, tag, ct] = parts as [string, string, string, string];
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new SecretBoxError('The secret cannot be opened: wrong master key or tampered value');
      }
    },
  };
}

/** Parses `BILLFOLD_SECRET_KEY`: 64 hex digits or base64 of 32 bytes. */
export function parseMasterKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32)
    throw new SecretBoxError('BILLFOLD_SECRET_KEY must be 32 bytes (64 hex digits or base64)');
  return key;
}

export const MASTER_KEY_FILE = 'secret.key';

/**
 * The master key: from the environment if given, otherwise read from (or generated once
 * into) `<dataDir>/secret.key` with mode 0600. Losing this file means losing the stored
 * secrets, so it is created exclusively and never overwritten.
 */
export function loadMasterKey(opts: { fromEnv: string | undefined; dataDir: string }): {
  key: Buffer;
  source: 'env' | 'file' | 'generated';
  file?: string;
} {
  if (opts.fromEnv) return { key: parseMasterKey(opts.fromEnv), source: 'env' };
  const file = path.join(opts.dataDir, MASTER_KEY_FILE);
  fs.mkdirSync(opts.dataDir, { recursive: true });
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    const key = randomBytes(32);
    fs.writeSync(fd, `${key.toString('hex')}\n`);
    fs.closeSync(fd);
    fs.chmodSync(file, 0o600);
    return { key, source: 'generated', file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SecretBoxError(
      `${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`,
    );
  }
  return { key: parseMasterKey(fs.readFileSync(file, 'utf8').trim()), source: 'file', file };
}
