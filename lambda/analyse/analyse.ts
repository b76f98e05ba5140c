/**
 * The analysis contract. Replace `analyse` with the real work; keep the shapes.
 *
 * Input: the task being analysed. Output: any JSON value of at most ~200 KB; it is stored as the task's `result`.
 * Errors: throw AnalysisRejected for a video that can never be analysed (no retry); any other error is retried twice
 * with backoff, then the task ends `failed` with the error's name and message.
 */
export interface AnalyseInput {
  readonly task_id: string;
  readonly tenant_id: string;
  readonly video_filename: string;
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
  return { placeholder: true, video_filename: input.video_filename, analysed_at: new Date().toISOString() };
}
