/**
 * The one module for runbook anchors and health-check words (shared/health/runbook.ts): the anchors
 * exist in docs/runbook.md, the wording says "above" like the thresholds, and steps are filled.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHECKS, fillStep, RUNBOOK, RUNBOOK_FILE, runbookUrl, symptomText } from '../../../shared/health/runbook.js';
import { markdownAnchors } from '../../helpers/markdown.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('shared/health/runbook', () => {
  it('names only sections that docs/runbook.md has', () => {
    const anchors = markdownAnchors(path.join(root, RUNBOOK_FILE));
    for (const a of Object.values(RUNBOOK)) expect(anchors.has(a), `#${a}`).toBe(true);
    for (const [check, w] of Object.entries(CHECKS)) expect(anchors.has(w.runbook), check).toBe(true);
  });

  it('says "above", as the thresholds are strict', () => {
    expect(symptomText('leaseExpired', 11, 10)).toBe('jobs whose lease expired = 11 jobs (above 10 jobs)');
    expect(symptomText('oldestWaitingAge', 901, 900)).toBe('oldest waiting job age = 901 seconds (above 900 seconds)');
    for (const w of Object.values(CHECKS)) expect(`${w.label} ${w.step}`).not.toMatch(/at least/);
  });

  it('fills every placeholder of a step, each occurrence, and refuses a missing value', () => {
    for (const [check, w] of Object.entries(CHECKS)) {
      const filled = fillStep(w.step, { queue: 'emails' });
      expect(filled, check).not.toMatch(/[{}]/);
    }
    expect(fillStep('a {queue} b {queue}', { queue: 'q1' })).toBe('a q1 b q1');
    expect(() => fillStep('see {queue} on {stack}', { queue: 'q1' })).toThrow(/no value for \{stack\}/);
  });

  it('links to <base>#<anchor>, the repository path without a base', () => {
    expect(runbookUrl(RUNBOOK.dlqTrimmed)).toBe('docs/runbook.md#dlq-trimmed');
    expect(runbookUrl(RUNBOOK.dlqTrimmed, 'https://wiki.example.com/spool/runbook')).toBe(
      'https://wiki.example.com/spool/runbook#dlq-trimmed',
    );
    expect(runbookUrl(RUNBOOK.dlqTrimmed, 'https://wiki.example.com/runbook#old')).toBe(
      'https://wiki.example.com/runbook#dlq-trimmed',
    );
  });
});
