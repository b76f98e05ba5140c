import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { Attr } from '../lambda/adapters/dynamodb-task-store';

export interface TaskTableProps {
  /**
   * What happens to the table (and its tasks) when the stack is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The single table: active-task items keyed by (tenant, video), task records keyed by task id.
 * See docs/ARCHITECTURE.md for the items and every write.
 */
export class TaskTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: TaskTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: Attr.pk, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Only final records and links carry it; active items never expire by TTL (the lease covers them).
      timeToLiveAttribute: Attr.expiresAt,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
