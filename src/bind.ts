/** What every adapter exports, bound to its runtime: one place, so the adapters stay thin. */
import { Lifecycle, type LifecycleOptions } from "./lifecycle.ts";
import { createServeGracefully, type ServeGracefully } from "./serve.ts";
import type { RuntimeAdapter } from "./types.ts";

export interface RuntimeBinding<Extra> {
  /** A separate lifecycle (tests, libraries); pass it as the `lifecycle` option. */
  createLifecycle: (options?: Omit<LifecycleOptions, "runtime">) => Lifecycle;
  /** The process-wide lifecycle every server joins unless told otherwise. */
  lifecycle: Lifecycle;
  /** Serve a Hono app (or any fetch handler) with graceful shutdown. */
  serveGracefully: ServeGracefully<Extra>;
  /** End a stream cleanly when the process-wide lifecycle starts draining. */
  endOnDrain: Lifecycle["endOnDrain"];
}

export function bindRuntime<Extra extends object>(
  runtime: RuntimeAdapter,
  extraKeys: readonly (keyof Extra & string)[],
): RuntimeBinding<Extra> {
  const createLifecycle = (options: Omit<LifecycleOptions, "runtime"> = {}) => new Lifecycle({ ...options, runtime });
  const lifecycle = createLifecycle();
  return {
    createLifecycle,
    lifecycle,
    serveGracefully: createServeGracefully<Extra>(runtime, lifecycle, extraKeys),
    endOnDrain: (stream, last) => lifecycle.endOnDrain(stream, last),
  };
}
