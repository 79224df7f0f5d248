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

/** Validates input with the same schema the HTTP route uses, for callers that are not HTTP (the CLI). */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw validationError(issuesOf(result.error));
  return result.data;
}
