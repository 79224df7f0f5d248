#!/usr/bin/env node
// `npm run dev`: Billfold under `tsx watch` (restarts when src/ changes) and the web app under
// Vite (hot reload), in one terminal. Vite forwards /api, /billmgr and /manager to the server
// (web/vite.config.ts), so the app on http://localhost:5173 talks to it same-origin.
//
// The server's port is BILLFOLD_PORT (default 8080); Vite's target follows it unless
// BILLFOLD_URL says otherwise. With BILLFOLD_URL set to another server, only Vite starts
// (hot reload against a Billfold running elsewhere). Ctrl-C stops both; if one exits, so does
// the other.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const port = process.env.BILLFOLD_PORT ?? process.env.PORT ?? '8080';
const external = process.env.BILLFOLD_URL !== undefined;
const env = { ...process.env, BILLFOLD_URL: process.env.BILLFOLD_URL ?? `http://127.0.0.1:${port}` };

const children = [];
let stopping = false;
function start(name, command, args) {
  const child = spawn(command, args, { cwd: root, env, stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`\n[dev] ${name} stopped (${signal ?? `exit ${code}`}); stopping the rest.\n`);
      stop(code ?? 1);
    }
  });
  children.push(child);
}

function stop(code) {
  stopping = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500).unref();
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.on('exit', r)) : null))).then(
    () => process.exit(code),
  );
}

if (!external) start('billfold', bin('tsx'), ['watch', '--clear-screen=false', 'src/cli/main.ts', 'serve']);
start('vite', bin('vite'), ['--config', 'web/vite.config.ts']);
process.stdout.write(
  `[dev] web app with hot reload at the address Vite prints (http://localhost:5173 unless taken)  →  Billfold at ${env.BILLFOLD_URL}${external ? ' (already running)' : ' (tsx watch)'}\n`,
);
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
