import { LocalSetupError } from '../local/errors';

/**
 * A one-command tool's ending: prints what `result` resolves to, or one line the user can act on and exit code 1 (a
 * LocalSetupError by its message; an unexpected AWS error, e.g. no credentials or access denied, by name and message).
 */
export function printOrExit(result: Promise<string>): void {
  result.then(
    (line) => console.log(line),
    (error: unknown) => {
      console.error(
        error instanceof LocalSetupError
          ? error.message
          : error instanceof Error
            ? `${error.name}: ${error.message}`
            : String(error),
      );
      process.exit(1);
    },
  );
}
