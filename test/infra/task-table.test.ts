import { RemovalPolicy } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { defaultTrackingStack, synthTrackingStack } from '../support/synth';

describe('task table', () => {
  test('pk string key, on-demand, PITR, TTL on expires_at, retained by default', () => {
    // GIVEN / WHEN the stack with its defaults
    const { template } = defaultTrackingStack();
    // THEN
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: Match.arrayWith([{ AttributeName: 'pk', AttributeType: 'S' }]),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('a sparse index of active tasks by age, sharded, for the repair sweep; the tenant index for the listing', () => {
    // GIVEN / WHEN
    const { template } = defaultTrackingStack();
    // THEN
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'active-by-age',
          KeySchema: [
            { AttributeName: 'sweep_shard', KeyType: 'HASH' },
            { AttributeName: 'created_at', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: 'by-tenant',
          KeySchema: [
            { AttributeName: 'tenant_id', KeyType: 'HASH' },
            { AttributeName: 'created_at', KeyType: 'RANGE' },
          ],
          Projection: {
            ProjectionType: 'INCLUDE',
            NonKeyAttributes: [
              'item_type',
              'task_id',
              'video_filename',
              'status',
              'updated_at',
              'started_at',
              'finished_at',
              'result',
              'error',
            ],
          },
        },
      ],
    });
  });

  test('removalPolicy DESTROY (the throwaway switch) deletes it', () => {
    // GIVEN / WHEN
    const { template } = synthTrackingStack({ removalPolicy: RemovalPolicy.DESTROY }, 'Throwaway');
    // THEN
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});
