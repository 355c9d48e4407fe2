import type { Job } from '../queue/types.js';
import { firstIssue } from '../validation/zod.js';
import { failed, type JobOutcome, PermanentError, RetryableError } from './outcome.js';

/** What a payload schema must offer: any zod (mini) schema does. */
export interface PayloadSchema<T> {
  safeParse(
    input: unknown,
  ):
    | { success: true; data: T }
    | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } };
}

export interface HandlerContext {
  job: Job;
  /** Aborted at the job's timeout or when the invocation runs out of time. */
  signal: AbortSignal;
}

export interface JobHandler<T = unknown> {
  name: string;
  schema: PayloadSchema<T>;
  run(payload: T, ctx: HandlerContext): Promise<unknown> | unknown;
}

/** Typed helper: `defineHandler({ name: 'email', schema: z.object({...}), run: async (p) => ... })`. */
export function defineHandler<T>(h: JobHandler<T>): JobHandler<T> {
  return h;
}

/** Registered handlers by name. A job naming an unknown handler, or whose payload fails the schema, goes to dead. */
export class HandlerRegistry {
  private readonly map = new Map<string, JobHandler<never>>();

  constructor(handlers: Array<JobHandler<never>> = []) {
    for (const h of handlers) this.register(h);
  }

  register<T>(h: JobHandler<T>): this {
    if (this.map.has(h.name)) throw new Error(`handler "${h.name}" is already registered`);
    this.map.set(h.name, h as unknown as JobHandler<never>);
    return this;
  }

  get(name: string): JobHandler<unknown> | undefined {
    return this.map.get(name) as JobHandler<unknown> | undefined;
  }

  names(): string[] {
    return [...this.map.keys()].sort();
  }
}

/**
 * Runs a registered handler with the job's timeout. A thrown PermanentError (or a payload failing
 * the schema, or an unknown handler) is permanent; anything else thrown is retryable.
 * When `signal` aborts (the invocation is out of time) the outcome is `abandoned`.
 */
export async function runHandler(
  registry: HandlerRegistry,
  job: Job,
  opts: { timeoutMs: number; signal: AbortSignal },
): Promise<JobOutcome> {
  const h = registry.get(job.handler ?? '');
  if (!h) return failed(`no handler registered as "${job.handler}"`, 'UnknownHandler', false);
  const parsed = h.schema.safeParse(job.payload);
  if (!parsed.success) {
    const { field, reason } = firstIssue(parsed.error, 'payload');
    return failed(`${field}: ${reason}`, 'InvalidPayload', false);
  }
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<JobOutcome>((resolve) => {
    timer = setTimeout(() => {
      ctl.abort(new Error('timeout'));
      resolve(failed(`handler "${h.name}" did not finish within ${opts.timeoutMs} ms`, 'TimeoutError', true));
    }, opts.timeoutMs);
    onAbort = () => {
      ctl.abort(new Error('invocation out of time'));
      resolve({ kind: 'abandoned' });
    };
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener('abort', onAbort, { once: true });
  });
  const work = (async (): Promise<JobOutcome> => {
    try {
      await h.run(parsed.data, { job, signal: ctl.signal });
      return { kind: 'ok' };
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (err instanceof PermanentError) return failed(err.message, err.name, false);
      if (err instanceof RetryableError) return failed(err.message, err.name, true, err.retryAfterMs);
      return failed(err.message, err.name || 'Error', true);
    }
  })();
  try {
    return await Promise.race([work, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) opts.signal.removeEventListener('abort', onAbort);
  }
}
