import { Match } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { TaskSweeper } from '../../lib/task-sweeper';
import { DEFAULT_TASK_RULES } from '../../lib/task-rules';
import { defaultTrackingStack, synthTrackingStack, unbundledStack } from '../support/synth';

const { template } = defaultTrackingStack();

describe('repair sweeper function', () => {
  test('no reserved concurrency by default (new accounts cannot spare it), sized for a pass over 10^6 running executions, with a list threshold', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Repairs active tasks'),
      Timeout: 600,
      MemorySize: 512,
      ReservedConcurrentExecutions: Match.absent(),
      Environment: { Variables: Match.objectLike({ SWEEP_MAX_TASKS: '500', SWEEP_LIST_THRESHOLD: '100' }) },
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('ReservedConcurrentExecutions');
  });

  test('a reservation is opt-in (sweeperReservedConcurrency), and must be a positive integer', () => {
    const { template: reserved } = synthTrackingStack({ sweeperReservedConcurrency: 1 }, 'Reserved');
    reserved.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Repairs active tasks'),
      ReservedConcurrentExecutions: 1,
    });
    expect(() => synthTrackingStack({ sweeperReservedConcurrency: 0.5 }, 'Bad')).toThrow(
      /reservedConcurrency must be a positive integer/,
    );
  });

  test('a tick that finds a run in progress is dropped after a minute, never queued behind it', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('^SweeperFunction') },
      MaximumEventAgeInSeconds: 60,
      MaximumRetryAttempts: 0,
    });
  });

  test('a list threshold above the describe budget, or not a whole number, is refused', () => {
    // GIVEN a table, a state machine and a keyring
    const s = unbundledStack();
    const table = new dynamodb.Table(s, 'T', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    const stateMachine = new sfn.StateMachine(s, 'M', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(s, 'P')),
    });
    const taskIdSecret = new secretsmanager.Secret(s, 'K');
    const props = { table, stateMachine, taskIdSecret, rules: DEFAULT_TASK_RULES };
    // WHEN / THEN
    expect(() => new TaskSweeper(s, 'A', { ...props, maxTasksPerRun: 50, listThreshold: 51 })).toThrow(
      /listThreshold must be an integer from 0 to maxTasksPerRun/,
    );
    expect(() => new TaskSweeper(s, 'B', { ...props, listThreshold: 1.5 })).toThrow(/listThreshold/);
  });
});
