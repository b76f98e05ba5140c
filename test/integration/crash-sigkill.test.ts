import { crashScenario } from './crash-scenario';

// A crash: executions (in memory) are gone; the restart's repair sweep ends or starts every task.
crashScenario('SIGKILL', 'failed');
