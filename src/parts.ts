/**
 * The parts a lifecycle starts and stops: servers (which the drain handles) and user hooks
 * (`lifecycle.add`), plus the timed call both go through.
 */
import type { Clock } from "./clock.ts";
import { durationMs } from "./duration.ts";
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

/** Every key `lifecycle.add` accepts; any other is a TypeError, as in serveGracefully's options. */
export const PART_KEYS = ["name", "start", "stop", "timeout", "check", "checkTimeout"] as const;

export function checkPart(part: unknown): HookPart {
  if (typeof part !== "object" || part === null || Array.isArray(part)) {
    throw new TypeError(`lifecycle.add: expected { ${PART_KEYS.join(", ")} }, got ${part === null ? "null" : Array.isArray(part) ? "an array" : typeof part}`);
  }
  const p = part as Record<string, unknown>;
  if (typeof p.name !== "string" || p.name === "") throw new TypeError('lifecycle.add: "name" must be a non-empty string');
  const owner = `lifecycle.add("${p.name}")`;
  for (const key of Object.keys(p)) {
    if (!(PART_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`${owner}: unknown option "${key}" (known: ${PART_KEYS.join(", ")})`);
    }
  }
  for (const hook of ["start", "stop", "check"] as const) {
    if (p[hook] !== undefined && typeof p[hook] !== "function") {
      throw new TypeError(`${owner}: "${hook}" must be a function`);
    }
  }
  if (p.checkTimeout !== undefined && p.check === undefined) throw new TypeError(`${owner}: "checkTimeout" is set but the part has no "check"`);
  return {
    kind: "part",
    name: p.name,
    start: p.start as HookPart["start"],
    stop: p.stop as HookPart["stop"],
    timeout: durationMs(owner, "timeout", p.timeout, DEFAULT_PART_TIMEOUT_MS, { positive: true }),
    check: p.check as HookPart["check"],
    checkTimeout: durationMs(owner, "checkTimeout", p.checkTimeout, DEFAULT_CHECK_TIMEOUT_MS, { positive: true }),
  };
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
