import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TaskKeys } from '../../../lambda/shared/task-keys';
import { LOCAL_KEYRING } from '../../../local/local-aws';
import { EVENTS_DIR, eventFileText, sampleEvents } from '../../../tools/events';

const events = sampleEvents();

describe('events/*.json: what npm run events writes from the code', () => {
  test('the committed files are exactly the generated events', () => {
    const committed = readdirSync(EVENTS_DIR).filter((file) => file.endsWith('.json'));
    expect(committed.sort()).toEqual(
      Object.keys(events)
        .map((name) => `${name}.json`)
        .sort(),
    );
  });

  test.each(Object.entries(events))(
    'events/%s.json is what npm run events writes (run it after a change)',
    (name, event) => {
      expect(readFileSync(path.join(EVENTS_DIR, `${name}.json`), 'utf8')).toBe(eventFileText(event));
    },
  );

  test("the sample task is a real id of (tenant1, test.mp4) under the local keyring, with that video's active key", () => {
    const keys = new TaskKeys(LOCAL_KEYRING);
    const input = JSON.parse((events['execution-failed'] as { detail: { input: string } }).detail.input);
    expect(keys.videoDigestOfId(input.task_id)).toBe(keys.videoDigest('tenant1', 'test.mp4'));
    expect(input.task_key).toBe(keys.activeKey('tenant1', 'test.mp4'));
    expect(input.storage_key).toBe('tenants/tenant1/test.mp4');
    expect((events['get-task'] as { pathParameters: { task_id: string } }).pathParameters.task_id).toBe(input.task_id);
  });
});
