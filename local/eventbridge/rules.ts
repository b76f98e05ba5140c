import type { SweepReport } from '../../lambda/core/repair-sweep';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../local-aws';
import type { Execution, LocalStepFunctions } from '../step-functions/runner';
import { type CfnTemplate, type EventRuleProperties, type LocalNames, resolve, resourcesOfType } from '../template';

type Invoke = (event: unknown) => Promise<unknown>;

/**
 * EventBridge locally: each rule on "Step Functions Execution Status Change" for this state machine invokes its
 * Lambda target with the event AWS would send, whenever an execution ends with a matching status.
 */
export function wireExecutionEvents(
  template: CfnTemplate,
  names: LocalNames,
  sfn: LocalStepFunctions,
  lambdas: Record<string, Invoke>,
  log: (line: string) => void,
): void {
  for (const [ruleId, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
    const props = resolve(rule.Properties, names) as EventRuleProperties;
    const pattern = props.EventPattern ?? {};
    if (!pattern['detail-type']?.includes('Step Functions Execution Status Change')) continue;
    for (const target of props.Targets ?? []) {
      const invoke = lambdas[String(target.Arn)];
      if (!invoke) continue;
      sfn.onExecutionEnd(async (execution: Execution) => {
        const statuses = pattern.detail?.status;
        const machines = pattern.detail?.stateMachineArn;
        if (statuses && !statuses.includes(execution.status)) return;
        if (machines && !machines.includes(execution.stateMachineArn)) return;
        log(`[events] ${ruleId}: ${execution.name} ${execution.status} → finalizer`);
        await invoke(executionStatusEvent(execution));
      });
    }
  }
}

/**
 * EventBridge schedules locally: each rule with a ScheduleExpression invokes its Lambda targets at start-up, then
 * every `intervalSeconds` (shorter than on AWS, so a restart is repaired quickly), never two runs at once.
 * @returns a stop function that waits for a run in progress.
 */
export function runSchedules(
  template: CfnTemplate,
  names: LocalNames,
  lambdas: Record<string, Invoke>,
  intervalSeconds: number,
  log: (line: string) => void,
): () => Promise<void> {
  const jobs: (() => Promise<void>)[] = [];
  for (const [ruleId, rule] of resourcesOfType(template, 'AWS::Events::Rule')) {
    const props = resolve(rule.Properties, names) as EventRuleProperties;
    if (!props.ScheduleExpression) continue;
    for (const target of props.Targets ?? []) {
      const invoke = lambdas[String(target.Arn)];
      if (!invoke) continue;
      jobs.push(async () => {
        const report = (await invoke({
          'detail-type': 'Scheduled Event',
          source: 'aws.events',
          resources: [ruleId],
          detail: {},
        })) as SweepReport | undefined;
        if (report && (report.started || report.ended || report.errors)) {
          log(
            `[sweep] ${ruleId}: ${report.candidates} checked, ${report.started} started, ${report.ended} ended, ${report.errors} failed`,
          );
        }
      });
    }
  }
  let running: Promise<void> | undefined;
  const tick = () => {
    if (running) return;
    running = Promise.all(
      jobs.map((job) => job().catch((e: Error) => log(`[sweep] failed: ${e.message}; the next run tries again`))),
    ).then(() => {
      running = undefined;
    });
  };
  tick();
  const timer = intervalSeconds > 0 ? setInterval(tick, intervalSeconds * 1000) : undefined;
  return async () => {
    if (timer) clearInterval(timer);
    await running;
  };
}

export function executionStatusEvent(execution: Execution) {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: LOCAL_ACCOUNT,
    time: new Date().toISOString(),
    region: LOCAL_REGION,
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: execution.stopDate?.getTime() ?? null,
      input: execution.input,
      output: execution.output ?? null,
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
}
