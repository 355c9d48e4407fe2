import * as z from 'zod/mini';
import '../validation/zod.js';
import { defineHandler, type JobHandler } from './registry.js';

/** `echo`: succeeds at once (smoke tests, benchmarks). */
export const echoHandler = defineHandler({
  name: 'echo',
  schema: z.unknown(),
  run: () => undefined,
});

/** `sleep`: `{ ms }` (at most 15 minutes), stops early when aborted. */
export const sleepHandler = defineHandler({
  name: 'sleep',
  schema: z.object({ ms: z.int().check(z.gte(0), z.lte(900_000)) }),
  run: ({ ms }, { signal }) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    }),
});

export const BUILTIN_HANDLERS: Array<JobHandler<never>> = [
  echoHandler as JobHandler<never>,
  sleepHandler as JobHandler<never>,
];
