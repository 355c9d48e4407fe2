/**
 * zod/mini (about 13 KB bundled, against about 443 KiB for full zod v4) with English messages.
 * Every schema in Spool imports `z` from here so the locale is configured once.
 */
import * as z from 'zod/mini';

z.config(z.locales.en());

export { z };

/** The first issue of a failed parse as a field path and a reason. */
export function firstIssue(
  error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string; code?: string; keys?: string[] }> },
  base = '',
): {
  field: string;
  reason: string;
} {
  const issue = error.issues[0];
  if (!issue) return { field: base || '(body)', reason: 'invalid' };
  const parts = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys?.[0]) {
    parts.push(issue.keys[0]);
    return { field: [base, parts.join('.')].filter(Boolean).join('.'), reason: 'is not a known field' };
  }
  const path = parts.join('.');
  const field = [base, path].filter(Boolean).join('.') || '(body)';
  return { field, reason: issue.message };
}
