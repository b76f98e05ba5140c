import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  ReplicatedWriteConflictException,
  RequestLimitExceeded,
  ThrottlingException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  ExecutionLimitExceeded,
  InvalidExecutionInput,
  KmsThrottlingException,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { isUnavailable, translate } from '../../../lambda/adapters/aws-errors';
import { DependencyUnavailable } from '../../../lambda/core/errors';

const meta = { $metadata: { httpStatusCode: 400 }, message: 'quota' };
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({ ...meta, CancellationReasons: codes.map((Code) => ({ Code })) });

describe('isUnavailable: every documented quota and throttling error of the calls the API makes', () => {
  test.each([
    ['StartExecution: the open executions quota', new ExecutionLimitExceeded(meta)],
    ['StartExecution / StopExecution: KMS throttled', new KmsThrottlingException(meta)],
    ['DynamoDB: the table or index throughput', new ProvisionedThroughputExceededException(meta)],
    ['DynamoDB: the account throughput quota', new RequestLimitExceeded(meta)],
    ['DynamoDB: throttled (on-demand, the newer name)', new ThrottlingException(meta)],
    [
      'DynamoDB: a write in another Region (multi-Region strong consistency)',
      new ReplicatedWriteConflictException(meta),
    ],
    ['a transaction cancelled by throttling', cancelled('None', 'ThrottlingError')],
    ['a transaction cancelled by provisioned throughput', cancelled('ProvisionedThroughputExceeded', 'None')],
  ])('%s', (_what, error) => {
    expect(isUnavailable(error)).toBe(true);
    expect(translate(error, 'stepfunctions', 'StartExecution')).toEqual(
      expect.objectContaining({ name: 'DependencyUnavailable', operation: 'StartExecution', cause: error }),
    );
  });

  test.each([
    ['a condition not met', new ConditionalCheckFailedException(meta)],
    ['a transaction cancelled by its conditions', cancelled('ConditionalCheckFailed', 'None')],
    ['a bad input (a bug)', new InvalidExecutionInput(meta)],
    ['a missing state machine (a misconfiguration)', new StateMachineDoesNotExist(meta)],
  ])('not %s: it is passed on as thrown', (_what, error) => {
    expect(isUnavailable(error)).toBe(false);
    expect(translate(error, 'dynamodb', 'PutItem')).toBe(error);
    expect(translate(error, 'dynamodb', 'PutItem')).not.toBeInstanceOf(DependencyUnavailable);
  });
});
