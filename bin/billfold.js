#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx billfold …` works from a checkout without a build step.
// tsx is registered in this very process (no child process): signals such as SIGTERM from a process
// manager reach `billfold serve` directly, and the exit code is the CLI's own.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await import(pathToFileURL(join(root, 'src/cli/main.ts')).href);
