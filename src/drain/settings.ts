/**
 * The settings of one lifecycle's drain, merged from every server that joined it: servers in one
 * lifecycle share one drain, so it takes the longest budget and delay any of them asked for.
 */
import type { ServerSettings } from "./lifecycle-types.ts";
import { type Flush, loggerFlush } from "../log/flush.ts";
import { type Log, toLog } from "../log/logger.ts";
import { DEFAULT_TIMEOUT_MS } from "../process/platform.ts";
import type { ShutdownReport, ShutdownSignal } from "../types.ts";

export interface LifecycleSettings {
  timeout: number;
  drainDelay: number;
  signals: Set<ShutdownSignal>;
  exit: boolean;
  fatalErrors: boolean;
  log: Log;
  /** Writes what the logger still holds (pino), before the process ends; undefined: nothing to flush. */
  flush: Flush | undefined;
}

/** The first server's settings, or the merge with what earlier servers asked for. */
export function mergeSettings(current: LifecycleSettings | undefined, server: ServerSettings): LifecycleSettings {
  if (current === undefined) {
    return {
      timeout: server.timeout,
      drainDelay: server.drainDelay,
      signals: new Set(server.signals),
      exit: server.exit,
      fatalErrors: server.fatalErrors,
      log: toLog(server.logger),
      flush: loggerFlush(server.logger),
    };
  }
  return {
    timeout: Math.max(current.timeout, server.timeout),
    drainDelay: Math.max(current.drainDelay, server.drainDelay),
    // A signal any server listens to; exit and fatal-error handling only if every server allows them.
    signals: new Set([...current.signals, ...server.signals]),
    exit: current.exit && server.exit,
    fatalErrors: current.fatalErrors && server.fatalErrors,
    // The first server's logger speaks for the lifecycle.
    log: current.log,
    flush: current.flush,
  };
}

/** A lifecycle with parts but no server (shutdown() only): the default budget, no signals, no exit. */
export function settingsWithoutServers(log: Log): LifecycleSettings {
  return { timeout: DEFAULT_TIMEOUT_MS, drainDelay: 0, signals: new Set(), exit: false, fatalErrors: false, log, flush: undefined };
}

/** Whether the process ends when the drain is done: signal-managed, and not a shutdown() call. */
export function willExit(settings: LifecycleSettings, reason: ShutdownReport["reason"]): boolean {
  return settings.exit && settings.signals.size > 0 && reason !== "shutdown";
}
