#!/usr/bin/env node
// `npm test`: the whole suite on SQLite, then the database tests again on PostgreSQL.
// Prints a final line `N passed, N failed` (counted from vitest's JSON reports) and exits
// non-zero on any failure. Extra arguments go to vitest (e.g. `npm test -- src/domain`).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const resultsDir = path.join(root, 'test-results');
fs.mkdirSync(resultsDir, { recursive: true });
const pgUrl = process.env.BILLFOLD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ci = process.env.CI === 'true' || process.env.CI === '1';
const only = process.env.BILLFOLD_TEST_DB; // run one engine only when set
const extra = process.argv.slice(2);

async function postgresReachable() {
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensurePostgres() {
  if (await postgresReachable()) return true;
  // The machines we run on keep a Debian PostgreSQL cluster that may be stopped.
  const versions = fs.existsSync('/etc/postgresql') ? fs.readdirSync('/etc/postgresql') : [];
  for (const v of versions) {
    spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', v, 'main', 'start'], { stdio: 'inherit' });
  }
  for (let i = 0; i < 20; i++) {
    if (await postgresReachable()) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

function runVitest(engine) {
  const report = path.join(resultsDir, `${engine}.json`);
  fs.rmSync(report, { force: true });
  console.log(`\n=== tests on ${engine} ===\n`);
  const res = spawnSync(
    process.execPath,
    [
      path.join(root, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${report}`,
      ...extra,
    ],
    { stdio: 'inherit', cwd: root, env: { ...process.env, BILLFOLD_TEST_DB: engine } },
  );
  if (!fs.existsSync(report)) return { passed: 0, failed: 1, crashed: true, status: res.status };
  const json = JSON.parse(fs.readFileSync(report, 'utf8'));
  // A file that fails to load counts as a failure even though it has no tests.
  const brokenFiles = (json.testResults ?? []).filter(
    (f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0,
  ).length;
  return {
    passed: json.numPassedTests,
    failed: json.numFailedTests + brokenFiles,
    crashed: false,
    status: res.status,
  };
}

let passed = 0;
let failed = 0;
let problems = 0;
const engines = only ? [only] : ['sqlite', 'postgres'];
for (const engine of engines) {
  if (engine === 'postgres' && !(await ensurePostgres())) {
    const msg = `PostgreSQL is not reachable at ${pgUrl}: the PostgreSQL run cannot happen.`;
    if (ci || only === 'postgres') {
      console.error(msg);
      problems++;
      continue;
    }
    console.warn(`\nWARNING: ${msg} Start it (see README) to run the suite on both engines.\n`);
    continue;
  }
  const r = runVitest(engine);
  passed += r.passed;
  failed += r.failed;
  if (r.status !== 0 && r.failed === 0) problems++;
}
if (problems > 0 && failed === 0) failed = problems;
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
