import { checkPortFree } from './api-server';
import { LocalSetupError } from './errors';
import { startLocalSystem } from './system';

/** `npm start`: the whole backend on this machine. PORT (default 8000), DATA_DIR (default: in memory), ANALYSIS_DELAY_MS (default 2000). */
async function main(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) throw new LocalSetupError(`Node.js 22+ is needed (found ${process.version}); run through npm scripts, which use the node@24 devDependency.`);
  const port = Number(process.env.PORT ?? 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new LocalSetupError(`PORT must be a TCP port number, got "${process.env.PORT}".`);

  await checkPortFree(port);
  console.log('[local] starting: cdk synth, DynamoDB Local, local Step Functions…');
  const system = await startLocalSystem({ port, dataDir: process.env.DATA_DIR || undefined, corsAllowOrigins: process.env.CORS_ALLOW_ORIGINS || undefined });
  console.log(`[local] state machine ${system.stateMachineArn} (from cdk.out) with ${process.env.ANALYSIS_DELAY_MS ?? 2000} ms analyses`);
  console.log(`[local] API on http://localhost:${new URL(system.apiUrl).port}, demo page at / and the contract at /openapi.yaml — try:`);
  console.log(`  curl -X POST http://localhost:${new URL(system.apiUrl).port}/api/v1/track -H "Content-Type: application/json" -d '{"tenant_id": "tenant1", "video_filename": "test.mp4"}'`);

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
