import { request } from 'node:http';
import { startSfnEndpoint } from '../../../../local/step-functions/endpoint';
import type { LocalStepFunctions } from '../../../../local/step-functions/runner';

describe('local Step Functions endpoint', () => {
  test('keeps idle connections open long past Node.js default 5 s, so the AWS SDK never reuses a socket the server is closing', async () => {
    // The SDK's handler ignores the Keep-Alive header; what matters is the server's own timeout, which the header states.
    const endpoint = await startSfnEndpoint({} as LocalStepFunctions, () => ({}));
    try {
      const keepAlive = await new Promise<string | undefined>((resolve, reject) => {
        const req = request(
          endpoint.url,
          { method: 'POST', headers: { 'x-amz-target': 'AWSStepFunctions.LocalPing', connection: 'keep-alive' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.headers['keep-alive'] as string | undefined));
          },
        );
        req.on('error', reject);
        req.end('{}');
      });
      expect(keepAlive).toBe('timeout=120');
    } finally {
      await endpoint.close();
    }
  });
});
