import { installLazySourceMaps } from '../adapters/lazy-source-maps';
import { type AnalyseInput, analyse } from './analyse';

// Stack traces name the TypeScript sources: the map is read at the first error, not at load (no --enable-source-maps).
installLazySourceMaps(__filename);
const delayMs = Number(process.env.ANALYSIS_DELAY_MS ?? 2000);
const failPattern = process.env.ANALYSIS_FAIL_PATTERN ? new RegExp(process.env.ANALYSIS_FAIL_PATTERN) : undefined;

/** Step Functions invokes this with the Analyse state's payload (see analyse.ts for the contract). */
export async function handler(input: AnalyseInput) {
  return analyse(input, { delayMs, failPattern });
}
