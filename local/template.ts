import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { LocalSetupError } from './errors';
import { LOCAL_ACCOUNT, LOCAL_REGION, localStackId } from './local-aws';
import { DEFAULT_STACK_NAME } from '../lambda/shared/deployment-names';

export const PROJECT_ROOT = path.resolve(__dirname, '..');

/**
 * One resource of a synthesized template. Properties stay unknown until a reader declares the shape of the part it
 * reads (the interfaces below), so no reader trusts a path CloudFormation does not promise.
 */
export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

/** The slice of a CloudFormation template the local tools read. */
export interface CfnTemplate {
  Resources: Record<string, TemplateResource>;
}

/** The properties of an AWS::Lambda::Function the local tools read; variables may still hold intrinsics. */
export interface FunctionProperties {
  Handler?: string;
  Environment?: { Variables?: Record<string, unknown> };
}

/** The properties of an AWS::Events::Rule the local tools read, once resolved. */
export interface EventRuleProperties {
  EventPattern?: {
    source?: string[];
    'detail-type'?: string[];
    detail?: { status?: string[]; stateMachineArn?: string[] };
  };
  ScheduleExpression?: string;
  /** Each target's Arn: a string once resolved, an Fn::GetAtt before. */
  Targets?: { Arn: unknown }[];
}

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
  const [stack] = stacks;
  if (stacks.length !== 1 || !stack) throw new Error(`Expected one stack in ${cdkOut}, found ${stacks.length}`);
  const [stackName, artifact] = stack;
  const file = artifact.properties?.templateFile;
  if (!file) throw new Error(`The manifest in ${cdkOut} names no template file for stack ${stackName}`);
  const templateFile = path.join(cdkOut, file);
  return { stackName, templateFile, template: JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate };
}

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Select and Fn::Split, the only intrinsics CDK puts in these properties. */
export function resolve(value: unknown, names: LocalNames): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, names));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [intrinsic] = entries;
  if (entries.length === 1 && intrinsic) {
    const [k, arg] = intrinsic;
    if (k === 'Ref') return names.ref(String(arg));
    if (k === 'Fn::GetAtt') {
      const [id, attribute] = intrinsicArgs(k, arg);
      return names.getAtt(String(id), String(attribute));
    }
    if (k === 'Fn::Join') {
      const [separator, parts] = intrinsicArgs(k, arg);
      return resolveList(k, parts, names).join(String(separator));
    }
    if (k === 'Fn::Select') {
      const [index, list] = intrinsicArgs(k, arg);
      return resolveList(k, list, names)[Number(index)];
    }
    if (k === 'Fn::Split') {
      const [separator, source] = intrinsicArgs(k, arg);
      return String(resolve(source, names)).split(String(separator));
    }
    if (k.startsWith('Fn::')) throw new Error(`Unsupported intrinsic ${k} in the synthesized template`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v, names)]));
}

/** The two arguments every intrinsic above takes, as CloudFormation lists them. */
function intrinsicArgs(intrinsic: string, arg: unknown): [unknown, unknown] {
  if (!Array.isArray(arg) || arg.length !== 2) throw new Error(`${intrinsic} takes two arguments in the template`);
  return [arg[0], arg[1]];
}

function resolveList(intrinsic: string, value: unknown, names: LocalNames): unknown[] {
  const list = resolve(value, names);
  if (!Array.isArray(list)) throw new Error(`${intrinsic} needs a list in the template`);
  return list;
}

export function resourcesOfType(template: CfnTemplate, type: string): [string, TemplateResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

export function onlyResource(template: CfnTemplate, type: string): [string, TemplateResource] {
  const found = resourcesOfType(template, type);
  const [only] = found;
  if (found.length !== 1 || !only)
    throw new Error(`Expected exactly one ${type} in the template, found ${found.length}`);
  return only;
}

/** The state machine's ASL, with every reference replaced by its local value. */
export function stateMachineDefinition(template: CfnTemplate, names: LocalNames): StateMachineDefinition {
  const [, sm] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
  const definition = resolve(sm.Properties?.DefinitionString, names);
  if (typeof definition !== 'string') throw new Error('The state machine has no DefinitionString in the template');
  return JSON.parse(definition) as StateMachineDefinition;
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
      const value = pseudo[id];
      if (value) return value;
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
