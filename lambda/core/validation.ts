import * as v from 'valibot';
import { InvalidRequest } from './errors';
import { ListStatus } from './task';

export const TENANT_ID_MAX_LENGTH = 128;
export const VIDEO_FILENAME_MAX_BYTES = 1024;

const utf8 = new TextEncoder();
// Module-level: esbuild writes a `\p{…}` literal as `new RegExp(…)`, which inside a check would be built per call.
const CONTROL_CHARACTER = /[\p{Cc}\u2028\u2029]/u;
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/u;
const PRINTABLE_ASCII = /^[\x20-\x7E]*$/;

// The invisible-character rule, as regex source that docs/openapi.yaml carries too (`u` flag, no `v`-only syntax).
/** Visible: not whitespace (`\s`, U+FEFF and U+2028/U+2029 included), not a control, not invisible or format. */
const VISIBLE = String.raw`[^\s\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]`;
const IGNORABLE = String.raw`[\p{Cf}\p{Default_Ignorable_Code_Point}]`;
const JOINER = String.raw`[\u200C\u200D]`;
const SELECTOR = String.raw`\p{Variation_Selector}`;
const FLAG = String.raw`\u{1F3F4}`;
const TAGS = String.raw`\u{E0020}-\u{E007E}`;
const TAG = `[${TAGS}]`;
const CANCEL_TAG = String.raw`\u{E007F}`;
/** Matches an invisible or format character that is not part of one of the sequences real text needs. */
const STRAY_IGNORABLE_SOURCE = [
  // Any other one, U+200B, U+2060, U+FEFF, U+00AD, U+3164, U+200E and the bidi controls included.
  String.raw`(?![\u200C\u200D\p{Variation_Selector}\u{E0020}-\u{E007F}])${IGNORABLE}`,
  // ZWNJ/ZWJ between visible characters (क्‍ष, می‌خواهم, 👨‍👩‍👧); the first may carry its variation selector (❤️‍🔥).
  `(?<!${VISIBLE}${SELECTOR}?)${JOINER}`,
  `${JOINER}(?!${VISIBLE})`,
  // A variation selector right after a visible character (❤️, 1️⃣).
  `(?<!${VISIBLE})${SELECTOR}`,
  // Tag characters only in a flag's tag sequence, U+1F3F4 tag… U+E007F (🏴󠁧󠁢󠁥󠁮󠁧󠁿): a run of tags must follow the
  // flag and end with the cancel tag, which must end such a run. Each look is one character, so a run costs its length.
  `(?<![${FLAG}${TAGS}])${TAG}`,
  `${TAG}(?![${TAGS}${CANCEL_TAG}])`,
  `(?<!${TAG})${CANCEL_TAG}`,
].join('|');
const IGNORABLE_CHARACTER = new RegExp(IGNORABLE, 'u');
const STRAY_IGNORABLE = new RegExp(STRAY_IGNORABLE_SOURCE, 'u');
export const INVISIBLE_CHARACTER_RULE =
  'must not contain invisible or format characters (Unicode Default_Ignorable_Code_Point or Cf) except a variation ' +
  'selector right after a visible character, U+200C or U+200D between visible characters (the first may carry a ' +
  'variation selector), and the tags of a flag (U+1F3F4, tags U+E0020-U+E007E, U+E007F); visible means not ' +
  'whitespace, a control or such a character';
/**
 * The character rules of a filename as one ECMA-262 pattern (`u` flag), docs/openapi.yaml's `video_filename`
 * `pattern`: a visible character, and no control, line separator, lone surrogate or stray invisible character. The
 * server checks each rule on its own, for its message. NFC adds, removes and reorders none of these characters, so the
 * name as sent (the contract) and as normalised (the server) break the same rules.
 */
export const VIDEO_FILENAME_PATTERN = String.raw`^(?![\s\S]*?(?:[\p{Cc}\p{Cs}\u2028\u2029]|${STRAY_IGNORABLE_SOURCE}))[\s\S]*?\S`;
/** A UTF-16 code unit is at most 3 UTF-8 bytes, so a name this short needs no encoding to be within the limit. */
const SURELY_SHORT_ENOUGH = Math.floor(VIDEO_FILENAME_MAX_BYTES / 3);

const requiredString = (issue: v.StringIssue): string =>
  issue.input === undefined ? 'is required' : `must be a string, got ${issue.received}`;

const TenantId = v.pipe(
  v.string(requiredString),
  v.minLength(1, 'must not be empty'),
  v.maxLength(TENANT_ID_MAX_LENGTH, `must be at most ${TENANT_ID_MAX_LENGTH} characters`),
  v.regex(/^[A-Za-z0-9._:@-]+$/, 'may only contain letters, digits and the characters . _ : @ -'),
);

const CONTROL_RULE =
  'must not contain control characters or line and paragraph separators (Unicode Cc, U+2028, U+2029)';
// Bidi overrides and isolates make a name display as another (`exe.mp4` shown for `4pm.exe`).
const BIDI_RULE = 'must not contain bidirectional override or isolate characters (U+202A-U+202E, U+2066-U+2069)';

/** The first character rule `name` breaks, if any. Plain printable ASCII, the usual name, breaks none: one scan. */
function brokenCharacterRule(name: string): string | undefined {
  if (PRINTABLE_ASCII.test(name)) return undefined;
  if (CONTROL_CHARACTER.test(name)) return CONTROL_RULE;
  if (BIDI_CONTROL.test(name)) return BIDI_RULE;
  // Zero-width and format characters make two names display alike, or a name display as nothing at all.
  if (IGNORABLE_CHARACTER.test(name) && STRAY_IGNORABLE.test(name)) return INVISIBLE_CHARACTER_RULE;
  return undefined;
}

const VideoFilename = v.pipe(
  v.string(requiredString),
  // A lone surrogate cannot be stored as UTF-8, so it could never name a real file.
  v.check((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)'),
  // macOS clients send NFD; one name typed on two machines must be one video.
  v.transform((s) => s.normalize('NFC')),
  v.check((s) => s.trim().length > 0, 'must not be blank'),
  v.rawCheck(({ dataset, addIssue }) => {
    const message = dataset.typed ? brokenCharacterRule(dataset.value) : undefined;
    if (message) addIssue({ message });
  }),
  v.check(
    (s) => s.length <= SURELY_SHORT_ENOUGH || utf8.encode(s).length <= VIDEO_FILENAME_MAX_BYTES,
    `must be at most ${VIDEO_FILENAME_MAX_BYTES} UTF-8 bytes after Unicode NFC normalisation`,
  ),
);

// 44 characters since the generated key (lambda/shared/task-keys.ts); ids of 43 made before it stay valid.
const TaskId = v.pipe(
  v.string(requiredString),
  v.regex(/^[A-Za-z0-9_-]{43,44}$/, 'must be 44 base64url characters (or 43, for an id made before key versions)'),
);

// A missing key is reported by the object schema, with the key in the issue's path.
const objectMessage = (issue: v.ObjectIssue): string => (issue.path?.length ? 'is required' : 'must be a JSON object');

const TrackRequest = v.object({ tenant_id: TenantId, video_filename: VideoFilename }, objectMessage);
const TenantQuery = v.object({ tenant_id: TenantId }, objectMessage);
const VideoQuery = v.object({ video_filename: VideoFilename }, objectMessage);

export const LIST_LIMIT_MAX = 100;
export const LIST_LIMIT_DEFAULT = 20;

const ListQuery = v.object(
  {
    limit: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^[1-9][0-9]{0,2}$/, `must be an integer from 1 to ${LIST_LIMIT_MAX}`),
        v.transform(Number),
        v.maxValue(LIST_LIMIT_MAX, `must be an integer from 1 to ${LIST_LIMIT_MAX}`),
      ),
    ),
    status: v.optional(v.picklist(Object.values(ListStatus), `must be one of ${Object.values(ListStatus).join(', ')}`)),
    cursor: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty'))),
  },
  objectMessage,
);

export interface ListParameters {
  readonly limit: number;
  readonly status?: ListStatus;
  readonly cursor?: string;
}

export interface TrackRequest {
  readonly tenantId: string;
  readonly videoFilename: string;
}

function parse<T extends v.GenericSchema>(schema: T, input: unknown): v.InferOutput<T> {
  const result = v.safeParse(schema, input, { abortEarly: true });
  if (result.success) return result.output;
  const issue = result.issues[0];
  const field = v.getDotPath(issue) ?? undefined;
  throw new InvalidRequest(field, field ? `${field} ${issue.message}` : `The request body ${issue.message}`);
}

/** Validates and normalises a POST /api/v1/track body (already JSON-parsed). */
export function parseTrackRequest(body: unknown): TrackRequest {
  const parsed = parse(TrackRequest, body);
  return { tenantId: parsed.tenant_id, videoFilename: parsed.video_filename };
}

/** Validates the tenant a read or cancel acts for. */
export function parseTenantId(tenantId: unknown): string {
  return parse(TenantQuery, { tenant_id: tenantId }).tenant_id;
}

export function parseVideoFilename(videoFilename: unknown): string {
  return parse(VideoQuery, { video_filename: videoFilename }).video_filename;
}

/** Validates the listing's query parameters (`limit`, `status`, `cursor`), each optional. */
export function parseListParameters(query: Record<string, string | undefined>): ListParameters {
  const parsed = parse(ListQuery, { limit: query.limit, status: query.status, cursor: query.cursor });
  return { limit: parsed.limit ?? LIST_LIMIT_DEFAULT, status: parsed.status, cursor: parsed.cursor };
}

/** True when the id has the shape of a task id; anything else is simply not found. */
export function isTaskId(taskId: string): boolean {
  return v.is(TaskId, taskId);
}
