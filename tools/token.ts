import { awsClients } from './token/cognito-token';
import { LocalSetupError } from '../local/errors';
import { tokenCommand } from './token/token-command';

tokenCommand(process.argv.slice(2), process.env, awsClients).then(
  (token) => console.log(token),
  (error: unknown) => {
    // One line the user can act on; an unexpected AWS error (no credentials, access denied) by its name and message.
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
