import type { FailureInput, KeptResponse } from '../queue/types.js';

/**
 * What running one job came to. `abandoned`: the invocation ran out of time before the job ended;
 * the worker leaves it leased and it runs again once the lease expires. `status`: the HTTP status a
 * target answered, when it answered; `response`: its answer, for a job that keeps it (keepResponse).
 */
export type JobOutcome =
  | { kind: 'ok'; status?: number; response?: KeptResponse }
  | { kind: 'failed'; error: FailureInput; status?: number }
  | { kind: 'abandoned' };

/** Throw from a registered handler to send the job straight to dead (no retry). */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** Throw from a registered handler to retry, optionally not before `retryAfterMs`. */
export class RetryableError extends Error {
  override name = 'RetryableError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export const failed = (
  message: string,
  cls: string,
  retryable: boolean,
  retryAfterMs?: number,
): Extract<JobOutcome, { kind: 'failed' }> => {
  const error: FailureInput = { message, class: cls, retryable };
  if (retryAfterMs !== undefined && retryAfterMs > 0) error.retryAfterMs = retryAfterMs;
  return { kind: 'failed', error };
};
