/** The shutdown report: what the last log line says, as an object. */
import { clip } from "./log-bounds.ts";
import { MAX_ERROR_CHARS } from "./report-errors.ts";
import type { PartReport, ShutdownReport } from "./types.ts";

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
}

const ms = (value: number): number => Math.round(value * 10) / 10;

export function buildReport(facts: ReportFacts): ShutdownReport {
  const { counts } = facts;
  const forced = facts.forcedBy !== undefined;
  const failedParts = facts.parts.some((p) => p.outcome === "failed" || p.outcome === "timeout" || p.outcome === "cut");
  const failed = forced || failedParts || counts.requestsCut > 0 || facts.reason === "error" || facts.reason === "start-failed";
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
  return report;
}
