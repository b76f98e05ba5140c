import fc from 'fast-check';
import { InvalidRequest } from '../../../lambda/core/errors';
import { parseTrackRequest, VIDEO_FILENAME_MAX_BYTES } from '../../../lambda/core/validation';
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
