/**
 * The health routes: `GET /v1/health` (the assessment, and its history on request), `GET /v1/queues`,
 * `GET /metrics` (Prometheus text) and `GET /v1/openapi.json`.
 */
import type { QueueHealth } from '../../shared/health/evaluate.js';
import { PROMETHEUS_CONTENT_TYPE, queueMetrics } from '../../shared/health/prometheus.js';
import { symptomText } from '../../shared/health/runbook.js';
import { snapshot } from '../../shared/queue/ops/snapshot.js';
import { activeWorkers } from '../../shared/queue/ops/workers.js';
import { parseWith, type RouteImpls } from '../lib/http.js';
import { openApiDocument } from '../lib/openapi.js';
import { iso } from '../lib/present.js';
import {
  type Body,
  healthQuery,
  type healthResponse,
  type queuesResponse,
  type workersResponse,
} from '../lib/schemas.js';
import { assess, readHistory } from './run.js';

type QueueBody = Body<typeof healthResponse>['queues'][number];

const presentQueue = (q: QueueHealth): QueueBody => {
  const s = q.snapshot;
  const out: QueueBody = {
    queue: q.queue,
    status: q.status,
    // Each symptom with its sentence (`dead jobs = 12 jobs (above 10 jobs)`), so readers need no wording of their own.
    symptoms: q.symptoms.map((s) => ({ ...s, text: symptomText(s.check, s.value, s.threshold) })),
    counts: { waiting: s.waiting, delayed: s.delayed, active: s.active, completed: s.completed, dead: s.dead },
    leaseExpired: s.leaseExpired,
    oldestWaitingAgeSeconds: Math.floor(s.oldestWaitingAgeMs / 1000),
    oldestDeadAgeSeconds: Math.floor(s.oldestDeadAgeMs / 1000),
  };
  if (s.nextRunAt !== undefined) out.nextRunAt = iso(s.nextRunAt);
  if (s.pausedForMs !== undefined) out.pausedSeconds = Math.floor(s.pausedForMs / 1000);
  return out;
};

export const healthRoutes: RouteImpls = {
  /** The worker invocations draining the queue now, as their own lease and heartbeat calls wrote them. */
  'GET /v1/queues/{queue}/workers': async (req, rt) => {
    const queue = req.params.queue!;
    const workers = await activeWorkers(rt.spool, queue);
    return {
      status: 200,
      body: {
        queue,
        workers: workers.map((w) => ({
          id: w.id,
          startedAt: iso(w.startedAt),
          lastHeartbeatAt: iso(w.lastHeartbeatAt),
          held: w.held,
          done: w.done,
          expiresAt: iso(w.expiresAt),
        })),
      } satisfies Body<typeof workersResponse>,
    };
  },
  'GET /metrics': async (_req, rt) => {
    const a = await assess(rt);
    return { status: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE }, text: queueMetrics(a.queues) };
  },
  'GET /v1/openapi.json': async () => ({
    status: 200,
    headers: { 'cache-control': 'max-age=300' },
    body: openApiDocument(),
  }),
  'GET /v1/health': async (req, rt) => {
    const q = parseWith(healthQuery, req.query);
    const a = await assess(rt);
    const body: Body<typeof healthResponse> = {
      status: a.status,
      at: iso(a.at),
      queues: a.queues.map(presentQueue),
      lastCheck: a.last ? { at: iso(a.last.at), status: a.last.status } : null,
    };
    if (q.history) body.history = await readHistory(rt, Math.min(Number(q.history), rt.config.SPOOL_HEALTH_HISTORY));
    // 200 whatever the verdict, which is in the body: an uptime probe polling this route must not turn
    // a backlog into API 5xx. 503 only when Redis cannot be reached (no verdict at all).
    return { status: 200, body };
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
          counters: { ...s.counters },
        })),
      } satisfies Body<typeof queuesResponse>,
    };
  },
};
