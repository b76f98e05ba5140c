import { type ExtraOperations, optionalNumber, optionalString, requiredString } from '../step-functions/endpoint';
import type { LocalStepFunctions } from '../step-functions/runner';
import { injectFault } from './fault-injection';

/**
 * The local test controls, sent as operations of the local Step Functions endpoint (no AWS SDK sends these): hold and
 * release executions (LocalStepFunctions.hold), fail a Task state of the runner, lose an execution's end event, or
 * fail or delay the API handler's next AWS SDK calls (./fault-injection.ts, wired into the handler by system.ts).
 */
export function testControls(sfn: LocalStepFunctions): ExtraOperations {
  return (operation, input) => {
    switch (operation) {
      case 'LocalHold':
        sfn.hold(requiredString(input, 'field'), requiredString(input, 'value'));
        return {};
      case 'LocalRelease':
        return { released: sfn.release(requiredString(input, 'field'), requiredString(input, 'value')) };
      case 'LocalInjectStateFault':
        sfn.injectFault({
          state: requiredString(input, 'state'),
          error: requiredString(input, 'error'),
          cause: optionalString(input, 'cause'),
          match: optionalString(input, 'match'),
          times: optionalNumber(input, 'times') ?? 1,
        });
        return {};
      case 'LocalDropEndEvents':
        sfn.dropEndEvents(requiredString(input, 'match'), optionalNumber(input, 'times') ?? 1);
        return {};
      case 'LocalInjectFault':
        // Without a command: any command that names `match`; without an error: a delay only.
        injectFault({
          command: optionalString(input, 'command'),
          error: optionalString(input, 'error'),
          reason: optionalString(input, 'reason'),
          match: optionalString(input, 'match'),
          delayMs: optionalNumber(input, 'delayMs'),
          answerDelayMs: optionalNumber(input, 'answerDelayMs'),
          times: optionalNumber(input, 'times') ?? 1,
        });
        return {};
      default:
        return undefined;
    }
  };
}
