/**
 * serveGracefully in the primary: how many workers and why, the checks that stop a start which
 * cannot work, and the supervisor that runs them.
 */
import { systemClock } from "../time/clock.ts";
import { toLog } from "../log/logger.ts";
import { loggerFlush } from "../log/flush.ts";
import { type ResolvedOptions, workersFromText } from "../options/options.ts";
import { availableCpus } from "./cpus.ts";
import { Supervisor } from "./supervisor.ts";
import type { RuntimeAdapter } from "../types.ts";

/** How many workers and where the number came from (for the `listening` line). */
export interface WorkerCount {
  count: number;
  from: string;
}

/** The workers asked for, with "auto" read from the cgroup, the affinity mask and the runtime. */
export function workerCount(workers: ResolvedOptions["workers"], runtime: RuntimeAdapter): WorkerCount {
  const where = workers.from === "WEB_CONCURRENCY" ? "WEB_CONCURRENCY" : workers.from === "option" ? "the workers option" : "the default";
  if (workers.requested !== "auto") return { count: workers.requested, from: where };
  if (runtime.workers === undefined) return { count: 1, from: `${where} "auto": this runtime cannot run workers` };
  const adapter = runtime.workers;
  let cpus;
  try {
    cpus = availableCpus((path) => adapter.readText(path), adapter.cpuCount());
  } catch (error) {
    // The runtime cannot count (Node < 20.16 has no process.getBuiltinModule): said as every
    // other message about the count is, with where the "auto" came from.
    if (error instanceof TypeError) throw new TypeError(`${error.message}${workersFromText(workers)}`, { cause: error });
    throw error;
  }
  return { count: cpus.cpus, from: `${where} "auto": ${cpus.from}` };
}

/** Starts the supervisor for `count` workers; throws when the options or the OS cannot do it. */
export function startPrimary(runtime: RuntimeAdapter, resolved: ResolvedOptions, count: WorkerCount): Supervisor {
  const adapter = runtime.workers;
  // Every message ends by saying where the count came from when nobody wrote a `workers` option.
  const from = workersFromText(resolved.workers);
  if (adapter === undefined) throw new TypeError(`serveGracefully: "workers" is not supported on ${runtime.name}${from}`);
  const unsupported = adapter.unsupported();
  if (unsupported !== undefined) throw new TypeError(`serveGracefully: "workers": ${unsupported}${from}`);
  if (resolved.signals.length === 0) {
    throw new TypeError(
      `serveGracefully: "workers" needs "signals": the primary passes a signal on to start the drain in every worker${from}`,
    );
  }
  const log = toLog(resolved.logger, { pid: adapter.pid() });
  const supervisor = new Supervisor({
    spawn: (env, events) => adapter.spawn(env, events),
    serviceDraining: () => adapter.serviceDraining?.(),
    sharesPortZero: adapter.sharesPortZero,
    own: runtime,
    clock: systemClock,
    log,
    flush: loggerFlush(resolved.logger),
    runtime: runtime.name,
    mode: adapter.mode,
    count: count.count,
    countFrom: count.from,
    workersAsked: resolved.workers.requested,
    port: resolved.port,
    hostname: resolved.hostname,
    timeout: resolved.timeout,
    signals: resolved.signals,
    reloadSignal: resolved.reloadSignal,
    exit: resolved.exit,
    fatalErrors: resolved.fatalErrors,
    startup: {
      timeoutMs: resolved.timeout,
      drainDelayMs: resolved.drainDelay,
      keepAliveTimeoutMs: resolved.keepAliveTimeout,
      platform: resolved.platform.name,
      reloadSignal: resolved.reloadSignal,
    },
    onListen: resolved.onListen,
  });
  supervisor.start();
  return supervisor;
}
