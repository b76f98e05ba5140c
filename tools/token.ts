import { awsClients } from './token/cognito-token';
import { printOrExit } from './print-or-exit';
import { tokenCommand } from './token/token-command';

printOrExit(tokenCommand(process.argv.slice(2), process.env, awsClients));
