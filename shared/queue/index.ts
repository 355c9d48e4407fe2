export { SpoolCore, type SpoolOptions } from './core.js';
export { Spool } from './engine.js';
export * from './errors.js';
export { fingerprint, normalizeMessage } from './fingerprint.js';
export { GLOBAL_KEYS, globalKey, QUEUE_KEYS, queueKey } from './keys.js';
export {
  assertQueueName,
  jobInputSchema,
  MAX_BATCH,
  normalizeJob,
  PRIORITY_MAX,
  PRIORITY_MIN,
  QUEUE_NAME,
} from './schema.js';
export * from './types.js';
