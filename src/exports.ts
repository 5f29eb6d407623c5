/**
 * The user-facing barrel: what every adapter re-exports, besides serveGracefully, lifecycle,
 * createLifecycle and endOnDrain. Types only, except the error classes: nothing here is internal.
 */
export type { Lifecycle, LifecycleOptions, LifecycleState } from "./lifecycle-types.ts";
export type { DrainableStream, SSEMessage } from "./streams.ts";
export { ListenError } from "./listen-error.ts";
export type { HealthOptions, ServeOptions } from "./options.ts";
export { LifecycleError, type PartOptions, PartTimeoutError } from "./parts.ts";
export type { GracefulServer, ServeGracefully } from "./serve.ts";
export type {
  ExecutionContext,
  FetchApp,
  ListenInfo,
  LoggerOption,
  LogRecord,
  PartReport,
  ShutdownReport,
  ShutdownSignal,
} from "./types.ts";
