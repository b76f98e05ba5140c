import { Lazy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** The saved Logs Insights queries: construct id, name (after the stack's name) and query. */
const LOG_QUERIES: readonly [id: string, name: string, query: logs.QueryString][] = [
  [
    'FollowOneTask',
    'follow-one-task',
    new logs.QueryString({
      fields: [
        '@timestamp',
        '@log',
        'level',
        'message',
        'method',
        'path',
        'status',
        'outcome',
        'execution_status',
        'reason',
        'error.name',
        'error.message',
      ],
      // Replace the id. Execution log lines carry it in the execution ARN (executions are named after their task).
      filterStatements: ['task_id = "REPLACE-WITH-TASK-ID" or @message like "REPLACE-WITH-TASK-ID"'],
      sort: '@timestamp asc',
      limit: 200,
    }),
  ],
  [
    'FailedRequests',
    'errors',
    new logs.QueryString({
      fields: ['@timestamp', '@log', 'task_id', 'method', 'path', 'message', 'error.name', 'error.message'],
      filterStatements: ['level = "ERROR"'],
      sort: '@timestamp desc',
      limit: 100,
    }),
  ],
  [
    'RepairsAndWarnings',
    'repairs-and-warnings',
    new logs.QueryString({
      fields: ['@timestamp', '@log', 'task_id', 'level', 'message', 'execution_status', 'outcome', 'reason'],
      filterStatements: ['level = "WARN" or message = "execution ended"'],
      sort: '@timestamp desc',
      limit: 200,
    }),
  ],
  [
    'RequestLatency',
    'request-latency',
    new logs.QueryString({
      filterStatements: ['message = "request"'],
      statsStatements: [
        'count() as requests, pct(duration_ms, 50) as p50_ms, pct(duration_ms, 99) as p99_ms by method, bin(5m)',
      ],
    }),
  ],
];

/**
 * Saves the Logs Insights queries in the account, under the stack's name, over `logGroups`: read at synthesis, so
 * log groups added after this call are searched too.
 */
export function saveLogQueries(scope: Construct, logGroups: readonly logs.ILogGroup[]): void {
  const prefix = Stack.of(scope).stackName;
  for (const [id, name, query] of LOG_QUERIES) {
    new logs.CfnQueryDefinition(scope, id, {
      name: `${prefix}/${name}`,
      queryString: query.toString(),
      logGroupNames: Lazy.list({ produce: () => logGroups.map((g) => g.logGroupName) }),
    });
  }
}
