import { awsClients } from './token/cognito-token';
import { LocalSetupError } from '../local/errors';
import { tokenCommand } from './token/token-command';

tokenCommand(process.argv.slice(2), process.env, awsClients).then(
  (token) => console.log(token),
  (error: unknown) => {
    console.error(error instanceof LocalSetupError ? error.message : error);
    process.exit(1);
  },
);
