export * from './tracking-client';
export * from './video-analyses';
