/**
 * Lambda, locally: loads each function's real `handler` (functions/<fn>/handler.ts), invokes it
 * with a Lambda-like context and a time limit, runs the worker kick and the timer queues (the
 * worker's, the scheduler's) in-process, and replaces the CloudWatch and SNS clients with ones that
 * write what they would send to the log (local/aws.ts).
 */
import { createRuntime, type Runtime, setRuntime } from '../functions/lib/runtime.js';
import { FUNCTION_NAMES, type FunctionName, functionEntry } from '../functions/routes.js';
import { type LambdaHandler, lambdaContext, toScheduledEvent } from './apigw.js';
import { inProcessKick, inProcessScheduleTimer, inProcessTimer, loggingAwsClients } from './aws.js';

export interface FunctionHost {
  /** Invoke `fn` synchronously (RequestResponse) with `event`. Rejects `{ timeout: true }` at the limit. */
  invoke(fn: FunctionName, event: unknown, opts?: { timeoutMs?: number }): Promise<unknown>;
  /** Invoke a scheduled function with the event its EventBridge rule sends. */
  runScheduled(fn: FunctionName): Promise<unknown>;
  /** Waits (a little) for invocations in flight. */
  close(): Promise<void>;
  /** The runtime installed for the handlers. */
  runtime: Runtime;
  /** Invocations started so far, per function (a benchmark counts worker runs per job with it). */
  readonly invocations: Record<FunctionName, number>;
  /** Timer messages armed and not yet delivered: the worker's timer queue's, the scheduler's. */
  pendingTimers(): { worker: number; scheduler: number };
}

export interface FunctionHostOptions {
  env: Record<string, string>;
  log: (line: string) => void;
  /** Lambda timeout of the worker locally (deployed: 900 s). */
  workerTimeoutMs?: number;
}

const REPO_ROOT = new URL('../', import.meta.url);

/** Deployed timeouts: 30 s for API functions, the worker its own. */
const DEFAULT_TIMEOUT_MS = 30_000;

export class InvocationTimeout extends Error {
  readonly timeout = true;
  constructor(fn: string, ms: number) {
    super(`${fn} timed out after ${ms} ms`);
  }
}

export async function createFunctionHost(opts: FunctionHostOptions): Promise<FunctionHost> {
  // The handlers read their settings from the environment, as they do on Lambda.
  for (const [k, v] of Object.entries(opts.env)) process.env[k] = v;

  // The worker kick: Lambda's asynchronous invoke, in-process (not awaited by the caller's response).
  const kickWorker = inProcessKick((event) => invoke('worker', event), opts.log);
  // The timer queue: in-process timers that deliver the SQS event to the worker.
  const timer = inProcessTimer((event) => invoke('worker', event), opts.log);
  // The schedule timer queue: the same, to the scheduler.
  const scheduleTimer = inProcessScheduleTimer((event) => invoke('scheduler', event), opts.log);
  const runtime = await createRuntime({
    fn: 'local',
    env: opts.env,
    credentials: { url: opts.env.UPSTASH_REDIS_REST_URL!, token: opts.env.UPSTASH_REDIS_REST_TOKEN! },
    aws: loggingAwsClients(opts.log),
    kickWorker,
    timer,
    scheduleTimer,
  });
  setRuntime(runtime);

  const handlers = new Map<FunctionName, LambdaHandler>();
  for (const fn of FUNCTION_NAMES) {
    const mod = (await import(new URL(functionEntry(fn), REPO_ROOT).href)) as { handler?: LambdaHandler };
    if (typeof mod.handler !== 'function') throw new Error(`${functionEntry(fn)} does not export a handler`);
    handlers.set(fn, mod.handler);
  }

  const inflight = new Set<Promise<unknown>>();
  const invocations = Object.fromEntries(FUNCTION_NAMES.map((fn) => [fn, 0])) as Record<FunctionName, number>;
  const workerTimeoutMs = opts.workerTimeoutMs ?? 120_000;

  function invoke(fn: FunctionName, event: unknown, o: { timeoutMs?: number } = {}): Promise<unknown> {
    const handler = handlers.get(fn);
    if (!handler) return Promise.reject(new Error(`no function ${fn}`));
    invocations[fn]++;
    const timeoutMs = o.timeoutMs ?? (fn === 'worker' ? workerTimeoutMs : DEFAULT_TIMEOUT_MS);
    const context = lambdaContext(`spool-local-${fn}`, timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const p = Promise.race([
      Promise.resolve().then(() => handler(event, context)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new InvocationTimeout(fn, timeoutMs)), timeoutMs + 50);
      }),
    ]).finally(() => {
      clearTimeout(timer);
      inflight.delete(p);
    });
    inflight.add(p);
    return p;
  }

  return {
    runtime,
    invocations,
    invoke,
    pendingTimers: () => ({ worker: timer.pending, scheduler: scheduleTimer.pending }),
    async runScheduled(fn) {
      return invoke(fn, toScheduledEvent(`spool-local-${fn}-schedule`));
    },
    async close() {
      timer.cancel();
      scheduleTimer.cancel();
      const pending = [...inflight].map((p) => p.catch(() => undefined));
      await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 3_000).unref())]);
      setRuntime(undefined);
    },
  };
}
