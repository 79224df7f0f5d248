/**
 * docs/benchmarks-daily-run.svg: the daily run against its write floor and its throughput, by
 * book size, one line per engine. A hand-built SVG (no charting dependency): two panels with a
 * logarithmic x axis (book size) and a linear y axis from 0.
 */
import type { BillingResult } from './billing.js';

export const DAILY_RUN_CHART = 'benchmarks-daily-run.svg';

const COLORS: Record<string, string> = { sqlite: '#1f6fb4', postgres: '#c2410c' };
const FALLBACK_COLORS = ['#15803d', '#7c3aed', '#be185d'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f = (n: number) => n.toFixed(1);

/** 1k, 10k, 1M… */
export function sizeLabel(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}k`;
  return String(n);
}

/** A round step giving about `count` ticks from 0 to `max`. */
function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

const tickLabel = (v: number) =>
  v >= 1e6
    ? `${Number((v / 1e6).toPrecision(3))}M`
    : v >= 1e4
      ? `${Number((v / 1e3).toPrecision(3))}k`
      : String(v);

interface Series {
  readonly label: string;
  /** Point labels to the left of the points (a second engine's, apart from the first's). */
  readonly labelsLeft: boolean;
  readonly color: string;
  readonly dashed: boolean;
  readonly points: readonly { x: number; y: number; text: string }[];
}

interface Panel {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** A horizontal reference line (the floor, 1×). */
  readonly reference?: { y: number; label: string };
}

function panel(p: Panel, x0: number, y0: number, w: number, h: number, sizes: readonly number[]): string[] {
  const out: string[] = [];
  const left = x0 + 64;
  const right = x0 + w - 16;
  const top = y0 + 28;
  const bottom = y0 + h - 46;
  const lo = Math.log10(Math.min(...sizes) / 2);
  const hi = Math.log10(Math.max(...sizes) * 2);
  const sx = (v: number) => left + ((Math.log10(v) - lo) / (hi - lo)) * (right - left);
  const values = p.series.flatMap((s) => s.points.map((pt) => pt.y));
  const ticks = niceTicks(Math.max(...values, p.reference?.y ?? 0) * 1.1);
  const yMax = ticks[ticks.length - 1]!;
  const sy = (v: number) => bottom - (v / yMax) * (bottom - top);

  out.push(
    `<text x="${f((left + right) / 2)}" y="${y0 + 14}" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`,
  );
  // Grid and y axis.
  for (const t of ticks)
    out.push(
      `<line x1="${left}" y1="${f(sy(t))}" x2="${right}" y2="${f(sy(t))}" stroke="#e5e7eb"/>`,
      `<text x="${left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" font-size="11">${esc(tickLabel(t))}</text>`,
    );
  // x axis: powers of ten in range, and the measured sizes.
  const xTicks = new Set<number>(sizes);
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) xTicks.add(10 ** e);
  for (const t of [...xTicks].sort((a, b) => a - b)) {
    const measured = sizes.includes(t);
    out.push(
      `<line x1="${f(sx(t))}" y1="${top}" x2="${f(sx(t))}" y2="${bottom}" stroke="${measured ? '#d1d5db' : '#f3f4f6'}"/>`,
      `<text x="${f(sx(t))}" y="${bottom + 16}" text-anchor="middle" font-size="11"${measured ? '' : ' fill="#9ca3af"'}>${esc(sizeLabel(t))}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#374151"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#374151"/>`,
    `<text x="${f((left + right) / 2)}" y="${bottom + 36}" text-anchor="middle" font-size="12">book size (services, log scale)</text>`,
    `<text transform="translate(${x0 + 16} ${f((top + bottom) / 2)}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`,
  );
  if (p.reference) {
    const y = sy(p.reference.y);
    out.push(
      `<line x1="${left}" y1="${f(y)}" x2="${right}" y2="${f(y)}" stroke="#111827" stroke-dasharray="2 3"/>`,
      `<text x="${left + 4}" y="${f(y - 4)}" font-size="11" fill="#111827">${esc(p.reference.label)}</text>`,
    );
  }
  for (const s of p.series) {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (pts.length > 1)
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.map((pt) => `${f(sx(pt.x))},${f(sy(pt.y))}`).join(' ')}"/>`,
      );
    for (const pt of pts)
      out.push(
        s.dashed
          ? `<rect x="${f(sx(pt.x) - 3.5)}" y="${f(sy(pt.y) - 3.5)}" width="7" height="7" fill="white" stroke="${s.color}" stroke-width="1.5"/>`
          : `<circle cx="${f(sx(pt.x))}" cy="${f(sy(pt.y))}" r="4" fill="${s.color}"/>`,
        `<text x="${f(sx(pt.x) + (s.labelsLeft ? -7 : 7))}" y="${f(sy(pt.y) - 7)}" font-size="10" fill="${s.color}"${
          s.labelsLeft ? ' text-anchor="end"' : ''
        }>${esc(pt.text)}</text>`,
      );
  }
  return out;
}

/** The chart for `results` (one per engine and book size); null without results. */
export function dailyRunChart(results: readonly BillingResult[]): string | null {
  if (results.length === 0) return null;
  const engines = [...new Set(results.map((r) => r.engine))];
  const sizes = [...new Set(results.map((r) => r.book.services))].sort((a, b) => a - b);
  const color = (e: string) =>
    COLORS[e] ?? FALLBACK_COLORS[(engines as string[]).indexOf(e) % FALLBACK_COLORS.length]!;
  const of = (e: string) => results.filter((r) => r.engine === e);
  const ratio = (seconds: number, r: BillingResult) => seconds / r.floor.seconds;
  const W = 1000;
  const H = 470;
  const panelTop = 76;
  const ratioPanel: Panel = {
    title: 'Run time ÷ write floor (lower is better; target ≤ 1× for the rerun)',
    yLabel: 'run seconds ÷ floor seconds',
    reference: { y: 1, label: 'floor (1×)' },
    series: engines.flatMap((e) => [
      {
        label: `${e}, first run`,
        labelsLeft: engines.indexOf(e) % 2 === 1,
        color: color(e),
        dashed: false,
        points: of(e).map((r) => {
          const v = ratio(r.first.seconds, r);
          return { x: r.book.services, y: v, text: `${v.toFixed(1)}×` };
        }),
      },
      {
        label: `${e}, rerun`,
        labelsLeft: engines.indexOf(e) % 2 === 1,
        color: color(e),
        dashed: true,
        points: of(e).map((r) => {
          const v = ratio(r.rerun.seconds, r);
          return { x: r.book.services, y: v, text: `${v.toFixed(1)}×` };
        }),
      },
    ]),
  };
  const throughputPanel: Panel = {
    title: 'Book services per second (first run)',
    yLabel: 'book services / s',
    series: engines.map((e) => ({
      label: e,
      labelsLeft: engines.indexOf(e) % 2 === 1,
      color: color(e),
      dashed: false,
      points: of(e).map((r) => {
        const v = r.book.services / r.first.seconds;
        return { x: r.book.services, y: v, text: String(Math.round(v)) };
      }),
    })),
  };
  const legend: string[] = [];
  let lx = 70;
  for (const e of engines) {
    legend.push(
      `<line x1="${lx}" y1="52" x2="${lx + 26}" y2="52" stroke="${color(e)}" stroke-width="2"/>`,
      `<circle cx="${lx + 13}" cy="52" r="4" fill="${color(e)}"/>`,
      `<text x="${lx + 32}" y="56" font-size="12">${esc(`${e}, first run`)}</text>`,
    );
    lx += 150;
    legend.push(
      `<line x1="${lx}" y1="52" x2="${lx + 26}" y2="52" stroke="${color(e)}" stroke-width="2" stroke-dasharray="6 4"/>`,
      `<rect x="${lx + 9.5}" y="48.5" width="7" height="7" fill="white" stroke="${color(e)}" stroke-width="1.5"/>`,
      `<text x="${lx + 32}" y="56" font-size="12">${esc(`${e}, rerun (same date)`)}</text>`,
    );
    lx += 200;
  }
  const TITLE = 'Daily billing run (runBilling) by book size: against its raw write floor, and throughput';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<title>${esc(TITLE)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">${esc(TITLE)}</text>`,
    ...legend,
    ...panel(ratioPanel, 0, panelTop, W / 2, H - panelTop, sizes),
    ...panel(throughputPanel, W / 2, panelTop, W / 2, H - panelTop, sizes),
    '</svg>',
    '',
  ].join('\n');
}
