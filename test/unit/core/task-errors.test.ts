import { TaskErrorName, taskError } from '../../../lambda/core/task-errors';

describe('taskError: what a tenant sees of an error is its name and a fixed message', () => {
  test.each([
    ['AnalysisRejected', 'The analysis rejected this video; analysing it again fails the same way.'],
    ['States.Timeout', 'The analysis did not finish within the workflow timeout.'],
    ['WorkflowNotStarted', 'The analysis could not be started; submit the video again.'],
    ['Cancelled', 'The task was cancelled through the API.'],
    ['LeaseExpired', 'The task outlived its lease and a new task for the same video replaced it.'],
    ['DynamoDb.ValidationException', 'The analysis workflow failed; the operator has the details.'],
    ['States.Runtime', 'The analysis workflow failed; the operator has the details.'],
    ['FinishNotRecorded', 'The analysis workflow failed; the operator has the details.'],
    ['UnsupportedCodec', 'The analysis failed; the operator has the details.'],
  ])('%s', (name, message) => {
    expect(taskError(name)).toEqual({ error: name, message });
  });

  test('a name that is free text (spaces, ARNs, JSON) or missing becomes AnalysisFailed', () => {
    for (const name of [
      'User: arn:aws:sts::123456789012:assumed-role/x is not authorized',
      '{"errorType":"x"}',
      '',
      undefined,
      'x'.repeat(101),
    ]) {
      expect(taskError(name)).toEqual({
        error: TaskErrorName.AnalysisFailed,
        message: 'The analysis failed; the operator has the details.',
      });
    }
  });
});
