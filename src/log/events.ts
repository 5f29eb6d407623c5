/**
 * The log records the lifecycle writes, one builder per event, so each event's fields are named in
 * one place (docs/logging.md lists them). No field takes a name that loggers write
 * themselves (pino: hostname, name, pid): the listen address is `address`, a part is `part`.
 */
import { errorMessage, errorStack } from "./logger.ts";
import type { DeadlineBudget, ListenInfo, LogRecord, ShutdownReport, ShutdownSignal, WaitingFor } from "../types.ts";

export const listening = (part: string, runtime: string, info: ListenInfo, startup: Record<string, unknown>): LogRecord => ({
  level: "info",
  event: "listening",
  msg: `${part} listening on ${info.hostname}:${info.port}`,
  part,
  runtime,
  address: info.hostname,
  port: info.port,
  ...startup,
});

export const partStarted = (part: string): LogRecord => ({ level: "info", event: "part.started", msg: `${part} started`, part });

export const startFailed = (part: string, error: unknown): LogRecord => ({
  level: "error",
  event: "start.failed",
  msg: `${part} failed to start: ${errorMessage(error)}`,
  part,
  error: errorMessage(error),
});

export interface DrainStartFacts {
  reason: ShutdownReport["reason"];
  signal: string | undefined;
  requestsInFlight: number;
  tasksPending: number;
  drainDelayMs: number;
  timeoutMs: number;
  /** A worker that a reload replaces (its primary's order came as `signal`, which nobody sent). */
  replaced?: true;
}

export const drainStart = (facts: DrainStartFacts): LogRecord => ({
  level: "info",
  event: "drain.start",
  msg: facts.replaced ? "drain started (replaced by a reload)" : `drain started (${facts.signal ?? facts.reason})`,
  ...facts,
});

/** Why the drain was forced (the budget that ran out, or the signal) and what it was waiting for. */
export interface ForcedFacts {
  budget?: DeadlineBudget;
  waitingFor: WaitingFor;
  /** `waitingFor` in words. */
  waiting: string;
}

export function drainForced(by: NonNullable<ShutdownReport["forcedBy"]>, facts: ForcedFacts, signal?: ShutdownSignal): LogRecord {
  const { budget, waitingFor, waiting } = facts;
  const fields = { forcedBy: by, waitingFor };
  if (by === "second-signal") {
    return {
      level: "warn",
      event: "drain.forced",
      msg: `second signal ${signal}: stopping now; it was waiting for ${waiting}`,
      ...fields,
      signal,
    };
  }
  const why = budget === undefined || budget.budget === "deadline"
    ? `deadline reached${budget ? ` (timeout ${budget.timeoutMs} ms)` : ""}`
    : `stop reserve reached: the servers' ${budget.budgetMs} ms ran out (${budget.stopReserveMs} ms of the ${budget.timeoutMs} ms timeout are kept for the parts' stops)`;
  return {
    level: "warn",
    event: "drain.forced",
    msg: `${why}: cutting what is still open; it was waiting for ${waiting}`,
    ...fields,
    ...budget,
  };
}

export const drainLeftOpen = (runtime: string): LogRecord => ({
  level: "warn",
  event: "drain.left-open",
  msg: `${runtime} cannot cut connections while the process lives; they end with it`,
});

/** Says how the drain went and what the process does next, with the whole report. */
export function drainEnd(report: ShutdownReport, exits: boolean): LogRecord {
  const outcome = report.forced ? `forced (${report.forcedBy})` : "complete";
  const next = exits ? `exit ${report.exitCode}` : "process left running";
  const msg = `drain ${outcome} in ${Math.round(report.durationMs)} ms, ${next}`;
  return { level: report.exitCode === 0 ? "info" : "error", event: "drain.end", msg, ...report };
}

export const drainCrashed = (error: unknown): LogRecord => ({ level: "error", event: "drain.crashed", msg: errorMessage(error) });

export const taskFailed = (error: unknown): LogRecord => ({
  level: "warn",
  event: "task.failed",
  msg: `a waitUntil task rejected: ${errorMessage(error)}`,
  error: errorMessage(error),
  stack: errorStack(error),
});

export const taskAfterShutdown = (): LogRecord => ({
  level: "warn",
  event: "task.after-shutdown",
  msg: "lifecycle.waitUntil after the shutdown: the task runs but nothing waits for it (createLifecycle() makes a new lifecycle)",
});

export const handlerError = (error: unknown): LogRecord => ({
  level: "error",
  event: "handler.error",
  msg: `handler threw: ${errorMessage(error)}`,
  error: errorMessage(error),
  stack: errorStack(error),
});

/** An uncaught exception or unhandled rejection; the event is its kind. */
export const fatalError = (kind: "uncaughtException" | "unhandledRejection", error: unknown): LogRecord => ({
  level: "error",
  event: kind,
  msg: `${kind}: ${errorMessage(error)}`,
  error: errorMessage(error),
  stack: errorStack(error),
});

export const signalsUnreachable = (warning: string): LogRecord => ({ level: "warn", event: "signals.unreachable", msg: warning });

export const healthUnready = (check: string, reason: string | undefined): LogRecord => ({
  level: "warn",
  event: "health.unready",
  msg: `readiness check "${check}" failed: ${reason}`,
  check,
  reason,
});

export const healthReady = (check: string): LogRecord => ({
  level: "info",
  event: "health.ready",
  msg: `readiness check "${check}" passes again`,
  check,
});

/** At most this many part names in partsInPrimary's message (all of them in its field, each a registered part). */
const PARTS_NAMED = 5;

export const partsInPrimary = (parts: string[]): LogRecord => ({
  level: "warn",
  event: "workers.parts-in-primary",
  msg: `${parts.slice(0, PARTS_NAMED).join(", ")}${parts.length > PARTS_NAMED ? ` and ${parts.length - PARTS_NAMED} more` : ""} ` +
    "started before serveGracefully made this process the primary of workers: stopping them here, each worker runs them " +
    "(register parts in the same turn as serveGracefully, or serve the entry with the serve-gracefully command)",
  parts,
});

export const partStopped = (part: string): LogRecord => ({ level: "info", event: "part.stopped", msg: `${part} stopped`, part });

export const partStopFailed = (part: string, message: string): LogRecord => ({
  level: "error",
  event: "part.stop-failed",
  msg: `${part} failed to stop: ${message}`,
  part,
  error: message,
});
