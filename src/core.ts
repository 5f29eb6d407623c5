/**
 * The core barrel: what the adapters import from the runtime-agnostic core. Users never import
 * it; what they get is ./exports.ts (re-exported by every adapter).
 */
export { bindRuntime, type RuntimeBinding } from "./serve/bind.ts";
export { REQUEST_GRACE_MS } from "./drain/request-grace.ts";
export { asksToClose, withConnectionClose } from "./request/handler.ts";
export type { Lifecycle, LifecycleOptions } from "./drain/lifecycle-types.ts";
export { onEachFatalKind } from "./process/process-watch.ts";
export { processOriginReading, readAncestors, readAncestorsIfInitMatters } from "./process/process-tree.ts";
export type { ServeGracefully } from "./serve/serve.ts";
export type {
  ListeningServer,
  ListenOptions,
  ProcessAdapter,
  ProcessOrigin,
  RuntimeAdapter,
  RuntimeHandler,
  ShutdownSignal,
  WorkerChannel,
  WorkerEvents,
  WorkerProcess,
  WorkersAdapter,
} from "./types.ts";
