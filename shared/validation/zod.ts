/**
 * zod/mini (about 13 KB bundled, against about 443 KiB for full zod v4) with English messages.
 * Every schema in Spool imports `z` from here so the locale is configured once.
 */
import * as z from 'zod/mini';

z.config(z.locales.en());

export { z };

/** The first issue of a failed parse as a field path and a reason. */
export function firstIssue(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }, base = ''): {
  field: string;
  reason: string;
} {
  const issue = error.issues[0];
  if (!issue) return { field: base || '(body)', reason: 'invalid' };
  const path = issue.path.map(String).join('.');
  const field = [base, path].filter(Boolean).join('.') || '(body)';
  return { field, reason: issue.message };
}
