import type { z } from 'zod';
import { AppError } from './errors.js';

export interface FieldIssue {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** The parts of a zod issue we read (also what fastify-type-provider-zod hands the error handler). */
export interface IssueLike {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
  readonly format?: string;
  readonly input?: unknown;
  /** Set by `.refine(…, { params: { code: 'unknown_currency' } })`: a custom check names its own code. */
  readonly params?: { readonly code?: unknown };
}

/** zod issue → a stable field-level code; the top-level code is `unknown_field` or `validation_failed`. */
function issueCode(issue: IssueLike): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined && /received undefined/.test(issue.message)
        ? 'required'
        : 'invalid_type';
    case 'invalid_format':
      return issue.format === 'email' ? 'invalid_email' : 'invalid_format';
    case 'custom':
      return typeof issue.params?.code === 'string' ? issue.params.code : 'invalid';
    case 'too_small':
    case 'too_big':
    case 'invalid_value':
      return issue.code;
    default:
      return 'invalid';
  }
}

export function issuesOf(error: { issues: readonly IssueLike[] }): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys ?? []) {
        out.push({
          path: base ? `${base}.${key}` : key,
          code: 'unknown_field',
          message: `Unknown field "${key}".`,
        });
      }
    } else {
      out.push({ path: base, code: issueCode(issue), message: issue.message });
    }
  }
  return out;
}

export function validationError(issues: FieldIssue[], where?: string): AppError {
  const unknown = issues.filter((i) => i.code === 'unknown_field');
  if (unknown.length > 0) {
    return new AppError(
      'invalid',
      'unknown_field',
      `Unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.map((i) => i.path).join(', ')}.`,
      {
        issues,
        ...(where ? { in: where } : {}),
      },
    );
  }
  const first = issues[0];
  const message = first ? `${first.path || 'input'}: ${first.message}` : 'The input is not valid.';
  return new AppError('invalid', 'validation_failed', message, { issues, ...(where ? { in: where } : {}) });
}

/**
 * A character no text field takes: C0 controls other than tab, LF and CR, unpaired surrogates,
 * U+FFFE and U+FFFF — exactly what XML 1.0 cannot carry. PostgreSQL refuses NUL in text (a 500
 * where SQLite stored it), and the mgr API could not send the others back, so both engines
 * refuse them at the door, before any handler runs (decisions: D-text).
 */
export const INVALID_TEXT_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** `U+0000`: how a refused character is named in messages (the character itself may not print). */
const codePointName = (char: string) =>
  `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** At most this many fields are named in one refusal. */
const MAX_TEXT_ISSUES = 20;

/**
 * Every string in a parsed input (values and the keys of objects, at any depth) that holds a
 * character of INVALID_TEXT_CHAR: its path (`items.0.name`, as in validation issues) and the
 * first such character. Walks without recursion, so a deeply nested body cannot overflow the
 * stack.
 */
export function findInvalidText(input: unknown): { path: string; char: string }[] {
  const found: { path: string; char: string }[] = [];
  if (isCleanFlat(input)) return found;
  const check = (text: string, path: string) => {
    const bad = INVALID_TEXT_CHAR.exec(text);
    if (bad) found.push({ path, char: codePointName(bad[0]) });
  };
  const stack: [unknown, string][] = [[input, '']];
  while (stack.length > 0 && found.length < MAX_TEXT_ISSUES) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      check(value, path);
    } else if (typeof value === 'object' && value !== null) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        const at = path === '' ? key : `${path}.${key}`;
        check(key, at);
        stack.push([(value as Record<string, unknown>)[key], at]);
      }
    }
  }
  return found.slice(0, MAX_TEXT_ISSUES);
}

/**
 * True when `input` holds no text the walk would refuse and is flat: a string free of
 * INVALID_TEXT_CHAR, no text at all (no body: undefined; a number), or an object whose own
 * keys and values are such strings (a query string, a form) — what most requests are, checked
 * without the walk's allocations. False when it holds anything else (the walk decides).
 */
function isCleanFlat(input: unknown): boolean {
  if (typeof input === 'string') return !INVALID_TEXT_CHAR.test(input);
  // The walk looks into strings and objects only.
  if (typeof input !== 'object') return true;
  if (input === null) return true;
  for (const key in input) {
    if (!Object.hasOwn(input, key)) return false;
    const value: unknown = (input as Record<string, unknown>)[key];
    if (typeof value !== 'string' || INVALID_TEXT_CHAR.test(key) || INVALID_TEXT_CHAR.test(value))
      return false;
  }
  return true;
}

/**
 * `400 invalid_characters` for a request part (`body`, `querystring`, `params`) holding refused
 * text: names the first field in the message and `details.param` (which the mgr API reports as
 * the error's object), every one found in `details.issues`. null when the part is clean.
 */
export function invalidTextError(input: unknown, where: string): AppError | null {
  const found = findInvalidText(input);
  const first = found[0];
  if (!first) return null;
  const name = first.path === '' ? where : first.path;
  return new AppError(
    'invalid',
    'invalid_characters',
    `${JSON.stringify(name)} contains ${first.char}, a character text may not hold ` +
      '(control characters other than tab, LF and CR; unpaired surrogates; U+FFFE, U+FFFF).',
    {
      in: where,
      param: name,
      issues: found.map((f) => ({
        path: f.path,
        code: 'invalid_characters',
        message: `Contains ${f.char}, which is not allowed in text.`,
      })),
    },
  );
}

/** Validates input with the same schema the HTTP route uses, for callers that are not HTTP (the CLI). */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw validationError(issuesOf(result.error));
  return result.data;
}
