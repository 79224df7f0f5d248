import fc from 'fast-check';

/**
 * What the fuzz suite (issue 11) sends: input no client should send — wrong types, huge and
 * unicode strings, NUL and other control characters, numbers at and past every limit — as
 * fast-check arbitraries, plus the suite's settings. Seeded: the same seed sends the same
 * requests, so a failure can be replayed (`BILLFOLD_FUZZ_SEED`), and the count is bounded
 * (`BILLFOLD_FUZZ_RUNS`).
 */

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw)))
    throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** The seed every property derives its own from (BILLFOLD_FUZZ_SEED overrides it). */
export const FUZZ_SEED = envInt('BILLFOLD_FUZZ_SEED', 20211216, -(2 ** 31));
/**
 * Generated requests per REST operation and per /billmgr function (BILLFOLD_FUZZ_RUNS; the
 * default keeps the whole suite to a few thousand requests).
 */
export const FUZZ_RUNS = envInt('BILLFOLD_FUZZ_RUNS', 20, 1);

/** A property's own seed: the suite's seed mixed with the property's name (FNV-1a). */
export function seedFor(name: string): number {
  let h = 0x811c9dc5 ^ FUZZ_SEED;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h | 0;
}

/**
 * Options for fc.assert: the property's seed and run count, and a failure that says how to get
 * it again (the error of the failing request, whose message describes the request).
 */
export function fuzzParams<T extends unknown[]>(name: string, runs = FUZZ_RUNS): fc.Parameters<T> {
  return {
    seed: seedFor(name),
    numRuns: runs,
    reporter(details) {
      if (!details.failed) return;
      const cause = details.errorInstance;
      const text = cause instanceof Error ? cause.message : String(cause);
      throw new Error(
        `${name}: failed after ${details.numRuns} requests, shrunk ${details.numShrinks} times ` +
          `(BILLFOLD_FUZZ_SEED=${FUZZ_SEED}; property seed ${details.seed}, path ${details.counterexamplePath})\n${text}`,
      );
    },
  };
}

const HUGE = 100_000;

/** 100 KB strings, ASCII and not. */
export const hugeString: fc.Arbitrary<string> = fc.constantFrom(
  'a'.repeat(HUGE),
  '9'.repeat(HUGE),
  '😀'.repeat(HUGE / 2),
  'e\u0301'.repeat(HUGE / 2),
  '\u05e9\u05dc\u05d5\u05dd '.repeat(HUGE / 5),
  `${'x'.repeat(HUGE - 1)}\u0000`,
);

/** Unicode that is valid text but tends to surprise: astral, RTL, combining, zero-width, BOM. */
export const unicodeSamples = [
  '😀',
  '𝟘𝟙𝟚',
  '\u{10FFFF}',
  '\u202Eevil\u202C',
  'שלום',
  'مرحبا',
  'e\u0301\u0302\u0303\u0304',
  'Z͑ͫ̓ͪ̂ͫ̽͏̴̙̤̞͉͚̯̞̠͍',
  '\u200B',
  '\uFEFFbom',
  'İı',
  'ß',
  '١٢٣',
  '１２３',
  'Ⅻ',
  '\u00A0',
  '\u2028\u2029',
  '🇺🇦👨‍👩‍👧',
] as const;

/** Text no field may hold: NUL and other C0 controls, DEL and C1, lone surrogates, U+FFFE/F. */
export const controlSamples = [
  '\u0000',
  'a\u0000b',
  '\u0001\u0002',
  '\u001b[31mred',
  '\u007f',
  '\u0085',
  '\u0008',
  '\uD800',
  'x\uDFFFy',
  '\uFFFE',
  '\uFFFF',
  '\r\n',
  '\t',
] as const;

/** Numbers written as text: what a parser might read as a number, or a larger one than fits. */
export const numericTextSamples = [
  '',
  ' ',
  '0',
  '-0',
  '-1',
  '1.5',
  '1e309',
  '-1e309',
  '1e3',
  '9007199254740993',
  '9223372036854775808',
  '18446744073709551616',
  '0x10',
  '0b1',
  '+1',
  ' 7 ',
  '07',
  'NaN',
  'Infinity',
  'null',
  'true',
  '[]',
  '{}',
] as const;

export const numberSamples = [
  0,
  -0,
  -1,
  0.5,
  -1.5,
  1e-7,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  1e21,
  1e308,
  -1e308,
  Number.MIN_VALUE,
] as const;

/** Any code point, lone surrogates included, as a short string. */
const codePoints = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0xffff }),
      fc.integer({ min: 0x10000, max: 0x10ffff }),
    ),
    { maxLength: 12 },
  )
  .map((cps) => cps.map((cp) => String.fromCodePoint(cp)).join(''));

/** A string nobody should send: huge, unicode, control characters, numbers as text, noise. */
export const junkString: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: hugeString },
  { weight: 3, arbitrary: fc.constantFrom(...unicodeSamples) },
  { weight: 3, arbitrary: fc.constantFrom(...controlSamples) },
  { weight: 3, arbitrary: fc.constantFrom(...numericTextSamples) },
  { weight: 2, arbitrary: codePoints },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "' or 1=1 --",
      '"; drop table accounts; --',
      '<script>alert(1)</script>',
      '../../etc/passwd',
      '%00',
      '%ZZ',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the text itself is the junk
      '${jndi:ldap://x}',
      '__proto__',
      'constructor',
      'a'.repeat(256),
    ),
  },
);

/** A property name nobody declared. */
export const junkKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('unknown', 'id', '__proto__', 'constructor', 'prototype', '', ' ', 'a.b', '$where'),
  fc.constantFrom(...unicodeSamples, ...controlSamples),
  fc.string({ maxLength: 8 }),
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A JSON value of the wrong kind for almost any field. */
export const junkJson: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: junkString },
    { weight: 3, arbitrary: fc.constantFrom<Json>(...numberSamples) },
    { weight: 2, arbitrary: fc.constantFrom<Json>(null, true, false) },
    { weight: 1, arbitrary: fc.constantFrom<Json>([], {}, [[[]]], { '': '' }) },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.dictionary(junkKey, tie('value'), { maxKeys: 3 }) },
  ),
})).value;

/** Ids no row has, and text that is no id at all (as it would appear in a URL path). */
export const badPathIds = [
  '0',
  '-1',
  '1e309',
  '1e3',
  'abc',
  '9223372036854775808',
  '9223372036854775807',
  '18446744073709551616',
  '9007199254740993',
  '2147483648',
  '1.5',
  '01',
  '+1',
  '%201',
  '0x1',
  'null',
  '%00',
  '%01',
  '%ZZ',
  '%',
  '%E2%80%AE1',
  '%F0%9F%98%80',
  '%D9%A1',
  '%ED%A0%80',
  '..',
  '1'.repeat(120),
] as const;

/**
 * Percent-encoding for any JS string: encodeURIComponent, except that a lone surrogate (which
 * it refuses) is written as the three bytes WTF-8 would give it — bytes that are not UTF-8.
 */
export function encodeAny(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    let out = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp >= 0xd800 && cp <= 0xdfff) {
        out += [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)]
          .map((b) => `%${b.toString(16).toUpperCase()}`)
          .join('');
      } else out += encodeURIComponent(ch);
    }
    return out;
  }
}

/** `key=value&…` with every key and value percent-encoded (repeated keys stay repeated). */
export const formOf = (pairs: readonly (readonly [string, string])[]): string =>
  pairs.map(([k, v]) => `${encodeAny(k)}=${encodeAny(v)}`).join('&');

/** Raw text to append to a query string or form body: stray separators and broken escapes. */
export const rawTail: fc.Arbitrary<string> = fc.constantFrom(
  '&',
  '&&&',
  '=',
  '==',
  '&=x',
  'a=%ZZ',
  'a=%',
  '%E0%A4%A',
  '&out',
  '&func',
  '&elid[]=1',
  '&elid[0]=1',
  '&a[b]=c',
  '&__proto__[x]=1',
  '&constructor=1',
  '&%00=1',
  '+++=+++',
);

/** Short text for an error message: huge values are cut, control characters shown escaped. */
export function preview(value: unknown, max = 300): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined) return String(value);
  const cut = text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
  return JSON.stringify(cut);
}

/** snake_case, as every error code is. */
export const SNAKE_CASE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

/** A client address per request, from the documentation ranges (sign-in limits count per address). */
export const fuzzAddress: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('192.0.2', '198.51.100', '203.0.113'), fc.integer({ min: 1, max: 254 }))
  .map(([net, host]) => `${net}.${host}`);
