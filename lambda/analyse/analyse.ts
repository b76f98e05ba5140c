/**
 * The analysis contract. Replace `analyse` with the real work; keep the shapes.
 *
 * Input: the task being analysed. Read the video from `storage_key` and from nothing else: it is built by the API from
 * the verified tenant (lambda/core/storage-key.ts), so it cannot name another tenant's object; never build a key
 * from `tenant_id` or `video_filename` (a filename such as `../tenantB/secret.mp4` is valid text).
 * Output: any JSON value of at most ~200 KB; it is stored as the task's `result`.
 * Errors: throw AnalysisRejected for a video that can never be analysed (no retry); any other error is retried twice
 * with backoff, then the task ends `failed` showing the error's name with a fixed message (the error's message and
 * stack go to the logs only). Lambda throttles are not errors: the workflow waits and invokes again.
 */
export interface AnalyseInput {
  readonly task_id: string;
  readonly tenant_id: string;
  /** For display only: never use it to find the video. */
  readonly video_filename: string;
  /** The object to read, `tenants/<tenant>/<encodeURIComponent(filename)>` in the video bucket. */
  readonly storage_key: string;
}

export type AnalyseOutput = Record<string, unknown>;

export class AnalysisRejected extends Error {
  override readonly name = 'AnalysisRejected';
}

export interface PlaceholderOptions {
  /** How long the placeholder pretends to work. */
  readonly delayMs: number;
  /** Filenames matching this pattern are rejected, to exercise the failure path. */
  readonly failPattern?: RegExp;
}

/** Placeholder: waits, then reports what it was given. */
export async function analyse(input: AnalyseInput, options: PlaceholderOptions): Promise<AnalyseOutput> {
  await new Promise((resolve) => setTimeout(resolve, options.delayMs));
  if (options.failPattern?.test(input.video_filename)) {
    throw new AnalysisRejected(`placeholder rejected ${input.video_filename} (matches ANALYSIS_FAIL_PATTERN)`);
  }
  return {
    placeholder: true,
    video_filename: input.video_filename,
    storage_key: input.storage_key,
    analysed_at: new Date().toISOString(),
  };
}
