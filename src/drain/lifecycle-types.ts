/**
 * The lifecycle as users see it (`Lifecycle`, an interface: the class stays internal) and as
 * serveGracefully drives it (`ServerLifecycle`). The second is also the protocol between copies of
 * this package loaded into one process (ESM and CJS builds, or two installed versions): they share
 * one process-wide lifecycle, so anything a copy calls on another's lifecycle is listed here.
 */
import type { ExitGate } from "../process/process-exit.ts";
import type { Clock } from "../time/clock.ts";
import type { ForcedFacts } from "../log/events.ts";
import type { Log } from "../log/logger.ts";
import type { PartOptions, ServerPart } from "./parts.ts";
import type { Readiness } from "./readiness.ts";
import type { DrainableStream, SSEMessage } from "./streams.ts";
import type { TaskTracker } from "./tasks.ts";
import type { LoggerOption, RuntimeAdapter, ShutdownReport, ShutdownSignal } from "../types.ts";

/**
 * Bump when anything a copy calls on another copy's lifecycle changes: `ServerLifecycle`'s members,
 * the `ServerPart` it hands over (with its `ServerTraffic` and `ListeningServer`), `TaskTracker`,
 * `Readiness`, or what the process-wide entry shares beside it (process-lifecycle.ts: the
 * `RuntimeAdapter` the lifecycle drives and the `WorkerRole`).
 */
export const LIFECYCLE_PROTOCOL = 3;

/**
 * Marks a lifecycle (any copy's): a non-enumerable property whose value is the copy's
 * LIFECYCLE_PROTOCOL, set by the constructor.
 */
export const LIFECYCLE_BRAND: unique symbol = Symbol.for("serve-gracefully.lifecycle.protocol") as never;

/**
 * Put on the process-wide lifecycle by the command while the primary of workers imports its entry
 * (which it runs only to check it): serveGracefully, of any copy, throws with `reason` and sets `hit`.
 */
export interface ServerRefusal {
  reason: string;
  hit: boolean;
}

/** Where a lifecycle is: idle (nothing added), starting, running, stopping (draining), stopped. */
export type LifecycleState = "idle" | "starting" | "running" | "stopping" | "stopped";

/**
 * How a drain began and what happened to it since (internal: what a lifecycle holds while stopping
 * and once stopped); replaced whole, never changed in place. `signalledLater`: a signal came during
 * a drain that shutdown() or an error began (the process now ends with it); `signal` and `at` are
 * then that signal's, so its repeat is recognised.
 */
export interface Drain {
  readonly reason: ShutdownReport["reason"];
  readonly signal: ShutdownSignal | undefined;
  readonly at: number;
  readonly signalledLater: boolean;
  /** An uncaught exception or unhandled rejection came during the drain: the exit is 1, and the process ends. */
  readonly fatalLater?: boolean;
  readonly forcedBy: ShutdownReport["forcedBy"];
  /** What a forced drain says: the budget that ran out and what it was waiting for. */
  readonly forced?: ForcedFacts;
}

/** The lifecycle's one state: before the drain, or in it (with how it began). */
export type Run =
  | { readonly state: "idle" | "starting" | "running" }
  | { readonly state: "stopping" | "stopped"; readonly drain: Drain };

/** Options of `createLifecycle()`. */
export interface LifecycleOptions {
  /** Start the same graceful shutdown (exit 1) on an uncaught exception or unhandled rejection. @default true */
  fatalErrors?: boolean;
}

/**
 * Servers and parts that start in order and stop together on one signal. Get the process-wide one
 * as `lifecycle`, or a separate one from `createLifecycle()`.
 *
 * @example
 * ```ts
 * import { lifecycle, serveGracefully } from "serve-gracefully";
 *
 * lifecycle.add({ name: "db", start: () => pool.connect(), stop: () => pool.end() });
 * serveGracefully(app);
 * ```
 */
export interface Lifecycle {
  /** Aborted the moment the drain starts: streaming handlers and consumers watch it to end cleanly. */
  readonly signal: AbortSignal;
  /** The report of the current (or last) run, however its shutdown started. */
  readonly finished: Promise<ShutdownReport>;
  /** Where the lifecycle is now. */
  readonly state: LifecycleState;
  /**
   * Register a part: `start` runs after every part registered before it (servers included), `stop`
   * runs in reverse order after the servers drained, each within `timeout` (@default 5000 ms).
   */
  add(part: PartOptions): this;
  /**
   * End a stream when the drain closes the listeners (after the drain delay, as WebSockets get
   * their 1001): send `last` (an SSE message) if given, then close it, so the client sees a clean
   * end instead of a cut at the deadline, and a browser's EventSource, reconnecting 3 s later,
   * cannot land on this instance again. Works with hono/streaming's `streamSSE` stream (or anything
   * with writeSSE/close/closed/aborted).
   */
  endOnDrain(stream: DrainableStream, last?: SSEMessage): void;
  /**
   * Keep the drain waiting for background work that belongs to no request. After the shutdown
   * nothing waits: the task still runs, and a `task.after-shutdown` warning says so once.
   */
  waitUntil(promise: Promise<unknown>): void;
  /** The same drain a signal starts; idempotent; resolves to the report. */
  shutdown(): Promise<ShutdownReport>;
}

/** What a server brings to the lifecycle it joins (from its checked options). */
export interface ServerSettings {
  timeout: number;
  drainDelay: number;
  signals: readonly ShutdownSignal[];
  exit: boolean;
  logger: LoggerOption | undefined;
  fatalErrors: boolean;
}

/** What the core builds a lifecycle from: the public options plus the runtime and a clock (internal). */
export interface LifecycleSetup extends LifecycleOptions {
  /** The runtime's signals, exit and servers; adapters pass theirs. */
  runtime: RuntimeAdapter;
  /** @default the system clock */
  clock?: Clock;
  /** Fields in every line said before a server joins (a worker's pid), as its servers' lines have them. */
  logFields?: Record<string, unknown>;
  /** Where drains meet before the process exits (the process's, shared by every lifecycle); none: exit at once. */
  exitGate?: ExitGate;
  /** In a worker of `workers`: tells the primary why this worker could not start (see startFailedBeforeServing). */
  tellPrimaryStartFailed?: (error: string) => Promise<void>;
}

/** What serveGracefully (of this copy or another) needs from a lifecycle besides the public half. */
export interface ServerLifecycle extends Lifecycle {
  /** The tracker every server's `executionCtx.waitUntil` feeds. */
  readonly tasks: TaskTracker;
  /** Joins a server and merges its settings into the lifecycle's. */
  addServer(part: ServerPart, settings: ServerSettings): void;
  /** Logs through the first server's logger (console JSON when there is none). */
  log: Log;
  /** The startup gate and the parts' checks, read by every server's /readyz. */
  readonly readiness: Readiness;
  /**
   * This process is the primary of `workers`: its parts never start here (they run in each
   * worker), and `shutdown()`, `finished` and `signal` are the primary's.
   */
  becomePrimary(primary: PrimaryRun): void;
}

/** What the primary of `workers` hands its process's lifecycle. */
export interface PrimaryRun {
  readonly finished: Promise<ShutdownReport>;
  readonly signal: AbortSignal;
  shutdown(): Promise<ShutdownReport>;
  /** The primary's lines (with its pid): the lifecycle's own lines from then on go there too. */
  readonly log?: Log;
}

/**
 * The lifecycle behind a value a user passed, or a TypeError that says what is wrong with it. A
 * brand, not `instanceof`: a lifecycle from another copy of this package is just as good.
 */
export function asServerLifecycle(value: unknown, where: string): ServerLifecycle {
  const protocol = typeof value === "object" && value !== null ? (value as { [LIFECYCLE_BRAND]?: unknown })[LIFECYCLE_BRAND] : undefined;
  if (protocol === LIFECYCLE_PROTOCOL) return value as ServerLifecycle;
  if (typeof protocol === "number") {
    throw new TypeError(
      `${where}: this lifecycle comes from another copy of serve-gracefully that speaks lifecycle protocol ${protocol}; ` +
        `this copy speaks ${LIFECYCLE_PROTOCOL}. Install one version (npm ls serve-gracefully shows the copies)`,
    );
  }
  throw new TypeError(`${where}: "lifecycle" must come from createLifecycle() or be the exported lifecycle`);
}
