import { run } from '../../cli/commands.js';
import { upstashConfig } from './redis.js';

/** What a CLI run printed and exited with. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `spool <args>` in-process (`run(argv, io)`, the function bin/spool.mjs calls) against the test
 * endpoint under `prefix`; `env` adds to or overrides those variables. Each printed line ends in a newline.
 */
export async function runCli(prefix: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const { url, token } = upstashConfig();
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    env: { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token, SPOOL_KEY_PREFIX: prefix, ...env },
    out: (s) => {
      stdout += s.endsWith('\n') ? s : `${s}\n`;
    },
    err: (s) => {
      stderr += s.endsWith('\n') ? s : `${s}\n`;
    },
  });
  return { code, stdout, stderr };
}
