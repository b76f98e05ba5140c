import { RemovalPolicy, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ACTIVE_BY_AGE_INDEX, Attr, BY_TENANT_INDEX } from '../lambda/shared/table';

export interface TaskTableProps {
  /**
   * What happens to the table (and its tasks) when the stack is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Run on an existing table instead of creating one (`-c tableName=…`), e.g. one restored from a point in time
   * (docs/OPERATIONS.md, Restore). It must have this construct's key schema and both indexes; the stack then owns
   * no table, so `removalPolicy` does not apply to it, and TTL and PITR are the operator's to enable.
   *
   * @default - the stack creates and owns its table
   */
  readonly existingTableName?: string;
}

/** DynamoDB's table name rules: 3 to 255 characters, letters, digits, `_`, `.` and `-`. */
const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

/** Refuses a name DynamoDB would refuse, at synth time rather than as a failed deploy. */
export function validateTableName(name: string): string {
  if (Token.isUnresolved(name) || TABLE_NAME.test(name)) return name;
  throw new Error(
    `tableName ${JSON.stringify(name)} is not a DynamoDB table name: use 3 to 255 characters, each a letter, digit, "_", "." or "-" (the name of the existing table, e.g. the target of restore-table-to-point-in-time).`,
  );
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
  /** The stack's table, or the existing table named by `existingTableName`. */
  readonly table: dynamodb.ITable;
  /** Whether the stack creates (and owns) the table: false on an existing table. */
  readonly owned: boolean;

  constructor(scope: Construct, id: string, props: TaskTableProps = {}) {
    super(scope, id);
    if (props.existingTableName !== undefined) {
      // globalIndexes: grants and metrics know the table has indexes (each index is still granted by name).
      this.table = dynamodb.Table.fromTableAttributes(this, 'Table', {
        tableName: validateTableName(props.existingTableName),
        globalIndexes: [ACTIVE_BY_AGE_INDEX, BY_TENANT_INDEX],
      });
      this.owned = false;
      return;
    }
    this.owned = true;
    this.table = ownedTable(this, props.removalPolicy ?? RemovalPolicy.RETAIN);
  }
}

/** The table the stack creates: key schema, TTL, PITR and both indexes. */
function ownedTable(scope: Construct, removalPolicy: RemovalPolicy): dynamodb.Table {
  const table = new dynamodb.Table(scope, 'Table', {
    partitionKey: { name: Attr.pk, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    // Only final records carry it; active items never expire by TTL (the lease covers them).
    timeToLiveAttribute: Attr.expiresAt,
    removalPolicy,
  });
  // Sparse: only active items carry sweep_shard. The repair sweep finds tasks older than the grace period here
  // without scanning the table. ALL: the sweep decides from the item (status, input) without a read per task.
  table.addGlobalSecondaryIndex({
    indexName: ACTIVE_BY_AGE_INDEX,
    partitionKey: { name: Attr.sweepShard, type: dynamodb.AttributeType.NUMBER },
    sortKey: { name: Attr.createdAt, type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.ALL,
  });
  // The listing: a tenant's active items and final records, newest first. INCLUDE the Task's fields only, so the
  // writes that touch nothing listed (lease renewals) cost the index nothing. `result` too: the listing returns it
  // (the demo page and the client read it from there); bounded by the state machine's 256 KiB payload.
  table.addGlobalSecondaryIndex({
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
  return table;
}
