/**
 * What the CLI answers with, kept free of the engine's imports so that `--version` and `--help`
 * load nothing else: exit codes, the local defaults, and the failure every command reports as is.
 */

import { LOCAL_REST_TOKEN, LOCAL_REST_URL } from '../local/defaults.js';

/** Same defaults as `npm start` and `npm run upstash:local`: local/defaults.ts. */
export { LOCAL_REST_TOKEN, LOCAL_REST_URL };

/**
 * Exit codes of every command but `spool health` (whose 0–3 are its status; see HEALTH_EXIT).
 * Documented in `spool --help` and the README.
 */
export const EXIT = {
  ok: 0,
  /** The API refused the request (e.g. 409 conflict), or an unexpected error. */
  failure: 1,
  /** The job, dead job, DLQ group or schedule does not exist. */
  notFound: 4,
  /** The queue does not exist under this key prefix (nothing was ever enqueued to it). */
  unknownQueue: 5,
  /** Bad command line (sysexits EX_USAGE). */
  usage: 64,
  /** Redis or its REST endpoint cannot be reached, or it refused the token (EX_UNAVAILABLE). */
  unavailable: 69,
  /** A setting in the environment is invalid (EX_CONFIG). */
  config: 78,
} as const;

/** Exit codes of `spool health --once` (Nagios-style, so cron and monitors can read them). */
export const HEALTH_EXIT = { healthy: 0, degraded: 1, unhealthy: 2, unknown: 3 } as const;

/** An error the CLI reports as is: a message, an exit code, and the API-shaped body for `--json`. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exit: number,
    readonly body: { error: { code: string; message: string; details: Record<string, unknown> } },
  ) {
    super(message);
  }
}

export interface Endpoint {
  url: string;
  token: string;
  /** Where the URL came from: the variable, or the local default. */
  fromEnv: boolean;
}

export function endpointOf(env: Record<string, string | undefined>): Endpoint {
  return {
    url: env.UPSTASH_REDIS_REST_URL || LOCAL_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN || LOCAL_REST_TOKEN,
    fromEnv: !!env.UPSTASH_REDIS_REST_URL,
  };
}
