/** The log records of the primary and of a worker about its primary, one builder per event. */
import type { ListenInfo, LogRecord, ShutdownReport, ShutdownSignal } from "../types.ts";

export interface WorkersListening {
  runtime: string;
  info: ListenInfo;
  workers: number;
  workersFrom: string;
  mode: string;
  pids: number[];
  startup: Record<string, unknown>;
}

export const listening = (facts: WorkersListening): LogRecord => ({
  level: "info",
  event: "listening",
  msg: `${facts.workers} workers listening on ${facts.info.hostname}:${facts.info.port} (workers from ${facts.workersFrom})`,
  runtime: facts.runtime,
  address: facts.info.hostname,
  port: facts.info.port,
  workers: facts.workers,
  workersFrom: facts.workersFrom,
  mode: facts.mode,
  pids: facts.pids,
  ...facts.startup,
});

export const startFailed = (error: string): LogRecord => ({
  level: "error",
  event: "start.failed",
  msg: `a worker failed to start: ${error}`,
  error,
});

/** "1 worker", "2 workers". */
export const workersText = (n: number): string => `${n} worker${n === 1 ? "" : "s"}`;

const how = (code: number | null, signal: string | null): string => signal !== null ? `by ${signal}` : `with code ${code}`;

/** Why a worker ended, as far as it said: its start failure, or its own drain's report (the first error in it). */
export interface WorkerEndCause {
  cause: string | undefined;
  report: ShutdownReport | undefined;
}

export const workerExited = (
  pid: number,
  code: number | null,
  signal: string | null,
  restartInMs: number,
  crashes: number,
  end: WorkerEndCause,
): LogRecord => ({
  level: "warn",
  event: "worker.exited",
  msg: `worker ${pid} exited ${how(code, signal)}${end.cause === undefined ? "" : ` (${end.cause})`}; restart in ${restartInMs} ms`,
  worker: pid,
  exitCode: code,
  signal: signal ?? undefined,
  restartInMs,
  crashes,
  ...(end.cause !== undefined && { cause: end.cause }),
  // Its drain's counts (a crash while serving drains first): said by no other line outside a drain.
  ...(end.report !== undefined && { report: end.report }),
});

export const workerRestarted = (pid: number, previous: number): LogRecord => ({
  level: "info",
  event: "worker.restarted",
  msg: `worker ${pid} listening (replaces ${previous})`,
  worker: pid,
  replaces: previous,
});

export const crashLoop = (
  pid: number,
  crashes: number,
  code: number | null,
  signal: string | null,
  cause: string | undefined,
): LogRecord => ({
  level: "error",
  event: "workers.crash-loop",
  msg: `worker ${pid} crashed ${crashes} times in a row right after starting (the last exited ${how(code, signal)}): giving up${
    cause === undefined ? "" : ` (last: ${cause})`
  }`,
  worker: pid,
  crashes,
  exitCode: code,
  signal: signal ?? undefined,
  ...(cause !== undefined && { cause }),
});

export const workerKilled = (pids: number[]): LogRecord => ({
  level: "error",
  event: "workers.killed",
  msg: `workers ${pids.join(", ")} still running past the deadline: killed`,
  pids,
});

/** An old worker a reload replaced whose drain did not end clean (forced, cut, killed, or exit != 0). */
export interface RetiredUnclean {
  worker: number;
  exitCode: number | null;
  signal?: string;
  forced: boolean;
  requestsCut: number;
  connectionsCut: number;
}

const unclean = (r: RetiredUnclean): string =>
  `worker ${r.worker} exited ${how(r.exitCode, r.signal ?? null)}${
    r.forced ? ` (forced: ${r.requestsCut} requests and ${r.connectionsCut} connections cut)` : ""
  }`;

export const reloadDone = (
  replaced: { from: number | undefined; to: number }[],
  durationMs: number,
  notClean: RetiredUnclean[] = [],
): LogRecord => ({
  level: notClean.length > 0 ? "warn" : "info",
  event: "reload",
  msg: `reload: ${workersText(replaced.length)} replaced in ${Math.round(durationMs)} ms${
    notClean.length > 0 ? `; old workers not clean: ${notClean.map(unclean).join(", ")}` : ""
  }`,
  replaced,
  durationMs: Math.round(durationMs * 10) / 10,
  ...(notClean.length > 0 && { notClean }),
});

export const reloadStopped = (replaced: { from: number | undefined; to: number }[]): LogRecord => ({
  level: "warn",
  event: "reload.stopped",
  msg: `reload stopped by the drain after ${workersText(replaced.length)} replaced: every worker drains, new ones too`,
  replaced,
});

export const reloadFailed = (reason: string, replaced: { from: number | undefined; to: number }[]): LogRecord => ({
  level: "error",
  event: "reload.failed",
  msg: `reload stopped, the old workers keep serving: ${reason}`,
  error: reason,
  replaced,
});

/** A setting a reload's new code asks for that the running service keeps until a restart: its value now (`from`) and asked (`to`). */
export interface IgnoredSetting {
  setting: "port" | "workers" | "timeout" | "signals" | "reloadSignal";
  from: number | string | false | string[];
  to: number | string | false | string[];
}

const valueText = (value: IgnoredSetting["from"]): string =>
  Array.isArray(value) ? `[${value.join(", ")}]` : value === "auto" ? '"auto"' : String(value);

export const reloadSettingsIgnored = (ignored: IgnoredSetting[]): LogRecord => ({
  level: "warn",
  event: "reload.settings-ignored",
  msg: `reload: the new code asks for settings that the running service keeps until a restart: ${
    ignored.map((i) => `${i.setting} ${valueText(i.from)} -> ${valueText(i.to)}`).join(", ")
  }`,
  ignored,
});

export const reloadSkipped = (why: string): LogRecord => ({ level: "warn", event: "reload.skipped", msg: `reload skipped: ${why}` });

export const primaryGone = (signal: ShutdownSignal | undefined): LogRecord => ({
  level: "warn",
  event: "worker.orphaned",
  msg: `the primary is gone: draining${signal ? ` (as on ${signal})` : ""}`,
});
