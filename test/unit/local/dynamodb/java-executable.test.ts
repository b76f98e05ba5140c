import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { checkJava, javaExecutable } from '../../../../local/dynamodb/dynamodb-local';
import { LocalSetupError } from '../../../../local/errors';

/** The JDK that `java` on this machine's PATH belongs to (DynamoDB Local needs one, so the test machine has it). */
function installedJavaHome(): string {
  const found = spawnSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).stdout.trim();
  return path.dirname(path.dirname(realpathSync(found)));
}

const NO_JAVA_PATH = '/nonexistent-bin';

describe('javaExecutable', () => {
  test('JAVA_HOME set: its bin/java', () => {
    expect(javaExecutable({ JAVA_HOME: '/opt/jdk-21' })).toBe(path.join('/opt/jdk-21', 'bin', 'java'));
  });

  test('JAVA_HOME unset or empty: java from the PATH', () => {
    expect(javaExecutable({})).toBe('java');
    expect(javaExecutable({ JAVA_HOME: '' })).toBe('java');
  });
});

describe('checkJava', () => {
  test('GIVEN java off the PATH but JAVA_HOME set to a JDK WHEN checked THEN it passes', () => {
    expect(() => checkJava({ JAVA_HOME: installedJavaHome(), PATH: NO_JAVA_PATH })).not.toThrow();
  });

  test('GIVEN JAVA_HOME pointing at no JDK WHEN checked THEN the error names JAVA_HOME and its java', () => {
    // GIVEN java on the PATH is ignored once JAVA_HOME is set, as Java tools do
    const env = { JAVA_HOME: '/nonexistent-jdk', PATH: process.env.PATH };

    // WHEN / THEN
    expect(() => checkJava(env)).toThrow(LocalSetupError);
    expect(() => checkJava(env)).toThrow(
      `\`${path.join('/nonexistent-jdk', 'bin', 'java')}\` (from JAVA_HOME) could not be run`,
    );
  });

  test('GIVEN neither JAVA_HOME nor java on the PATH WHEN checked THEN the error says both', () => {
    expect(() => checkJava({ PATH: NO_JAVA_PATH })).toThrow('`java` was not found on the PATH (JAVA_HOME is not set)');
  });
});
