import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { OPENAPI_FILE } from '../support/openapi-contract';
import { at } from '../support/at';

// A second generator, not the one client/api-types.ts comes from: what any team generating a client would get.
test('@hey-api/openapi-ts generates exactly the API operations (no 405 or OPTIONS functions)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'hey-api-'));
  try {
    const cli = path.join(path.dirname(require.resolve('@hey-api/openapi-ts/package.json')), 'bin/run.js');
    execFileSync(process.execPath, [cli, '-i', OPENAPI_FILE, '-o', out], {
      stdio: 'pipe',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 60_000,
    });
    const sdk = readFileSync(path.join(out, 'sdk.gen.ts'), 'utf8');
    const operations = [...sdk.matchAll(/^export const (\w+) = .*?\.(get|post|put|patch|delete|options|head)</gm)].map(
      (m) => `${at(m, 2).toUpperCase()} ${at(m, 1)}`,
    );
    expect(operations.sort()).toEqual(['DELETE cancelTask', 'GET getTask', 'GET listTasks', 'POST startAnalysis']);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 60_000);
