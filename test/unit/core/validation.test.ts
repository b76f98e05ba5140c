import fc from 'fast-check';
import { InvalidRequest } from '../../../lambda/core/errors';
import { INVISIBLE_CHARACTER_RULE, parseTrackRequest, VIDEO_FILENAME_MAX_BYTES } from '../../../lambda/core/validation';
import { coreOnDoubles } from '../../support/doubles';

const valid = { tenant_id: 'tenant1', video_filename: 'test.mp4' };

/** What parseTrackRequest throws for `input`, or undefined. */
function refusal(input: unknown): unknown {
  try {
    parseTrackRequest(input);
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('parseTrackRequest: the rules of a POST body (handler-level mapping in test/unit/track/request-body.test.ts)', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['tenant_id missing', { video_filename: 'a.mp4' }, 'tenant_id', /^tenant_id is required$/],
    ['video_filename missing', { tenant_id: 't' }, 'video_filename', /^video_filename is required$/],
    ['tenant_id not a string', { ...valid, tenant_id: 42 }, 'tenant_id', /^tenant_id must be a string/],
    [
      'video_filename not a string',
      { ...valid, video_filename: ['a'] },
      'video_filename',
      /^video_filename must be a string/,
    ],
    ['tenant_id empty', { ...valid, tenant_id: '' }, 'tenant_id', /^tenant_id must not be empty$/],
    [
      'tenant_id too long',
      { ...valid, tenant_id: 'a'.repeat(129) },
      'tenant_id',
      /^tenant_id must be at most 128 characters$/,
    ],
    ['tenant_id with #', { ...valid, tenant_id: 'a#b' }, 'tenant_id', /^tenant_id may only contain/],
    ['tenant_id with space', { ...valid, tenant_id: 'a b' }, 'tenant_id', /^tenant_id may only contain/],
    [
      'video_filename blank',
      { ...valid, video_filename: ' \u3000 ' },
      'video_filename',
      /^video_filename must not be blank$/,
    ],
    ['video_filename with a newline', { ...valid, video_filename: 'a\nb.mp4' }, 'video_filename', /control characters/],
    [
      'video_filename with a line separator (U+2028)',
      { ...valid, video_filename: 'a\u2028b.mp4' },
      'video_filename',
      /^video_filename must not contain control characters or line and paragraph separators \(Unicode Cc, U\+2028, U\+2029\)$/,
    ],
    [
      'video_filename with a paragraph separator (U+2029)',
      { ...valid, video_filename: 'a.mp4\u2029' },
      'video_filename',
      /line and paragraph separators/,
    ],
    ['video_filename with NUL', { ...valid, video_filename: 'a\u0000.mp4' }, 'video_filename', /control characters/],
    [
      'video_filename with a C1 control',
      { ...valid, video_filename: 'a\u0085.mp4' },
      'video_filename',
      /control characters/,
    ],
    [
      'video_filename with a right-to-left override (U+202E)',
      { ...valid, video_filename: 'invoice\u202Efdp.exe' },
      'video_filename',
      /^video_filename must not contain bidirectional override or isolate characters \(U\+202A-U\+202E, U\+2066-U\+2069\)$/,
    ],
    [
      'video_filename with a left-to-right embedding (U+202A)',
      { ...valid, video_filename: '\u202Aa.mp4' },
      'video_filename',
      /bidirectional override or isolate/,
    ],
    [
      'video_filename with a first-strong isolate (U+2068)',
      { ...valid, video_filename: 'a\u2068b.mp4' },
      'video_filename',
      /bidirectional override or isolate/,
    ],
    [
      'video_filename with a pop directional isolate (U+2069)',
      { ...valid, video_filename: 'a\u2069.mp4' },
      'video_filename',
      /bidirectional override or isolate/,
    ],
    [
      'video_filename with a lone surrogate (as JSON.parse hands it over)',
      JSON.parse('{"tenant_id":"t","video_filename":"a\\ud800.mp4"}'),
      'video_filename',
      /well-formed Unicode/,
    ],
    [
      'video_filename over 1024 bytes',
      { ...valid, video_filename: 'é'.repeat(513) },
      'video_filename',
      /at most 1024 UTF-8 bytes/,
    ],
  ];

  test.each(cases)('%s: InvalidRequest naming the field', (_name, input, field, detail) => {
    const error = refusal(input);
    expect(error).toBeInstanceOf(InvalidRequest);
    expect(error).toMatchObject({ field, message: expect.stringMatching(detail) });
  });

  test('exactly 1024 UTF-8 bytes is accepted (boundary)', () => {
    const name = 'é'.repeat(512);
    expect(parseTrackRequest({ ...valid, video_filename: name }).videoFilename).toBe(name);
  });

  test('a 128-character tenant of every allowed character is accepted', () => {
    const tenant = 'Az09._:@-'.repeat(15).slice(0, 128);
    expect(parseTrackRequest({ ...valid, tenant_id: tenant }).tenantId).toBe(tenant);
  });

  test('an NFD filename is taken in NFC, so two spellings are one video: one task, one claim', async () => {
    const { service, store } = coreOnDoubles();
    const nfd = parseTrackRequest({ ...valid, video_filename: 'cafe\u0301.mp4' });
    expect(nfd.videoFilename).toBe('caf\u00e9.mp4');

    const created = await service.track(nfd);
    const again = await service.track(parseTrackRequest({ ...valid, video_filename: 'caf\u00e9.mp4' }));

    expect(created.task.videoFilename).toBe('caf\u00e9.mp4');
    expect(again).toEqual({ kind: 'existing', task: created.task });
    expect([...store.active.keys()]).toEqual([store.keyOf('tenant1', 'caf\u00e9.mp4')]);
  });

  test('case and surrounding spaces are kept exactly', () => {
    expect(parseTrackRequest({ ...valid, video_filename: ' Test.MP4' }).videoFilename).toBe(' Test.MP4');
  });
});

describe('the UTF-8 length limit', () => {
  // Characters of 1, 2, 3 and 4 UTF-8 bytes (1, 1, 1 and 2 UTF-16 code units), each unchanged by NFC.
  const CHARACTERS = ['a', '\u00e9', '\u20ac', '\u{1d11e}'];

  test('a name is accepted exactly when it is at most 1024 UTF-8 bytes, however many code units it has', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...CHARACTERS), { minLength: 1, maxLength: 600 }), (characters) => {
        const name = characters.join('');
        const fits = Buffer.byteLength(name, 'utf8') <= VIDEO_FILENAME_MAX_BYTES;
        const accepted = (() => {
          try {
            return parseTrackRequest({ tenant_id: 't', video_filename: name }).videoFilename === name;
          } catch {
            return false;
          }
        })();
        expect(accepted).toBe(fits);
      }),
      { numRuns: 500 },
    );
  });

  test.each([
    ['341 three-byte characters (1023 bytes)', '\u20ac'.repeat(341), true],
    ['342 three-byte characters (1026 bytes)', '\u20ac'.repeat(342), false],
    ['256 four-byte characters (1024 bytes, 512 code units)', '\u{1d11e}'.repeat(256), true],
    ['257 four-byte characters (1028 bytes)', '\u{1d11e}'.repeat(257), false],
  ])('%s', (_name, name, accepted) => {
    const parse = () => parseTrackRequest({ tenant_id: 't', video_filename: name });
    if (accepted) expect(parse().videoFilename).toBe(name);
    else expect(parse).toThrow(/at most 1024 UTF-8 bytes/);
  });
});

describe('invisible and format characters (Unicode Default_Ignorable_Code_Point, Cf)', () => {
  const filename = (name: string) => parseTrackRequest({ tenant_id: 't', video_filename: name }).videoFilename;
  const RULE = new RegExp(`^video_filename ${INVISIBLE_CHARACTER_RULE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

  test('the rule, stated once for the 400 and the contract', () => {
    expect(INVISIBLE_CHARACTER_RULE).toBe(
      'must not contain invisible or format characters (Unicode Default_Ignorable_Code_Point or Cf) except a ' +
        'variation selector right after a visible character, U+200C or U+200D between visible characters (the first ' +
        'may carry a variation selector), and the tags of a flag (U+1F3F4, tags U+E0020-U+E007E, U+E007F); visible ' +
        'means not whitespace, a control or such a character',
    );
  });

  // Each alone, repeated, first, or after a space: refused, naming the rule. (Between letters, the joiners and the
  // variation selectors are allowed: the tests below.)
  test.each([
    ['U+200B zero width space', '\u200B'],
    ['U+200C zero width non-joiner', '\u200C'],
    ['U+200D zero width joiner', '\u200D'],
    ['U+200E left-to-right mark', '\u200E'],
    ['U+200F right-to-left mark', '\u200F'],
    ['U+061C Arabic letter mark', '\u061C'],
    ['U+2060 word joiner', '\u2060'],
    ['U+2062 invisible times', '\u2062'],
    ['U+00AD soft hyphen', '\u00AD'],
    ['U+034F combining grapheme joiner', '\u034F'],
    ['U+115F Hangul choseong filler', '\u115F'],
    ['U+1160 Hangul jungseong filler', '\u1160'],
    ['U+3164 Hangul filler', '\u3164'],
    ['U+FFA0 halfwidth Hangul filler', '\uFFA0'],
    ['U+180E Mongolian vowel separator', '\u180E'],
    ['U+FE0F variation selector-16', '\uFE0F'],
    ['U+E0100 variation selector-17', '\u{E0100}'],
    ['U+E0041 tag latin capital letter A', '\u{E0041}'],
    ['U+E0001 language tag', '\u{E0001}'],
    ['U+E007F cancel tag', '\u{E007F}'],
    ['U+FFF9 interlinear annotation anchor', '\uFFF9'],
    ['U+0600 Arabic number sign (Cf)', '\u0600'],
  ])('%s: alone, or inside a name, is refused with the rule', (_name, character) => {
    for (const name of [character, character.repeat(3), `${character}clip.mp4`, `clip ${character}.mp4`])
      expect(() => filename(name)).toThrow(RULE);
    if (!/[\u200C\u200D\p{Variation_Selector}]/u.test(character))
      expect(() => filename(`a${character}b`)).toThrow(RULE);
  });

  test('U+FEFF alone is blank (trim takes it as whitespace); inside a name it breaks the rule', () => {
    expect(() => filename('\uFEFF')).toThrow(/^video_filename must not be blank$/);
    expect(() => filename('\uFEFFclip.mp4')).toThrow(RULE);
    expect(() => filename('clip\uFEFF.mp4')).toThrow(RULE);
  });

  test('invisible characters around whitespace: refused, whatever the mix', () => {
    for (const name of [' \u200B ', '\u3000\u3164', '\u200B\u200C\u200D\u2060', '\u3164 '])
      expect(() => filename(name)).toThrow(RULE);
  });

  test.each([
    ['an emoji ZWJ sequence', '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}.mp4'],
    ['an emoji ZWJ sequence with a skin tone', '\u{1F469}\u{1F3FD}\u200D\u{1F680}.mp4'],
    ['a ZWJ after a variation selector (heart on fire)', '\u2764\uFE0F\u200D\u{1F525}.mp4'],
    ['a ZWJ after a variation selector (rainbow flag)', '\u{1F3F3}\uFE0F\u200D\u{1F308}.mp4'],
    ['the pirate flag (U+1F3F4 ZWJ)', '\u{1F3F4}\u200D\u2620\uFE0F.mp4'],
    ['an emoji with a variation selector', '\u2764\uFE0F.mp4'],
    ['a text variation selector', '\u2764\uFE0E.mp4'],
    ['an ideographic variation selector', '\u845B\u{E0100}.mp4'],
    ['a Mongolian free variation selector', '\u1820\u180B.mp4'],
    ['a keycap', '1\uFE0F\u20E3.mp4'],
    ['a subdivision flag (England)', '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}.mp4'],
    ['a subdivision flag alone', '\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}'],
    ['two subdivision flags', '\u{1F3F4}\u{E0067}\u{E007F}\u{1F3F4}\u{E0062}\u{E007F}'],
    ['Devanagari with ZWJ (half form)', '\u0915\u094D\u200D\u0937.mp4'],
    ['Devanagari with ZWNJ', '\u0915\u094D\u200C\u0937.mp4'],
    ['Persian with ZWNJ', '\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645.mp4'],
    ['Malayalam chillu with ZWJ', '\u0D23\u0D4D\u200D.mp4'],
  ])('%s is accepted, unchanged', (_name, name) => {
    expect(filename(name)).toBe(name);
  });

  test.each([
    ['a ZWJ at the start', '\u200D\u{1F469}.mp4'],
    ['a ZWJ at the end', 'clip\u200D'],
    ['a ZWJ before a space', 'clip\u200D .mp4'],
    ['a ZWNJ after a space', 'clip \u200C.mp4'],
    ['two ZWJs', '\u{1F468}\u200D\u200D\u{1F469}'],
    ['a ZWJ next to a zero width space', 'a\u200D\u200Bb'],
    ['a variation selector first', '\uFE0F\u2764.mp4'],
    ['a variation selector after a space', 'clip \uFE0F.mp4'],
    ['two variation selectors', '\u2764\uFE0F\uFE0F.mp4'],
    ['a variation selector after a ZWJ', '\u{1F468}\u200D\uFE0F\u{1F469}'],
    ['tag characters without the flag', 'a\u{E0067}\u{E0062}\u{E007F}.mp4'],
    ['tag characters after another emoji', '\u{1F3F3}\u{E0067}\u{E0062}\u{E007F}.mp4'],
    ['a flag sequence not cancelled', '\u{1F3F4}\u{E0067}\u{E0062}.mp4'],
    ['a flag sequence interrupted', '\u{1F3F4}\u{E0067}x\u{E0062}\u{E007F}.mp4'],
    ['a cancel tag right after the flag', '\u{1F3F4}\u{E007F}.mp4'],
    ['a language tag in a flag sequence', '\u{1F3F4}\u{E0001}\u{E0067}\u{E007F}.mp4'],
  ])('%s is refused with the rule', (_name, name) => {
    expect(() => filename(name)).toThrow(RULE);
  });

  test('the bidi controls keep their own rule', () => {
    expect(() => filename('a\u202Eb')).toThrow(/bidirectional override or isolate/);
  });

  test('the longest flag sequence within the limit is accepted; a longer one is refused for its length', () => {
    const longest = `\u{1F3F4}${'\u{E0067}'.repeat(254)}\u{E007F}`;
    expect(filename(longest)).toBe(longest);
    expect(() => filename(`\u{1F3F4}${'\u{E0067}'.repeat(20_000)}\u{E007F}`)).toThrow(/at most 1024 UTF-8 bytes/);
  });

  // Letters of several scripts, a digit, punctuation, an emoji: visible, NFC, and composing with none of the others.
  const VISIBLE = ['a', 'Z', '7', '.', '-', '_', '\u00E9', '\u0436', '\u0915', '\u06CC', '\u4E2D', '\u{1F600}'];
  // Never allowed, wherever they stand (the joiners and selectors only in context: the next property).
  const STRAY = ['\u200B', '\u200E', '\u200F', '\u061C', '\u2060', '\uFEFF', '\u{E0041}', '\u00AD', '\u3164'];
  const letters = fc.array(fc.constantFrom(...VISIBLE), { minLength: 1, maxLength: 30 });

  test('visible letters alone are accepted, unchanged', () => {
    fc.assert(
      fc.property(letters, (characters) => {
        expect(filename(characters.join(''))).toBe(characters.join(''));
      }),
      { numRuns: 300 },
    );
  });

  test('visible letters with invisible characters inserted anywhere are refused with the rule', () => {
    fc.assert(
      fc.property(
        letters,
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...STRAY)), { minLength: 1, maxLength: 5 }),
        (characters, insertions) => {
          const name = [...characters];
          for (const [at, character] of insertions) name.splice(at % (name.length + 1), 0, character);
          expect(() => filename(name.join(''))).toThrow(RULE);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('visible letters with a joiner between two of them, or a variation selector after one, are accepted', () => {
    fc.assert(
      fc.property(
        letters,
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('\u200C', '\u200D', '\uFE0E', '\uFE0F')), { maxLength: 5 }),
        (characters, insertions) => {
          // Each inserted after a letter; a joiner only where a letter follows.
          const name = characters.map((c) => [c]);
          for (const [at, character] of insertions) {
            const i = at % name.length;
            const joiner = character === '\u200C' || character === '\u200D';
            const here = name[i];
            if (!here || (joiner && i === name.length - 1) || here.length > 1) continue;
            here.push(character);
          }
          const joined = name.map((c) => c.join('')).join('');
          expect(filename(joined)).toBe(joined);
        },
      ),
      { numRuns: 300 },
    );
  });
});
