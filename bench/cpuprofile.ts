/**
 * Sums up a V8 CPU profile (`.cpuprofile`, as written by `--cpu-prof` or BENCH_CPU_PROF): self time
 * per function and per file (node_modules packages by package name), and the total time under each
 * function (self + callees, counted once per sample even when recursive).
 *
 *   npx tsx bench/cpuprofile.ts <file.cpuprofile> [rows]
 */
import fs from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** `file:///…/node_modules/fastify/lib/x.js` → `fastify`; project files relative to the repository. */
export function fileOf(url: string): string {
  if (url === '') return '(native/V8)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const src = url.search(/\/(src|bench)\//);
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

export function summarise(profile: Profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfByFn = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const totalByFn = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const node = byId.get(id);
    if (!node) return;
    const f = node.callFrame;
    const fn = `${f.functionName || '(anonymous)'} ${fileOf(f.url)}:${f.lineNumber + 1}`;
    selfByFn.set(fn, (selfByFn.get(fn) ?? 0) + dt);
    selfByFile.set(fileOf(f.url), (selfByFile.get(fileOf(f.url)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const c = byId.get(at)!.callFrame;
      const key = `${c.functionName || '(anonymous)'} ${fileOf(c.url)}:${c.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      totalByFn.set(key, (totalByFn.get(key) ?? 0) + dt);
    }
  });
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { total, self: sorted(selfByFn), files: sorted(selfByFile), inclusive: sorted(totalByFn) };
}

function main() {
  const [file, rowsArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: tsx bench/cpuprofile.ts <file.cpuprofile> [rows]');
  const rows = Number(rowsArg ?? 30);
  const s = summarise(JSON.parse(fs.readFileSync(file, 'utf8')) as Profile);
  const line = ([name, us]: [string, number]) =>
    `${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / s.total).toFixed(1).padStart(5)} %  ${name}`;
  const out = [
    `${file}: ${(s.total / 1000).toFixed(0)} ms sampled`,
    '',
    'self time by file/package:',
    ...s.files.slice(0, rows).map(line),
    '',
    'self time by function:',
    ...s.self.slice(0, rows).map(line),
    '',
    'total time (self + callees) by function:',
    ...s.inclusive.slice(0, rows).map(line),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
