/** The shutdown report: what the last log line says, as an object, and the counts it is made of. */
import type { ForcedFacts } from "../log/events.ts";
import { clip } from "../log/log-bounds.ts";
import type { ServerPart } from "./parts.ts";
import { MAX_ERROR_CHARS } from "./report-errors.ts";
import type { TaskTracker } from "./tasks.ts";
import type { PartReport, ShutdownReport } from "../types.ts";

export interface DrainCounts {
  requestsInFlightAtStart: number;
  requestsServed: number;
  requestsCut: number;
  tasksPendingAtStart: number;
  tasksCompleted: number;
  tasksFailed: number;
  tasksCut: number;
  connectionsCut: number;
}

export interface ReportFacts {
  reason: ShutdownReport["reason"];
  signal: string | undefined;
  startedAt: number;
  durationMs: number;
  drainDelayMs: number;
  drainMs: number;
  counts: DrainCounts;
  parts: PartReport[];
  errors: readonly string[];
  errorsOmitted: number;
  forcedBy: ShutdownReport["forcedBy"];
  /** When forced: the budget that ran out and what the drain was waiting for. */
  forced?: Pick<ForcedFacts, "budget" | "waitingFor">;
  /** An uncaught exception or unhandled rejection during a drain begun otherwise: never a clean exit. */
  fatal?: boolean | undefined;
}

const ms = (value: number): number => Math.round(value * 10) / 10;

export function buildReport(facts: ReportFacts): ShutdownReport {
  const { counts } = facts;
  const forced = facts.forcedBy !== undefined;
  const failedParts = facts.parts.some((p) => p.outcome === "failed" || p.outcome === "timeout" || p.outcome === "cut");
  const failed = forced || failedParts || counts.requestsCut > 0 || facts.reason === "error" || facts.reason === "start-failed" ||
    facts.fatal === true;
  const report: ShutdownReport = {
    reason: facts.reason,
    startedAt: facts.startedAt,
    durationMs: ms(facts.durationMs),
    drainDelayMs: ms(facts.drainDelayMs),
    drainMs: ms(facts.drainMs),
    requests: { inFlightAtStart: counts.requestsInFlightAtStart, served: counts.requestsServed, cut: counts.requestsCut },
    tasks: {
      pendingAtStart: counts.tasksPendingAtStart,
      completed: counts.tasksCompleted,
      failed: counts.tasksFailed,
      cut: counts.tasksCut,
    },
    connectionsCut: counts.connectionsCut,
    parts: facts.parts.map((part) => ({
      ...part,
      durationMs: ms(part.durationMs),
      ...(part.error !== undefined && { error: clip(part.error, MAX_ERROR_CHARS) }),
    })),
    forced,
    errors: [...facts.errors],
    errorsOmitted: facts.errorsOmitted,
    exitCode: failed ? 1 : 0,
  };
  if (facts.signal !== undefined) report.signal = facts.signal;
  if (facts.forcedBy !== undefined) report.forcedBy = facts.forcedBy;
  if (facts.forced?.budget !== undefined) report.budget = facts.forced.budget.budget;
  if (facts.forced !== undefined) report.waitingFor = facts.forced.waitingFor;
  return report;
}

/** The servers' and tasks' counters at one moment; the report subtracts the one at the drain's start. */
export interface Snapshot {
  inFlight: number;
  served: number;
  cut: number;
  tasksPending: number;
  tasksSettled: number;
  tasksFailed: number;
}

/** What the deadline cut: counted as it stood then, so a handler that returns later is not counted twice. */
export interface CutCounts {
  at: Snapshot;
  requests: number;
  tasks: number;
  connections: number;
}

export function snapshot(servers: readonly ServerPart[], tasks: TaskTracker): Snapshot {
  return {
    inFlight: servers.reduce((n, s) => n + s.traffic.inFlight, 0),
    served: servers.reduce((n, s) => n + s.traffic.served, 0),
    // Responses still held or unconfirmed when the report is made never reached their client.
    cut: servers.reduce((n, s) => n + s.traffic.cut + s.traffic.sending, 0),
    tasksPending: tasks.pending,
    tasksSettled: tasks.settled,
    tasksFailed: tasks.failed,
  };
}

/** The counts of one drain: from `atStart` to `now` (or to the cut, for requests). */
export function countsSince(atStart: Snapshot, now: Snapshot, cut: CutCounts | undefined): DrainCounts {
  const requests = cut?.at ?? now;
  return {
    requestsInFlightAtStart: atStart.inFlight,
    requestsServed: requests.served - atStart.served,
    requestsCut: requests.cut - atStart.cut + (cut?.requests ?? 0),
    tasksPendingAtStart: atStart.tasksPending,
    tasksCompleted: now.tasksSettled - atStart.tasksSettled,
    tasksFailed: now.tasksFailed - atStart.tasksFailed,
    tasksCut: cut?.tasks ?? 0,
    connectionsCut: cut?.connections ?? 0,
  };
}

/** A lifecycle that never had a part: nothing to count. */
export function emptyCounts(): DrainCounts {
  return {
    requestsInFlightAtStart: 0,
    requestsServed: 0,
    requestsCut: 0,
    tasksPendingAtStart: 0,
    tasksCompleted: 0,
    tasksFailed: 0,
    tasksCut: 0,
    connectionsCut: 0,
  };
}

/** The report of a lifecycle that never had a part: nothing drained, nothing to count. */
export function emptyReport(reason: ShutdownReport["reason"], signal: string | undefined, startedAt: number): ShutdownReport {
  const facts = { durationMs: 0, drainDelayMs: 0, drainMs: 0, parts: [], errors: [], errorsOmitted: 0, forcedBy: undefined };
  return buildReport({ reason, signal, startedAt, counts: emptyCounts(), ...facts });
}

/** How each server fared: stopped when drained, else cut by a second signal or the deadline. */
export function serverReports(
  servers: readonly ServerPart[],
  drained: boolean,
  forcedBy: ShutdownReport["forcedBy"],
  durationMs: number,
): PartReport[] {
  const outcome = drained ? "stopped" : forcedBy === "second-signal" ? "cut" : "timeout";
  return servers.map((s) => ({ name: s.name, kind: "server", outcome, durationMs }));
}
