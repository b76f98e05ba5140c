import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { taskError } from '../../../../lambda/core/task-errors';
import { type LambdaHandler, LocalStepFunctions } from '../../../../local/step-functions/runner';

const FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:Analyse';
const ACCOUNT = '123456789012';
const ROLE_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/VideoTracking-AnalyseRole/VideoTracking-Analyse`;

/** Analyse as the synthesized workflow has it: throttles retried with capped, fully jittered backoff, errors caught. */
const definition: StateMachineDefinition = {
  StartAt: 'Analyse',
  States: {
    Analyse: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: FUNCTION, 'Payload.$': '$' },
      ResultSelector: { 'Payload.$': '$.Payload' },
      ResultPath: '$.analysis',
      Retry: [
        {
          ErrorEquals: ['Lambda.TooManyRequestsException'],
          IntervalSeconds: 1,
          BackoffRate: 2,
          MaxDelaySeconds: 1,
          JitterStrategy: 'FULL',
          MaxAttempts: 600,
        },
        { ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 0 },
      ],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
      End: true,
    },
    Failed: { Type: 'Pass', End: true },
  },
};

function runner(handler: LambdaHandler, lines: string[]) {
  return new LocalStepFunctions({
    definition,
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:Test',
    dynamodb: new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1' }),
    lambdas: { [FUNCTION]: handler },
    log: (line) => lines.push(line),
  });
}

async function ended(sfn: LocalStepFunctions, name: string) {
  await sfn.idle();
  return sfn.listExecutions().find((e) => e.name === name)!;
}

describe('LocalStepFunctions: Lambda failures as AWS reports them', () => {
  test('a function error is caught with the Lambda error payload as its Cause; the log keeps it; what a tenant sees has no trace, ARN or account id', async () => {
    // GIVEN an analysis whose SDK call is refused, with the message AWS writes (the role ARN and the account id)
    const lines: string[] = [];
    const sfn = runner(
      () =>
        Promise.reject(
          Object.assign(new Error(`User: ${ROLE_ARN} is not authorized to perform: s3:GetObject`), {
            name: 'AccessDeniedException',
          }),
        ),
      lines,
    );

    // WHEN
    sfn.startExecution('denied', JSON.stringify({ task_id: 'denied' }));
    const execution = await ended(sfn, 'denied');

    // THEN the execution's output (its history on AWS) has the raw payload: errorType, errorMessage, trace
    const error = JSON.parse(execution.output!).error;
    expect(error.Error).toBe('AccessDeniedException');
    const cause = JSON.parse(error.Cause);
    expect(cause).toEqual({
      errorType: 'AccessDeniedException',
      errorMessage: expect.stringContaining(ROLE_ARN),
      trace: expect.any(Array),
    });
    expect(cause.trace.join('\n')).toContain('runner.test.ts');
    // AND the log keeps it
    expect(lines.some((l) => l.includes('Analyse failed: AccessDeniedException') && l.includes(ROLE_ARN))).toBe(true);
    // AND the task's error is the name with a fixed message, nothing of the cause
    const seen = JSON.stringify(taskError(error.Error));
    expect(seen).not.toContain(ACCOUNT);
    expect(seen).not.toContain('arn:');
    expect(seen).not.toContain('at ');
    expect(taskError(error.Error)).toEqual({
      error: 'AccessDeniedException',
      message: 'The analysis failed; the operator has the details.',
    });
  });

  test('throttled invocations wait (MaxDelaySeconds, JitterStrategy FULL) and the analysis runs once Lambda accepts it', async () => {
    // GIVEN Lambda refuses the first four invocations
    const lines: string[] = [];
    let invoked = 0;
    const sfn = runner((event: any) => {
      invoked++;
      return Promise.resolve({ analysed: event.task_id });
    }, lines);
    sfn.injectFault({ state: 'Analyse', error: 'Lambda.TooManyRequestsException', times: 4 });

    // WHEN
    const started = Date.now();
    sfn.startExecution('busy', JSON.stringify({ task_id: 'busy' }));
    const execution = await ended(sfn, 'busy');

    // THEN it succeeded with the function's result, each wait capped at 1 s
    expect(execution.status).toBe('SUCCEEDED');
    expect(JSON.parse(execution.output!).analysis.Payload).toEqual({ analysed: 'busy' });
    expect(invoked).toBe(1);
    expect(lines.filter((l) => l.includes('retry #'))).toHaveLength(4);
    expect(Date.now() - started).toBeLessThan(4 * 1000 + 1000);
  });
});
