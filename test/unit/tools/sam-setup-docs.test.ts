import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SAM_CDK_OUT, SAM_CONTAINERS, SAM_DOCS } from '../../../tools/sam-prepare';
import { PROJECT_ROOT } from '../../../local/template';

const localDocs = readFileSync(path.join(PROJECT_ROOT, 'docs', 'LOCAL.md'), 'utf8');
const scripts = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts as Record<
  string,
  string
>;

describe('the sam setup: what sam:prepare prints is what docs/LOCAL.md says', () => {
  test('the section sam:prepare points to is a heading of the file it names', () => {
    const docs = readFileSync(path.join(PROJECT_ROOT, SAM_DOCS.file), 'utf8');
    expect(docs).toBe(localDocs);
    expect(docs.split('\n')).toContain(`## ${SAM_DOCS.heading}`);
  });

  test.each(Object.values(SAM_CONTAINERS))('the docker run line of $name is the docs/LOCAL.md one', ({ run }) => {
    expect(localDocs).toContain(run);
  });

  test('npm run sam:synth writes the localEndpoints template where sam:prepare reads it, apart from cdk.out', () => {
    expect(path.basename(SAM_CDK_OUT)).toBe('cdk.out.sam');
    expect(scripts['sam:synth']).toMatch(/^cdk synth .*-c localEndpoints=true .*--output cdk\.out\.sam$/);
    expect(localDocs).toContain('-t cdk.out.sam/VideoTracking.template.json');
    expect(localDocs).toContain('--env-vars cdk.out.sam/sam-env.json');
  });
});
