/**
 * One process-wide lifecycle per process, however many copies of this package are loaded (an ESM
 * app whose CJS dependency requires the package too, two installed versions, or on Bun the command's
 * own build beside the dist/ an entry imports). The first copy creates it and registers it on
 * globalThis; the others join it, so one signal starts one drain.
 */
import { LIFECYCLE_PROTOCOL, type ServerLifecycle } from "../drain/lifecycle-types.ts";
import type { RuntimeAdapter } from "../types.ts";
import type { WorkerRole } from "../workers/worker.ts";

/** Symbol.for: the same key in every copy and every realm of this process. */
export const PROCESS_LIFECYCLE_KEY: unique symbol = Symbol.for("serve-gracefully.lifecycle") as never;

/** What the first copy creates, and every copy then uses. */
export interface ProcessBinding {
  lifecycle: ServerLifecycle;
  /**
   * The runtime the lifecycle drives: in a worker of `workers`, the one that takes the primary's
   * orders over the channel. A later copy in a worker serves through it and does not connect the channel again:
   * a second listener on it, with no drain of its own to start, ended a Bun worker at once when its
   * primary died (every request in flight cut).
   */
  runtime: RuntimeAdapter;
  /** This process's place among the workers, when it is one. */
  role: WorkerRole | undefined;
}

/** What the first copy leaves on globalThis. */
export interface ProcessLifecycleEntry extends ProcessBinding {
  protocol: number;
  /** The runtime's name, for the error message. */
  runtimeName: string;
}

/**
 * The process-wide lifecycle and the runtime it drives: the ones another copy registered, else new
 * ones from `create`. A copy that speaks another lifecycle protocol cannot share them, and two drains
 * would cut each other's requests: that is an Error at import, never a silent split.
 */
export function processLifecycle(
  runtimeName: string,
  create: () => ProcessBinding,
  registry: object = globalThis,
): ProcessBinding {
  const global = registry as Record<symbol, ProcessLifecycleEntry | undefined>;
  const entry = global[PROCESS_LIFECYCLE_KEY];
  if (entry === undefined) {
    const { lifecycle, runtime, role } = create();
    const value: ProcessLifecycleEntry = { protocol: LIFECYCLE_PROTOCOL, runtimeName, lifecycle, runtime, role };
    Object.defineProperty(global, PROCESS_LIFECYCLE_KEY, { value, configurable: false, enumerable: false, writable: false });
    return value;
  }
  if (entry.protocol !== LIFECYCLE_PROTOCOL) {
    throw new Error(
      `serve-gracefully: another copy of serve-gracefully in this process (lifecycle protocol ${entry.protocol}) ` +
        `already owns the process-wide lifecycle; this copy speaks protocol ${LIFECYCLE_PROTOCOL}, so the two cannot ` +
        `drain together on one signal. Install one version: npm ls serve-gracefully shows the copies`,
    );
  }
  return entry;
}
