/**
 * Spool validates with zod/mini (about 30 KB bundled, against about 443 KiB for full zod v4). Schema
 * modules `import * as z from 'zod/mini'` themselves: re-exporting the `z` namespace from a shared
 * module defeats tree-shaking and puts all of zod in every Lambda bundle. No zod locale is loaded
 * (the English one alone is 2.7 KB of a 150 KB bundle budget): `firstIssue` words the reason itself.
 */
import { ValidationError } from '../queue/errors.js';

interface Issue {
  path: PropertyKey[];
  message: string;
  code?: string;
  keys?: string[];
  expected?: unknown;
  format?: string;
  origin?: string;
  minimum?: unknown;
  maximum?: unknown;
  inclusive?: boolean;
  values?: unknown[];
  divisor?: unknown;
}

const ORIGIN_UNITS: Record<string, string> = { string: ' characters', array: ' items', set: ' items', file: ' bytes' };

/** An English reason for an issue: the schema's own message when it has one, else from the issue's code. */
export function reasonOf(issue: Issue): string {
  if (issue.message && issue.message !== 'Invalid input') return issue.message;
  const units = ORIGIN_UNITS[issue.origin ?? ''] ?? '';
  const counted = units !== '';
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'nonoptional'
        ? 'is required'
        : `must be ${issue.expected === 'int' ? 'an integer' : `of type ${String(issue.expected)}`}`;
    case 'too_big':
      return counted
        ? `must have at most ${String(issue.maximum)}${units}`
        : `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${String(issue.maximum)}`;
    case 'too_small':
      return counted
        ? `must have at least ${String(issue.minimum)}${units}`
        : `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${String(issue.minimum)}`;
    case 'invalid_format':
      return issue.format === 'url'
        ? 'must be a valid URL'
        : issue.format === 'datetime'
          ? 'must be an ISO-8601 date-time'
          : `must be a valid ${String(issue.format)}`;
    case 'invalid_value':
      return `must be one of ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      return 'matches none of the allowed forms';
    case 'invalid_key':
      return 'has an invalid key';
    case 'invalid_element':
      return 'has an invalid element';
    default:
      return 'is invalid';
  }
}

/** The first issue of a failed parse as a field path (prefixed with `base`) and a reason. */
export function firstIssue(error: { issues: ReadonlyArray<Issue> }, base = ''): { field: string; reason: string } {
  const issue = error.issues[0];
  if (!issue) return { field: base || '(body)', reason: 'is invalid' };
  const parts = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys?.[0]) {
    parts.push(issue.keys[0]);
    return { field: [base, parts.join('.')].filter(Boolean).join('.'), reason: 'is not a known field' };
  }
  const field = [base, parts.join('.')].filter(Boolean).join('.') || '(body)';
  return { field, reason: reasonOf(issue) };
}

/** Parse with a zod (mini) schema; a failure is a 400 naming the field. */
export function parseWith<T>(
  schema: {
    safeParse(x: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<Issue> } };
  },
  input: unknown,
  base = '',
): T {
  const r = schema.safeParse(input);
  if (!r.success) {
    const { field, reason } = firstIssue(r.error, base);
    throw new ValidationError(field, reason);
  }
  return r.data;
}
