import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { LocalSetupError } from './errors';
import { LOCAL_ACCOUNT, LOCAL_REGION, localStackId } from './local-aws';
import { DEFAULT_STACK_NAME } from '../lambda/shared/names';

export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** The slice of a CloudFormation template the local tools read. */
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, any>; Metadata?: Record<string, any> }>;
}

export type Intrinsic = { Ref: string } | { 'Fn::GetAtt': [string, string] } | { 'Fn::Join': [string, unknown[]] };

/** Supplies local values for the template's references (the table name, function ARNs, pseudo parameters). */
export interface LocalNames {
  ref(logicalId: string): string;
  getAtt(logicalId: string, attribute: string): string;
}

export interface SynthesizedStack {
  readonly stackName: string;
  readonly templateFile: string;
  readonly template: CfnTemplate;
}

/** The one stack of the cloud assembly, found through its manifest (so a `stackName` context is followed). */
export function loadStack(cdkOut: string): SynthesizedStack {
  const manifest = JSON.parse(readFileSync(path.join(cdkOut, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string }; displayName?: string }>;
  };
  const stacks = Object.entries(manifest.artifacts).filter(([, a]) => a.type === 'aws:cloudformation:stack');
  if (stacks.length !== 1) throw new Error(`Expected one stack in ${cdkOut}, found ${stacks.length}`);
  const [stackName, artifact] = stacks[0];
  const templateFile = path.join(cdkOut, artifact.properties!.templateFile!);
  return { stackName, templateFile, template: JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate };
}

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Select and Fn::Split, the only intrinsics CDK puts in these properties. */
export function resolve(value: unknown, names: LocalNames): any {
  if (Array.isArray(value)) return value.map((v) => resolve(v, names));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, any>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [k] = keys;
    const arg = obj[k];
    if (k === 'Ref') return names.ref(arg);
    if (k === 'Fn::GetAtt') return names.getAtt(arg[0], arg[1]);
    if (k === 'Fn::Join') return (resolve(arg[1], names) as unknown[]).join(arg[0]);
    if (k === 'Fn::Select') return (resolve(arg[1], names) as unknown[])[Number(arg[0])];
    if (k === 'Fn::Split') return String(resolve(arg[1], names)).split(arg[0]);
    if (k.startsWith('Fn::')) throw new Error(`Unsupported intrinsic ${k} in the synthesized template`);
  }
  return Object.fromEntries(keys.map((k) => [k, resolve(obj[k], names)]));
}

export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnTemplate['Resources'][string]][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

export function onlyResource(template: CfnTemplate, type: string): [string, CfnTemplate['Resources'][string]] {
  const found = resourcesOfType(template, type);
  if (found.length !== 1) throw new Error(`Expected exactly one ${type} in the template, found ${found.length}`);
  return found[0];
}

/** The state machine's ASL, with every reference replaced by its local value. */
export function stateMachineDefinition(template: CfnTemplate, names: LocalNames): any {
  const [, sm] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
  return JSON.parse(resolve(sm.Properties!.DefinitionString, names));
}

export function functionArn(logicalId: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
}

/** Local stand-ins for the template's references: table and state machine by logical id, fixed pseudo parameters. */
export function localNames(template: CfnTemplate, stackName = DEFAULT_STACK_NAME): LocalNames {
  return {
    ref(id) {
      const pseudo: Record<string, string> = {
        'AWS::Partition': 'aws',
        'AWS::Region': LOCAL_REGION,
        'AWS::AccountId': LOCAL_ACCOUNT,
        'AWS::URLSuffix': 'amazonaws.com',
        'AWS::StackName': stackName,
        'AWS::StackId': localStackId(stackName),
      };
      if (pseudo[id]) return pseudo[id];
      const type = template.Resources[id]?.Type;
      if (type === 'AWS::StepFunctions::StateMachine')
        return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${id}`;
      return id;
    },
    getAtt(id, attribute) {
      const type = template.Resources[id]?.Type;
      if (type === 'AWS::Lambda::Function' && attribute === 'Arn') return functionArn(id);
      if (attribute === 'Arn') return `arn:aws:local:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${id}`;
      throw new LocalSetupError(`No local value for Fn::GetAtt ${id}.${attribute}`);
    },
  };
}

/** Runs `cdk synth` (the project's CDK CLI and cdk.json) so the local system runs what would be deployed. */
export async function synth(
  cdkOut: string,
  log: (line: string) => void,
  context: Record<string, string> = {},
): Promise<void> {
  const started = Date.now();
  const cli = require.resolve('aws-cdk/bin/cdk');
  const env = {
    ...process.env,
    PATH: [path.dirname(process.execPath), path.join(PROJECT_ROOT, 'node_modules', '.bin'), process.env.PATH].join(
      path.delimiter,
    ),
  };
  const contextArgs = Object.entries(context).flatMap(([k, v]) => ['--context', `${k}=${v}`]);
  const child = spawn(process.execPath, [cli, 'synth', '--quiet', '--no-notices', '--output', cdkOut, ...contextArgs], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0)
    throw new LocalSetupError(
      `cdk synth failed (exit ${code}); fix the stack and try again:\n${output.trim().split('\n').slice(-30).join('\n')}`,
    );
  log(
    `[local] synthesized the stack into ${path.relative(PROJECT_ROOT, cdkOut) || cdkOut} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}
