import { readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
/** The documents whose commands run against the deployed stack, whose default auth (cognito) answers 401 without a token. */
const DEPLOYED_DOCS = ['docs/OPERATIONS.md', 'docs/DEPLOY.md', 'docs/API.md', 'README.md'];

/** Every shell command of a document, fenced or inline, with its backslash-continued lines joined. */
function commands(markdown: string): string[] {
  const fenced = [...markdown.matchAll(/^\s*```[a-z]*\n([\s\S]*?)^\s*```/gm)].flatMap((match) =>
    (match[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n'),
  );
  const inline = [...markdown.replace(/^\s*```[\s\S]*?^\s*```/gm, '').matchAll(/`([^`\n]+)`/g)].map(
    (match) => match[1] ?? '',
  );
  return [...fenced, ...inline];
}

/** A command that calls the deployed API: curl on `$API` or an execute-api URL. */
function callsTheApi(command: string): boolean {
  return /\bcurl\b/.test(command) && /\$\{?API\b|execute-api\.[a-z0-9-]+\.amazonaws\.com/.test(command);
}

describe('calls of the deployed API in the documents', () => {
  test('the test finds a call without a token, and accepts one with it', () => {
    const doc =
      '```sh\ncurl -s "$API/api/v1/track/$TASK" \\\n  -H "Authorization: Bearer $TOKEN"\ncurl "$API/api/v1/track"\n```\n' +
      'and inline: `curl https://abc.execute-api.eu-west-1.amazonaws.com/api/v1/track`.';
    const calls = commands(doc).filter(callsTheApi);
    expect(calls).toHaveLength(3);
    expect(calls.filter((c) => !c.includes('Authorization: Bearer'))).toHaveLength(2);
  });

  test.each(DEPLOYED_DOCS)('every API call in %s carries a bearer token', (doc) => {
    const calls = commands(readFileSync(path.join(ROOT, doc), 'utf8')).filter(callsTheApi);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.filter((call) => !/-H "Authorization: Bearer \$\{?TOKEN\}?"/.test(call))).toEqual([]);
  });

  test.each(DEPLOYED_DOCS)('%s gets each token it uses from npm run token', (doc) => {
    const markdown = readFileSync(path.join(ROOT, doc), 'utf8');
    expect(markdown).toMatch(/TOKEN=\$\(npm run --silent token -- --stack /);
  });
});
