import type { ExtraOperations } from '../step-functions/endpoint';
import type { LocalStepFunctions } from '../step-functions/runner';
import { injectFault } from './fault-injection';

/**
 * The local test controls, sent as operations of the local Step Functions endpoint (no AWS SDK sends these): hold and
 * release executions (LocalStepFunctions.hold), fail a Task state of the runner, lose an execution's end event, or
 * fail the API handler's next AWS SDK calls of a command (./fault-injection.ts, wired into the handler by system.ts).
 */
export function testControls(sfn: LocalStepFunctions): ExtraOperations {
  return (operation, input) => {
    switch (operation) {
      case 'LocalHold':
        sfn.hold(input.field, input.value);
        return {};
      case 'LocalRelease':
        return { released: sfn.release(input.field, input.value) };
      case 'LocalInjectStateFault':
        sfn.injectFault({
          state: input.state,
          error: input.error,
          cause: input.cause,
          match: input.match,
          times: Number(input.times ?? 1),
        });
        return {};
      case 'LocalDropEndEvents':
        sfn.dropEndEvents(input.match, Number(input.times ?? 1));
        return {};
      case 'LocalInjectFault':
        injectFault({
          command: input.command,
          error: input.error,
          reason: input.reason,
          match: input.match,
          times: Number(input.times ?? 1),
        });
        return {};
      default:
        return undefined;
    }
  };
}
