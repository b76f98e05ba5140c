import { freePort } from '../../local/free-port';
import { generateSigningKey } from '../../local/local-only/jwt-issuer';
import { startLocalSystem } from '../../local/system';

/** Starts the local system once per test run (free loopback ports) and hands its addresses to the test workers. */
export default async function globalSetup(): Promise<void> {
  process.env.ANALYSIS_DELAY_MS ??= '3000';
  process.env.ANALYSIS_FAIL_PATTERN ??= '^fail-';
  // The scenarios provoke warnings on purpose (re-drives, lease takeovers); keep the test output for failures.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const lines: string[] = [];
  // The repair sweep runs once at start-up only: the scenarios below build stranded tasks on purpose and assert on
  // them before any repair. The sweep's own tests run it scoped to their tenant; crash.test.ts runs npm start's
  // periodic sweep in a process of its own.
  // The browser tests' cross-origin page is served from this origin: allowed the way corsAllowOrigins allows one.
  const corsOrigin = `http://127.0.0.1:${await freePort()}`;
  const system = await startLocalSystem({
    port: 0,
    log: (line) => lines.push(line),
    scheduleSeconds: 0,
    corsAllowOrigins: corsOrigin,
  });
  (globalThis as { __LOCAL_SYSTEM__?: unknown }).__LOCAL_SYSTEM__ = { system, lines };
  // AUTH=jwt tests: a second front end (local issuer, JWT authorizer, handler in jwt mode) on the same DynamoDB Local
  // and state machine; one JVM for both. Stopped with the system.
  // The tests get the issuer's private key so they can forge tokens it would trust (wrong audience, expired…).
  const signingKey = await generateSigningKey();
  const jwtApi = await system.startApi({ auth: 'jwt', port: 0, signingKey });
  Object.assign(process.env, system.environment, {
    LOCAL_API_URL: system.apiUrl,
    LOCAL_JWT_API_URL: jwtApi.url,
    LOCAL_JWT_SIGNING_KEY: JSON.stringify(signingKey),
    LOCAL_CDK_OUT: system.cdkOut,
    LOCAL_CORS_ORIGIN: corsOrigin,
  });
}
