import { request } from 'node:http';
import { connect } from 'node:net';
import { type ApiServer, startApiServer } from '../../../../local/api-gateway/server';
import { jsonResponse } from '../../../../local/api-gateway/local-response';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let server: ApiServer;
let port: number;
let handled = 0;
const lines: string[] = [];

beforeAll(async () => {
  server = await startApiServer(
    () => {
      handled++;
      return Promise.resolve({
        statusCode: 200,
        headers: { 'Content-Type': 'application/json' },
        body: '{"task_id":"t"}',
      });
    },
    0,
    (line) => lines.push(line),
    {
      localRoutes: (r) =>
        Promise.resolve(r.path === '/local/token' ? jsonResponse(200, { token: 'minted' }) : undefined),
    },
  );
  port = Number(new URL(server.url).port);
});
afterAll(() => server.close());

/** A request on the loopback socket with exactly this Host header (fetch would not let a test set it). */
function send(host: string, path = '/api/v1/track/t?tenant_id=a', method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the local API answers only loopback Host names with its port (DNS rebinding)', () => {
  test.each([['localhost'], ['127.0.0.1'], ['[::1]'], ['LocalHost']])('Host %s:<port> is answered', async (name) => {
    const res = await send(`${name}:${port}`);
    expect(res.status).toBe(200);
    expect(res.body).toBe('{"task_id":"t"}');
  });

  test.each([
    ['evil.example:PORT'],
    ['rebind.attacker.test'],
    ['localhost:1'],
    ['127.0.0.1'],
    ['localhost.evil.example:PORT'],
    ['0.0.0.0:PORT'],
  ])('Host %s: 421 problem+json, the handler and the local routes never run', async (host) => {
    const before = handled;
    for (const path of ['/api/v1/track/t?tenant_id=a', '/local/token']) {
      const res = await send(host.replace('PORT', String(port)), path, path === '/local/token' ? 'POST' : 'GET');
      expect(res.status).toBe(421);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      const problem = JSON.parse(res.body);
      expect(problem).toMatchObject({
        type: '/problems/misdirected-request',
        title: 'Misdirected request',
        status: 421,
      });
      expect(problem.detail).toContain(`localhost:${port}, 127.0.0.1:${port}, [::1]:${port}`);
      expect(res.body).not.toContain('minted');
    }
    expect(handled).toBe(before);
  });

  test('a request with no Host at all (HTTP/1.0) is refused', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /api/v1/track/t?tenant_id=a HTTP/1.0\r\n\r\n'));
      let data = '';
      socket.on('data', (c: Buffer) => (data += c.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.[01] 421 /);
  });
});

describe('every local answer carries X-Content-Type-Options: nosniff', () => {
  test.each([
    ['the function', '/api/v1/track/t?tenant_id=a', 'GET', 200],
    ["API Gateway's unknown route", '/nowhere', 'GET', 404],
    ['a local-only route', '/local/token', 'POST', 200],
  ])('%s', async (_what, path, method, status) => {
    const res = await send(`localhost:${port}`, path, method);
    expect(res.status).toBe(status);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });
});
