/**
 * `spool` — operate a Spool deployment (or the local one) from a terminal. Talks to Redis through
 * the queue engine with UPSTASH_REDIS_REST_URL / UPSTASH_REDIS_REST_TOKEN (defaults: the values
 * `npm start` uses) and SPOOL_KEY_PREFIX (default `spool`). Run `spool help`.
 */
import { run } from './commands.js';

process.exitCode = await run(process.argv.slice(2), {
  env: process.env,
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
});
