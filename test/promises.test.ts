import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMON_RESPONSES } from '../functions/lib/contract.js';

/**
 * Issue 9, items 5 and 6: what the README, the runbook and the API contract promise a client about
 * faults and batches. After a 503 a job may or may not exist (a call that timed out can still land),
 * and an Idempotency-Key makes the retry safe; no document may say a 503 wrote nothing. A batch is
 * all-or-nothing, and its 400 lists every invalid job.
 */
const ROOT = join(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
/** The text as sentences (Markdown line breaks joined; a table cell is a sentence too). */
const sentences = (text: string) =>
  text
    .replace(/\s*\n\s*/g, ' ')
    .split(/(?<=\.)\s+|\s\|\s/)
    .map((s) => s.trim());

describe('the documents promise what the engine does', () => {
  const docs = {
    'README.md': read('README.md'),
    'docs/runbook.md': read('docs/runbook.md'),
    'the 503 of the API contract': COMMON_RESPONSES[503]!.description,
    'docs/openapi.json': read('docs/openapi.json'),
  };

  it('no document says a 503 wrote nothing', () => {
    for (const [name, text] of Object.entries(docs)) {
      const claims = sentences(text).filter((s) => /503|unavailable/i.test(s) && /nothing (was )?written/i.test(s));
      expect(claims, name).toEqual([]);
    }
  });

  it('after a 503 a job may or may not exist, and an Idempotency-Key makes the retry safe', () => {
    const readme = docs['README.md'].replace(/\s*\n\s*/g, ' ');
    expect(readme).toMatch(/After a 503 (a|the) job may\s+or may not exist/);
    expect(readme).toMatch(/Retry with the same `Idempotency-Key` and the retry is safe/);
    expect(docs['the 503 of the API contract']).toMatch(/may or may not have happened/);
    expect(docs['the 503 of the API contract']).toMatch(/Idempotency-Key/);
  });

  it('a batch is all-or-nothing, and its 400 lists every invalid job', () => {
    const readme = docs['README.md'].replace(/\s*\n\s*/g, ' ');
    expect(readme).toContain('A batch is all-or-nothing');
    expect(readme).toContain('lists every invalid job in `details.errors`');
  });
});
