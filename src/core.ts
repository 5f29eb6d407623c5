/**
 * The core barrel: what the adapters import from the runtime-agnostic core. Users never import
 * it; what they get is ./exports.ts (re-exported by every adapter).
 */
export { bindRuntime, type RuntimeBinding } from "./bind.ts";
export { FIRST_REQUEST_GRACE_MS } from "./first-request.ts";
export { withConnectionClose } from "./handler.ts";
export type { Lifecycle, LifecycleOptions } from "./lifecycle-types.ts";
export { readAncestors, readAncestorsIfInitMatters } from "./process-tree.ts";
export type { ServeGracefully } from "./serve.ts";
export type { ListeningServer, ProcessAdapter, ProcessOrigin, RuntimeAdapter, ShutdownSignal } from "./types.ts";
