/** Errors of the queue engine. Each carries a stable code and the HTTP status an API maps it to. */
export class SpoolError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input: names the field and the reason. Nothing was written. */
export class ValidationError extends SpoolError {
  constructor(
    readonly field: string,
    readonly reason: string,
    more: { message?: string; details?: Record<string, unknown> } = {},
  ) {
    super(more.message ?? `${field}: ${reason}`, 'invalid_request', 400, { field, reason, ...more.details });
  }
}

/**
 * A batch with invalid jobs: a 400 naming every one (`details.errors`, by index), the first of them
 * as `field` / `reason` (as a ValidationError does). Nothing of the batch was written.
 */
export class BatchValidationError extends ValidationError {
  constructor(readonly errors: ReadonlyArray<{ index: number; field: string; reason: string }>) {
    const listed = errors.map((e) => `${e.field}: ${e.reason}`).join('; ');
    super(errors[0]!.field, errors[0]!.reason, {
      message: `${errors.length} of the batch's jobs ${errors.length === 1 ? 'is' : 'are'} invalid (nothing was enqueued): ${listed}`,
      details: { errors },
    });
  }
}

export class PayloadTooLargeError extends SpoolError {
  constructor(
    readonly field: string,
    size: number,
    limit: number,
  ) {
    super(`${field}: ${size} bytes is over the limit of ${limit} bytes`, 'payload_too_large', 413, {
      field,
      size,
      limit,
    });
  }
}

export class NotFoundError extends SpoolError {
  constructor(what: string) {
    super(`${what} not found`, 'not_found', 404);
  }
}

export class ConflictError extends SpoolError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(message, 'conflict', 409, details);
  }
}

/**
 * Redis (or the Upstash endpoint) cannot serve the call now: unreachable, stalled past the timeout,
 * out of memory, busy, loading, read-only. Callers should retry later. A write may or may not have
 * happened (a stalled call can still land): an idempotency key makes the retry safe.
 */
export class RedisUnavailableError extends SpoolError {
  constructor(
    cause: unknown,
    readonly retryAfterSeconds = 5,
  ) {
    super(
      'Redis is unavailable; retry later (a write may or may not have happened: retry with the same Idempotency-Key)',
      'redis_unavailable',
      503,
      { retryAfterSeconds },
    );
    this.cause = cause;
  }
}

/**
 * An idempotency key already names a different job inside its window (another payload, target or
 * handler): a 409 naming the field (`idempotencyKey`, or `jobs[3].idempotencyKey` in a batch) and the
 * job the key holds. Nothing of the call was written.
 */
export class IdempotencyConflictError extends SpoolError {
  constructor(
    readonly field: string,
    readonly id: string | undefined,
  ) {
    super(
      `${field}: the key already names ${id ? `job ${id}` : 'another job of this batch'}, with another payload, target or handler; use a new key for a new job`,
      'idempotency_conflict',
      409,
      id ? { field, id } : { field },
    );
  }
}
