import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

describe('client/api-types.ts', () => {
  test('is what openapi-typescript generates from docs/openapi.yaml today (else: npm run client:types)', () => {
    // GIVEN a fresh generation into a temporary folder
    const dir = mkdtempSync(path.join(tmpdir(), 'api-types-'));
    try {
      const out = path.join(dir, 'api-types.ts');
      execFileSync(
        process.execPath,
        [path.join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'), 'docs/openapi.yaml', '-o', out],
        { cwd: ROOT, stdio: 'pipe' },
      );
      // THEN the committed file is identical
      expect(readFileSync(path.join(ROOT, 'client/api-types.ts'), 'utf8')).toBe(readFileSync(out, 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
