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
import type { Spool } from '../shared/queue/index.js';

export type { HealthStatus };

export interface HealthReport {
  status: HealthStatus;
  at: number;
  queues: Array<{ queue: string; status: HealthStatus; reasons: string[]; symptoms: Symptom[] }>;
}

const LABEL: Record<Symptom['check'], string> = {
  waiting: 'waiting jobs',
  dead: 'dead jobs',
  oldestWaitingAge: 'oldest waiting job age',
  stuck: 'stuck leases',
  deadTrimmed: 'dead jobs trimmed from the DLQ',
};

export function reasonOf(s: Symptom): string {
  const cmp = s.check === 'stuck' ? 'at least' : 'over';
  return `${s.status}: ${LABEL[s.check]} ${s.value} ${s.unit} (${cmp} ${s.threshold}) — ${s.runbook}`;
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
