/**
 * The scheduler function: the schedule routes (201/200/409/404/400, nothing written on a 400), and
 * its firing run from each of its wake-ups: the minute tick (EventBridge), schedule timer messages
 * (SQS: waiting for a fire up to 1.5 s away, re-arming past 900 s, partial batch failures) and a
 * direct invocation. Real Redis under a test clock; aws-sdk-client-mock stands in for SQS, so the
 * timers armed are the SendMessage calls the deployed function would make.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createRuntime,
  type ScheduleTimerMessage,
  sqsScheduleTimer,
  type TimerMessage,
} from '../../functions/lib/runtime.js';
import * as s from '../../functions/lib/schemas.js';
import { createSchedulerHandler } from '../../functions/scheduler/handler.js';
import {
  type FiringReport,
  MAX_FIRE_ROUNDS,
  SCHEDULE_FIRED_NO_JOB,
  type ScheduleTimersReport,
  SLEEP_UNTIL_DUE_MS,
} from '../../functions/scheduler/run.js';
import { loadConfig } from '../../shared/config/index.js';
import { Logger } from '../../shared/log/logger.js';
import { globalKey } from '../../shared/queue/keys.js';
import { createRedis } from '../../shared/redis/client.js';
import { apiEvent, json, lambdaContext, scheduledEvent } from '../helpers/fixtures.js';
import { testRuntime } from '../helpers/runtime.js';

const sqs = mockClient(SQSClient);
beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
});

const SCHEDULE_TIMERS = 'https://sqs.eu-west-1.amazonaws.com/123456789012/spool-schedule-timers';
const TIMERS = 'https://sqs.eu-west-1.amazonaws.com/123456789012/spool-timers';
const START = Date.UTC(2026, 11, 1, 12, 0, 0);
const MIN = 60_000;
const silent = new Logger({ serviceName: 'spool-test', logLevel: 'SILENT' });

const sentTo = (url: string) =>
  sqs
    .commandCalls(SendMessageCommand)
    .map((c) => c.args[0].input)
    .filter((i) => i.QueueUrl === url);
const scheduleTimers = () =>
  sentTo(SCHEDULE_TIMERS).map((i) => ({
    delaySeconds: i.DelaySeconds,
    ...(JSON.parse(i.MessageBody ?? '{}') as ScheduleTimerMessage),
  }));

/** A scheduler on its own key prefix, under a test clock that its sleeps advance (and a logger, if given). */
async function scheduler(name: string, env: Record<string, string> = {}, opts: { logger?: Logger } = {}) {
  let now = START;
  const sleeps: number[] = [];
  const t = await testRuntime(
    name,
    { SPOOL_SCHEDULE_TIMER_QUEUE_URL: SCHEDULE_TIMERS, SPOOL_TIMER_QUEUE_URL: TIMERS, ...env },
    {
      aws: { sqs: new SQSClient({}) },
      clock: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
      ...opts,
    },
  );
  const handler = createSchedulerHandler(t.rt);
  const clock = { now: () => now, set: (v: number) => (now = v), advance: (ms: number) => (now += ms) };
  const call = async (...a: Parameters<typeof apiEvent>) => json(await handler(apiEvent(...a), lambdaContext()));
  const invoke = (event: unknown) => handler(event, lambdaContext(60_000, 'scheduler'));
  return { ...t, handler, clock, sleeps, call, invoke };
}

const echo = (extra: Record<string, unknown> = {}) => ({ handler: 'echo', payload: { n: 1 }, ...extra });
const every = (queue: string, everyMs: number, extra: Record<string, unknown> = {}) => ({
  queue,
  everyMs,
  job: echo(),
  ...extra,
});
const iso = (t: number) => new Date(t).toISOString();
const timerEvent = (...records: Array<[id: string, body: string]>) => ({
  Records: records.map(([messageId, body]) => ({ messageId, eventSource: 'aws:sqs', body })),
});
const timerBody = (at: number) => JSON.stringify({ scheduleTimer: { at } } satisfies ScheduleTimerMessage);

describe('the SQS schedule timer', () => {
  it('sends one message on the schedule timer queue: the due time in its body, DelaySeconds rounded down', async () => {
    const timer = sqsScheduleTimer(
      loadConfig({ SPOOL_SCHEDULE_TIMER_QUEUE_URL: SCHEDULE_TIMERS }),
      new SQSClient({}),
      silent,
      () => START,
    );
    await timer.arm(START + 2_500);
    await timer.arm(START + 3_600_000);
    expect(scheduleTimers()).toEqual([
      { delaySeconds: 2, scheduleTimer: { at: START + 2_500 } },
      { delaySeconds: 900, scheduleTimer: { at: START + 3_600_000 } },
    ]);
  });

  it('without SPOOL_SCHEDULE_TIMER_QUEUE_URL sends nothing (the minute tick fires)', async () => {
    await sqsScheduleTimer(loadConfig({}), new SQSClient({}), silent).arm(Date.now() + 5_000);
    expect(sqs.commandCalls(SendMessageCommand)).toEqual([]);
  });

  it('a process that cannot arm (no schedule timer queue: the CLI) leaves the pending timer unclaimed', async () => {
    const { call, rt, prefix } = await scheduler('no-timer-queue', { SPOOL_SCHEDULE_TIMER_QUEUE_URL: '' });
    expect((await call('PUT', '/v1/schedules/cli', { body: every('cq', 2_000) })).status).toBe(201);
    expect(sqs.commandCalls(SendMessageCommand)).toEqual([]);
    expect(await rt.spool.redis.exists(globalKey(prefix, 'scheduleTimer'))).toBe(0);
  });
});

describe('the schedule routes', () => {
  it('PUT creates (201) and replaces (200); the answer has ISO times, null lastRunAt and redacted headers', async () => {
    const { call } = await scheduler('sched-put');
    const job = echo({
      handler: undefined,
      target: { url: 'https://example.com/hook?token=abc', headers: { Authorization: 'Bearer s3cret' } },
    });
    const r = await call('PUT', '/v1/schedules/nightly', { body: { queue: 'reports', cron: '0 3 * * *', job } });
    expect(r.status).toBe(201);
    expect(s.scheduleResponse.parse(r.body)).toEqual(r.body);
    expect(r.body).toEqual({
      id: 'nightly',
      queue: 'reports',
      cron: '0 3 * * *',
      timezone: 'UTC',
      job: {
        payload: { n: 1 },
        target: { url: 'https://example.com/hook?token=[redacted]', headers: { Authorization: '[redacted]' } },
      },
      paused: false,
      nextRunAt: iso(Date.UTC(2026, 11, 2, 3, 0, 0)),
      lastRunAt: null,
      fires: 0,
      missed: 0,
      createdAt: iso(START),
      updatedAt: iso(START),
    });
    expect(JSON.stringify(r.body)).not.toContain('s3cret');
    const again = await call('PUT', '/v1/schedules/nightly', {
      body: { id: 'nightly', queue: 'reports', cron: '0 4 * * *', timezone: 'Europe/Berlin', job, paused: true },
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ cron: '0 4 * * *', timezone: 'Europe/Berlin', paused: true, nextRunAt: null });
  });

  it('400 names the field (body, path id, cron, timezone, job) and writes nothing', async () => {
    const { call } = await scheduler('sched-400');
    const cases: Array<[string, unknown, string]> = [
      ['s1', { queue: 'q', job: echo() }, 'cron'],
      ['s1', { queue: 'q', cron: '61 * * * *', job: echo() }, 'cron'],
      ['s1', { queue: 'q', cron: '0 0 * * *', timezone: 'Mars/Olympus', job: echo() }, 'timezone'],
      ['s1', { queue: 'q', everyMs: 999, job: echo() }, 'everyMs'],
      ['s1', { queue: 'q', everyMs: 1000, job: echo({ priority: 5000 }) }, 'job.priority'],
      ['s1', { queue: 'q', everyMs: 1000, job: echo({ idempotencyKey: 'k' }) }, 'job.idempotencyKey'],
      ['s1', { queue: 'q', everyMs: 1000, job: echo(), startAt: 'tomorrow' }, 'startAt'],
      ['s1', { queue: 'q', everyMs: 1000, job: echo(), colour: 'red' }, 'colour'],
      ['s1', { id: 'other', queue: 'q', everyMs: 1000, job: echo() }, 'id'],
      ['bad%20id!', { queue: 'q', everyMs: 1000, job: echo() }, 'id'],
    ];
    for (const [id, body, field] of cases) {
      const r = await call('PUT', `/v1/schedules/${id}`, { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error, JSON.stringify(body)).toMatchObject({ code: 'invalid_request', details: { field } });
    }
    const post = await call('POST', '/v1/schedules', { body: every('q', 1000) });
    expect([post.status, post.body.error.details.field]).toEqual([400, 'id']);
    const badQueue = await call('GET', '/v1/schedules', { query: 'queue=bad!' });
    expect([badQueue.status, badQueue.body.error.details.field]).toEqual([400, 'queue']);
    const notJson = await call('PUT', '/v1/schedules/s1', {
      raw: 'queue=q',
      headers: { 'content-type': 'text/plain' },
    });
    expect(notJson.status).toBe(415);
    // Nothing was written, and no timer armed.
    expect((await call('GET', '/v1/schedules')).body).toEqual({ schedules: [] });
    expect((await call('GET', '/v1/schedules/s1')).status).toBe(404);
    expect(scheduleTimers()).toEqual([]);
  });

  it('POST creates (201, Location) and 409s an existing id; GET lists by id (one queue on request), gets one; DELETE', async () => {
    const { call } = await scheduler('sched-crud');
    const a = await call('POST', '/v1/schedules', { body: { id: 'b-hourly', ...every('q1', 3_600_000) } });
    expect(a.status).toBe(201);
    expect(a.headers.location).toBe('/v1/schedules/b-hourly');
    expect(a.body).toMatchObject({ id: 'b-hourly', everyMs: 3_600_000, nextRunAt: iso(START + 3_600_000) });
    const dup = await call('POST', '/v1/schedules', { body: { id: 'b-hourly', ...every('q1', MIN) } });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'conflict']);
    await call('PUT', '/v1/schedules/a-minutely', { body: every('q2', MIN) });
    await call('PUT', '/v1/schedules/c-minutely', { body: every('q1', MIN) });
    const all = await call('GET', '/v1/schedules');
    expect(all.status).toBe(200);
    expect(s.schedulesResponse.parse(all.body)).toEqual(all.body);
    expect(all.body.schedules.map((x: { id: string }) => x.id)).toEqual(['a-minutely', 'b-hourly', 'c-minutely']);
    const q1 = await call('GET', '/v1/schedules', { query: 'queue=q1' });
    expect(q1.body.schedules.map((x: { id: string }) => x.id)).toEqual(['b-hourly', 'c-minutely']);
    const one = await call('GET', '/v1/schedules/b-hourly');
    expect([one.status, one.body]).toEqual([200, a.body]);
    const d = await call('DELETE', '/v1/schedules/b-hourly');
    expect([d.status, d.body]).toEqual([200, { id: 'b-hourly', deleted: true }]);
    expect((await call('DELETE', '/v1/schedules/b-hourly')).status).toBe(404);
    const gone = await call('GET', '/v1/schedules/b-hourly');
    expect([gone.status, gone.body.error]).toEqual([
      404,
      { code: 'not_found', message: 'schedule b-hourly not found', details: {} },
    ]);
  });

  it('a write arms the schedule timer when it fires sooner than the pending one, and only then', async () => {
    const { call } = await scheduler('sched-arm');
    await call('PUT', '/v1/schedules/hourly', { body: every('q', 3_600_000) });
    await call('PUT', '/v1/schedules/daily', { body: every('q', 86_400_000) });
    await call('PUT', '/v1/schedules/minutely', { body: every('q', MIN) });
    await call('PUT', '/v1/schedules/paused', { body: every('q', 1_000, { paused: true }) });
    expect(scheduleTimers()).toEqual([
      { delaySeconds: 900, scheduleTimer: { at: START + 3_600_000 } },
      { delaySeconds: 60, scheduleTimer: { at: START + MIN } },
    ]);
    // A timer that cannot be armed fails nothing: the schedule is stored, the minute tick fires it.
    sqs.on(SendMessageCommand).rejects(new Error('throttled'));
    const r = await call('PUT', '/v1/schedules/soon', { body: every('q', 5_000) });
    expect([r.status, r.body.nextRunAt]).toEqual([201, iso(START + 5_000)]);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(3);
  });
});

describe('firing', () => {
  it('the minute tick fires a due schedule once: one job, its worker kicked, the next timer armed', async () => {
    const { call, invoke, clock, kicks, rt } = await scheduler('fire-tick');
    await call('PUT', '/v1/schedules/tick', { body: every('fq', MIN) });
    sqs.resetHistory();
    clock.advance(MIN);
    const r = (await invoke(scheduledEvent('scheduler'))) as FiringReport;
    expect(r).toMatchObject({ rounds: 1, fired: ['tick'], deduplicated: 0, errors: 0, missed: 0, kicked: ['fq'] });
    expect(kicks).toEqual([{ queue: 'fq', reason: 'schedule-fire' }]);
    const page = await rt.spool.list('fq', 'waiting');
    expect(page.jobs.map((j) => j.idempotencyKey)).toEqual([`schedule:tick:${START + MIN}`]);
    const g = await call('GET', '/v1/schedules/tick');
    expect(g.body).toMatchObject({
      fires: 1,
      lastRunAt: iso(START + MIN),
      lastJobId: page.jobs[0]!.id,
      nextRunAt: iso(START + 2 * MIN),
    });
    // The run fired in the very millisecond its own timer was due: that timer has fired, the next is armed.
    expect(scheduleTimers()).toEqual([{ delaySeconds: 60, scheduleTimer: { at: START + 2 * MIN } }]);
    // The same tick again (a retried or overlapping run): no fire, no job, no second timer.
    const again = (await invoke(scheduledEvent('scheduler'))) as FiringReport;
    expect(again.fired).toEqual([]);
    expect((await rt.spool.list('fq', 'waiting')).total).toBe(1);
    expect(scheduleTimers()).toHaveLength(1);
  });

  it('a minute tick with nothing due arms nothing; the first tick after a lost timer fires and re-arms', async () => {
    const { call, invoke, clock, rt } = await scheduler('fire-idle-tick');
    await call('PUT', '/v1/schedules/hourly', { body: every('iq', 60 * MIN) });
    expect(scheduleTimers()).toHaveLength(1); // the PUT armed it
    sqs.resetHistory();
    for (let i = 0; i < 3; i++) {
      clock.advance(MIN);
      expect(((await invoke(scheduledEvent('scheduler'))) as FiringReport).fired).toEqual([]);
    }
    expect(scheduleTimers()).toEqual([]);
    // The timer is lost (never delivered): the first tick past the fire time fires and arms the next
    // (an hour away: SQS's longest delay, 900 s, re-armed on arrival).
    clock.set(START + 60 * MIN + 30_000);
    const r = (await invoke(scheduledEvent('scheduler'))) as FiringReport;
    expect(r.fired).toEqual(['hourly']);
    expect(scheduleTimers()).toEqual([{ delaySeconds: 900, scheduleTimer: { at: START + 120 * MIN } }]);
    expect((await rt.spool.list('iq', 'waiting')).total).toBe(1);
  });

  it('a timer message arriving early waits for the fire (up to 1.5 s) and fires it in the same run', async () => {
    const { call, invoke, clock, sleeps, rt } = await scheduler('fire-early');
    await call('PUT', '/v1/schedules/two', { body: every('eq', 2_000) });
    clock.advance(2_000 - 800);
    const r = (await invoke(timerEvent(['m1', timerBody(START + 2_000)]))) as ScheduleTimersReport;
    expect(r).toMatchObject({ due: 1, rearmed: 0, batchItemFailures: [] });
    expect(r.firing).toMatchObject({ rounds: 2, fired: ['two'], nextDueAt: START + 4_000, armedInMs: 2_000 });
    expect(sleeps[0]).toBe(800);
    expect((await rt.spool.list('eq', 'waiting')).total).toBe(1);
    expect(scheduleTimers().at(-1)).toEqual({ delaySeconds: 2, scheduleTimer: { at: START + 4_000 } });
  });

  it('fires 1 s apart are each waited for, MAX_FIRE_ROUNDS rounds at most; then a timer for the next', async () => {
    const { call, invoke, clock, sleeps } = await scheduler('fire-rounds');
    await call('PUT', '/v1/schedules/one', { body: every('oq', 1_000) });
    clock.advance(1_000);
    const r = (await invoke({})) as FiringReport;
    expect(r.rounds).toBe(MAX_FIRE_ROUNDS);
    expect(r.fired).toEqual(Array(MAX_FIRE_ROUNDS).fill('one'));
    expect(sleeps).toEqual(Array(MAX_FIRE_ROUNDS - 1).fill(1_000));
    expect(sleeps.every((ms) => ms <= SLEEP_UNTIL_DUE_MS)).toBe(true);
    expect(r.nextDueAt).toBe(START + (MAX_FIRE_ROUNDS + 1) * 1_000);
    expect(scheduleTimers().at(-1)).toEqual({ delaySeconds: 1, scheduleTimer: { at: r.nextDueAt } });
  });

  it('a fire more than 1.5 s away is not waited for: the schedule timer is armed for it', async () => {
    const { call, invoke, clock, sleeps } = await scheduler('fire-later');
    await call('PUT', '/v1/schedules/later', { body: every('lq', 10_000) });
    clock.advance(10_000);
    expect(((await invoke({})) as FiringReport).fired).toEqual(['later']);
    sqs.resetHistory();
    sleeps.length = 0;
    clock.advance(5_000);
    const r = (await invoke({})) as FiringReport;
    expect(r).toMatchObject({ rounds: 1, fired: [], nextDueAt: START + 20_000 });
    expect(sleeps).toEqual([]);
    // The previous run armed the timer for this fire already.
    expect(scheduleTimers()).toEqual([]);
  });

  it("a fire's delayed job arms its queue's worker timer instead of kicking a worker", async () => {
    const { call, invoke, clock, kicks } = await scheduler('fire-delayed');
    await call('PUT', '/v1/schedules/d', { body: every('dq', MIN, { job: echo({ delayMs: 30_000 }) }) });
    clock.advance(MIN);
    const r = (await invoke({})) as FiringReport;
    expect(r).toMatchObject({ fired: ['d'], kicked: [] });
    expect(kicks).toEqual([]);
    const [worker] = sentTo(TIMERS);
    expect(worker).toMatchObject({ DelaySeconds: 30 });
    expect(JSON.parse(worker!.MessageBody!) as TimerMessage).toEqual({
      timer: { queue: 'dq', at: START + MIN + 30_000 },
    });
  });

  it('a fire whose job no longer validates enqueues nothing and logs one ERROR line (schedule, queue, error); the schedule goes on and keeps the error', async () => {
    const a = await scheduler('fire-invalid', { SPOOL_PAYLOAD_MAX_BYTES: '1000' });
    await a.call('PUT', '/v1/schedules/big', { body: every('iq', MIN, { job: echo({ payload: 'x'.repeat(500) }) }) });
    await a.call('PUT', '/v1/schedules/small', { body: every('sq', MIN) });
    // The same schedules, read by a deployment whose payload cap is now smaller.
    const lines: Array<Record<string, unknown>> = [];
    const logger = new Logger({
      serviceName: 'spool-test',
      logLevel: 'INFO',
      sink: (l) => void lines.push(JSON.parse(l)),
    });
    const b = await scheduler(
      'fire-invalid-b',
      { SPOOL_KEY_PREFIX: a.prefix, SPOOL_PAYLOAD_MAX_BYTES: '100' },
      { logger },
    );
    b.clock.advance(MIN);
    const r = (await b.invoke({})) as FiringReport;
    expect(r).toMatchObject({ fired: ['big', 'small'], errors: 1, kicked: ['sq'] });
    // One ERROR line, for the fire without a job only: the message the ticket's metric filter matches.
    const errors = lines.filter((l) => l.level === 'ERROR');
    expect(errors).toEqual([
      expect.objectContaining({
        level: 'ERROR',
        message: SCHEDULE_FIRED_NO_JOB,
        schedule: 'big',
        queue: 'iq',
        error: expect.stringContaining('payload'),
      }),
    ]);
    expect(SCHEDULE_FIRED_NO_JOB).toBe('schedule fired no job: its job does not validate');
    expect(lines.filter((l) => l.message === SCHEDULE_FIRED_NO_JOB)).toHaveLength(1);
    expect((await b.rt.spool.list('iq', 'waiting')).total).toBe(0);
    const g = await b.call('GET', '/v1/schedules/big');
    expect(g.body).toMatchObject({ fires: 1, nextRunAt: iso(START + 2 * MIN), lastError: { at: iso(START + MIN) } });
    expect(g.body.lastError.message).toContain('payload');
  });

  it('schedule timers: one past 900 s is armed again with the same due time; a malformed one is dropped', async () => {
    const { invoke, clock } = await scheduler('timers-rearm');
    const r = (await invoke(
      timerEvent(['far', timerBody(clock.now() + 2_000_000)], ['junk', 'not json'], ['odd', '{"timer":{}}']),
    )) as ScheduleTimersReport;
    expect(r).toEqual({ due: 0, rearmed: 1, batchItemFailures: [] });
    expect(scheduleTimers()).toEqual([{ delaySeconds: 900, scheduleTimer: { at: START + 2_000_000 } }]);
  });

  it('a timer that cannot be handled is reported back to SQS (partial batch response)', async () => {
    const { invoke, clock } = await scheduler('timers-fail');
    sqs.on(SendMessageCommand).rejects(new Error('throttled'));
    const r = (await invoke(
      timerEvent(['far', timerBody(clock.now() + 2_000_000)], ['due', timerBody(clock.now())]),
    )) as ScheduleTimersReport;
    // The due one ran the firing run (nothing was due): only the re-arm failed.
    expect(r).toMatchObject({ due: 1, rearmed: 0, batchItemFailures: [{ itemIdentifier: 'far' }] });
    expect(r.firing).toMatchObject({ fired: [] });
  });

  it('with Redis down the due timers are reported back (SQS delivers them again); re-arms still go out', async () => {
    const down = await createRuntime({
      fn: 'local',
      config: loadConfig({ SPOOL_SCHEDULE_TIMER_QUEUE_URL: SCHEDULE_TIMERS }),
      redis: createRedis({ url: 'http://127.0.0.1:1', token: 't' }, { failFast: true }),
      kickWorker: async () => {},
      logger: silent,
      aws: { sqs: new SQSClient({}) },
    });
    const now = Date.now();
    const r = (await createSchedulerHandler(down)(
      timerEvent(['a', timerBody(now)], ['far', timerBody(now + 2_000_000)], ['b', timerBody(now + 500)]),
      lambdaContext(),
    )) as ScheduleTimersReport;
    expect(r).toMatchObject({
      due: 2,
      rearmed: 1,
      batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }],
    });
    expect(r.firing).toBeUndefined();
    // An HTTP route answers 503 with Retry-After.
    const g = json(await createSchedulerHandler(down)(apiEvent('GET', '/v1/schedules'), lambdaContext()));
    expect([g.status, g.headers['retry-after']]).toEqual([503, '5']);
  });

  it('takes a direct invocation ({}) and refuses an event it does not know', async () => {
    const { invoke } = await scheduler('direct');
    expect(((await invoke({})) as FiringReport).rounds).toBe(1);
    await expect(invoke({ fire: 'now' })).rejects.toThrow(/scheduler: expected/);
  });
});
