/**
 * The process as one more actor (as oklog/run treats a signal): its signals and fatal errors call
 * into the lifecycle, which starts or forces the drain. Subscribes once per signal however many
 * servers ask for it, and lets go of everything when the run ends.
 */
import { fatalError, signalsUnreachable } from "../log/events.ts";
import type { Log } from "../log/logger.ts";
import { signalDeliveryWarning } from "./platform.ts";
import type { ProcessAdapter, ShutdownSignal } from "../types.ts";

/** The same signal again within this window is the same event (npm and a terminal both pass on one Ctrl+C). */
export const SIGNAL_REPEAT_WINDOW_MS = 250;

/**
 * What a signal means, given how the drain started: begin it; "adopt" (the first signal during a
 * drain that shutdown() or an error started: the process now ends with the drain, nothing is cut);
 * "repeat" (the same signal again within the window: one Ctrl+C passed on twice); or force it.
 */
export function signalMeaning(
  started: { signal?: string; at: number } | undefined,
  signal: ShutdownSignal,
  now: number,
): "begin" | "adopt" | "repeat" | "force" {
  if (started === undefined) return "begin";
  if (started.signal === undefined) return "adopt";
  return started.signal === signal && now - started.at < SIGNAL_REPEAT_WINDOW_MS ? "repeat" : "force";
}

export type FatalKind = "uncaughtException" | "unhandledRejection";

/**
 * An adapter's onFatalError from one way to subscribe to one kind of fatal error (the runtime's
 * event for it); returns the unsubscribe of both.
 */
export function onEachFatalKind(
  listener: (error: unknown, kind: FatalKind) => void,
  subscribe: (kind: FatalKind, handler: (error: unknown) => void) => () => void,
): () => void {
  const unsubscribes = (["uncaughtException", "unhandledRejection"] as const).map((kind) =>
    subscribe(kind, (error) => listener(error, kind))
  );
  return () => unsubscribes.forEach((unsubscribe) => unsubscribe());
}

export interface ProcessWatchTarget {
  /** A signal arrived. */
  onSignal(signal: ShutdownSignal): void;
  /** An order to force the drain now (a worker's primary got a second signal). */
  onForce(signal: ShutdownSignal): void;
  /** An uncaught exception or unhandled rejection, already logged; `message` is for the report. */
  onFatalError(message: string): void;
  log: Log;
}

export class ProcessWatch {
  readonly #runtime: ProcessAdapter;
  readonly #target: ProcessWatchTarget;
  #unsubscribe: (() => void)[] = [];
  #signals = new Set<ShutdownSignal>();
  #unwatchFatalErrors: (() => void) | undefined;
  #originChecked = false;
  #forceWatched = false;
  /** Errors already answered (what `ready` rejected with): weakly held, so nothing is kept. */
  #answered = new WeakSet<object>();

  constructor(runtime: ProcessAdapter, target: ProcessWatchTarget) {
    this.#runtime = runtime;
    this.#target = target;
  }

  /** Watch these signals (and fatal errors, when asked), adding to what is already watched. */
  watch(signals: ReadonlySet<ShutdownSignal>, fatalErrors: boolean): void {
    for (const signal of signals) {
      if (this.#signals.has(signal)) continue;
      this.#signals.add(signal);
      this.#unsubscribe.push(this.#runtime.onSignal(signal, () => this.#target.onSignal(signal)));
    }
    if (signals.size === 0) return;
    if (this.#runtime.onForce !== undefined && !this.#forceWatched) {
      this.#forceWatched = true;
      this.#unsubscribe.push(this.#runtime.onForce((signal) => this.#target.onForce(signal)));
    }
    if (!this.#originChecked) {
      // Once per process run: a shell or package manager between PID 1 and us may swallow SIGTERM.
      this.#originChecked = true;
      void Promise.resolve(this.#runtime.processOrigin?.()).then((origin) => {
        const warning = signalDeliveryWarning(origin);
        if (warning !== undefined) this.#target.log(signalsUnreachable(warning));
      }, () => {});
    }
    // Fatal errors only while every server allows it: a later server that says no takes it back.
    if (!fatalErrors) this.#unwatchFatal();
    else if (this.#unwatchFatalErrors === undefined) {
      this.#unwatchFatalErrors = this.#runtime.onFatalError((error, kind: FatalKind) => {
        if (typeof error === "object" && error !== null && this.#answered.has(error)) return;
        const record = fatalError(kind, error);
        if (firstToSay(error)) this.#target.log(record);
        this.#target.onFatalError(record.msg);
      });
    }
  }

  /**
   * Wraps what rejects `ready`: an error it rejects with is answered (logged, reported, handed to
   * the caller). The same error reaching the process later, from an `await server.ready` at the top
   * level of a module, is that answer coming back, not a second, fatal error.
   */
  answering(reject: (error: unknown) => void): (error: unknown) => void {
    return (error) => {
      if (typeof error === "object" && error !== null) this.#answered.add(error);
      reject(error);
    };
  }

  #unwatchFatal(): void {
    this.#unwatchFatalErrors?.();
    this.#unwatchFatalErrors = undefined;
  }

  /** Stop watching: the run is over (a new run watches again). */
  stop(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#signals.clear();
    this.#forceWatched = false;
    this.#unwatchFatal();
  }
}

/** Symbol.for: the same key in every copy of the package in this process. */
const FATAL_SAID_KEY = Symbol.for("serve-gracefully.fatal-said");

/**
 * Whether this watch is the first to see this error: every lifecycle of the process (and of every
 * copy) has a listener, and each drains, but one line says the error (it was one per lifecycle).
 * An object is remembered weakly; any other value until the current turn ends, which is when one
 * error's listeners all run.
 */
function firstToSay(error: unknown): boolean {
  const registry = globalThis as unknown as Record<symbol, { objects: WeakSet<object>; values: Set<unknown> } | undefined>;
  const said = registry[FATAL_SAID_KEY] ??= { objects: new WeakSet(), values: new Set() };
  if (typeof error === "object" && error !== null) {
    if (said.objects.has(error)) return false;
    said.objects.add(error);
    return true;
  }
  if (said.values.has(error)) return false;
  said.values.add(error);
  void Promise.resolve().then(() => said.values.delete(error));
  return true;
}
