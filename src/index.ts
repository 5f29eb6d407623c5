/**
 * What the adapters need from the runtime-agnostic core. Users import an adapter
 * (`serve-gracefully`, or `/node`, `/bun`, `/deno`); adapters import this.
 */
export { bindRuntime, type RuntimeBinding } from "./bind.ts";
export { FIRST_REQUEST_GRACE_MS } from "./first-request.ts";
export { withConnectionClose } from "./handler.ts";
export type { Lifecycle } from "./lifecycle.ts";
export type { ServeGracefully } from "./serve.ts";
export type { ListeningServer, RuntimeAdapter, ShutdownSignal } from "./types.ts";
