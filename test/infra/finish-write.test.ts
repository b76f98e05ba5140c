import { marshall } from '@aws-sdk/util-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { TaskStatus } from '../../lambda/core/task';
import {
  type ExpectedStatuses,
  type FinalRecord,
  finishTransactItems,
  plainValues,
} from '../../lambda/shared/finish-write';
import { AnalysisWorkflow } from '../../lib/analysis-workflow';

// The state machine's finishing steps must send the transaction the DynamoDB adapter sends (lambda/shared/finish-write.ts),
// with the task's values read from the execution input instead of given.

/** Stand-ins for the values a step reads from its input: a string and a number the builder never writes itself. */
const FROM_INPUT = { S: '«from input»', N: 424242 };
/** Tokens (the table's name) as they appear in the rendered definition. */
const TOKEN = '«token»';

function definitionOf(template: Template): any {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
  if (machine === undefined) throw new Error('the stack has no state machine');
  const body = machine.Properties.DefinitionString;
  const parts: unknown[] = body['Fn::Join'] ? body['Fn::Join'][1] : [body];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : TOKEN)).join(''));
}

/** A value read from the input, on either side, as its type only. */
function inputValuesAsTypes(value: any): any {
  if (Array.isArray(value)) return value.map(inputValuesAsTypes);
  if (value === null || typeof value !== 'object') return value;
  const [key] = Object.keys(value);
  if (key === 'S.$' || value.S === FROM_INPUT.S) return 'S from input';
  if (key === 'N.$' || value.N === String(FROM_INPUT.N)) return 'N from input';
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inputValuesAsTypes(v)]));
}

/** The adapter's transaction as the document client puts it on the wire (its attribute values marshalled). */
function asSent(items: ReturnType<typeof finishTransactItems<unknown>>): unknown[] {
  const marshalled = (values: unknown) =>
    values === undefined ? undefined : marshall(values as Record<string, unknown>, { removeUndefinedValues: true });
  return items.map((item) =>
    Object.fromEntries(
      Object.entries(item).map(([op, body]: [string, any]) => [
        op,
        {
          ...body,
          ...(body.Item ? { Item: marshalled(body.Item) } : {}),
          Key: marshalled(body.Key),
          ExpressionAttributeValues: marshalled(body.ExpressionAttributeValues),
        },
      ]),
    ),
  );
}

function storeFinish(
  status: TaskStatus,
  expected: ExpectedStatuses,
  outcome: Pick<FinalRecord<unknown>, 'startedAt' | 'result' | 'errorName'>,
) {
  const s = FROM_INPUT.S;
  const items = finishTransactItems(plainValues, {
    tableName: TOKEN,
    record: {
      key: s,
      taskId: s,
      tenantId: s,
      videoFilename: s,
      status,
      createdAt: s,
      updatedAt: s,
      finishedAt: s,
      expiresAt: FROM_INPUT.N,
      ...outcome,
    },
    taskKey: s,
    expected,
    counter: { key: s, shard: FROM_INPUT.N },
  });
  return inputValuesAsTypes(JSON.parse(JSON.stringify(asSent(items))));
}

test("each finishing step sends the store's finishing transaction, its values read from the execution input", () => {
  // GIVEN
  const stack = new Stack(new App(), 'Finish');
  const table = new dynamodb.TableV2(stack, 'Tasks', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
  });

  // WHEN
  new AnalysisWorkflow(stack, 'Analysis', { table });
  const states = definitionOf(Template.fromStack(stack)).States;
  const sent = (name: string) => inputValuesAsTypes(states[name].Parameters.TransactItems);

  // THEN
  const s = FROM_INPUT.S;
  const active: ExpectedStatuses = [TaskStatus.NotStarted, TaskStatus.Running];
  expect(sent('MarkCompleted')).toEqual(
    storeFinish(TaskStatus.Completed, [TaskStatus.Running], { startedAt: s, result: s }),
  );
  expect(sent('MarkFailed')).toEqual(storeFinish(TaskStatus.Failed, active, { startedAt: s, errorName: s }));
  expect(sent('MarkFailedBeforeRunning')).toEqual(storeFinish(TaskStatus.Failed, active, { errorName: s }));
  // Not vacuous: the constants are compared as values (a status, the counter's delta), the rest by type.
  expect(sent('MarkCompleted')[0].Put.Item.status).toEqual({ S: TaskStatus.Completed });
  expect(sent('MarkCompleted')[2].Update.ExpressionAttributeValues[':delta']).toEqual({ N: '-1' });
  expect(sent('MarkFailed')[0].Put.Item.expires_at).toBe('N from input');
  // The counter stays in the tenant's own partition of the sweep index, which only the input can tell (no hash in ASL).
  for (const name of ['MarkCompleted', 'MarkFailed', 'MarkFailedBeforeRunning'])
    expect(states[name].Parameters.TransactItems[2].Update.ExpressionAttributeValues[':counter_shard']).toEqual({
      'N.$': 'States.JsonToString($.counter_shard)',
    });
});
