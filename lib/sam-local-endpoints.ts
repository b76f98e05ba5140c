import { type IAspect, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { TASK_ID_KEYRING_ENV, TASK_ID_SECRET_ARN_ENV } from '../lambda/shared/deployment-names';

/** Where the `sam local invoke` setup's containers answer, on its Docker network (docs/LOCAL.md, "sam local invoke"). */
export const SAM_LOCAL_ENDPOINTS = {
  AWS_ENDPOINT_URL_DYNAMODB: 'http://dynamodb:8000',
  AWS_ENDPOINT_URL_SFN: 'http://stepfunctions:8083',
};

/**
 * Declares SAM_LOCAL_ENDPOINTS on every function that runs the task rules (those given STATE_MACHINE_ARN, the ones
 * `npm run sam:prepare` writes --env-vars for), and TASK_ID_KEYRING, empty, on every function that reads the task-id
 * keyring: `sam local invoke --env-vars` can only override variables the template declares, and there is no Secrets
 * Manager to read the keyring from. bin/app.ts applies it under `-c localEndpoints=true` only; never deploy such a
 * template.
 */
export class SamLocalEndpoints implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof lambda.Function)) return;
    const environment = Stack.of(node).resolve((node.node.defaultChild as lambda.CfnFunction).environment) as
      { variables?: Record<string, unknown> } | undefined;
    if (environment?.variables?.STATE_MACHINE_ARN === undefined) return;
    for (const [name, value] of Object.entries(SAM_LOCAL_ENDPOINTS)) node.addEnvironment(name, value);
    if (environment.variables[TASK_ID_SECRET_ARN_ENV] !== undefined) node.addEnvironment(TASK_ID_KEYRING_ENV, '');
  }
}
