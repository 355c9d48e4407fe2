/**
 * EventBridge schedules: worker and health every minute, purge and dlq-replay (automatic DLQ replay)
 * every hour (all configurable), and the scheduler every minute (fixed: the safety net of the
 * schedule timers).
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { FunctionName } from '../../functions/routes.js';
import type { ScheduleSpec, StackConfig } from '../config.js';
import { constructIdOf } from './functions.js';

/**
 * The scheduler's tick. Schedules fire on their own timers (the schedule timer queue); the tick fires
 * whatever a lost or failed timer left due and arms the timer again, so while the timers fail a fire
 * is at most about a minute late. Not a context key: slower would only make those fires later, and an
 * idle tick costs one Redis command, with or without schedules pending (it arms a timer only after
 * fires of its own: functions/scheduler/run.ts).
 */
export const SCHEDULER_TICK = 'rate(1 minute)';

export interface SpoolSchedulesProps {
  readonly config: StackConfig;
  readonly functions: Readonly<Record<FunctionName, lambda.IFunction>>;
}

export class SpoolSchedules extends Construct {
  readonly rules: Readonly<Partial<Record<FunctionName, events.Rule>>>;

  constructor(scope: Construct, id: string, props: SpoolSchedulesProps) {
    super(scope, id);
    const scheduled: ReadonlyArray<[FunctionName, ScheduleSpec]> = [
      ['worker', props.config.workerSchedule],
      ['health', props.config.healthSchedule],
      ['purge', props.config.purgeSchedule],
      ['dlq-replay', props.config.dlqReplaySchedule],
      ['scheduler', { expression: SCHEDULER_TICK, intervalMinutes: 1 }],
    ];
    const rules: Partial<Record<FunctionName, events.Rule>> = {};
    for (const [fn, spec] of scheduled) {
      rules[fn] = new events.Rule(this, `${constructIdOf(fn)}Schedule`, {
        description: `Runs the Spool ${fn} function on ${spec.expression}`,
        schedule: events.Schedule.expression(spec.expression),
        // Delivery retries only (a throttled invoke); a tick older than a few minutes is superseded by the next one.
        targets: [
          new targets.LambdaFunction(props.functions[fn], { retryAttempts: 2, maxEventAge: Duration.minutes(5) }),
        ],
      });
    }
    this.rules = rules;
  }
}
