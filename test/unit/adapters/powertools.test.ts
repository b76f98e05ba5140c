import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { powertoolsServiceMetrics } from '../../../lambda/adapters/powertools-metrics';
import { powertoolsLog } from '../../../lambda/adapters/powertools-log';
import { ServiceEvent } from '../../../lambda/shared/observability-names';

/** A Logger and the JSON lines it writes: Powertools writes one per call, through a Console on stdout and stderr. */
function capturedLogger(logLevel: 'INFO' | 'WARN'): { logger: Logger; lines: Record<string, unknown>[] } {
  const logger = new Logger({ serviceName: 'test', logLevel });
  const lines: Record<string, unknown>[] = [];
  const write = (text: string | Uint8Array) => lines.push(JSON.parse(String(text)) as Record<string, unknown>) > 0;
  jest.spyOn(process.stdout, 'write').mockImplementation(write);
  jest.spyOn(process.stderr, 'write').mockImplementation(write);
  return { logger, lines };
}

describe('powertoolsLog', () => {
  afterEach(() => jest.restoreAllMocks());

  it('writes INFO lines when the level lets them through, with their fields', () => {
    const { logger, lines } = capturedLogger('INFO');
    powertoolsLog(logger).info('request', { status: 200 });
    expect(lines).toEqual([expect.objectContaining({ level: 'INFO', message: 'request', status: 200 })]);
  });

  it('skips INFO lines below the level before Powertools sees them, and still writes warnings and errors', () => {
    const { logger, lines } = capturedLogger('WARN');
    const info = jest.spyOn(logger, 'info');
    const log = powertoolsLog(logger);
    log.info('request', { status: 200 });
    log.warn('careful', { a: 1 });
    log.error('failed', { b: 2 });
    expect(info).not.toHaveBeenCalled();
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['WARN', 'careful'],
      ['ERROR', 'failed'],
    ]);
  });

  it('follows a level changed after it was built', () => {
    const { logger, lines } = capturedLogger('WARN');
    const log = powertoolsLog(logger);
    logger.setLogLevel('INFO');
    log.info('request', {});
    expect(lines).toHaveLength(1);
  });
});

describe('powertoolsServiceMetrics', () => {
  const saved = process.env.POWERTOOLS_METRICS_DISABLED;
  afterEach(() => {
    if (saved === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = saved;
  });

  function metricsWith(disabled: string): Metrics {
    process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    return new Metrics({ namespace: 'Test', serviceName: 'test' });
  }

  it('stores each event as a Count when metrics are on', () => {
    const metrics = metricsWith('false');
    powertoolsServiceMetrics(metrics).count(ServiceEvent.Redriven);
    expect(metrics.hasStoredMetrics()).toBe(true);
    expect(JSON.stringify(metrics.serializeMetrics())).toContain(ServiceEvent.Redriven);
  });

  it('writes nothing when metrics are off (POWERTOOLS_METRICS_DISABLED: npm start, the benches)', () => {
    const metrics = metricsWith('true');
    const written = [jest.spyOn(process.stdout, 'write'), jest.spyOn(process.stderr, 'write')];
    try {
      powertoolsServiceMetrics(metrics).count(ServiceEvent.Redriven);
      metrics.publishStoredMetrics();
      for (const spy of written) expect(spy).not.toHaveBeenCalled();
      expect(metrics.hasStoredMetrics()).toBe(false);
    } finally {
      for (const spy of written) spy.mockRestore();
    }
  });

  it('publishes what was stored when metrics are on', () => {
    const metrics = metricsWith('false');
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      metrics.addMetric('TaskCreated', 'Count', 1);
      metrics.publishStoredMetrics();
      expect(out.mock.calls.map(([text]) => String(text)).join('')).toContain('"TaskCreated"');
      expect(metrics.hasStoredMetrics()).toBe(false);
    } finally {
      out.mockRestore();
    }
  });
});
