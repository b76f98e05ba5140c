import { crashScenario } from './crash-scenario';

// Ctrl-C in a terminal: DynamoDB Local outlives the signal, so the shutdown records running tasks cancelled.
crashScenario('SIGINT', 'cancelled');
