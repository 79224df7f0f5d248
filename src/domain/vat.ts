import { divRoundHalfUp, sum } from './money.js';

/**
 * VAT on documents (D-invoices): prices are VAT-inclusive, so a line's amount is what the client
 * pays and the VAT is the part of it that is tax: `vat = round_half_up(gross × rate / (1 + rate))`
 * per line, in minor units, and `net = gross − vat`. Totals are sums of the rounded lines, so a
 * document's lines always add up to its totals and its total to what the ledger recorded.
 * `rateBp` is in basis points (2000 = 20 %); null means the seller charges no VAT.
 */
export interface VatSplit {
  readonly grossMinor: bigint;
  readonly netMinor: bigint;
  readonly vatMinor: bigint;
}

export const MAX_VAT_RATE_BP = 10_000;

export function splitVat(grossMinor: bigint, rateBp: number | null): VatSplit {
  if (rateBp === null || rateBp === 0) return { grossMinor, netMinor: grossMinor, vatMinor: 0n };
  if (!Number.isInteger(rateBp) || rateBp < 0 || rateBp > MAX_VAT_RATE_BP)
    throw new RangeError(`VAT rate ${rateBp} bp is outside 0..${MAX_VAT_RATE_BP}`);
  const rate = BigInt(rateBp);
  const vatMinor = divRoundHalfUp(grossMinor * rate, 10_000n + rate);
  return { grossMinor, netMinor: grossMinor - vatMinor, vatMinor };
}

/** The totals of lines already split: sums of the rounded lines. */
export function totalOf(lines: readonly VatSplit[]): VatSplit {
  return {
    grossMinor: sum(lines.map((l) => l.grossMinor)),
    netMinor: sum(lines.map((l) => l.netMinor)),
    vatMinor: sum(lines.map((l) => l.vatMinor)),
  };
}

/** "20" or "8.5": a rate in basis points as the percentage printed on documents. */
export function formatVatRate(rateBp: number): string {
  const whole = Math.trunc(rateBp / 100);
  const frac = rateBp % 100;
  return frac === 0 ? String(whole) : `${whole}.${String(frac).padStart(2, '0').replace(/0$/, '')}`;
}

/** Parses "20", "8.5" or "12.25" (percent) into basis points; null when it is not such a number. */
export function parseVatRate(text: string): number | null {
  const m = /^(\d{1,3})(?:\.(\d{1,2}))?$/.exec(text);
  if (!m) return null;
  const bp = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  return bp <= MAX_VAT_RATE_BP ? bp : null;
}
