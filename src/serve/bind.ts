/** What every adapter exports, bound to its runtime: one place, so the adapters stay thin. */
import { invalid, type KeyListOf, knownKeys } from "../check/input.ts";
import type { LifecycleSetup } from "../drain/lifecycle-types.ts";
import { LifecycleController } from "../drain/lifecycle.ts";
import type { Lifecycle, LifecycleOptions } from "../drain/lifecycle-types.ts";
import { processExitGate } from "../process/process-exit.ts";
import { processLifecycle } from "./process-lifecycle.ts";
import { createServeGracefully, type ServeGracefully } from "./serve.ts";
import type { RuntimeAdapter } from "../types.ts";
import { tellStartFailed, type WorkerRole, workerRole, workerRuntime } from "../workers/worker.ts";

export interface RuntimeBinding<PassThrough> {
  /** A separate lifecycle (tests, libraries); pass it as the `lifecycle` option. */
  createLifecycle: (options?: LifecycleOptions) => Lifecycle;
  /** The process-wide lifecycle every server joins unless told otherwise. */
  lifecycle: Lifecycle;
  /** Serve a Hono app (or any fetch handler) with graceful shutdown. */
  serveGracefully: ServeGracefully<PassThrough>;
  /** End a stream cleanly when the process-wide lifecycle's drain closes the listeners. */
  endOnDrain: Lifecycle["endOnDrain"];
}

export function bindRuntime<PassThrough extends object>(
  given: RuntimeAdapter,
  passThroughKeys: readonly (keyof PassThrough & string)[],
): RuntimeBinding<PassThrough> {
  // One exit for every lifecycle of the process (of this copy or another): the last drain ends it.
  const exitGate = processExitGate();
  const newLifecycle = (runtime: RuntimeAdapter, role: WorkerRole | undefined, options: LifecycleOptions = {}) =>
    new LifecycleController({
      ...checkLifecycleOptions(options),
      runtime,
      // A worker's lines carry its pid, also those said before its server joins (a part the entry starts).
      logFields: role === undefined ? undefined : { pid: role.pid },
      tellPrimaryStartFailed: role && ((error: string) => tellStartFailed(role, error)),
      exitGate,
    });
  // Shared with every other copy of this package in the process: one signal, one drain, and in a
  // worker one channel to the primary.
  const shared = processLifecycle(given.name, () => {
    // A worker of `workers` (its environment says so) takes its drain orders from the primary.
    const role = workerRole(given);
    const runtime = role === undefined ? given : workerRuntime(given, role);
    return { lifecycle: newLifecycle(runtime, role), runtime, role };
  });
  const { lifecycle, role } = shared;
  // Outside a worker each copy serves through its own adapter, as before (another copy may be the
  // adapter of another entry point, with other pass-through options).
  const runtime = role === undefined ? given : shared.runtime;
  return {
    createLifecycle: (options) => newLifecycle(runtime, role, options),
    lifecycle,
    serveGracefully: createServeGracefully<PassThrough>(runtime, lifecycle, passThroughKeys, role),
    endOnDrain: (stream, last) => lifecycle.endOnDrain(stream, last),
  };
}

/** Every key of createLifecycle's options: the runtime and the clock are the core's to set. */
const LIFECYCLE_OPTION_KEYS = ["fatalErrors"] as const;
const _keysMatchLifecycleOptions: KeyListOf<LifecycleOptions, typeof LIFECYCLE_OPTION_KEYS> = true;

function checkLifecycleOptions(options: unknown): Pick<LifecycleSetup, "fatalErrors"> {
  const { fatalErrors } = knownKeys({ owner: "createLifecycle", known: LIFECYCLE_OPTION_KEYS }, options);
  if (fatalErrors !== undefined && typeof fatalErrors !== "boolean") invalid("createLifecycle", "fatalErrors", "a boolean", fatalErrors);
  return { fatalErrors };
}
