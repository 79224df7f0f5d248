import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnBillfold } from '../helpers/cli.js';
import { TEST_ENGINE, TEST_PG_URL } from '../helpers/db.js';
import { pdfText } from '../helpers/pdf.js';

/**
 * `billfold invoice show N [--pdf file]` as a user runs it (tsx child processes), on an SQLite
 * file or a fresh PostgreSQL schema: a payment recorded by the CLI gets receipt No. 1, which
 * the CLI prints and writes as a PDF that reads back with its totals and the Cyrillic name.
 */
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

async function pgQuery(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: TEST_PG_URL });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

let dir: string;
let env: Record<string, string>;
let schema: string | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'billfold-invoice-cli-'));
  env = { BILLFOLD_DATA_DIR: dir };
  if (TEST_ENGINE === 'postgres') {
    schema = `bf_test_${randomBytes(6).toString('hex')}`;
    await pgQuery(`create schema ${schema}`);
    const sep = TEST_PG_URL.includes('?') ? '&' : '?';
    env.DATABASE_URL = `${TEST_PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  }
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (schema) await pgQuery(`drop schema if exists ${schema} cascade`);
});

async function cli(...args: string[]) {
  const p = spawnBillfold(args, env);
  const { code } = await p.exited;
  return { code, ...p.output() };
}

describe('billfold invoice show', () => {
  it('prints a receipt by its number and writes its PDF (English and Russian); an unknown number fails', async () => {
    expect((await cli('migrate')).code).toBe(0);
    const created = await cli('account', 'create', '--email', 'ivan@example.com', '--name', 'ИП Иванов Иван');
    expect(created.code, created.stderr).toBe(0);
    const paid = await cli(
      'payment',
      'add',
      '--email',
      'ivan@example.com',
      '--amount',
      '120.00',
      '--method',
      'bank',
      '--ref',
      'R-1',
    );
    expect(paid.code, paid.stderr).toBe(0);

    const enFile = join(dir, 'receipt-1.pdf');
    const ruFile = join(dir, 'receipt-1-ru.pdf');
    const [shown, json, missing, badNumber] = await Promise.all([
      cli('invoice', 'show', '1', '--pdf', enFile),
      cli('invoice', 'show', '1', '--json', '--pdf', ruFile, '--lang', 'ru'),
      cli('invoice', 'show', '2'),
      cli('invoice', 'show', 'x1'),
    ]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^Receipt 1 of \d{4}-\d{2}-\d{2} \(id 1\)$/m);
    expect(shown.stdout).toContain('buyer:  ИП Иванов Иван <ivan@example.com>');
    expect(shown.stdout).toContain('Payment (bank) R-1');
    expect(shown.stdout).toContain('total:  120.00 EUR');
    expect(shown.stdout).toContain('VAT:    0.00 EUR (no VAT)');
    expect(shown.stdout).toContain(`Wrote ${enFile}`);
    const en = await pdfText(readFileSync(enFile));
    for (const s of ['Receipt No. 1', 'ИП Иванов Иван', 'Total 120.00 EUR', 'Payment: bank R-1'])
      expect(en).toContain(s);

    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      number: 1,
      kind: 'receipt',
      total: '120.00',
      buyer: { name: 'ИП Иванов Иван', email: 'ivan@example.com' },
    });
    expect(json.stderr).toContain(`Wrote ${ruFile}`);
    const ru = await pdfText(readFileSync(ruFile));
    for (const s of ['Квитанция № 1', 'ИП Иванов Иван', 'Всего 120.00 EUR']) expect(ru).toContain(s);

    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('invoice_not_found');
    expect(badNumber.code).not.toBe(0);
    expect(badNumber.stderr).toContain('must be a positive whole number');
  });
});
