import type { LocalSystem } from '../../local/system';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as { __LOCAL_SYSTEM__?: { system: LocalSystem; lines: string[] } }).__LOCAL_SYSTEM__;
  await state?.system.stop();
}
