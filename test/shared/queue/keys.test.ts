import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GLOBAL_KEYS, globalKey, QUEUE_KEYS, queueKey, requestKey } from '../../../shared/queue/keys.js';

const ROOT = join(import.meta.dirname, '../../..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mjs|html)$/.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** A template literal that glues a name onto a key prefix (a `prefix` expression, then a colon). */
const BUILDS_A_KEY = /\$\{[\w.]*prefix\}:/i;

/**
 * Files allowed to glue keys: their owner, and the test of the local Upstash endpoint, whose keys are
 * a generic Redis client's (not Spool's layout).
 */
const OWNERS = new Set(['shared/queue/keys.ts', 'test/local/upstash.test.ts']);

function keyBuilders(files: string[], read: (f: string) => string): string[] {
  return files.filter((f) => !OWNERS.has(f) && BUILDS_A_KEY.test(read(f)));
}

describe('Redis keys', () => {
  it('keep the layout deployed data is stored under', () => {
    // Renaming an alias is free; changing a string orphans every key of a deployed queue.
    expect(Object.fromEntries(Object.keys(QUEUE_KEYS).map((k) => [k, queueKey('p', 'q', k as never)]))).toEqual({
      waiting: 'p:{q}:waiting',
      waitingSince: 'p:{q}:waiting:since',
      delayed: 'p:{q}:delayed',
      active: 'p:{q}:active',
      completed: 'p:{q}:completed',
      dead: 'p:{q}:dead',
      deadFingerprints: 'p:{q}:dead:fingerprints',
      deadIndex: 'p:{q}:dead:index',
      jobs: 'p:{q}:jobs',
      meta: 'p:{q}:meta',
      timer: 'p:{q}:timer',
      idempotency: 'p:{q}:idem',
      idempotencyExpiry: 'p:{q}:idem:expiry',
      counters: 'p:{q}:counters',
      worker: 'p:{q}:worker',
      kick: 'p:{q}:kick',
      auditDlqReplay: 'p:{q}:audit:dlq-replay',
      settings: 'p:{q}:settings',
      rate: 'p:{q}:rate',
      workers: 'p:{q}:workers',
      workersInfo: 'p:{q}:workers:info',
      expiry: 'p:{q}:expiry',
    });
    expect(Object.fromEntries(Object.keys(GLOBAL_KEYS).map((k) => [k, globalKey('p', k as never)]))).toEqual({
      queues: 'p:queues',
      due: 'p:due',
      schedules: 'p:schedules',
      scheduleStates: 'p:schedules:state',
      schedulesDue: 'p:schedules:due',
      scheduleTimer: 'p:schedules:timer',
      touched: 'p:touched',
      autoReplay: 'p:auto-replay',
      purgeDue: 'p:purge:due',
      purgeLast: 'p:purge:last',
      healthLast: 'p:health:last',
      healthHistory: 'p:health:history',
    });
    expect(requestKey('p', 'q', 'n-1')).toBe('p:{q}:request:n-1');
  });

  it('are built in shared/queue/keys.ts only', () => {
    const files = ['shared', 'functions', 'infra', 'local', 'cli', 'bench', 'test'].flatMap(sources);
    expect(files.length).toBeGreaterThan(50);
    const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
    expect(keyBuilders(files, read)).toEqual([]);
    // The check finds a key glued together elsewhere.
    const fake: Record<string, string> = {
      'functions/x.ts': ['const k = `$', '{rt.spool.config.prefix}:health:last`;'].join(''),
      'functions/y.ts': "const k = globalKey(prefix, 'healthLast');",
    };
    expect(keyBuilders(Object.keys(fake), (f) => fake[f]!)).toEqual(['functions/x.ts']);
  });
});
