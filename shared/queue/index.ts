export * from './types.js';
export * from './errors.js';
export { Spool } from './engine.js';
export { SpoolCore, type SpoolOptions } from './core.js';
export { QUEUE_NAME, assertQueueName, normalizeJob, jobInputSchema, MAX_BATCH, PRIORITY_MIN, PRIORITY_MAX } from './schema.js';
export { fingerprint, normalizeMessage } from './fingerprint.js';
export { queueKey, queuesKey, QUEUE_KEYS } from './keys.js';
