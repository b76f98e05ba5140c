import { checkPortFree } from './api-gateway/server';
import { LocalSetupError } from './errors';
import { parseLocalAuth } from './api-gateway/local-api';
import { startLocalSystem } from './system';
import { startBanner } from './start-banner';
import { API_URL_FILE, removeApiUrl, writeApiUrl } from './local-only/api-url-file';
import { authConfigFromEnv } from '../lambda/core/caller';
import { type NumberRule, parseNumber } from '../lambda/shared/parse-number';

/**
 * `npm start`: the whole backend on this machine. PORT (default 8000), DATA_DIR (default: in memory),
 * ANALYSIS_DELAY_MS (default 2000), SWEEP_INTERVAL_SECONDS (repair sweep, default 20), TENANT_ACTIVE_TASK_LIMIT
 * (default the template's; set here, it overrides every function's environment and is the synthesized stack's limit too),
 * IDEMPOTENCY_RETENTION_SECONDS (how long an Idempotency-Key is retained; default the template's 24 h), CDK_OUT with SKIP_SYNTH=1
 * (reuse an assembly; for tests that restart often).
 */
async function main(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22)
    throw new LocalSetupError(
      `Node.js 22+ is needed (found ${process.version}); run through npm scripts, which use the node@24 devDependency.`,
    );
  const port = setting('PORT', { max: 65535 }) ?? 8000;

  const auth = parseLocalAuth(process.env.AUTH);

  // Read by the synthesis and the functions (0: no limit); checked here so a typo fails before anything starts.
  setting('TENANT_ACTIVE_TASK_LIMIT', {});
  // Overrides the functions' IDEMPOTENCY_RETENTION_SECONDS (the template's: 24 h); read by the functions.
  setting('IDEMPOTENCY_RETENTION_SECONDS', { whole: false });

  await checkPortFree(port);
  console.log('[local] starting: cdk synth, DynamoDB Local, local Step Functions…');
  const scheduleSeconds = setting('SWEEP_INTERVAL_SECONDS', { whole: false }) ?? 20;
  const system = await startLocalSystem({
    port,
    auth,
    dataDir: process.env.DATA_DIR || undefined,
    scheduleSeconds,
    cdkOut: process.env.CDK_OUT || undefined,
    skipSynth: process.env.SKIP_SYNTH === '1',
    corsAllowOrigins: process.env.CORS_ALLOW_ORIGINS || undefined,
  });
  console.log(
    `[local] state machine ${system.stateMachineArn} (from cdk.out) with ${process.env.ANALYSIS_DELAY_MS ?? 2000} ms analyses`,
  );
  const api = `http://localhost:${new URL(system.apiUrl).port}`;
  console.log(
    `[local] demo page on ${api}/ and the contract on ${api}/openapi.yaml${process.env.CORS_ALLOW_ORIGINS ? `; CORS for ${process.env.CORS_ALLOW_ORIGINS}` : ''}`,
  );
  // The claim as the handler itself resolves it from the environment it runs with.
  const { tenantClaim } = authConfigFromEnv(system.environment);
  try {
    writeApiUrl(system.apiUrl);
  } catch (error) {
    console.log(`[local] could not write ${API_URL_FILE} (${(error as Error).message}): npm run token needs PORT`);
  }
  for (const line of startBanner({ api, auth, tenantClaim })) console.log(line);

  let stopping = false;
  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    console.log(`[local] ${reason}: stopping`);
    removeApiUrl();
    await system.stop();
    process.exit(code);
  };
  // npm does not always pass SIGTERM through its shell: if whatever started us goes away, stop too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void shutdown('parent process exited', 0);
  }, 1000).unref();
  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.on('uncaughtException', (error) => {
    console.error(error);
    void shutdown('uncaught error', 1);
  });
}

/** A numeric setting of `npm start`, refused with a setup error (no stack trace) when it is not a number it accepts. */
function setting(name: string, rule: NumberRule): number | undefined {
  try {
    return parseNumber(process.env[name], name, rule);
  } catch (error) {
    throw new LocalSetupError((error as Error).message);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof LocalSetupError ? `\n${error.message}\n` : error);
  process.exit(1);
});
