/**
 * What the primary and its workers say to each other over the IPC channel, and the environment a
 * worker starts with. Every message carries `sg` so that an app's own IPC messages pass untouched.
 */
import { SHUTDOWN_SIGNALS, type ShutdownReport, type ShutdownSignal } from "../types.ts";

/** Set in a worker's environment: its slot (0-based). Its presence is what makes a process a worker. */
export const WORKER_ENV = "SERVE_GRACEFULLY_WORKER";
/** Set in a worker's environment when it must listen on this port (reusePort with port 0 asked). */
export const PORT_ENV = "SERVE_GRACEFULLY_PORT";
/** Set in a worker's environment: the primary's reload signal, which the worker ignores from its start (empty: none). */
export const RELOAD_SIGNAL_ENV = "SERVE_GRACEFULLY_RELOAD_SIGNAL";

/**
 * Primary to worker: start the drain (as if `signal` came; a reload's says how long its hold waits
 * for quiet), or force it now; every worker's listeners have closed (`all-closed`).
 */
export type ToWorker =
  | { sg: "drain"; signal: ShutdownSignal; holdQuietMs?: number }
  | { sg: "force"; signal: ShutdownSignal }
  | { sg: "exit-ok" }
  | { sg: "all-closed" };

/**
 * What a worker's entry asked for of the settings that only its primary applies (sent with
 * `listening`): at a reload, the primary says which of them the running service keeps until a
 * restart. Absent from a worker of an older version.
 */
export interface AskedSettings {
  port: number;
  workers: number | "auto";
  timeout: number;
  signals: ShutdownSignal[];
  reloadSignal: ShutdownSignal | false;
}

/**
 * Worker to primary: it listens (with the settings its entry asked for), its drain began (from any side), its listeners closed, it could
 * not start, or its drain's report.
 */
export type FromWorker =
  | { sg: "listening"; port: number; hostname: string; asked?: AskedSettings }
  | { sg: "draining" }
  | { sg: "closed" }
  | { sg: "start-failed"; error: string }
  | { sg: "report"; report: ShutdownReport }
  | { sg: "exiting" };

export function isToWorker(message: unknown): message is ToWorker {
  const m = message as { sg?: unknown; signal?: unknown; holdQuietMs?: unknown } | null;
  const quiet = m?.holdQuietMs;
  if (typeof m === "object" && m !== null && (m.sg === "exit-ok" || m.sg === "all-closed")) return true;
  return typeof m === "object" && m !== null && (m.sg === "drain" || m.sg === "force") &&
    (SHUTDOWN_SIGNALS as readonly unknown[]).includes(m.signal) &&
    (quiet === undefined || (m.sg === "drain" && Number.isInteger(quiet) && (quiet as number) >= 0 && (quiet as number) <= 1_000));
}

export function isFromWorker(message: unknown): message is FromWorker {
  const m = message as Record<string, unknown> | null;
  if (typeof m !== "object" || m === null) return false;
  switch (m.sg) {
    case "listening":
      // `asked` is read only when well formed (isAskedSettings): a listening worker is never refused for it.
      return typeof m.port === "number" && typeof m.hostname === "string";
    case "draining":
    case "closed":
    case "exiting":
      return true;
    case "start-failed":
      return typeof m.error === "string";
    case "report":
      return typeof m.report === "object" && m.report !== null;
    default:
      return false;
  }
}

export function isAskedSettings(value: unknown): value is AskedSettings {
  const a = value as Record<string, unknown> | null;
  if (typeof a !== "object" || a === null) return false;
  const signals = a.signals;
  return typeof a.port === "number" && (typeof a.workers === "number" || a.workers === "auto") && typeof a.timeout === "number" &&
    Array.isArray(signals) && signals.length <= SHUTDOWN_SIGNALS.length &&
    signals.every((s) => (SHUTDOWN_SIGNALS as readonly unknown[]).includes(s)) &&
    (a.reloadSignal === false || (SHUTDOWN_SIGNALS as readonly unknown[]).includes(a.reloadSignal));
}
