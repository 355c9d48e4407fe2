/**
 * The verdict of `spool health`: the same evaluation the health function runs (shared/health), on
 * a fresh snapshot of every queue. Without a previous run to compare with, counter deltas are zero
 * (so the "DLQ trimmed since the previous check" symptom is the health function's alone).
 */
import type { SpoolConfig } from '../shared/config/index.js';
import {
  deltasOf,
  evaluateQueue,
  type HealthStatus,
  type Symptom,
  thresholdsFrom,
  worst,
} from '../shared/health/evaluate.js';
import { symptomText } from '../shared/health/runbook.js';
import type { Spool } from '../shared/queue/index.js';

export type { HealthStatus };

export interface HealthReport {
  status: HealthStatus;
  at: number;
  queues: Array<{ queue: string; status: HealthStatus; reasons: string[]; symptoms: Symptom[] }>;
}

/** `degraded: dead jobs = 12 jobs (above 10 jobs) — docs/runbook.md#dead-jobs` */
export function reasonOf(s: Symptom): string {
  return `${s.status}: ${symptomText(s.check, s.value, s.threshold)} — ${s.runbook}`;
}

export async function checkHealth(spool: Spool, config: SpoolConfig): Promise<HealthReport> {
  const snaps = await spool.snapshot();
  const t = thresholdsFrom(config);
  const queues = snaps.map((s) => {
    const h = evaluateQueue(s, deltasOf(s, undefined, false), t);
    return { queue: h.queue, status: h.status, reasons: h.symptoms.map(reasonOf), symptoms: h.symptoms };
  });
  return { status: worst(queues.map((q) => q.status)), at: Date.now(), queues };
}
