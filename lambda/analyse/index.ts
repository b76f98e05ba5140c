import { installLazySourceMaps } from '../adapters/lazy-source-maps';
import { type AnalyseInput, analyse } from './analyse';

installLazySourceMaps(__filename);
const delayMs = Number(process.env.ANALYSIS_DELAY_MS ?? 2000);
const failPattern = process.env.ANALYSIS_FAIL_PATTERN ? new RegExp(process.env.ANALYSIS_FAIL_PATTERN) : undefined;

/** Step Functions invokes this with the Analyse state's payload (see analyse.ts for the contract). */
export async function handler(input: AnalyseInput) {
  return analyse(input, { delayMs, failPattern });
}
