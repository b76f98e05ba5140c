// The package's public surface: everything a frontend needs, nothing of the internals.
export {
  ApiError,
  createTrackingClient,
  FINAL_STATUSES,
  isFinal,
  TaskNotFoundError,
  type CallOptions,
  type GatewayMessage,
  type ListTasksOptions,
  type Problem,
  type RetryNotice,
  type StartedAnalysis,
  type Task,
  type TaskCallOptions,
  type TaskPage,
  type TaskStatus,
  type TokenProvider,
  type TrackingClient,
  type TrackingClientOptions,
  type VideoCallOptions,
  type WaitOptions,
} from './tracking-client.js';
export {
  createVideoAnalyses,
  type ActiveTaskChange,
  type FollowOptions,
  type KeyValueStorage,
  type VideoAnalyses,
  type VideoAnalysesOptions,
  type VideoOptions,
  type VideoTaskOptions,
} from './video-analyses.js';
export { taskQueryOptions, type TaskQueryOptions } from './task-query.js';
