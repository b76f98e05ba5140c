import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { printOrExit } from './print-or-exit';
import { taskIdKeyCommand } from './task-id-key/command';

printOrExit(taskIdKeyCommand(process.argv.slice(2), new SecretsManagerClient({})));
