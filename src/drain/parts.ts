/**
 * The parts a lifecycle starts and stops: servers (which the drain handles) and user hooks
 * (`lifecycle.add`): how a hook part is checked, and how each part starts and stops.
 */
import { type Clock, withTimeout } from "../time/clock.ts";
import { asObject, clipped, invalid, type KeyListOf, knownKeys } from "../check/input.ts";
import { durationMs } from "../time/duration.ts";
import type { ServerTraffic } from "./traffic.ts";
import { listening, partStarted, partStopFailed, partStopped, startFailed } from "../log/events.ts";
import { errorMessage, type Log } from "../log/logger.ts";
import type { ListenInfo, ListeningServer, PartReport } from "../types.ts";

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

/** A part added with `lifecycle.add`: its hooks, checked (the report calls it kind "part"). */
export interface HookPart {
  kind: "hook";
  name: string;
  start: (() => unknown) | undefined;
  stop: (() => unknown) | undefined;
  timeout: number;
  check: (() => unknown) | undefined;
  checkTimeout: number;
}

/** A server that serveGracefully joined to the lifecycle. */
export interface ServerPart {
  kind: "server";
  name: string;
  /** Named by us after port 0: takes the real port once listening. A name the user gave is kept. */
  renameOnListen: boolean;
  /** The user gave its name (`name`): it must be unique, as a hook part's. */
  namedByUser: boolean;
  traffic: ServerTraffic;
  listen: () => Promise<ListeningServer>;
  listening: ListeningServer | undefined;
  onListen: (info: ListenInfo) => void;
  /** Extra fields for the startup line: the timeout, drain delay and which defaults applied. */
  startup: Record<string, unknown>;
  resolveReady: (info: ListenInfo) => void;
  rejectReady: (error: unknown) => void;
}

export type Part = HookPart | ServerPart;

/** A server that listens: its `listening` is set once `listen()` resolved. */
export type StartedServer = ServerPart & { listening: ListeningServer };

/** A part whose start succeeded. */
export type StartedPart = HookPart | StartedServer;

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
const _partKeysMatchPartOptions: KeyListOf<PartOptions, typeof PART_KEYS> = true;

export function checkPart(part: unknown): HookPart {
  // The shape first, then the name, so that every later message can name the part.
  const name = asObject({ owner: "lifecycle.add", known: PART_KEYS }, part).name;
  if (typeof name !== "string" || name === "") invalid("lifecycle.add", "name", "a non-empty string", name);
  const owner = `lifecycle.add(${JSON.stringify(clipped(name))})`;
  const p = knownKeys({ owner, known: PART_KEYS }, part);
  for (const hook of ["start", "stop", "check"] as const) {
    if (p[hook] !== undefined && typeof p[hook] !== "function") invalid(owner, hook, "a function", p[hook]);
  }
  if (p.checkTimeout !== undefined && p.check === undefined) {
    throw new TypeError(`${owner}: "checkTimeout" is set but the part has no "check"`);
  }
  return {
    kind: "hook",
    name,
    start: p.start as HookPart["start"],
    stop: p.stop as HookPart["stop"],
    timeout: durationMs(owner, "timeout", p.timeout, DEFAULT_PART_TIMEOUT_MS, { positive: true }),
    check: p.check as HookPart["check"],
    checkTimeout: durationMs(owner, "checkTimeout", p.checkTimeout, DEFAULT_CHECK_TIMEOUT_MS, { positive: true }),
  };
}

/** What a hook that outlives its `ms` is rejected with (see withTimeout). */
function timedOut(what: string, ms: number): () => PartTimeoutError {
  return () => new PartTimeoutError(`${what} did not finish within ${Math.round(ms)} ms`);
}

/** What stopping the hook parts needs from the drain. */
export interface StopContext {
  clock: Clock;
  /** Clock time by which every stop must be done. */
  deadline: number;
  /** A second signal: stop at once, run no stop at all. */
  secondSignal(): boolean;
  log: Log;
  /** A stop that failed or timed out, for the report's errors. */
  onError(message: string): void;
  /** Marks a stop in progress, for what a forced drain names as waited for. */
  during?<T>(step: string, work: Promise<T>): Promise<T>;
  /** The overall deadline cut a stop (named) or left none time to run: the drain is forced. */
  deadlineReached?(step: string | undefined): void;
}

/**
 * Stop `parts` one after another (the caller passes them in reverse start order), each within its
 * own timeout and the time left; one that throws or hangs is reported and the others still run.
 */
export async function stopParts(parts: readonly HookPart[], context: StopContext): Promise<PartReport[]> {
  const { clock, log } = context;
  const reports: PartReport[] = [];
  for (const part of parts) {
    const left = context.deadline - clock.now();
    const began = clock.now();
    const report = (outcome: PartReport["outcome"], error?: string) =>
      reports.push({ name: part.name, kind: "part", outcome, durationMs: clock.now() - began, ...(error === undefined ? {} : { error }) });
    if (!part.stop) report("stopped");
    else if (context.secondSignal()) report("cut", "not run: a second signal stopped the process at once");
    else if (left <= 0) {
      context.deadlineReached?.(undefined);
      report("cut", "not run: the deadline came first");
    } else {
      const step = `stop of "${part.name}"`;
      // Held to the deadline rather than its own timeout: timing out is then the deadline's doing.
      const heldByDeadline = left <= part.timeout;
      try {
        const ms = Math.min(part.timeout, left);
        const stopping = withTimeout(clock, ms, part.stop, timedOut(step, ms));
        await (context.during ? context.during(step, stopping) : stopping);
        report("stopped");
        log(partStopped(part.name));
      } catch (error) {
        if (heldByDeadline && error instanceof PartTimeoutError) context.deadlineReached?.(step);
        const message = errorMessage(error);
        context.onError(`${part.name}: ${message}`);
        report(error instanceof PartTimeoutError ? "timeout" : "failed", message);
        log(partStopFailed(part.name, message));
      }
    }
  }
  return reports;
}

/**
 * Start one part: a server listens (and, when we named it after port 0, takes the port it got); a
 * hook part runs its start within its timeout. Resolves to the part, started.
 */
export async function startPart(part: Part, clock: Clock): Promise<StartedPart> {
  if (part.kind === "hook") {
    if (part.start) await withTimeout(clock, part.timeout, part.start, timedOut(`start of "${part.name}"`, part.timeout));
    return part;
  }
  const started = Object.assign(part, { listening: await part.listen() });
  if (started.renameOnListen) started.name = `server:${started.listening.port}`;
  // Its close gives a connection answered a moment ago no grace: the hold will (see waitForQuiet).
  if (started.listening.closesIdleWithListener === true) started.traffic.timeAnswers(() => clock.now());
  return started;
}

/** Say that a part started; a server's `onListen` runs and its `ready` resolves. */
export function announceStart(part: StartedPart, log: Log, runtime: string): void {
  if (part.kind === "hook") return log(partStarted(part.name));
  const info = { port: part.listening.port, hostname: part.listening.hostname };
  log(listening(part.name, runtime, info, part.startup));
  part.onListen(info);
  part.resolveReady(info);
}

/** Say that a part failed to start; a server's `ready` rejects. */
export function announceStartFailed(part: Part, error: unknown, log: Log): void {
  if (part.kind === "server") part.rejectReady(error);
  log(startFailed(part.name, error));
}

/** Hook parts keep this much of the budget for their stops, so a stream that never ends cannot starve them. */
export function stopReserve(started: readonly HookPart[], timeout: number): number {
  return Math.min(started.reduce((sum, p) => sum + (p.stop ? p.timeout : 0), 0), timeout / 2);
}

/** How a part's start ended without starting it: it failed, or the drain was forced while it ran. */
export interface StartEnd {
  outcome: "failed" | "cut";
  error: string;
  durationMs: number;
}

/**
 * Parts that never started: reported skipped (the shutdown came first, and a server's `ready`
 * rejects); failed with the error when their start failed (during a drain too: a failed start
 * is never a clean exit); cut when their start was still running at a forced end (its stop is
 * not run: the start never finished).
 */
export function skipUnstarted(parts: readonly Part[], started: readonly Part[], ends: ReadonlyMap<Part, StartEnd>): PartReport[] {
  return parts.filter((p) => !started.includes(p)).map((part) => {
    const kind = part.kind === "hook" ? "part" : "server";
    const end = ends.get(part);
    if (end?.outcome === "failed") return { name: part.name, kind, ...end };
    if (part.kind === "server") part.rejectReady(new LifecycleError(`"${part.name}" did not start: the lifecycle shut down first`));
    return end === undefined ? { name: part.name, kind, outcome: "skipped", durationMs: 0 } : { name: part.name, kind, ...end };
  });
}

/**
 * Two parts of one name would be indistinguishable in the log and the report: a hook part or a
 * server the user named must not take a name already registered. Servers we name (`server:3000`)
 * may repeat (two on port 0 are both `server:0` until they listen).
 */
export function refuseDuplicate(part: Part, parts: readonly Part[]): void {
  const named = part.kind === "hook" || part.namedByUser;
  // A port-0 server's `server:0` is a placeholder until it listens: no other name is compared with it.
  const placeholder = (p: Part) => p.kind === "server" && p.renameOnListen;
  if (named && parts.some((p) => p.name === part.name && !placeholder(p))) {
    throw new LifecycleError(`cannot add "${part.name}": a part with that name is already registered`);
  }
}
