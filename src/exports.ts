/**
 * The user-facing barrel: what every adapter re-exports, besides serveGracefully, lifecycle,
 * createLifecycle and endOnDrain. Types only, except the error classes: nothing here is internal.
 */
export type { Lifecycle, LifecycleOptions, LifecycleState } from "./drain/lifecycle-types.ts";
export type { DrainableStream, SSEMessage } from "./drain/streams.ts";
export { ListenError } from "./serve/listen-error.ts";
export type { HealthOptions, ServeOptions } from "./options/options.ts";
export { LifecycleError, type PartOptions, PartTimeoutError } from "./drain/parts.ts";
export type { GracefulServer, ServeGracefully } from "./serve/serve.ts";
export type {
  DeadlineBudget,
  ExecutionContext,
  FetchApp,
  ListenInfo,
  LoggerOption,
  LogRecord,
  PartReport,
  ShutdownReport,
  ShutdownSignal,
  WaitingFor,
} from "./types.ts";
