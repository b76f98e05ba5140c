import { ArnFormat, type CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';

/** The ARN of every execution of one state machine: `…:execution:<state machine name>:*`. */
export function executionsArn(scope: IConstruct, stateMachine: sfn.IStateMachine): string {
  const stack = Stack.of(scope);
  const machineName = stack.splitArn(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
  return stack.formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${machineName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * Acknowledges cdk-nag's AwsSolutions-IAM5 for `grantee`'s permission on every execution of `stateMachine` (the
 * resource of executionsArn and of `grantExecution`): executions are named after task ids, unknown at deploy time.
 */
export function acknowledgeExecutionsWildcard(
  grantee: IConstruct,
  stateMachine: sfn.IStateMachine,
  reason: string,
): void {
  const machine = Stack.of(grantee).getLogicalId(stateMachine.node.defaultChild as CfnResource);
  Validations.of(grantee).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${machine}"}]}]}:*]`,
    reason,
  });
}
