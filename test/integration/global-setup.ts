import { freePort } from '../../local/free-port';
import { startLocalSystem } from '../../local/system';

/** Starts the local system once per test run (free loopback ports) and hands its addresses to the test workers. */
export default async function globalSetup(): Promise<void> {
  process.env.ANALYSIS_DELAY_MS ??= '3000';
  process.env.ANALYSIS_FAIL_PATTERN ??= '^fail-';
  // The scenarios provoke warnings on purpose (re-drives, lease takeovers); keep the test output for failures.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const lines: string[] = [];
  // The browser tests' cross-origin page is served from this origin: allowed the way corsAllowOrigins allows one.
  const corsOrigin = `http://127.0.0.1:${await freePort()}`;
  const system = await startLocalSystem({ port: 0, log: (line) => lines.push(line), corsAllowOrigins: corsOrigin });
  (globalThis as { __LOCAL_SYSTEM__?: unknown }).__LOCAL_SYSTEM__ = { system, lines };
  Object.assign(process.env, system.environment, {
    LOCAL_API_URL: system.apiUrl,
    LOCAL_CDK_OUT: system.cdkOut,
    LOCAL_CORS_ORIGIN: corsOrigin,
  });
}
