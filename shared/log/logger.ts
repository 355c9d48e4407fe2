/**
 * A small structured JSON logger with the slice of the Powertools Logger API that Spool uses
 * (info/warn/error/debug, createChild with persistent keys, addContext, appendKeys); the handler
 * wrapper (functions/lib/handler.ts) adds Powertools' cold_start field and debug sampling
 * (POWERTOOLS_LOGGER_SAMPLE_RATE). One JSON object per line on stdout (CloudWatch Logs), with level,
 * message, timestamp, service and the persistent keys. Every URL in a line has its userinfo and
 * query values redacted (shared/log/redact.ts), whoever logged it.
 *
 * Why not Powertools Logger, now that a bundle may be 250 KB (measured, esbuild minified as the
 * functions are bundled): it is 23,397 bytes against this file's 2,168, and importing it and
 * writing one line took a median 57 ms against 45 ms (7 runs each, cold node processes, a loaded
 * 2-core machine). Of what it adds, Spool needs correlation ids (the request id, and a job's trace
 * id, which is per job: Powertools' xray_trace_id is the invocation's, wrong for a worker batch of
 * jobs from many traces), the cold-start field and sampling: about 15 lines here.
 */
import { redactUrls } from './redact.js';
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

const RANK: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40, SILENT: 99 };

export interface LoggerOptions {
  serviceName?: string;
  logLevel?: LogLevel | string;
  persistentKeys?: Record<string, unknown>;
  /** Where lines go (default: process.stdout). */
  sink?: (line: string) => void;
}

type Extra = Record<string, unknown> | Error | string | number | boolean | null | undefined;

function errorFields(e: Error): Record<string, unknown> {
  return { name: e.name, message: e.message, stack: e.stack };
}

export class Logger {
  private readonly level: number;
  private readonly keys: Record<string, unknown>;
  private readonly sink: (line: string) => void;
  private readonly opts: LoggerOptions;

  constructor(opts: LoggerOptions = {}) {
    this.opts = opts;
    const lvl = String(opts.logLevel ?? process.env.LOG_LEVEL ?? 'INFO').toUpperCase() as LogLevel;
    this.level = RANK[lvl] ?? RANK.INFO;
    this.keys = { service: opts.serviceName ?? process.env.POWERTOOLS_SERVICE_NAME ?? 'spool', ...opts.persistentKeys };
    this.sink = opts.sink ?? ((line) => process.stdout.write(`${line}\n`));
  }

  /** A logger with more persistent keys (e.g. the request id of one invocation). */
  createChild(o: { persistentKeys?: Record<string, unknown>; logLevel?: LogLevel } = {}): Logger {
    return new Logger({
      ...this.opts,
      ...(o.logLevel ? { logLevel: o.logLevel } : {}),
      persistentKeys: { ...this.keys, ...o.persistentKeys },
    });
  }

  appendKeys(keys: Record<string, unknown>): void {
    Object.assign(this.keys, keys);
  }

  /** Lambda context fields, as Powertools adds them. */
  addContext(ctx: {
    functionName?: string;
    functionVersion?: string;
    awsRequestId?: string;
    memoryLimitInMB?: string | number;
  }): void {
    this.appendKeys({
      function_name: ctx.functionName,
      function_request_id: ctx.awsRequestId,
      function_memory_size: ctx.memoryLimitInMB,
    });
  }

  debug(message: string, ...extra: Extra[]): void {
    this.write('DEBUG', message, extra);
  }
  info(message: string, ...extra: Extra[]): void {
    this.write('INFO', message, extra);
  }
  warn(message: string, ...extra: Extra[]): void {
    this.write('WARN', message, extra);
  }
  error(message: string, ...extra: Extra[]): void {
    this.write('ERROR', message, extra);
  }

  private write(level: LogLevel, message: string, extra: Extra[]): void {
    if (RANK[level] < this.level) return;
    const entry: Record<string, unknown> = { level, message, timestamp: new Date().toISOString(), ...this.keys };
    for (const x of extra) {
      if (x instanceof Error) entry.error = errorFields(x);
      else if (x && typeof x === 'object') {
        for (const [k, v] of Object.entries(x)) entry[k] = v instanceof Error ? errorFields(v) : v;
      } else if (x !== undefined) entry.extra = x;
    }
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      line = JSON.stringify({
        level,
        message,
        timestamp: entry.timestamp,
        ...this.keys,
        note: 'unserializable log fields dropped',
      });
    }
    this.sink(redactUrls(line));
  }
}
