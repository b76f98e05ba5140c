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
  const system = await startLocalSystem({ port: 0, log: (line) => lines.push(line), scheduleSeconds: 0 });
  (globalThis as { __LOCAL_SYSTEM__?: unknown }).__LOCAL_SYSTEM__ = { system, lines };
  Object.assign(process.env, system.environment, {
    LOCAL_API_URL: system.apiUrl,
    LOCAL_CDK_OUT: system.cdkOut,
  });
}
