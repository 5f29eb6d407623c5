/**
 * The parts a lifecycle starts and stops: servers (which the drain handles) and user hooks
 * (`lifecycle.add`), plus the timed call both go through.
 */
import type { Clock } from "./clock.ts";
import type { RequestState } from "./handler.ts";
import type { ListenInfo, ListeningServer } from "./types.ts";

/** What `lifecycle.add` accepts. */
export interface PartOptions {
  /** Unique within the lifecycle; names the part in logs and the report. */
  name: string;
  /** Runs in registration order; a throw or timeout rolls back what started. */
  start?: () => unknown;
  /** Runs in reverse order after the servers drained; errors are reported, the others still run. */
  stop?: () => unknown;
  /** Milliseconds allowed to start and, separately, to stop. @default 5000 */
  timeout?: number;
  /**
   * Readiness: called for /readyz (never on the app's requests), at most once at a time and at most
   * once per second however many probes ask. Resolves (any value) = healthy; throws or rejects = not,
   * and /readyz answers 503 with the error's message under `?verbose`. Liveness never runs it.
   */
  check?: () => unknown;
  /** Milliseconds a check may take before it counts as failing. @default 500 */
  checkTimeout?: number;
}

export const DEFAULT_PART_TIMEOUT_MS = 5_000;
/** Below the 1 s `timeoutSeconds` of a Kubernetes probe, so /readyz answers before the probe gives up. */
export const DEFAULT_CHECK_TIMEOUT_MS = 500;
/** Timers overflow above this many ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The keys the health feature adds to a part (for a list of accepted keys, when there is one). */
export const HEALTH_PART_KEYS = ["check", "checkTimeout"] as const;

export interface HookPart {
  kind: "part";
  name: string;
  start: (() => unknown) | undefined;
  stop: (() => unknown) | undefined;
  timeout: number;
  check: (() => unknown) | undefined;
  checkTimeout: number;
}

export interface ServerPart {
  kind: "server";
  name: string;
  /** Named by us after port 0: takes the real port once listening. A name the user gave is kept. */
  renameOnListen: boolean;
  state: RequestState;
  listen: () => Promise<ListeningServer>;
  listening: ListeningServer | undefined;
  onListen: (info: ListenInfo) => void;
  /** Extra fields for the startup line: the timeout, drain delay and which defaults applied. */
  startup: Record<string, unknown>;
  resolveReady: (info: ListenInfo) => void;
  rejectReady: (error: unknown) => void;
}

export type Part = HookPart | ServerPart;

/** Misuse of a lifecycle: adding while it stops, a duplicate name, a bad part. */
export class LifecycleError extends Error {
  override name = "LifecycleError";
}

/** Raised when a hook outlives its timeout. */
export class PartTimeoutError extends Error {
  override name = "PartTimeoutError";
}

export function checkPart(part: unknown): HookPart {
  if (typeof part !== "object" || part === null) throw new TypeError("lifecycle.add: expected { name, start?, stop?, check?, timeout?, checkTimeout? }");
  const p = part as Record<string, unknown>;
  if (typeof p.name !== "string" || p.name === "") throw new TypeError('lifecycle.add: "name" must be a non-empty string');
  for (const hook of ["start", "stop", "check"] as const) {
    if (p[hook] !== undefined && typeof p[hook] !== "function") {
      throw new TypeError(`lifecycle.add("${p.name}"): "${hook}" must be a function`);
    }
  }
  if (p.timeout !== undefined && (typeof p.timeout !== "number" || !Number.isFinite(p.timeout) || p.timeout <= 0)) {
    throw new TypeError(`lifecycle.add("${p.name}"): "timeout" must be a positive number of ms, got ${String(p.timeout)}`);
  }
  checkCheckTimeout(p.name, p.check, p.checkTimeout);
  return {
    kind: "part",
    name: p.name,
    start: p.start as HookPart["start"],
    stop: p.stop as HookPart["stop"],
    timeout: (p.timeout as number | undefined) ?? DEFAULT_PART_TIMEOUT_MS,
    check: p.check as HookPart["check"],
    checkTimeout: (p.checkTimeout as number | undefined) ?? DEFAULT_CHECK_TIMEOUT_MS,
  };
}

function checkCheckTimeout(name: string, check: unknown, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new TypeError(`lifecycle.add("${name}"): "checkTimeout" must be a positive number of ms up to ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  if (check === undefined) throw new TypeError(`lifecycle.add("${name}"): "checkTimeout" is set but the part has no "check"`);
}

/** Calls `fn` and waits for it at most `ms`; rejects with its error or a PartTimeoutError. */
export function callWithin(clock: Clock, what: string, fn: () => unknown, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const cancel = clock.setTimer(() => reject(new PartTimeoutError(`${what} did not finish within ${Math.round(ms)} ms`)), ms);
    new Promise((run) => run(fn())).then(
      () => {
        cancel();
        resolve();
      },
      (error) => {
        cancel();
        reject(error);
      },
    );
  });
}
