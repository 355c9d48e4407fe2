/**
 * The schedule routes: `PUT /v1/schedules/{id}` (create or replace), `POST /v1/schedules` (create),
 * `GET /v1/schedules[?queue=]`, `GET /v1/schedules/{id}` and `DELETE /v1/schedules/{id}`. A write
 * whose schedule fires sooner than the pending schedule timer arms it (armScheduleTimer claims it).
 */
import { NotFoundError, ValidationError } from '../../shared/queue/errors.js';
import {
  deleteSchedule,
  getSchedule,
  listSchedules,
  putSchedule,
  type Schedule,
} from '../../shared/queue/ops/schedules.js';
import { type ApiRequest, parseWith, type RouteImpls, readJson } from '../lib/http.js';
import { presentSchedule } from '../lib/present.js';
import type { Runtime } from '../lib/runtime.js';
import { type Body, type scheduleDeletedResponse, schedulesQuery, type schedulesResponse } from '../lib/schemas.js';
import { armScheduleTimer } from './run.js';

const isObject = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);

/** Store a schedule, then arm the schedule timer for its next fire (unless one is pending for then or sooner). */
async function store(
  req: ApiRequest,
  rt: Runtime,
  id: string,
  body: unknown,
  create: boolean,
): Promise<{ schedule: Schedule; created: boolean }> {
  // The engine checks the body (an `id` in it must be `id`), naming the field of a 400.
  const out = await putSchedule(rt.spool, id, body, { create });
  const { schedule } = out;
  req.log.info(out.created ? 'schedule created' : 'schedule replaced', {
    schedule: id,
    queue: schedule.queue,
    nextRunAt: schedule.nextRunAt,
  });
  if (schedule.nextRunAt !== undefined) await armScheduleTimer(rt, req.log, schedule.nextRunAt - rt.clock());
  return out;
}

export const schedulerRoutes: RouteImpls = {
  'PUT /v1/schedules/{id}': async (req, rt) => {
    const { schedule, created } = await store(req, rt, req.params.id!, readJson(req), false);
    return { status: created ? 201 : 200, body: presentSchedule(schedule) };
  },
  'POST /v1/schedules': async (req, rt) => {
    const body = readJson(req);
    if (!isObject(body)) throw new ValidationError('(body)', 'must be a schedule (a JSON object)');
    if (body.id === undefined) throw new ValidationError('id', 'is required');
    if (typeof body.id !== 'string') throw new ValidationError('id', 'must be a string');
    const { schedule } = await store(req, rt, body.id, body, true);
    return {
      status: 201,
      headers: { location: `/v1/schedules/${encodeURIComponent(schedule.id)}` },
      body: presentSchedule(schedule),
    };
  },
  'GET /v1/schedules': async (req, rt) => {
    const q = parseWith(schedulesQuery, req.query);
    const schedules = await listSchedules(rt.spool, q.queue !== undefined ? { queue: q.queue } : {});
    return {
      status: 200,
      body: { schedules: schedules.map(presentSchedule) } satisfies Body<typeof schedulesResponse>,
    };
  },
  'GET /v1/schedules/{id}': async (req, rt) => {
    const schedule = await getSchedule(rt.spool, req.params.id!);
    if (!schedule) throw new NotFoundError(`schedule ${req.params.id}`);
    return { status: 200, body: presentSchedule(schedule) };
  },
  'DELETE /v1/schedules/{id}': async (req, rt) => {
    const id = req.params.id!;
    if (!(await deleteSchedule(rt.spool, id))) throw new NotFoundError(`schedule ${id}`);
    req.log.info('schedule deleted', { schedule: id });
    return { status: 200, body: { id, deleted: true } satisfies Body<typeof scheduleDeletedResponse> };
  },
};
