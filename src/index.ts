/**
 * The runtime-agnostic core. Users import an adapter (`serve-gracefully`, or `/node`, `/bun`,
 * `/deno`); adapters import this.
 */
export { bindRuntime, type RuntimeBinding } from "./bind.ts";
export { type Clock, systemClock } from "./clock.ts";
export { createHandler, RequestState, withConnectionClose } from "./handler.ts";
export { type DrainableStream, Lifecycle, type LifecycleOptions, SIGNAL_REPEAT_WINDOW_MS } from "./lifecycle.ts";
export { ListenError } from "./listen-error.ts";
export {
  DEFAULT_HOSTNAME,
  DEFAULT_PORT,
  DEFAULT_SIGNALS,
  DEFAULT_TIMEOUT_MS,
  type HealthOptions,
  resolveOptions,
  type ServeOptions,
} from "./options.ts";
export { DEFAULT_PART_TIMEOUT_MS, LifecycleError, type PartOptions, PartTimeoutError } from "./parts.ts";
export { createServeGracefully, type GracefulServer, type ServeGracefully } from "./serve.ts";
export { TaskTracker } from "./tasks.ts";
export type * from "./types.ts";
