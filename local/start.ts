import { checkPortFree } from './api-gateway/server';
import { LocalSetupError } from './errors';
import { parseLocalAuth } from './api-gateway/local-api';
import { startLocalSystem } from './system';

/**
 * `npm start`: the whole backend on this machine. PORT (default 8000), DATA_DIR (default: in memory),
 * ANALYSIS_DELAY_MS (default 2000), SWEEP_INTERVAL_SECONDS (repair sweep, default 20), TENANT_ACTIVE_TASK_LIMIT
 * (default the template's; set here, it overrides every function's environment and is the synthesized stack's limit too), CDK_OUT with SKIP_SYNTH=1
 * (reuse an assembly; for tests that restart often).
 */
async function main(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22)
    throw new LocalSetupError(
      `Node.js 22+ is needed (found ${process.version}); run through npm scripts, which use the node@24 devDependency.`,
    );
  const port = Number(process.env.PORT ?? 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new LocalSetupError(`PORT must be a TCP port number, got "${process.env.PORT}".`);

  const auth = parseLocalAuth(process.env.AUTH);

  const limit = process.env.TENANT_ACTIVE_TASK_LIMIT;
  if (limit !== undefined && !/^[0-9]+$/.test(limit))
    throw new LocalSetupError(`TENANT_ACTIVE_TASK_LIMIT must be a whole number (0: no limit), got "${limit}".`);

  await checkPortFree(port);
  console.log('[local] starting: cdk synth, DynamoDB Local, local Step Functions…');
  const scheduleSeconds = Number(process.env.SWEEP_INTERVAL_SECONDS ?? 20);
  if (!Number.isFinite(scheduleSeconds) || scheduleSeconds < 0)
    throw new LocalSetupError(
      `SWEEP_INTERVAL_SECONDS must be a number of seconds, got "${process.env.SWEEP_INTERVAL_SECONDS}".`,
    );
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
  if (auth === 'none') {
    console.log(
      `[local] AUTH=none: no authentication; the tenant is trusted from the request (tenant_id in the body or query). AUTH=jwt npm start to require tokens.`,
    );
    console.log(`[local] API on ${api}  — try:`);
    console.log(
      `  curl -X POST ${api}/api/v1/track -H "Content-Type: application/json" -d '{"tenant_id": "tenant1", "video_filename": "test.mp4"}'`,
    );
  } else {
    console.log(
      `[local] AUTH=jwt: every API route needs a Bearer token from the local issuer ${api} (audience video-tracking-local); the tenant is the token's tenant_id claim`,
    );
    console.log(`[local] API on ${api}  — try:`);
    console.log(
      `  TOKEN=$(${process.env.PORT ? `PORT=${process.env.PORT} ` : ''}npm run --silent token -- --tenant tenant1)`,
    );
    console.log(
      `  curl -X POST ${api}/api/v1/track -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"video_filename": "test.mp4"}'`,
    );
  }

  let stopping = false;
  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    console.log(`[local] ${reason}: stopping`);
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

main().catch((error: unknown) => {
  console.error(error instanceof LocalSetupError ? `\n${error.message}\n` : error);
  process.exit(1);
});
