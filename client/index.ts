/**
 * `spool/client`: the producer client of the Spool HTTP API.
 *
 *   import { SpoolClient } from 'spool/client';
 *   const spool = new SpoolClient({ baseUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com' });
 *   const { id } = await spool.enqueue('emails', { target: { url: 'https://example.com/hook' }, payload: { to: 'a@b.c' } });
 *
 * - Signs every request with SigV4 (service `execute-api`, the AWS SDK's own signer) when it has
 *   credentials: the ones given, else the default AWS credential chain (environment, SSO, profile,
 *   web identity, container, instance). A loopback `baseUrl` (the local server), `credentials: false`,
 *   or a chain that finds nothing sends plain requests.
 * - Every enqueue carries an idempotency key it generates (unless given), so its own retries, and
 *   yours, cannot enqueue a job twice within the idempotency window.
 * - Retries 429 and 503, honouring Retry-After, within a bounded budget; GETs and enqueues are also
 *   retried after a network error. Any other answer that is not 2xx throws SpoolApiError.
 * - Its types are the API's zod schemas (functions/lib/schemas.ts), the ones the server validates
 *   with and the OpenAPI document is generated from.
 */
import { randomUUID } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type * as z from 'zod/mini';
import type * as s from '../functions/lib/schemas.js';
import { parseRetryAfter } from '../shared/jobs/retry-after.js';

type Out<S extends z.ZodMiniType> = z.output<S>;

/** Static credentials, or a provider of them (the signer's own types). */
type SignerCredentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/** A job as a producer sends it. */
export type JobInput = z.input<typeof s.jobInputSchema>;
export type Job = Out<typeof s.jobResponse>;
export type JobState = Job['state'];
export type Enqueued = Out<typeof s.enqueueResponse>;
export type EnqueuedBatch = Out<typeof s.enqueueBatchResponse>;
export type JobPage = Out<typeof s.jobPageResponse>;
export type Cancelled = Out<typeof s.cancelResponse>;
export type DrainAccepted = Out<typeof s.drainResponse>;
export type RanNow = Out<typeof s.runResponse>;
export type Settings = Out<typeof s.settingsResponse>;
export type SettingsChange = z.input<typeof s.settingsInputSchema>;
export type Queues = Out<typeof s.queuesResponse>;
export type Health = Out<typeof s.healthResponse>;
export type DeadGroups = Out<typeof s.deadGroupsResponse>;
export type DeadDeleted = Out<typeof s.deleteDeadResponse>;
export type ReplayRequest = z.input<typeof s.replayBody>;
export type ReplayReport = Out<typeof s.replayResponse>;
export type PurgeRequest = z.input<typeof s.purgeBody>;
export type PurgeReport = Out<typeof s.purgeResponse>;
export type Cleared = Out<typeof s.clearResponse>;
export type Workers = Out<typeof s.workersResponse>;
export type ScheduleInput = z.input<typeof s.scheduleInput>;
export type ScheduleCreate = z.input<typeof s.scheduleCreateBody>;
export type Schedule = Out<typeof s.scheduleResponse>;
export type Schedules = Out<typeof s.schedulesResponse>;
export type ScheduleDeleted = Out<typeof s.scheduleDeletedResponse>;
export type ApiErrorBody = Out<typeof s.errorResponse>;

export interface RetryOptions {
  /** Requests in all, the first included (default 4). */
  maxAttempts?: number;
  /** Most time spent waiting between attempts, in all (default 20 s). A Retry-After beyond it is not waited for. */
  budgetMs?: number;
  /** Backoff when the answer carries no Retry-After: full jitter over base × 2^n, capped (defaults 200 ms, 5 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface SpoolClientOptions {
  /** The API's base URL: the stack's ApiUrl output, or http://127.0.0.1:3000 locally. */
  baseUrl: string;
  /** Signing region; default: from an execute-api host name, else AWS_REGION / AWS_DEFAULT_REGION. */
  region?: string;
  /** Credentials or a provider; `false` never signs. Default: the AWS credential chain (not for loopback URLs). */
  credentials?: SignerCredentials | false;
  retry?: RetryOptions;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /** Sent with every request (signed too). */
  headers?: Record<string, string>;
  /** Stand-ins for tests. */
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface EnqueueOptions {
  /** Default: the job's own `idempotencyKey`, else a random UUID. */
  idempotencyKey?: string;
  /** W3C trace context to keep with the job (sent on to the target). */
  traceparent?: string;
}

/** A non-2xx answer (after retries): the API's error code, message and details. */
export class SpoolApiError extends Error {
  override name = 'SpoolApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
    /** The server's Retry-After, when it sent one. */
    readonly retryAfterMs: number | undefined,
    readonly attempts: number,
  ) {
    super(message);
  }
}

const isLoopback = (host: string) => /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i.test(host);
const EXECUTE_API_HOST = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/;
/** An unsigned request the chain could not sign: said in the error of a 403. */
const UNSIGNED_HINT = ' (the request was not signed: no AWS credentials were found; pass credentials or set them up)';

interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to resend after a network error (GETs; enqueues carry an idempotency key). */
  resendable: boolean;
  /** Statuses that are an answer, not an error (GET /v1/health's 503 with a health body). */
  accept?: number[];
  text?: boolean;
}

export class SpoolClient {
  readonly baseUrl: URL;
  private readonly opts: SpoolClientOptions;
  private readonly retry: Required<RetryOptions>;
  private signer: Promise<SignatureV4 | undefined> | undefined;
  private unsigned = false;

  constructor(opts: SpoolClientOptions) {
    this.opts = opts;
    this.baseUrl = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    this.retry = { maxAttempts: 4, budgetMs: 20_000, baseDelayMs: 200, maxDelayMs: 5_000, ...opts.retry };
  }

  // ---- jobs ----

  /** Enqueue one job. 201 (new) and 200 (a duplicate within the idempotency window) both resolve. */
  enqueue(queue: string, job: JobInput, opts: EnqueueOptions = {}): Promise<Enqueued> {
    const key = opts.idempotencyKey ?? job.idempotencyKey ?? randomUUID();
    return this.call({
      method: 'POST',
      path: `v1/queues/${seg(queue)}/jobs`,
      body: { ...job, idempotencyKey: key },
      headers: { 'idempotency-key': key, ...(opts.traceparent ? { traceparent: opts.traceparent } : {}) },
      resendable: true,
    });
  }

  /** Enqueue up to 100 jobs at once, all or none; each gets its own idempotency key unless it has one. */
  enqueueBatch(
    queue: string,
    jobs: JobInput[],
    opts: Pick<EnqueueOptions, 'traceparent'> = {},
  ): Promise<EnqueuedBatch> {
    return this.call({
      method: 'POST',
      path: `v1/queues/${seg(queue)}/jobs`,
      body: { jobs: jobs.map((j) => ({ ...j, idempotencyKey: j.idempotencyKey ?? randomUUID() })) },
      headers: opts.traceparent ? { traceparent: opts.traceparent } : {},
      resendable: true,
    });
  }

  listJobs(queue: string, q: { state?: JobState; limit?: number; cursor?: string } = {}): Promise<JobPage> {
    return this.call({ method: 'GET', path: `v1/queues/${seg(queue)}/jobs`, query: q, resendable: true });
  }

  /** Every job in one state, page after page. */
  async *jobs(queue: string, q: { state?: JobState; limit?: number } = {}): AsyncGenerator<Job> {
    let cursor: string | undefined;
    do {
      const page = await this.listJobs(queue, { ...q, ...(cursor ? { cursor } : {}) });
      yield* page.jobs;
      cursor = page.nextCursor;
    } while (cursor);
  }

  getJob(queue: string, id: string): Promise<Job> {
    return this.call({ method: 'GET', path: `v1/queues/${seg(queue)}/jobs/${seg(id)}`, resendable: true });
  }

  cancelJob(queue: string, id: string): Promise<Cancelled> {
    return this.call({ method: 'DELETE', path: `v1/queues/${seg(queue)}/jobs/${seg(id)}`, resendable: false });
  }

  /** Run a delayed job now (409 when it is not delayed). */
  runJob(queue: string, id: string): Promise<RanNow> {
    return this.call({ method: 'POST', path: `v1/queues/${seg(queue)}/jobs/${seg(id)}/run`, resendable: false });
  }

  drain(queue: string): Promise<DrainAccepted> {
    return this.call({ method: 'POST', path: `v1/queues/${seg(queue)}/drain`, resendable: false });
  }

  // ---- queues and health ----

  /** A queue's flow-control settings, defaults filled in. */
  getSettings(queue: string): Promise<Settings> {
    return this.call({ method: 'GET', path: `v1/queues/${seg(queue)}/settings`, resendable: true });
  }

  /** Merge a change into a queue's settings (null clears a field); answers the whole settings. Safe to resend. */
  putSettings(queue: string, change: SettingsChange): Promise<Settings> {
    return this.call({ method: 'PUT', path: `v1/queues/${seg(queue)}/settings`, body: change, resendable: true });
  }

  /** The worker invocations draining the queue now. */
  listWorkers(queue: string): Promise<Workers> {
    return this.call({ method: 'GET', path: `v1/queues/${seg(queue)}/workers`, resendable: true });
  }

  listQueues(): Promise<Queues> {
    return this.call({ method: 'GET', path: 'v1/queues', resendable: true });
  }

  /** Resolves for 503 too when the answer is a health report (the status is then `unhealthy`). */
  async health(q: { history?: number } = {}): Promise<Health> {
    return this.call({ method: 'GET', path: 'v1/health', query: q, resendable: true, accept: [503] });
  }

  // ---- dead-letter queue ----

  deadGroups(queue: string, q: { samples?: number; scan?: number } = {}): Promise<DeadGroups> {
    return this.call({ method: 'GET', path: `v1/queues/${seg(queue)}/dlq`, query: q, resendable: true });
  }

  deleteDead(queue: string, id: string): Promise<DeadDeleted> {
    return this.call({ method: 'DELETE', path: `v1/queues/${seg(queue)}/dlq/${seg(id)}`, resendable: false });
  }

  /** A dry run unless `dryRun: false`. */
  replay(queue: string, body: ReplayRequest = {}): Promise<ReplayReport> {
    return this.call({ method: 'POST', path: `v1/queues/${seg(queue)}/dlq/replay`, body, resendable: false });
  }

  /** A dry run unless `dryRun: false`. */
  purge(queue: string, body: PurgeRequest = {}): Promise<PurgeReport> {
    return this.call({ method: 'POST', path: `v1/queues/${seg(queue)}/purge`, body, resendable: false });
  }

  /**
   * Clear a queue: its waiting and delayed jobs (dead ones with includeDead; active ones with force, else
   * 409 while any is active). Not resent: a second clear would remove jobs enqueued in between.
   */
  clearQueue(queue: string, opts: { includeDead?: boolean; force?: boolean } = {}): Promise<Cleared> {
    const query: Record<string, string> = { confirm: queue };
    if (opts.includeDead) query.includeDead = 'true';
    if (opts.force) query.force = 'true';
    return this.call({ method: 'DELETE', path: `v1/queues/${seg(queue)}`, query, resendable: false });
  }

  // ---- schedules ----

  /** Create or replace a recurring schedule (201 created, 200 replaced both resolve). Safe to resend. */
  putSchedule(id: string, schedule: ScheduleInput): Promise<Schedule> {
    return this.call({ method: 'PUT', path: `v1/schedules/${seg(id)}`, body: schedule, resendable: true });
  }

  /** Create a schedule (409 when its id exists). Not resent: a resend after a lost answer would be a 409. */
  createSchedule(schedule: ScheduleCreate): Promise<Schedule> {
    return this.call({ method: 'POST', path: 'v1/schedules', body: schedule, resendable: false });
  }

  /** Every schedule, or those of one queue, by id. */
  listSchedules(q: { queue?: string } = {}): Promise<Schedules> {
    return this.call({ method: 'GET', path: 'v1/schedules', query: q, resendable: true });
  }

  getSchedule(id: string): Promise<Schedule> {
    return this.call({ method: 'GET', path: `v1/schedules/${seg(id)}`, resendable: true });
  }

  deleteSchedule(id: string): Promise<ScheduleDeleted> {
    return this.call({ method: 'DELETE', path: `v1/schedules/${seg(id)}`, resendable: false });
  }

  // ---- documents ----

  openApi(): Promise<Record<string, unknown>> {
    return this.call({ method: 'GET', path: 'v1/openapi.json', resendable: true });
  }

  /** Prometheus text format 0.0.4. */
  metrics(): Promise<string> {
    return this.call({ method: 'GET', path: 'metrics', resendable: true, text: true });
  }

  // ---- transport ----

  private region(): string | undefined {
    return (
      this.opts.region ??
      EXECUTE_API_HOST.exec(this.baseUrl.hostname)?.[1] ??
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION
    );
  }

  /** The signer, or undefined for plain requests; decided once. */
  private getSigner(): Promise<SignatureV4 | undefined> {
    this.signer ??= (async () => {
      const given = this.opts.credentials;
      if (given === false) return undefined;
      let credentials: SignerCredentials;
      if (given !== undefined) credentials = given;
      else if (isLoopback(this.baseUrl.hostname)) return undefined;
      else {
        const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
        const chain = defaultProvider();
        try {
          await chain();
        } catch {
          this.unsigned = true;
          return undefined;
        }
        credentials = chain;
      }
      const region = this.region();
      if (!region) throw new Error('SpoolClient: no region to sign for: pass `region` or set AWS_REGION');
      return new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256 });
    })();
    return this.signer;
  }

  private async call<T>(c: Call): Promise<T> {
    const url = new URL(c.path, this.baseUrl);
    // RFC 3986 encoding (%20, not +), so the query reads the same to the signer and to API Gateway.
    url.search = Object.entries(c.query ?? {})
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${rfc3986(k)}=${rfc3986(String(v))}`)
      .join('&');
    const body = c.body === undefined ? undefined : JSON.stringify(c.body);
    const headers: Record<string, string> = {
      accept: c.text ? 'text/plain' : 'application/json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...this.opts.headers,
      ...c.headers,
    };
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const random = this.opts.random ?? Math.random;
    const doFetch = this.opts.fetch ?? fetch;
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      const sent = await this.sign(c.method, url, headers, body);
      let res: Response;
      try {
        res = await doFetch(url, {
          method: c.method,
          headers: sent,
          ...(body !== undefined ? { body } : {}),
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
        });
      } catch (err) {
        const wait = backoff(attempt, this.retry, random);
        if (!c.resendable || attempt >= this.retry.maxAttempts || waited + wait > this.retry.budgetMs) throw err;
        waited += wait;
        await sleep(wait);
        continue;
      }
      const text = await res.text();
      if ((res.ok || c.accept?.includes(res.status)) && !(res.status === 503 && isError(text))) {
        return (c.text ? text : text === '' ? undefined : JSON.parse(text)) as T;
      }
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), Date.now());
      if (res.status === 429 || res.status === 503) {
        const wait = retryAfterMs ?? backoff(attempt, this.retry, random);
        if (attempt < this.retry.maxAttempts && waited + wait <= this.retry.budgetMs) {
          waited += wait;
          await sleep(wait);
          continue;
        }
      }
      throw this.apiError(res.status, text, retryAfterMs, attempt);
    }
  }

  private async sign(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Record<string, string>> {
    const signer = await this.getSigner();
    if (!signer) return headers;
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      ...(body !== undefined ? { body } : {}),
    });
    // fetch sets Host itself, from the same URL.
    const { host: _host, ...rest } = signed.headers;
    return rest;
  }

  private apiError(status: number, text: string, retryAfterMs: number | undefined, attempts: number): SpoolApiError {
    let code = `http_${status}`;
    let message = `HTTP ${status}`;
    let details: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(text) as Partial<ApiErrorBody> & { message?: string };
      if (parsed.error) ({ code, message, details } = parsed.error);
      else if (typeof parsed.message === 'string') message = `${message}: ${parsed.message}`;
    } catch {
      if (text) message = `${message}: ${text.slice(0, 200)}`;
    }
    if (status === 403 && this.unsigned) message += UNSIGNED_HINT;
    return new SpoolApiError(status, code, message, details, retryAfterMs, attempts);
  }
}

const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const seg = rfc3986;

/** True for a body that is the API's error shape (a 503 of GET /v1/health is an answer unless it is one). */
function isError(text: string): boolean {
  try {
    const b = JSON.parse(text) as { error?: unknown; message?: unknown };
    return b.error !== undefined || (typeof b.message === 'string' && Object.keys(b).length === 1);
  } catch {
    return true;
  }
}

/** Full jitter: random × min(max, base × 2^(attempt-1)). */
const backoff = (attempt: number, r: Required<RetryOptions>, random: () => number) =>
  Math.floor(random() * Math.min(r.maxDelayMs, r.baseDelayMs * 2 ** (attempt - 1)));
