/**
 * The primary's one report: every worker's counts added up, each worker's pid and outcome, and
 * exit 0 only when every worker drained clean.
 */
import { buildReport, type DrainCounts, emptyCounts } from "../drain/report.ts";
import { ReportErrors } from "../drain/report-errors.ts";
import type { PartReport, ShutdownReport, WaitingFor, WorkerReport } from "../types.ts";

/** One worker at the end of the drain: its report if it sent one, and how its process ended. */
export interface WorkerEnd {
  pid: number;
  report: ShutdownReport | undefined;
  code: number | null;
  signal: string | null;
  /** Whether it ever listened: one that never did served nothing, and is "skipped" without a report. */
  listened: boolean;
  /** Its drain began before this one (a reload was replacing it): its counts add up, its times do not. */
  drainingBefore?: boolean;
}

export interface AggregateFacts {
  reason: ShutdownReport["reason"];
  signal: string | undefined;
  startedAt: number;
  durationMs: number;
  forcedBy: ShutdownReport["forcedBy"];
  /** A fatal error in the primary during a drain begun otherwise: never a clean exit. */
  fatal?: boolean;
  workers: readonly WorkerEnd[];
  /** The primary's own errors (a crash loop, a failed start), first. */
  errors: readonly string[];
}

export function workerOutcome(end: WorkerEnd): WorkerReport["outcome"] {
  const report = end.report;
  // One that never listened served nothing: whatever its own drain said (a part still starting, cut).
  if (!end.listened) return "skipped";
  if (report === undefined) return "killed";
  if (report.exitCode === 0 && end.code === 0) return "stopped";
  if (report.forcedBy === "deadline") return "timeout";
  if (report.forcedBy === "second-signal") return "cut";
  return "failed";
}

export function aggregateReports(facts: AggregateFacts): ShutdownReport {
  const counts: DrainCounts = emptyCounts();
  const errors = new ReportErrors();
  for (const message of facts.errors) errors.add(message);
  const parts: PartReport[] = [];
  const workers: WorkerReport[] = [];
  let drainDelayMs = 0;
  let drainMs = 0;
  // The whole drain lasts at least as long as any worker's: a worker can begin before the primary's
  // own clock does (the process group's signal reaches it while the primary's loop is busy).
  let durationMs = facts.durationMs;
  let forcedBy = facts.forcedBy;
  let omitted = 0;
  for (const end of facts.workers) {
    const outcome = workerOutcome(end);
    workers.push({ pid: end.pid, outcome, exitCode: end.code, ...(end.signal !== null && { signal: end.signal }) });
    const r = end.report;
    if (outcome === "skipped") {
      // Its errors say why it never served (a part's start that hung); its parts and counts do not count.
      for (const message of r?.errors ?? []) errors.add(`worker ${end.pid} (never listened): ${message}`);
      continue;
    }
    if (r === undefined) {
      errors.add(`worker ${end.pid} ended ${end.signal !== null ? `by ${end.signal}` : `with code ${end.code}`} without a report`);
      continue;
    }
    counts.requestsInFlightAtStart += r.requests.inFlightAtStart;
    counts.requestsServed += r.requests.served;
    counts.requestsCut += r.requests.cut;
    counts.tasksPendingAtStart += r.tasks.pendingAtStart;
    counts.tasksCompleted += r.tasks.completed;
    counts.tasksFailed += r.tasks.failed;
    counts.tasksCut += r.tasks.cut;
    counts.connectionsCut += r.connectionsCut;
    if (end.drainingBefore !== true) {
      drainDelayMs = Math.max(drainDelayMs, r.drainDelayMs);
      drainMs = Math.max(drainMs, r.drainMs);
      durationMs = Math.max(durationMs, r.durationMs);
    }
    forcedBy ??= r.forcedBy;
    for (const part of r.parts) parts.push({ ...part, name: `${part.name} (worker ${end.pid})` });
    for (const message of r.errors) errors.add(`worker ${end.pid}: ${message}`);
    omitted += r.errorsOmitted;
  }
  const report = buildReport({
    reason: facts.reason,
    signal: facts.signal,
    startedAt: facts.startedAt,
    durationMs,
    drainDelayMs,
    drainMs,
    counts,
    parts,
    ...errors.forReport,
    forcedBy,
    fatal: facts.fatal,
  });
  // What the forced workers were waiting for, added up (their own drain.forced lines say each).
  const forcedReports = facts.workers.flatMap((e) => e.listened && e.report?.waitingFor !== undefined ? [e.report] : []);
  if (report.forced && forcedReports.length > 0) {
    report.waitingFor = waitingForAll(forcedReports);
    const budget = forcedReports.find((r) => r.budget !== undefined)?.budget;
    if (budget !== undefined) report.budget = budget;
  }
  const clean = workers.every((w) => w.outcome === "stopped" || w.outcome === "skipped");
  return { ...report, errorsOmitted: report.errorsOmitted + omitted, workers, exitCode: clean && report.exitCode === 0 ? 0 : 1 };
}

/** The workers' waits added up; the first step named; at most 10 servers named. */
function waitingForAll(reports: readonly ShutdownReport[]): WaitingFor {
  const all: WaitingFor = { requests: 0, responses: 0, tasks: 0, serversClosing: [] };
  for (const r of reports) {
    const w = r.waitingFor!;
    all.requests += w.requests;
    all.responses += w.responses;
    all.tasks += w.tasks;
    if (w.connections !== undefined) all.connections = (all.connections ?? 0) + w.connections;
    all.serversClosing.push(...w.serversClosing.slice(0, 10 - all.serversClosing.length));
    all.step ??= w.step;
  }
  return all;
}
