import { Aws, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TASK_ID_KEY_ENV } from '../lambda/shared/deployment-names';
import { ACTIVE_BY_AGE_INDEX, Attr, BY_TENANT_INDEX } from '../lambda/shared/table';

export interface TaskTableProps {
  /**
   * What happens to the table (and its tasks) when the stack is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * TASK_ID_KEY, the stack's UUID, for every function that derives task ids and active keys (lambda/shared/task-keys.ts);
 * the API also signs its listing's cursors with it (lambda/core/cursor.ts). Not a password: it only keeps an id from
 * revealing its video name and a cursor from being edited or reused by another tenant.
 */
export function taskIdKeyEnvironment(): Record<string, string> {
  return { [TASK_ID_KEY_ENV]: Fn.select(2, Fn.split('/', Aws.STACK_ID)) };
}

/**
 * Grants item actions on the table itself. `ITable.grant` would add `<table>/index/*` as soon as the table has an
 * index; each index is granted by name to the one function that reads it.
 */
export function grantTableItems(table: dynamodb.ITable, grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [table.tableArn] });
}

/** Query on the sparse index of active tasks (the repair sweep's only read of it). */
export function grantQueryActiveByAge(table: dynamodb.ITable, grantee: iam.IGrantable): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['dynamodb:Query'],
    resourceArns: [`${table.tableArn}/index/${ACTIVE_BY_AGE_INDEX}`],
  });
}

/** Query on the by-tenant index (the API's listing). */
export function grantQueryByTenant(table: dynamodb.ITable, grantee: iam.IGrantable): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['dynamodb:Query'],
    resourceArns: [`${table.tableArn}/index/${BY_TENANT_INDEX}`],
  });
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
      // Only final records carry it; active items never expire by TTL (the lease covers them).
      timeToLiveAttribute: Attr.expiresAt,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Sparse: only active items carry sweep_shard. The repair sweep finds tasks older than the grace period here
    // without scanning the table. ALL: the sweep decides from the item (status, input) without a read per task.
    this.table.addGlobalSecondaryIndex({
      indexName: ACTIVE_BY_AGE_INDEX,
      partitionKey: { name: Attr.sweepShard, type: dynamodb.AttributeType.NUMBER },
      sortKey: { name: Attr.createdAt, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // The listing: a tenant's active items and final records, newest first. INCLUDE the Task's fields only, so the
    // writes that touch nothing listed (lease renewals) cost the index nothing. `result` too: the listing returns it
    // (the demo page and the client read it from there); bounded by the state machine's 256 KiB payload.
    this.table.addGlobalSecondaryIndex({
      indexName: BY_TENANT_INDEX,
      partitionKey: { name: Attr.tenantId, type: dynamodb.AttributeType.STRING },
      sortKey: { name: Attr.createdAt, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [
        Attr.itemType,
        Attr.taskId,
        Attr.videoFilename,
        Attr.status,
        Attr.updatedAt,
        Attr.startedAt,
        Attr.finishedAt,
        Attr.result,
        Attr.error,
      ],
    });
  }
}
