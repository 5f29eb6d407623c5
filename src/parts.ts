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
}

export const DEFAULT_PART_TIMEOUT_MS = 5_000;

export interface HookPart {
  kind: "part";
  name: string;
  start: (() => unknown) | undefined;
  stop: (() => unknown) | undefined;
  timeout: number;
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
  if (typeof part !== "object" || part === null) throw new TypeError("lifecycle.add: expected { name, start?, stop?, timeout? }");
  const p = part as Record<string, unknown>;
  if (typeof p.name !== "string" || p.name === "") throw new TypeError('lifecycle.add: "name" must be a non-empty string');
  for (const hook of ["start", "stop"] as const) {
    if (p[hook] !== undefined && typeof p[hook] !== "function") {
      throw new TypeError(`lifecycle.add("${p.name}"): "${hook}" must be a function`);
    }
  }
  if (p.timeout !== undefined && (typeof p.timeout !== "number" || !Number.isFinite(p.timeout) || p.timeout <= 0)) {
    throw new TypeError(`lifecycle.add("${p.name}"): "timeout" must be a positive number of ms, got ${String(p.timeout)}`);
  }
  return {
    kind: "part",
    name: p.name,
    start: p.start as HookPart["start"],
    stop: p.stop as HookPart["stop"],
    timeout: (p.timeout as number | undefined) ?? DEFAULT_PART_TIMEOUT_MS,
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
