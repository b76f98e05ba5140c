import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { jsonResponse, type LocalResponse, type LocalRoutes } from '../api-gateway/local-response';
import { PROJECT_ROOT as ROOT } from '../template';

/** The demo page's script: local/local-only/demo/demo-page.ts and the client it imports, bundled for browsers. */
export async function bundleDemoPage(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(ROOT, 'local/local-only/demo/demo-page.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error('esbuild wrote no bundle of the demo page');
  return output.text;
}

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#3b5bdb"/><path d="M12 9.5v13l11-6.5z" fill="#fff"/></svg>`;
const icon = (): LocalResponse => ({
  statusCode: 200,
  headers: { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'max-age=86400' },
  body: FAVICON,
});

/**
 * Local-only routes of `npm start` (never in the deployed stack): the demo page at /, its script and icon, and the API's
 * contract at /openapi.yaml (read at each request, so an edited contract shows without a restart).
 */
export async function demoSiteRoutes(): Promise<LocalRoutes> {
  const script = await bundleDemoPage();
  const page = readFileSync(path.join(ROOT, 'local/local-only/demo/index.html'), 'utf8');
  const files: Record<string, () => LocalResponse> = {
    '/': () => ({
      statusCode: 200,
      headers: {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-store',
        'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'",
      },
      body: page,
    }),
    '/demo-page.js': () => ({
      statusCode: 200,
      headers: { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' },
      body: script,
    }),
    // Browsers ask for an icon on every load: one here, so the page logs no 404.
    '/favicon.svg': icon,
    '/favicon.ico': icon,
    '/openapi.yaml': () => ({
      statusCode: 200,
      headers: { 'Content-Type': 'application/yaml; charset=utf-8', 'Cache-Control': 'no-store' },
      body: readFileSync(path.join(ROOT, 'docs/openapi.yaml'), 'utf8'),
    }),
  };
  const respond = (method: string, requestPath: string): LocalResponse | undefined => {
    const file = files[requestPath];
    if (!file) return undefined;
    if (method !== 'GET' && method !== 'HEAD') {
      return jsonResponse(405, { message: 'Method Not Allowed' }, { Allow: 'GET, HEAD' });
    }
    return file();
  };
  return ({ method, path: requestPath }) => Promise.resolve(respond(method, requestPath));
}
