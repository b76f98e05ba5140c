/**
 * Prepares the containers of the `sam local invoke` setup from the synthesized template (README, "sam local invoke"):
 * creates the table in DynamoDB Local, creates the state machine in Step Functions Local, and writes
 * cdk.out/sam-env.json, the --env-vars file for the API function.
 *
 *   npm run sam:prepare -- [--dynamodb http://127.0.0.1:8001] [--sfn http://127.0.0.1:8083 | --no-sfn]
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { SAM_LOCAL_ENDPOINTS } from '../lib/tracking-stack';
import { createTable, LOCAL_AWS_ENV } from './dynamodb-local';
import { LocalSetupError } from './errors';
import { localNames, PROJECT_ROOT } from './system';
import { loadStack, onlyResource, resolve, resourcesOfType, stateMachineDefinition } from './template';

export interface SamPrepareOptions {
  readonly cdkOut: string;
  readonly dynamodbEndpoint: string;
  /** Step Functions Local; undefined skips the state machine (StartExecution will then fail with 503). */
  readonly sfnEndpoint?: string;
}

export async function samPrepare(
  options: SamPrepareOptions,
): Promise<{ envFile: string; templateFile: string; env: Record<string, Record<string, string>> }> {
  const { template, stackName, templateFile } = loadStack(options.cdkOut);
  const names = localNames(template, stackName);
  const [tableId, table] = onlyResource(template, 'AWS::DynamoDB::Table');
  const [smId] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
  const credentials = { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY };
  const region = LOCAL_AWS_ENV.AWS_REGION;

  const dynamodb = new DynamoDBClient({ endpoint: options.dynamodbEndpoint, region, credentials });
  await createTable(dynamodb, tableId, resolve(table.Properties, names));
  dynamodb.destroy();

  let stateMachineArn = names.ref(smId);
  if (options.sfnEndpoint) {
    const sfn = new SFNClient({ endpoint: options.sfnEndpoint, region, credentials });
    const created = await sfn.send(
      new CreateStateMachineCommand({
        name: smId,
        definition: JSON.stringify(stateMachineDefinition(template, names)),
        roleArn: 'arn:aws:iam::123456789012:role/DummyRole',
      }),
    );
    stateMachineArn = created.stateMachineArn!;
    sfn.destroy();
  }

  const apiFunctions = resourcesOfType(template, 'AWS::Lambda::Function').filter(([, fn]) => fn.Properties?.Environment?.Variables?.STATE_MACHINE_ARN);
  const declared = apiFunctions.every(([, fn]) => 'AWS_ENDPOINT_URL_DYNAMODB' in fn.Properties!.Environment.Variables);
  if (!declared) {
    throw new LocalSetupError('cdk.out was not synthesized for sam local invoke: run `npx cdk synth -c localEndpoints=true` first.');
  }
  const env = Object.fromEntries(
    apiFunctions.map(([id]) => [id, { TABLE_NAME: tableId, STATE_MACHINE_ARN: stateMachineArn, ...SAM_LOCAL_ENDPOINTS }]),
  );
  const envFile = path.join(options.cdkOut, 'sam-env.json');
  writeFileSync(envFile, `${JSON.stringify(env, null, 2)}\n`);
  return { envFile, templateFile, env };
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      dynamodb: { type: 'string', default: 'http://127.0.0.1:8001' },
      sfn: { type: 'string', default: 'http://127.0.0.1:8083' },
      'no-sfn': { type: 'boolean', default: false },
      'cdk-out': { type: 'string', default: path.join(PROJECT_ROOT, 'cdk.out') },
    },
  });
  samPrepare({ cdkOut: values['cdk-out']!, dynamodbEndpoint: values.dynamodb!, sfnEndpoint: values['no-sfn'] ? undefined : values.sfn })
    .then(({ envFile, templateFile, env }) => {
      const rel = (p: string) => path.relative(process.cwd(), p);
      console.log(`Table and state machine ready. --env-vars file: ${rel(envFile)}`);
      for (const id of Object.keys(env)) console.log(`  sam local invoke ${id} -t ${rel(templateFile)} -e events/post-track.json --env-vars ${rel(envFile)} --docker-network sam-local`);
    })
    .catch((error: unknown) => {
      console.error(error instanceof LocalSetupError ? error.message : error);
      process.exit(1);
    });
}
