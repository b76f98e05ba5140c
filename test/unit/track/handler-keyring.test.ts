import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { mockClient } from 'aws-sdk-client-mock';
import { RequestOutcome } from '../../../lambda/shared/observability-names';
import { LOCAL_KEYRING_JSON } from '../../../local/local-aws';
import { postTrack } from '../../support/events';

// The deployed shape: no inline keyring, the secret's ARN (lambda/track/index.ts reads it on the first request).
Object.assign(process.env, {
  AUTH_MODE: 'none',
  TABLE_NAME: 'Tasks',
  STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Analysis',
  TASK_ID_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:TaskIdKey-AbCdEf',
  AWS_REGION: 'eu-west-1',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
});
delete process.env.TASK_ID_KEYRING;

const sm = mockClient(SecretsManagerClient);
// The store sends through the document client (its claim as a low-level command).
const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);

describe('the API function reads its keyring once, on its first request', () => {
  test('Secrets Manager throttled: 503 problem with Retry-After, nothing written; the next request reads it again', async () => {
    const addMetric = jest.spyOn(Metrics.prototype, 'addMetric');
    const { handler } = await import('../../../lambda/track/index');
    sm.on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: LOCAL_KEYRING_JSON });
    ddb.on(PutItemCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    const event = postTrack({ tenant_id: 'tenant1', video_filename: 'a.mp4' });

    const refused = await handler(event);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['Content-Type']).toBe('application/problem+json');
    expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
    expect(ddb.calls()).toHaveLength(0);
    // Counted as a dependency failure, so the HandlerDependencyUnavailable alarm sees it.
    expect(addMetric).toHaveBeenCalledWith(RequestOutcome.DependencyUnavailable, 'Count', 1);

    const created = await handler(event);
    expect(created.statusCode).toBe(201);
    const again = await handler(postTrack({ tenant_id: 'tenant1', video_filename: 'b.mp4' }));
    expect(again.statusCode).toBe(201);
    // Two reads in all: the failed one and the one kept for the function's life.
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(JSON.parse(created.body as string).task_id).toHaveLength(44);
  });
});
