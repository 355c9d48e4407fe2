/**
 * The dependencies every function runs with, built once per container (cold start) and injectable:
 * tests and the local server build a Runtime with stand-ins (AWS clients that log, an in-process
 * worker kick, a clock: local/aws.ts) and pass it to `create*Handler(rt)` or install it with `setRuntime`.
 *
 * Nothing here imports an AWS SDK client eagerly: each default client is loaded on first use, so a
 * function only pays for the clients it calls.
 */

import type { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { InvokeCommand } from '@aws-sdk/client-lambda';
import type { PublishCommand } from '@aws-sdk/client-sns';
import type { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Redis } from '@upstash/redis';
import { loadConfig, queueConfig, type SpoolConfig } from '../../shared/config/index.js';
import { BUILTIN_HANDLERS } from '../../shared/jobs/builtin.js';
import type { TargetPolicy } from '../../shared/jobs/http-target.js';
import { HandlerRegistry } from '../../shared/jobs/registry.js';
import { Logger } from '../../shared/log/logger.js';
import { SpoolCore } from '../../shared/queue/core.js';
import { SpoolError } from '../../shared/queue/errors.js';
import { claimTimer } from '../../shared/queue/ops/timer.js';
import { createRedis, type RedisCredentials } from '../../shared/redis/client.js';
import { parseXRayHeader, type TraceContext } from '../../shared/trace/context.js';
import { daemonSink, traceFetches, type XRaySink, XRayTracer } from '../../shared/trace/xray.js';
import type { FunctionName } from '../routes.js';
import { type SigningSecrets, signingSecrets } from './signing.js';

/** The slice of an AWS SDK v3 client Spool uses: `send`. A stand-in may log the command's `input`. */
export interface Sender<C> {
  send(command: C): Promise<unknown>;
}

export interface AwsClients {
  cloudwatch: Sender<PutMetricDataCommand>;
  sns: Sender<PublishCommand>;
  lambda: Sender<InvokeCommand>;
  sqs: Sender<SendMessageCommand>;
}

/**
 * Why a worker is started: 'enqueue' (debounced kick), 'drain' (API), 'continue' (out of time, work
 * left), 'scale-out' (a worker with a deep backlog; such workers start no more), 'schedule' (safety
 * net), 'replay' (DLQ), 'run' (a delayed job run now), 'timer' (a queue's timer: a delayed job is due),
 * 'settings' (a resume or a raised limit), 'schedule-fire' (a recurring schedule enqueued its job). The
 * one list: the kick event's schema and the type are both read from it.
 */
export const KICK_REASONS = [
  'enqueue',
  'drain',
  'continue',
  'scale-out',
  'schedule',
  'replay',
  'run',
  'timer',
  'settings',
  'schedule-fire',
] as const;
export type KickReason = (typeof KICK_REASONS)[number];

export interface KickOptions {
  reason: KickReason;
}

/** Starts a worker for a queue without waiting for it (production: Lambda async invoke). */
export type KickWorker = (queue: string, opts: KickOptions) => Promise<void>;

/** The payload of a worker kick (direct invocation). */
export interface KickEvent {
  kick: { queue: string; reason?: KickReason };
}

/** The longest SQS message timer (DelaySeconds); a later wake is re-armed when its message arrives. */
export const MAX_TIMER_DELAY_S = 900;

/** A timer message (the timer queue's body, and the event the local timers deliver as SQS would). */
export interface TimerMessage {
  timer: { queue: string /** Epoch ms (the arming process's clock) the queue's worker is due. */; at: number };
}

/**
 * Wakes a worker for a queue at `at` (epoch ms, this process's clock): deployed, an SQS message timer
 * on the timer queue, whose event source mapping invokes the worker (functions/worker/run.ts
 * `runTimers`); locally, an in-process timer delivering the same event (local/aws.ts). Past 900 s
 * the message carries `at` and is re-armed when it arrives.
 */
export interface Timer {
  arm(queue: string, at: number): Promise<void>;
  /**
   * False when arming does nothing here (no timer queue configured, as in the CLI): callers then
   * leave the queue's pending timer unclaimed, so that a process that can arm it is not held back.
   */
  readonly enabled?: boolean;
}

/** A schedule timer message (the schedule timer queue's body; the local timers deliver the same). */
export interface ScheduleTimerMessage {
  scheduleTimer: { /** Epoch ms (the arming process's clock) the earliest schedule is due. */ at: number };
}

/**
 * Wakes the scheduler at `at` (epoch ms, this process's clock) to fire the schedules due then:
 * deployed, an SQS message timer on the schedule timer queue, whose event source mapping invokes the
 * scheduler (functions/scheduler/run.ts); locally, an in-process timer delivering the same event
 * (local/aws.ts). Past 900 s the message carries `at` and is re-armed when it arrives.
 */
export interface ScheduleTimer {
  arm(at: number): Promise<void>;
  /** False when arming does nothing here (no schedule timer queue, as in the CLI): the claim is skipped too. */
  readonly enabled?: boolean;
}

export interface Runtime {
  readonly fn: FunctionName | 'local';
  readonly config: SpoolConfig;
  readonly spool: SpoolCore;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly aws: AwsClients;
  readonly handlers: HandlerRegistry;
  readonly targetPolicy: TargetPolicy;
  /** The delivery signing secrets (functions/lib/signing.ts). */
  readonly signingSecrets: SigningSecrets;
  /** X-Ray subsegments (sent only where the X-Ray daemon runs: Lambda with active tracing). */
  readonly tracer: XRayTracer;
  /** The trace of the current invocation (Lambda's `_X_AMZN_TRACE_ID`), if any. */
  readonly invocationTrace: () => TraceContext | undefined;
  kickWorker: KickWorker;
  timer: Timer;
  scheduleTimer: ScheduleTimer;
}

export interface RuntimeOptions {
  fn?: Runtime['fn'];
  /** Environment to validate (default process.env). */
  env?: Record<string, string | undefined>;
  /** Already-validated config (skips env). */
  config?: SpoolConfig;
  redis?: Redis;
  /** Redis credentials (skips the environment / Secrets Manager). */
  credentials?: RedisCredentials;
  /** Fewer client retries so an API answers 503 promptly (default: true except for the worker). */
  failFast?: boolean;
  spool?: SpoolCore;
  logger?: Logger;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  aws?: Partial<AwsClients>;
  /** Reads a Secrets Manager secret's string (default: the SDK client, loaded on use). */
  readSecret?: (arn: string) => Promise<string>;
  kickWorker?: KickWorker;
  timer?: Timer;
  scheduleTimer?: ScheduleTimer;
  handlers?: HandlerRegistry;
  /** Where X-Ray subsegments go (default: the daemon at AWS_XRAY_DAEMON_ADDRESS, if set). */
  xray?: XRaySink;
  /** The invocation's X-Ray trace header (default: process.env._X_AMZN_TRACE_ID). */
  lambdaTrace?: () => string | undefined;
}

/** A client created on first `send`, from a module loaded on first `send`. */
function lazyClient<C>(load: () => Promise<Sender<C>>): Sender<C> {
  let client: Promise<Sender<C>> | undefined;
  return {
    send: async (command: C) => {
      client ??= load().catch((e) => {
        client = undefined;
        throw e;
      });
      return (await client).send(command);
    },
  };
}

export function defaultAwsClients(): AwsClients {
  return {
    cloudwatch: lazyClient<PutMetricDataCommand>(
      async () => new (await import('@aws-sdk/client-cloudwatch')).CloudWatchClient({}) as Sender<PutMetricDataCommand>,
    ),
    sns: lazyClient<PublishCommand>(
      async () => new (await import('@aws-sdk/client-sns')).SNSClient({}) as Sender<PublishCommand>,
    ),
    lambda: lazyClient<InvokeCommand>(
      async () => new (await import('@aws-sdk/client-lambda')).LambdaClient({}) as Sender<InvokeCommand>,
    ),
    sqs: lazyClient<SendMessageCommand>(
      async () => new (await import('@aws-sdk/client-sqs')).SQSClient({}) as Sender<SendMessageCommand>,
    ),
  };
}

async function readSecretFromAws(arn: string): Promise<string> {
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  if (typeof out.SecretString !== 'string')
    throw new SpoolError('the Redis secret has no SecretString', 'config_error', 500);
  return out.SecretString;
}

/**
 * Redis credentials: from Secrets Manager when SPOOL_REDIS_SECRET_ARN is set (JSON with
 * UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN), else from the same environment variables.
 * Error messages never include the secret's content.
 */
export async function redisCredentials(
  config: SpoolConfig,
  readSecret: (arn: string) => Promise<string> = readSecretFromAws,
): Promise<RedisCredentials> {
  if (config.SPOOL_REDIS_SECRET_ARN) {
    const raw = await readSecret(config.SPOOL_REDIS_SECRET_ARN);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new SpoolError('the Redis secret is not JSON', 'config_error', 500);
    }
    const o = (parsed ?? {}) as Record<string, unknown>;
    const url = o.UPSTASH_REDIS_REST_URL;
    const token = o.UPSTASH_REDIS_REST_TOKEN;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url) || typeof token !== 'string' || token === '') {
      throw new SpoolError(
        'the Redis secret must hold UPSTASH_REDIS_REST_URL (http(s) URL) and UPSTASH_REDIS_REST_TOKEN',
        'config_error',
        500,
      );
    }
    return { url, token };
  }
  if (config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN) {
    return { url: config.UPSTASH_REDIS_REST_URL, token: config.UPSTASH_REDIS_REST_TOKEN };
  }
  throw new SpoolError(
    'no Redis credentials: set SPOOL_REDIS_SECRET_ARN, or UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN',
    'config_error',
    500,
  );
}

/** Production kick: an asynchronous invocation of the worker function (`InvocationType: 'Event'`). */
export function lambdaKick(config: SpoolConfig, lambda: Sender<InvokeCommand>, logger: Logger): KickWorker {
  return async (queue, opts) => {
    const name = config.SPOOL_WORKER_FUNCTION_NAME;
    if (!name) {
      logger.warn('no SPOOL_WORKER_FUNCTION_NAME: the worker schedule will run the queue', {
        queue,
        reason: opts.reason,
      });
      return;
    }
    const { InvokeCommand } = await import('@aws-sdk/client-lambda');
    const payload: KickEvent = { kick: { queue, reason: opts.reason } };
    await lambda.send(
      new InvokeCommand({
        FunctionName: name,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
  };
}

/** The whole seconds of an SQS message timer for a wake `delayMs` from now: rounded down, 0 to 900. */
export const timerDelaySeconds = (delayMs: number): number =>
  Math.min(MAX_TIMER_DELAY_S, Math.max(0, Math.floor(delayMs / 1000)));

/**
 * Production timer: a message on the timer queue (SPOOL_TIMER_QUEUE_URL) with DelaySeconds = the
 * delay rounded down (at most 900 s). Rounded down, it arrives up to a second early and the worker
 * it wakes waits for the job; one due past 900 s is re-armed by the worker the message wakes.
 */
export function sqsTimer(
  config: SpoolConfig,
  sqs: Sender<SendMessageCommand>,
  logger: Logger,
  clock: () => number = Date.now,
): Timer {
  return {
    enabled: Boolean(config.SPOOL_TIMER_QUEUE_URL),
    async arm(queue, at) {
      const url = config.SPOOL_TIMER_QUEUE_URL;
      if (!url) {
        logger.debug('no SPOOL_TIMER_QUEUE_URL: the worker schedule runs delayed jobs', { queue, at });
        return;
      }
      const body: TimerMessage = { timer: { queue, at: Math.round(at) } };
      await sendTimerMessage(sqs, url, timerDelaySeconds(at - clock()), body);
    },
  };
}

/**
 * Production schedule timer: a message on the schedule timer queue (SPOOL_SCHEDULE_TIMER_QUEUE_URL),
 * DelaySeconds as sqsTimer's (rounded down, at most 900 s): the scheduler it wakes up to a second
 * early waits for the fire; one due past 900 s is re-armed by the scheduler the message wakes.
 */
export function sqsScheduleTimer(
  config: SpoolConfig,
  sqs: Sender<SendMessageCommand>,
  logger: Logger,
  clock: () => number = Date.now,
): ScheduleTimer {
  return {
    enabled: Boolean(config.SPOOL_SCHEDULE_TIMER_QUEUE_URL),
    async arm(at) {
      const url = config.SPOOL_SCHEDULE_TIMER_QUEUE_URL;
      if (!url) {
        logger.debug("no SPOOL_SCHEDULE_TIMER_QUEUE_URL: the scheduler's minute tick fires schedules", { at });
        return;
      }
      const body: ScheduleTimerMessage = { scheduleTimer: { at: Math.round(at) } };
      await sendTimerMessage(sqs, url, timerDelaySeconds(at - clock()), body);
    },
  };
}

async function sendTimerMessage(
  sqs: Sender<SendMessageCommand>,
  url: string,
  delaySeconds: number,
  body: unknown,
): Promise<void> {
  const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
  await sqs.send(
    new SendMessageCommand({ QueueUrl: url, DelaySeconds: delaySeconds, MessageBody: JSON.stringify(body) }),
  );
}

/**
 * Wakes a worker when the engine says so (new waiting work, no worker running, debounce won).
 * A failed kick does not fail the caller: the jobs are stored and the worker schedule runs them.
 */
export async function kickIfNeeded(
  rt: Pick<Runtime, 'kickWorker'>,
  queue: string,
  kick: boolean,
  log: Pick<Logger, 'debug' | 'warn'>,
  reason: KickReason = 'enqueue',
): Promise<void> {
  if (!kick) return;
  try {
    await rt.kickWorker(queue, { reason });
    log.debug('worker kicked', { queue });
  } catch (err) {
    log.warn('worker kick failed; the schedule will run the queue', {
      queue,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/**
 * Arm a queue's timer `delayMs` from now, unless one is pending for then or sooner (claimTimer: the
 * queue's pending timer in Redis, so that workers leaving at once arm one timer, not one each, and a
 * chain of timer-woken workers stays one chain). A failure is logged, never thrown: the jobs are
 * stored and the worker schedule runs them (later than the timer would have).
 */
export async function armTimer(
  rt: Pick<Runtime, 'timer' | 'clock' | 'spool'>,
  log: Pick<Logger, 'debug' | 'warn'>,
  queue: string,
  delayMs: number,
): Promise<void> {
  const ms = Math.max(0, Math.round(delayMs));
  // No timer queue here (the CLI): claiming would hold back a process that can arm one.
  if (rt.timer.enabled === false) return;
  try {
    const claim = await claimTimer(rt.spool, queue, ms);
    if (!claim.claimed) {
      log.debug('timer pending already', { queue, delayMs: ms, at: claim.at });
      return;
    }
    await rt.timer.arm(queue, rt.clock() + ms);
    log.debug('timer armed', { queue, delayMs: ms });
  } catch (err) {
    log.warn('timer arm failed; the worker schedule will run the delayed jobs', {
      queue,
      delayMs: ms,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

export async function createRuntime(o: RuntimeOptions = {}): Promise<Runtime> {
  const fn = o.fn ?? 'local';
  const config = o.config ?? loadConfig(o.env ?? process.env);
  const logger =
    o.logger ??
    new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'spool', persistentKeys: { function: fn } });
  const tracer = new XRayTracer(o.xray ?? daemonSink(), o.clock);
  const lambdaTrace = o.lambdaTrace ?? (() => process.env._X_AMZN_TRACE_ID);
  const invocationTrace = () => parseXRayHeader(lambdaTrace());
  let spool = o.spool;
  if (!spool) {
    let redis = o.redis;
    if (!redis) {
      const creds = o.credentials ?? (await redisCredentials(config, o.readSecret));
      redis = createRedis(creds, { failFast: o.failFast ?? fn !== 'worker', timeoutMs: config.SPOOL_REDIS_TIMEOUT_MS });
      // One subsegment per Upstash HTTP request, under the invocation's trace.
      traceFetches(tracer, creds.url, invocationTrace);
    }
    spool = new SpoolCore(redis, { config: queueConfig(config), ...(o.clock ? { clock: o.clock } : {}) });
  }
  const aws = { ...defaultAwsClients(), ...o.aws };
  const rt: Runtime = {
    fn,
    config,
    spool,
    logger,
    clock: o.clock ?? Date.now,
    sleep: o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)))),
    aws,
    handlers: o.handlers ?? new HandlerRegistry(BUILTIN_HANDLERS),
    targetPolicy: { allowedHosts: config.SPOOL_TARGET_ALLOWED_HOSTS, allowPrivate: config.SPOOL_TARGET_ALLOW_PRIVATE },
    signingSecrets: signingSecrets(config, o.readSecret ?? readSecretFromAws, logger, o.clock),
    tracer,
    invocationTrace,
    kickWorker: o.kickWorker ?? lambdaKick(config, aws.lambda, logger),
    timer: o.timer ?? sqsTimer(config, aws.sqs, logger, o.clock),
    scheduleTimer: o.scheduleTimer ?? sqsScheduleTimer(config, aws.sqs, logger, o.clock),
  };
  return rt;
}

let current: Promise<Runtime> | undefined;

/**
 * The container's runtime: config validated and Redis credentials read once, on the first
 * invocation; a failure (e.g. Secrets Manager throttled) is not cached, the next invocation retries.
 */
export function getRuntime(fn: FunctionName): Promise<Runtime> {
  current ??= createRuntime({ fn }).catch((e) => {
    current = undefined;
    throw e;
  });
  return current;
}

/** Install a runtime for every handler of this process (local server, tests); undefined resets. */
export function setRuntime(rt: Runtime | Promise<Runtime> | undefined): void {
  current = rt === undefined ? undefined : Promise.resolve(rt);
}

/** What handlers accept: a runtime, a promise of one, or a getter (e.g. `() => getRuntime('worker')`). */
export type RuntimeSource = Runtime | Promise<Runtime> | (() => Runtime | Promise<Runtime>);

export const resolveRuntime = (src: RuntimeSource): Promise<Runtime> =>
  Promise.resolve(typeof src === 'function' ? src() : src);
