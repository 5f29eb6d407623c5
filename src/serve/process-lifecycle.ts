/**
 * One process-wide lifecycle per process, however many copies of this package are loaded (an ESM
 * app whose CJS dependency requires the package too, or two installed versions). The first copy
 * creates it and registers it on globalThis; the others join it, so one signal starts one drain.
 */
import { LIFECYCLE_PROTOCOL, type ServerLifecycle } from "../drain/lifecycle-types.ts";

/** Symbol.for: the same key in every copy and every realm of this process. */
export const PROCESS_LIFECYCLE_KEY: unique symbol = Symbol.for("serve-gracefully.lifecycle") as never;

/** What the first copy leaves on globalThis. */
export interface ProcessLifecycleEntry {
  protocol: number;
  /** The runtime adapter the lifecycle was created with, for the error message. */
  runtime: string;
  lifecycle: ServerLifecycle;
}

/**
 * The process-wide lifecycle: the one another copy registered, else a new one from `create`. A copy
 * that speaks another lifecycle protocol cannot share it, and two drains would cut each other's
 * requests: that is an Error at import, never a silent split.
 */
export function processLifecycle(
  runtime: string,
  create: () => ServerLifecycle,
  registry: object = globalThis,
): ServerLifecycle {
  const global = registry as Record<symbol, ProcessLifecycleEntry | undefined>;
  const entry = global[PROCESS_LIFECYCLE_KEY];
  if (entry === undefined) {
    const lifecycle = create();
    Object.defineProperty(global, PROCESS_LIFECYCLE_KEY, {
      value: { protocol: LIFECYCLE_PROTOCOL, runtime, lifecycle } satisfies ProcessLifecycleEntry,
      configurable: false,
      enumerable: false,
      writable: false,
    });
    return lifecycle;
  }
  if (entry.protocol !== LIFECYCLE_PROTOCOL) {
    throw new Error(
      `serve-gracefully: another copy of serve-gracefully in this process (lifecycle protocol ${entry.protocol}) ` +
        `already owns the process-wide lifecycle; this copy speaks protocol ${LIFECYCLE_PROTOCOL}, so the two cannot ` +
        `drain together on one signal. Install one version: npm ls serve-gracefully shows the copies`,
    );
  }
  return entry.lifecycle;
}
