/**
 * `npm start` as a newcomer runs it: a child process that finds no Redis at REDIS_URL (a free port),
 * starts redis-server, the Upstash endpoint and the server, answers, and after SIGINT leaves no
 * process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../../local/redis.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every process whose parent chain leads to `root` (Linux /proc). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
};

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
};

let child: ChildProcess | undefined;
let seen: number[] = [];
let output = '';

afterAll(() => {
  if (process.env.DEBUG_START) console.log(output); // DEBUG_START=1: show what npm start printed
  // Only if the test failed half-way: never leave what it started.
  if (child && child.exitCode === null) child.kill('SIGKILL');
  for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

it('npm start runs everything, answers, and SIGINT leaves no process behind', { timeout: 60_000 }, async () => {
  const [redisPort, restPort] = await Promise.all([freePort(), freePort()]);
  child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      // A password in REDIS_URL: redis-server is started with it, and it is never printed.
      REDIS_URL: `redis://:start-test-redis-password@127.0.0.1:${redisPort}`,
      UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${restPort}`,
      UPSTASH_REDIS_REST_TOKEN: 'start-test-token',
      SPOOL_KEY_PREFIX: 'test:start',
      LOG_LEVEL: 'WARN',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`npm start did not come up in 30s:\n${output}`)), 30_000);
    const check = () => {
      const m = /Spool is running on (http:\/\/[\d.]+:\d+)/.exec(output);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    };
    child!.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`npm start exited (${code}) before answering:\n${output}`)));
  });
  expect(output).toContain(`starting redis-server`);
  expect(output).toContain(`redis://:[redacted]@127.0.0.1:${redisPort}`);

  const health = await fetch(`${url}/v1/health`);
  expect(health.status).toBeLessThan(500);
  const echo = await fetch(`${url}/demo/echo`, { method: 'POST', body: '{}' });
  expect(echo.status).toBe(200);
  const dash = await fetch(`${url}/dashboard`);
  expect(dash.status).toBe(200);

  seen = descendants(child.pid!);
  const names = seen.map(cmdline);
  expect(names.some((c) => c.startsWith('redis-server'))).toBe(true);
  expect(names.join('\n')).not.toContain('start-test-redis-password');
  expect(names.some((c) => c.includes('local/main.ts'))).toBe(true);

  child.kill('SIGINT');
  const code = await exited;
  expect(code === 0 || code === null).toBe(true);
  // npm's own exit can precede its children's by a moment.
  const deadline = Date.now() + 5_000;
  while (seen.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(seen.filter(alive).map((p) => `${p} ${cmdline(p)}`)).toEqual([]);
  expect(output).toContain('[local] stopped');
  expect(output).not.toContain('start-test-redis-password');
  // Nothing listens any more.
  await expect(fetch(`${url}/v1/health`)).rejects.toThrow();
});
