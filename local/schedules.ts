/**
 * The EventBridge schedules, on timers. Deployed they run every minute (worker, health, scheduler:
 * the safety net under the schedule timers) and every hour (purge, dlq-replay: automatic DLQ replay);
 * locally they run sooner so that retries and the dashboard move while you watch.
 * A tick is skipped while the previous run of the same function is still going.
 */
import type { FunctionHost } from './functions.js';

export interface ScheduleIntervals {
  worker: number;
  health: number;
  purge: number;
  'dlq-replay': number;
  scheduler: number;
}

export const LOCAL_SCHEDULES: ScheduleIntervals = {
  worker: 2_000,
  health: 10_000,
  purge: 60_000,
  'dlq-replay': 60_000,
  scheduler: 5_000,
};

export function startSchedules(
  host: FunctionHost,
  intervals: Partial<ScheduleIntervals> | false,
  log: (line: string) => void,
): { stop(): void } {
  if (intervals === false) return { stop() {} };
  const all = { ...LOCAL_SCHEDULES, ...intervals };
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  for (const fn of ['worker', 'health', 'purge', 'dlq-replay', 'scheduler'] as const) {
    const every = all[fn];
    if (!(every > 0)) continue;
    let running = false;
    const tick = async () => {
      if (running || stopped) return;
      running = true;
      try {
        await host.runScheduled(fn);
      } catch (e) {
        log(`[schedule] ${fn} failed: ${(e as Error).stack ?? String(e)}`);
      } finally {
        running = false;
      }
    };
    timers.push(setInterval(() => void tick(), every));
    // The health history feeds the dashboard chart: take a first sample at once.
    if (fn === 'health') setImmediate(() => void tick());
  }
  log(
    `[schedule] worker every ${all.worker}ms, health every ${all.health}ms, purge every ${all.purge}ms, dlq-replay every ${all['dlq-replay']}ms, scheduler every ${all.scheduler}ms`,
  );
  return {
    stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
    },
  };
}
