/** The health routes: `GET /v1/health` (the assessment, and its history on request) and `GET /v1/queues`. */
import * as z from 'zod/mini';
import type { QueueHealth } from '../../shared/health/evaluate.js';
import { snapshot } from '../../shared/queue/ops/snapshot.js';
import { parseWith, type RouteImpls } from '../lib/http.js';
import { iso } from '../lib/present.js';
import { assess, readHistory } from './run.js';

const presentQueue = (q: QueueHealth) => {
  const s = q.snapshot;
  const out: Record<string, unknown> = {
    queue: q.queue,
    status: q.status,
    symptoms: q.symptoms,
    counts: { waiting: s.waiting, delayed: s.delayed, active: s.active, completed: s.completed, dead: s.dead },
    leaseExpired: s.leaseExpired,
    oldestWaitingAgeSeconds: Math.floor(s.oldestWaitingAgeMs / 1000),
    oldestDeadAgeSeconds: Math.floor(s.oldestDeadAgeMs / 1000),
  };
  if (s.nextRunAt !== undefined) out.nextRunAt = iso(s.nextRunAt);
  return out;
};

const healthQuery = z.object({
  history: z.optional(z.string().check(z.regex(/^\d{1,4}$/, 'must be a number of entries'))),
});

export const healthRoutes: RouteImpls = {
  'GET /v1/health': async (req, rt) => {
    const q = parseWith(healthQuery, req.query);
    const a = await assess(rt);
    const body: Record<string, unknown> = {
      status: a.status,
      at: iso(a.at),
      queues: a.queues.map(presentQueue),
      lastCheck: a.last ? { at: iso(a.last.at), status: a.last.status } : null,
    };
    if (q.history) body.history = await readHistory(rt, Math.min(Number(q.history), rt.config.SPOOL_HEALTH_HISTORY));
    return { status: a.status === 'unhealthy' ? 503 : 200, body };
  },
  'GET /v1/queues': async (_req, rt) => {
    const snaps = await snapshot(rt.spool);
    return {
      status: 200,
      body: {
        queues: snaps.map((s) => ({
          queue: s.queue,
          counts: { waiting: s.waiting, delayed: s.delayed, active: s.active, completed: s.completed, dead: s.dead },
          leaseExpired: s.leaseExpired,
          oldestWaitingAgeSeconds: Math.floor(s.oldestWaitingAgeMs / 1000),
          /** Cumulative since the queue was first used: every field of QueueCounters. */
          counters: s.counters,
        })),
      },
    };
  },
};
