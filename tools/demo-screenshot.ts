/**
 * `npm run demo:screenshot`: docs/demo.png, the demo page as a person sees it, taken in Debian's headless Chromium
 * (playwright-core, never a downloaded browser). Needs `ANALYSIS_FAIL_PATTERN='^fail-' ANALYSIS_DELAY_MS=8000 npm start` running; DEMO_URL
 * names another address. It creates a few tasks of a fresh tenant first, so the list shows every status.
 */
import { chromium } from 'playwright-core';
import * as path from 'node:path';
import type { components } from '../client/api-types';

type TrackResponse = components['schemas']['TaskCreated'] | components['schemas']['TaskInProgress'];

const CHROMIUM = '/usr/bin/chromium';
const base = process.env.DEMO_URL ?? 'http://localhost:8000';
const out = path.resolve(__dirname, '../docs/demo.png');
const tenant = `studio-${Date.now().toString(36)}`;

async function call(method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${route} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

async function main(): Promise<void> {
  const post = async (video: string) =>
    (await call('POST', '/api/v1/track', { tenant_id: tenant, video_filename: video })) as TrackResponse;
  await post('interview-take-1.mp4');
  await post('fail-corrupted-upload.mov');
  const cancelled = await post('draft-cut.mp4');
  await call('DELETE', `/api/v1/track/${cancelled.task_id}?tenant_id=${tenant}`);
  // Finished by the time the page opens (8 s analyses), then two that are still running in the picture.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  await post('keynote-2026.mp4');
  await post('product-launch.mp4');

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 900 }, deviceScaleFactor: 1 });
    await page.goto(`${base}/?${new URLSearchParams({ tenant, video: 'product-launch.mp4' }).toString()}`);
    await page.locator('body[data-ready="true"]').waitFor();
    await page.getByTestId('task-row').nth(4).waitFor();
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
