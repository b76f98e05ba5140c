import fc from 'fast-check';
import { parseTrackRequest, VIDEO_FILENAME_MAX_BYTES } from '../../../lambda/core/validation';
import { postTrack, request } from '../../support/events';
import { mockedHandler } from '../../support/mocked-handler';
import { TEST_KEYS } from '../../support/stored-items';

const valid = { tenant_id: 'tenant1', video_filename: 'test.mp4' };

describe('bad input: 4xx problem+json and no AWS call', () => {
  const cases: [string, unknown, number, RegExp][] = [
    ['body is not JSON', '{"tenant_id": ', 400, /not valid JSON/],
    ['body is empty', '', 400, /not valid JSON/],
    ['body is an array', [valid], 400, /must be a JSON object/],
    ['body is a string', '"x"', 400, /must be a JSON object/],
    ['body is null', 'null', 400, /must be a JSON object/],
    ['tenant_id missing', { video_filename: 'a.mp4' }, 400, /^tenant_id is required$/],
    ['video_filename missing', { tenant_id: 't' }, 400, /^video_filename is required$/],
    ['tenant_id not a string', { ...valid, tenant_id: 42 }, 400, /^tenant_id must be a string/],
    ['video_filename not a string', { ...valid, video_filename: ['a'] }, 400, /^video_filename must be a string/],
    ['tenant_id empty', { ...valid, tenant_id: '' }, 400, /^tenant_id must not be empty$/],
    ['tenant_id too long', { ...valid, tenant_id: 'a'.repeat(129) }, 400, /^tenant_id must be at most 128 characters$/],
    ['tenant_id with #', { ...valid, tenant_id: 'a#b' }, 400, /^tenant_id may only contain/],
    ['tenant_id with space', { ...valid, tenant_id: 'a b' }, 400, /^tenant_id may only contain/],
    ['video_filename blank', { ...valid, video_filename: ' \u3000 ' }, 400, /^video_filename must not be blank$/],
    ['video_filename with a newline', { ...valid, video_filename: 'a\nb.mp4' }, 400, /control characters/],
    ['video_filename with NUL', { ...valid, video_filename: 'a\u0000.mp4' }, 400, /control characters/],
    ['video_filename with a C1 control', { ...valid, video_filename: 'a\u0085.mp4' }, 400, /control characters/],
    [
      'video_filename with a right-to-left override (U+202E)',
      { ...valid, video_filename: 'invoice\u202Efdp.exe' },
      400,
      /^video_filename must not contain bidirectional override or isolate characters \(U\+202A-U\+202E, U\+2066-U\+2069\)$/,
    ],
    [
      'video_filename with a left-to-right embedding (U+202A)',
      { ...valid, video_filename: '\u202Aa.mp4' },
      400,
      /bidirectional override or isolate/,
    ],
    [
      'video_filename with a first-strong isolate (U+2068)',
      { ...valid, video_filename: 'a\u2068b.mp4' },
      400,
      /bidirectional override or isolate/,
    ],
    [
      'video_filename with a pop directional isolate (U+2069)',
      { ...valid, video_filename: 'a\u2069.mp4' },
      400,
      /bidirectional override or isolate/,
    ],
    [
      'video_filename with a lone surrogate',
      '{"tenant_id":"t","video_filename":"a\\ud800.mp4"}',
      400,
      /well-formed Unicode/,
    ],
    ['video_filename over 1024 bytes', { ...valid, video_filename: 'é'.repeat(513) }, 400, /at most 1024 UTF-8 bytes/],
  ];

  test.each(cases)('%s', async (_name, input, status, detail) => {
    const { handle, ddb, sfn } = mockedHandler();
    const res = await handle(postTrack(input));
    expect(res.statusCode).toBe(status);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    const problem = JSON.parse(res.body as string);
    expect(problem).toMatchObject({ type: '/problems/invalid-request', title: 'Invalid request', status });
    expect(problem.detail).toMatch(detail);
    expect(ddb.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  test('exactly 1024 UTF-8 bytes is accepted (boundary)', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.onAnyCommand().resolves({});
    sfn.onAnyCommand().resolves({});
    const res = await handle(postTrack({ ...valid, video_filename: 'é'.repeat(512) }));
    expect(res.statusCode).toBe(201);
  });

  test('a 128-character tenant of every allowed character is accepted', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.onAnyCommand().resolves({});
    sfn.onAnyCommand().resolves({});
    const tenant = 'Az09._:@-'.repeat(15).slice(0, 128);
    const res = await handle(postTrack({ ...valid, tenant_id: tenant }));
    expect(res.statusCode).toBe(201);
  });

  test('an NFD filename is stored in NFC, so two spellings are one video', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.onAnyCommand().resolves({});
    sfn.onAnyCommand().resolves({});
    const nfd = 'cafe\u0301.mp4';
    const res = await handle(postTrack({ ...valid, video_filename: nfd }));
    expect(res.statusCode).toBe(201);
    expect(JSON.parse(res.body as string).video_filename).toBe('caf\u00e9.mp4');
    expect(ddb.call(0).args[0].input).toMatchObject({
      Item: { pk: { S: TEST_KEYS.activeKey('tenant1', 'caf\u00e9.mp4') }, video_filename: { S: 'caf\u00e9.mp4' } },
    });
  });

  test('case and surrounding spaces are kept exactly', async () => {
    const { handle, ddb, sfn } = mockedHandler();
    ddb.onAnyCommand().resolves({});
    sfn.onAnyCommand().resolves({});
    const res = await handle(postTrack({ ...valid, video_filename: ' Test.MP4' }));
    expect(JSON.parse(res.body as string).video_filename).toBe(' Test.MP4');
  });

  test('body over 64 KiB -> 413', async () => {
    const { handle, ddb } = mockedHandler();
    const res = await handle(postTrack({ ...valid, pad: 'x'.repeat(64 * 1024) }));
    expect(res.statusCode).toBe(413);
    expect(res.headers['Content-Type']).toBe('application/problem+json');
    expect(ddb.calls()).toHaveLength(0);
  });

  test('a non-JSON content type -> 415', async () => {
    const { handle, ddb } = mockedHandler();
    const res = await handle(postTrack('tenant_id=a', { 'content-type': 'application/x-www-form-urlencoded' }));
    expect(res.statusCode).toBe(415);
    expect(ddb.calls()).toHaveLength(0);
  });

  test.each(['PUT', 'PATCH', 'DELETE'])('%s /api/v1/track -> 405 with Allow', async (method) => {
    const { handle, ddb } = mockedHandler();
    const res = await handle(request(method, '/api/v1/track'));
    expect(res.statusCode).toBe(405);
    expect(res.headers.Allow).toBe('GET, POST');
    expect(JSON.parse(res.body as string).status).toBe(405);
    expect(ddb.calls()).toHaveLength(0);
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
