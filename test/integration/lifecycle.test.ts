import {
  env,
  executionsOf,
  firstExecutionOf,
  injectStateFault,
  itemsOf,
  post,
  taskReaches,
  uniqueTenant,
} from './support';

describe('the synthesized workflow on the local runner', () => {
  test('a task runs not_started -> running -> completed and frees its video; the next POST creates a new task', async () => {
    const tenant = uniqueTenant('complete');
    const first = await post(tenant, 'movie.mp4');
    expect(first.status).toBe(201);
    const id = first.body.task_id;

    const running = await taskReaches(tenant, id, 'running', 10_000);
    expect(running.started_at).toEqual(expect.any(String));

    const done = await taskReaches(tenant, id, 'completed', 20_000);
    expect(done).toMatchObject({
      task_id: id,
      tenant_id: tenant,
      video_filename: 'movie.mp4',
      result: { placeholder: true },
    });
    expect(Date.parse(done.finished_at)).toBeGreaterThanOrEqual(Date.parse(done.started_at));

    const items = await itemsOf(tenant);
    expect(items.filter((i) => i.item_type === 'active')).toHaveLength(0);
    const final = items.find((i) => i.pk === `TASK#${id}`);
    expect(final).toMatchObject({ item_type: 'final', status: 'completed' });
    // The finished record expires by TTL after the retention period.
    expect(final!.expires_at).toBeGreaterThan(Date.now() / 1000 + 29 * 86400);

    const second = await post(tenant, 'movie.mp4');
    expect(second.status).toBe(201);
    expect(second.body.task_id).not.toBe(id);
    const executions = await executionsOf(tenant);
    expect(executions.find((e) => e.name === id)?.status).toBe('SUCCEEDED');
  });

  test('a failing analysis ends the task failed, with the error, and frees the video', async () => {
    const tenant = uniqueTenant('fail');
    // The placeholder rejects names matching ANALYSIS_FAIL_PATTERN (set to ^fail- for the test run).
    const first = await post(tenant, 'fail-broken.mp4');
    expect(first.status).toBe(201);
    const id = first.body.task_id;

    const failed = await taskReaches(tenant, id, 'failed', 20_000);
    expect(failed.error).toEqual({
      error: 'AnalysisRejected',
      message: 'The analysis rejected this video; analysing it again fails the same way.',
    });
    expect((await itemsOf(tenant)).filter((i) => i.item_type === 'active')).toHaveLength(0);
    // The Lambda error payload, stack trace included, stays in the execution (its history on AWS), not in the task.
    const execution = await firstExecutionOf(tenant);
    const cause = JSON.parse(JSON.parse(execution.output!).error.Cause);
    expect(cause).toMatchObject({
      errorType: 'AnalysisRejected',
      errorMessage: expect.stringContaining('fail-broken.mp4'),
      trace: expect.any(Array),
    });
    expect(cause.trace.join('\n')).toMatch(/ at /);
    expect(JSON.stringify((await itemsOf(tenant)).find((i) => i.pk === `TASK#${id}`))).not.toContain('trace');

    const again = await post(tenant, 'fail-broken.mp4');
    expect(again.status).toBe(201);
    expect(again.body.task_id).not.toBe(id);
  });

  test('an analysis error carrying role ARNs and the account id: the task shows its name and a fixed message, nothing of the cause', async () => {
    const tenant = uniqueTenant('leaky');
    // GIVEN an analysis whose S3 read is refused, every attempt, with the payload AWS reports for it
    const arn = 'arn:aws:sts::123456789012:assumed-role/VideoTracking-AnalyseRole-1A2B/VideoTracking-Analyse';
    const payload = {
      errorType: 'AccessDeniedException',
      errorMessage: `User: ${arn} is not authorized to perform: s3:GetObject`,
      trace: [
        'AccessDeniedException: User: …',
        '    at de_AccessDeniedExceptionRes (/var/runtime/node_modules/@aws-sdk/client-s3/dist-cjs/index.js:1:1)',
      ],
    };
    await injectStateFault(tenant, 'Analyse', 'AccessDeniedException', 3, JSON.stringify(payload));

    const { body } = await post(tenant, 'denied.mp4');

    // THEN
    const failed = await taskReaches(tenant, body.task_id, 'failed', 25_000);
    expect(failed.error).toEqual({
      error: 'AccessDeniedException',
      message: 'The analysis failed; the operator has the details.',
    });
    const stored = JSON.stringify((await itemsOf(tenant)).find((i) => i.pk === `TASK#${body.task_id}`));
    for (const seen of [JSON.stringify(failed), stored]) {
      expect(seen).not.toContain('123456789012');
      expect(seen).not.toContain('arn:');
      expect(seen).not.toContain('/var/runtime');
    }
    // AND the execution (its history on AWS) keeps the cause for the operator
    const execution = await firstExecutionOf(tenant);
    expect(JSON.parse(execution.output!).error.Cause).toContain(arn);
  }, 40_000);

  test('a throttled analysis waits and is invoked again: the task stays running and completes', async () => {
    const tenant = uniqueTenant('throttled');
    // GIVEN Lambda refuses the first three invocations (the account's concurrency reached)
    await injectStateFault(tenant, 'Analyse', 'Lambda.TooManyRequestsException', 3);

    const { body } = await post(tenant, 'busy.mp4');

    // THEN the task is running while it waits (never failed) and completes once Lambda runs it
    const running = await taskReaches(tenant, body.task_id, 'running', 10_000);
    expect(running.error).toBeUndefined();
    // Three fully jittered waits of at most 1 + 2 + 4 s, then the 3 s placeholder.
    const done = await taskReaches(tenant, body.task_id, 'completed', 25_000);
    expect(done.result).toMatchObject({ video_filename: 'busy.mp4' });
    const execution = await firstExecutionOf(tenant);
    expect(execution.status).toBe('SUCCEEDED');
  }, 40_000);

  test("the analysis is given a storage key under its tenant's prefix, whatever the filename says", async () => {
    const tenant = uniqueTenant('scoped');
    const { body } = await post(tenant, '../tenantB/secret.mp4');

    const done = await taskReaches(tenant, body.task_id, 'completed', 20_000);

    // The placeholder reports the input it was given.
    expect(done.result.storage_key).toBe(`tenants/${tenant}/..%2FtenantB%2Fsecret.mp4`);
    const execution = await firstExecutionOf(tenant);
    expect(JSON.parse(execution.input!).storage_key).toBe(`tenants/${tenant}/..%2FtenantB%2Fsecret.mp4`);
  });

  test('the local state machine is the synthesized one', () => {
    expect(env.stateMachineArn).toMatch(/:stateMachine:AnalysisStateMachine/);
  });
});
