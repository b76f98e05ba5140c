// Workflows run for real here (analysis delay, Retry backoff): allow them time. Each wait has its own bound.
jest.setTimeout(30_000);
