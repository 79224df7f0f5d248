import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI as a user runs it: a real child process through tsx. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN = join(ROOT, 'src/cli/main.ts');

/** The parent's environment without anything that configures Billfold, so only `env` does. */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(BILLFOLD_|DATABASE_URL$|PORT$|NODE_OPTIONS$)/.test(k)) continue;
    base[k] = v;
  }
  return { ...base, ...env };
}

/** A running `billfold …` with its output so far. */
export interface Running {
  readonly child: ChildProcess;
  readonly output: () => { stdout: string; stderr: string };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnBillfold(args: string[], env: Record<string, string>): Running {
  return watch(
    spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** A spawned process (its stdout and stderr piped) with its output collected as it comes. */
export function watch(child: ChildProcess): Running {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => ({ stdout, stderr }), exited };
}

/** Polls the process's stdout until `find` returns something; fails when it exits or time runs out. */
export async function waitForOutput<T>(
  p: Running,
  find: (stdout: string) => T | null | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void p.exited.then(() => {
    gone = true;
  });
  for (;;) {
    const found = find(p.output().stdout);
    if (found) return found;
    if (gone || Date.now() > deadline) {
      const { stdout, stderr } = p.output();
      throw new Error(`billfold did not get there (exited: ${gone}):\n${stdout}\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
