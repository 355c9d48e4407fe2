/**
 * The HTTP API, once: every route and the function that serves it.
 * The CDK app creates exactly these API Gateway routes; the local server mounts the same handlers.
 */
export type FunctionName = 'enqueue' | 'worker' | 'purge' | 'health' | 'dlq-replay' | 'scheduler';

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** API Gateway HTTP API path syntax. */
  path: string;
  fn: FunctionName;
}

export const ROUTES = [
  { method: 'POST', path: '/v1/queues/{queue}/jobs', fn: 'enqueue' },
  { method: 'GET', path: '/v1/queues/{queue}/jobs', fn: 'enqueue' },
  { method: 'GET', path: '/v1/queues/{queue}/jobs/{id}', fn: 'enqueue' },
  { method: 'DELETE', path: '/v1/queues/{queue}/jobs/{id}', fn: 'enqueue' },
  { method: 'GET', path: '/v1/queues', fn: 'health' },
  { method: 'GET', path: '/v1/queues/{queue}/workers', fn: 'health' },
  { method: 'GET', path: '/v1/health', fn: 'health' },
  { method: 'GET', path: '/v1/queues/{queue}/dlq', fn: 'dlq-replay' },
  { method: 'DELETE', path: '/v1/queues/{queue}/dlq/{id}', fn: 'dlq-replay' },
  { method: 'POST', path: '/v1/queues/{queue}/dlq/replay', fn: 'dlq-replay' },
  { method: 'POST', path: '/v1/queues/{queue}/purge', fn: 'purge' },
  { method: 'DELETE', path: '/v1/queues/{queue}', fn: 'purge' },
  { method: 'POST', path: '/v1/queues/{queue}/jobs/{id}/run', fn: 'enqueue' },
  { method: 'POST', path: '/v1/queues/{queue}/drain', fn: 'enqueue' },
  { method: 'GET', path: '/v1/queues/{queue}/settings', fn: 'enqueue' },
  { method: 'PUT', path: '/v1/queues/{queue}/settings', fn: 'enqueue' },
  { method: 'GET', path: '/v1/openapi.json', fn: 'health' },
  { method: 'GET', path: '/metrics', fn: 'health' },
  { method: 'PUT', path: '/v1/schedules/{id}', fn: 'scheduler' },
  { method: 'POST', path: '/v1/schedules', fn: 'scheduler' },
  { method: 'GET', path: '/v1/schedules', fn: 'scheduler' },
  { method: 'GET', path: '/v1/schedules/{id}', fn: 'scheduler' },
  { method: 'DELETE', path: '/v1/schedules/{id}', fn: 'scheduler' },
] as const satisfies readonly RouteSpec[];

/** `POST /v1/queues/{queue}/jobs`, ...: the API Gateway route key of each route, as a type. */
type KeyOf<R> = R extends { method: infer M extends string; path: infer P extends string } ? `${M} ${P}` : never;
export type RouteKey = KeyOf<(typeof ROUTES)[number]>;

/** Catch-all served by the health function so unknown paths get a JSON 404 and known paths with a wrong method a 405. */
export const FALLBACK_ROUTE = { path: '/{proxy+}', fn: 'health' as FunctionName };

export const FUNCTION_NAMES: readonly FunctionName[] = [
  'enqueue',
  'worker',
  'purge',
  'health',
  'dlq-replay',
  'scheduler',
];

/** Entry file of each function, relative to the repo root; each exports `handler`. */
export const functionEntry = (fn: FunctionName): string => `functions/${fn}/handler.ts`;
