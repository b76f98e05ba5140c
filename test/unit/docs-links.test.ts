import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { at } from '../support/at';

const ROOT = path.resolve(__dirname, '../..');
const DOCS = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join('docs', name)),
];

/** Markdown outside fenced code blocks and inline code: links there are examples, not links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = at(match, 1)
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** Every relative link target in a document (external URLs and mail addresses left out). */
function relativeLinks(markdown: string): string[] {
  const targets = [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => at(match, 1));
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

describe('links between the documents', () => {
  test('the GitHub anchor rules this test relies on', () => {
    const anchors = headingAnchors(
      '# Doc\n## Repair sweep (no client needed)\n## The write path: `POST /api/v1/track`\n## Twice\n## Twice\n```\n## not a heading\n```\n',
    );
    expect([...anchors]).toEqual([
      'doc',
      'repair-sweep-no-client-needed',
      'the-write-path-post-apiv1track',
      'twice',
      'twice-1',
    ]);
  });

  test.each(DOCS)('every relative link in %s names a file that exists, and a heading of it', (doc) => {
    const markdown = readFileSync(path.join(ROOT, doc), 'utf8');
    const broken: string[] = [];
    for (const link of relativeLinks(markdown)) {
      const [file = '', anchor] = link.split('#', 2);
      const target =
        file === '' ? path.join(ROOT, doc) : path.resolve(path.dirname(path.join(ROOT, doc)), decodeURI(file));
      if (!existsSync(target)) {
        broken.push(`${link}: no such file`);
      } else if (
        anchor !== undefined &&
        target.endsWith('.md') &&
        !headingAnchors(readFileSync(target, 'utf8')).has(anchor)
      ) {
        broken.push(`${link}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('the README is a front door: at most 200 lines, linking every document in docs/', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
    const linked = new Set(relativeLinks(readme).map((link) => link.split('#')[0]));
    const unlinked = readdirSync(path.join(ROOT, 'docs')).filter((name) => !linked.has(`docs/${name}`));
    expect(unlinked).toEqual([]);
  });
});
