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

const IV_BYTES = 12;
const TAG_BYTES = 16;

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new SecretBoxError('The master key must be 32 bytes');
  return {
    seal(plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return ['v1', iv.toString('base64url'), tag.toString('base64url'), ct.toString('base64url')].join(':');
    },
    open(sealed) {
      const parts = sealed.split(':');
      if (parts.length !== 4 || parts[0] !== 'v1') throw new SecretBoxError('Not a sealed secret');
      const [, ivText, tagText, ctText] = parts as [string, string, string, string];
      const iv = Buffer.from(ivText, 'base64url');
      const tag = Buffer.from(tagText, 'base64url');
      // Node accepts GCM tags as short as 4 bytes unless told the length: a truncated tag would
      // make forgery cheap, so only the full 16-byte tag (and the 12-byte iv we write) is accepted.
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
        throw new SecretBoxError('The secret cannot be opened: wrong master key or tampered value');
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(Buffer.from(ctText, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new SecretBoxError('The secret cannot be opened: wrong master key or tampered value');
      }
    },
  };
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^(?:[A-Za-z0-9+/]{43}=?|[A-Za-z0-9_-]{43})$/;

/**
 * Parses a master key: 64 hex digits, or base64/base64url of 32 bytes. Strict: Node's base64
 * decoder skips characters it does not know, so without the pattern a typo or a passphrase
 * could decode to some 32 bytes and be taken as the key.
 */
export function parseMasterKey(text: string, source = 'BILLFOLD_SECRET_KEY'): Buffer {
  const key = HEX_KEY.test(text)
    ? Buffer.from(text, 'hex')
    : BASE64_KEY.test(text)
      ? Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64')
      : null;
  if (key?.length !== 32) throw new SecretBoxError(`${source} must be 32 bytes (64 hex digits or base64)`);
  return key;
}

/** Whether `text` is a valid master key (for config validation). */
export const isMasterKeyText = (text: string): boolean => {
  try {
    parseMasterKey(text);
    return true;
  } catch {
    return false;
  }
};

export const MASTER_KEY_FILE = 'secret.key';

/** No master key where one must be: a new one would not open the secrets already stored. */
export class MasterKeyNotFoundError extends SecretBoxError {
  constructor(readonly file: string) {
    super(`No master key at ${file}.`);
    this.name = 'MasterKeyNotFoundError';
  }
}

/**
 * The master key: from the environment if given, otherwise read from (or generated once
 * into) `<dataDir>/secret.key` with mode 0600. Losing this file means losing the stored
 * secrets, so it is created exclusively and never overwritten.
 */
export function loadMasterKey(opts: {
  fromEnv: string | undefined;
  dataDir: string;
  /** false: the key must exist already (commands that only use a set-up installation). */
  create?: boolean;
}): {
  key: Buffer;
  source: 'env' | 'file' | 'generated';
  file?: string;
} {
  if (opts.fromEnv) return { key: parseMasterKey(opts.fromEnv), source: 'env' };
  const file = path.join(opts.dataDir, MASTER_KEY_FILE);
  if (!fs.existsSync(file)) {
    if (opts.create === false) throw new MasterKeyNotFoundError(file);
    fs.mkdirSync(opts.dataDir, { recursive: true });
    // Written to a private temporary file first, then linked into place: link() fails if the
    // key already exists, so two processes starting together agree on one key, and neither
    // can read a half-written file.
    const tmp = path.join(
      opts.dataDir,
      `.${MASTER_KEY_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`,
    );
    const key = randomBytes(32);
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.fchmodSync(fd, 0o600);
      fs.writeSync(fd, `${key.toString('hex')}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, file);
      syncDir(opts.dataDir);
      return { key, source: 'generated', file };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SecretBoxError(
      `${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`,
    );
  }
  return { key: parseMasterKey(fs.readFileSync(file, 'utf8').trim(), file), source: 'file', file };
}

/** Makes a new directory entry durable (best effort: not every platform can fsync a directory). */
function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // ignore
  }
}
