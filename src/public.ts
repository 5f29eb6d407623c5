/** What every adapter re-exports to users, besides serveGracefully, lifecycle and createLifecycle. */
export type { DrainableStream, Lifecycle, LifecycleOptions } from "./lifecycle.ts";
export { ListenError } from "./listen-error.ts";
export type { HealthOptions, ServeOptions } from "./options.ts";
export { LifecycleError, type PartOptions, PartTimeoutError } from "./parts.ts";
export type { GracefulServer } from "./serve.ts";
export type {
  ExecutionContext,
  FetchApp,
  ListenInfo,
  LogRecord,
  LoggerOption,
  PartReport,
  ShutdownReport,
  ShutdownSignal,
} from "./types.ts";
