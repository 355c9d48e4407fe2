/** How `spool health` words a symptom of GET /v1/health: status, figure, threshold, runbook section. */
import type { Symptom } from '../shared/health/evaluate.js';
import { symptomText } from '../shared/health/runbook.js';

/** `degraded: dead jobs = 12 jobs (above 10 jobs) — docs/runbook.md#dead-jobs` */
export function reasonOf(s: Symptom): string {
  return `${s.status}: ${symptomText(s.check, s.value, s.threshold)} — ${s.runbook}`;
}
