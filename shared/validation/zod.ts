/**
 * Spool validates with zod/mini (about 15 KB bundled, against about 443 KiB for full zod v4), with
 * English messages configured here once. Schema modules `import * as z from 'zod/mini'` themselves and
 * import this module (for `firstIssue`, and so the locale is set): re-exporting the `z` namespace from
 * here would defeat tree-shaking and put all of zod and its locales in every Lambda bundle.
 */
import * as z from 'zod/mini';
// Only the English locale: `z.locales.en()` would pull every locale into a bundle (about 420 KB).
import en from 'zod/v4/locales/en.js';

z.config(en());


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
