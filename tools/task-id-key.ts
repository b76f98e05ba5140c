import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LocalSetupError } from '../local/errors';
import { taskIdKeyCommand } from './task-id-key/command';

taskIdKeyCommand(process.argv.slice(2), new SecretsManagerClient({})).then(
  (line) => console.log(line),
  (error: unknown) => {
    // One line the user can act on; an AWS error (no credentials, access denied) by its name and message.
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
