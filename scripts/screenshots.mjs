#!/usr/bin/env node
// `npm run screenshots`: runs the browser journeys (test/ui, on SQLite; each saves its
// screenshots into test-artifacts/), then copies README's four main screens into
// docs/screenshots/. Needs web/dist (`npm run build:web`) and /usr/bin/chromium.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** README's screen ← the journey's screenshot (test-artifacts/<name>.png). */
const SCREENS = {
  'services.png': 'client-services-desktop', // test/ui/client-area.db.test.ts
  'service-detail.png': 'client-service-desktop', // the same journey: the key copied
  'order-quote.png': 'order-quote-cut-desktop', // test/ui/order.db.test.ts: "15 of N days"
  'balance.png': 'client-balance-desktop', // test/ui/account.db.test.ts
};

const run = spawnSync('npx', ['vitest', 'run', 'test/ui'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, BILLFOLD_TEST_DB: 'sqlite' },
});
if (run.status !== 0) {
  process.stderr.write('The browser journeys failed: docs/screenshots/ is left as it was.\n');
  process.exit(run.status ?? 1);
}
mkdirSync(`${root}/docs/screenshots`, { recursive: true });
for (const [target, source] of Object.entries(SCREENS)) {
  const from = `${root}/test-artifacts/${source}.png`;
  if (!existsSync(from)) {
    process.stderr.write(`${from} was not taken: did its test change its name?\n`);
    process.exit(1);
  }
  copyFileSync(from, `${root}/docs/screenshots/${target}`);
  process.stdout.write(`docs/screenshots/${target} ← test-artifacts/${source}.png\n`);
}
