import { SpoolCore } from './core.js';
import { complete, extend, fail, failReport, release } from './ops/ack.js';
import { clearQueue } from './ops/clear.js';
import { deadGroups, deleteDead, replay } from './ops/dead.js';
import { enqueue } from './ops/enqueue.js';
import { cancel, getJob, getJobs, listJobs, runNow } from './ops/jobs.js';
import { lease, reclaim } from './ops/lease.js';
import { purge } from './ops/purge.js';
import {
  claimScheduleTimer,
  deleteSchedule,
  fireDueSchedules,
  getSchedule,
  listSchedules,
  putSchedule,
} from './ops/schedules.js';
import { getSettings, putSettings } from './ops/settings.js';
import { queues, snapshot } from './ops/snapshot.js';

type Rest<F> = F extends (core: SpoolCore, ...args: infer A) => infer R ? (...args: A) => R : never;

/**
 * The whole queue engine as one object, for the CLI, the local server, benchmarks and tests. Every
 * method is the operation of the same name in ./ops (one Lua script per state change, run through
 * @upstash/redis); Lambda handlers import the operations they use directly, so each bundle carries
 * only its own scripts.
 */
export class Spool extends SpoolCore {
  enqueue: Rest<typeof enqueue> = (...a) => enqueue(this, ...a);
  lease: Rest<typeof lease> = (...a) => lease(this, ...a);
  reclaim: Rest<typeof reclaim> = (...a) => reclaim(this, ...a);
  complete: Rest<typeof complete> = (...a) => complete(this, ...a);
  fail: Rest<typeof fail> = (...a) => fail(this, ...a);
  failReport: Rest<typeof failReport> = (...a) => failReport(this, ...a);
  extend: Rest<typeof extend> = (...a) => extend(this, ...a);
  release: Rest<typeof release> = (...a) => release(this, ...a);
  get: Rest<typeof getJob> = (...a) => getJob(this, ...a);
  getMany: Rest<typeof getJobs> = (...a) => getJobs(this, ...a);
  list: Rest<typeof listJobs> = (...a) => listJobs(this, ...a);
  cancel: Rest<typeof cancel> = (...a) => cancel(this, ...a);
  runNow: Rest<typeof runNow> = (...a) => runNow(this, ...a);
  deadGroups: Rest<typeof deadGroups> = (...a) => deadGroups(this, ...a);
  replay: Rest<typeof replay> = (...a) => replay(this, ...a);
  deleteDead: Rest<typeof deleteDead> = (...a) => deleteDead(this, ...a);
  purge: Rest<typeof purge> = (...a) => purge(this, ...a);
  clear: Rest<typeof clearQueue> = (...a) => clearQueue(this, ...a);
  queues: Rest<typeof queues> = (...a) => queues(this, ...a);
  snapshot: Rest<typeof snapshot> = (...a) => snapshot(this, ...a);
  settings: Rest<typeof getSettings> = (...a) => getSettings(this, ...a);
  putSettings: Rest<typeof putSettings> = (...a) => putSettings(this, ...a);
  putSchedule: Rest<typeof putSchedule> = (...a) => putSchedule(this, ...a);
  getSchedule: Rest<typeof getSchedule> = (...a) => getSchedule(this, ...a);
  listSchedules: Rest<typeof listSchedules> = (...a) => listSchedules(this, ...a);
  deleteSchedule: Rest<typeof deleteSchedule> = (...a) => deleteSchedule(this, ...a);
  fireDueSchedules: Rest<typeof fireDueSchedules> = (...a) => fireDueSchedules(this, ...a);
  claimScheduleTimer: Rest<typeof claimScheduleTimer> = (...a) => claimScheduleTimer(this, ...a);
}
