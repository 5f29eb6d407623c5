/**
 * A worker's side: the runtime as the worker's lifecycle sees it. The primary's drain order
 * arrives as the signal it passes on, once: the same signal sent to the whole process group (Ctrl+C,
 * `tini -g`) reaches the worker directly too, and both make one drain, not a forced one. A force
 * order forces. When the primary is gone (its channel closed: killed, OOM) the worker drains itself
 * within its own deadline. Exit waits until the report has been handed to the primary.
 */
import type { Log } from "../log/logger.ts";
import { type Clock, systemClock, withExitTimer } from "../time/clock.ts";
import * as events from "./events.ts";
import { type FromWorker, isToWorker, PORT_ENV, RELOAD_SIGNAL_ENV, WORKER_ENV } from "./messages.ts";
import {
  isShutdownSignal,
  type LoggerOption,
  type LogRecord,
  type RuntimeAdapter,
  type ShutdownReport,
  type ShutdownSignal,
  type WorkerChannel,
} from "../types.ts";

/** How long exit waits for the last messages to reach the primary. */
export const EXIT_SEND_LIMIT_MS = 2_000;
/**
 * How long a worker whose listeners closed waits for the others' at most: every hold ends within
 * HOLD_MAX_MS of the drain's start, plus CATCH_UP_MAX_MS for a late event loop (hold.ts).
 */
export const ALL_CLOSED_WAIT_MS = 500;

/** A worker process: its slot, its port (when the primary chose it), and its channel. */
export interface WorkerRole {
  slot: number;
  port: number | undefined;
  pid: number;
  send(message: FromWorker): void;
  /** Resolves once every message sent so far has been handed over (or the channel closed). */
  sent(): Promise<void>;
  readonly channel: WorkerChannel;
  /** The runtime's own process side, for a signal the worker must ignore (the reload signal). */
  readonly raw: RuntimeAdapter;
  /** Where the worker's own lines go (the first server's logger), for the orphan warning. */
  log: Log | undefined;
}

/** This process's worker role, or undefined when it is not a worker (the environment says). */
export function workerRole(runtime: RuntimeAdapter): WorkerRole | undefined {
  const slot = runtime.env(WORKER_ENV);
  if (slot === undefined || runtime.workers === undefined) return undefined;
  const channel = runtime.workers.connect();
  // The variable without a channel: a process that inherited it from a worker (a worker's own child
  // process), not a worker of ours. It serves as usual.
  if (channel.closed) return undefined;
  // The reload signal is the primary's: a worker that gets it too (a process group: a terminal,
  // `kill -HUP -PGID`) ignores it, from the moment the library is loaded. Ignored only once
  // serveGracefully ran, it killed a worker still loading its entry, and the start or the reload failed.
  const reloadSignal = runtime.env(RELOAD_SIGNAL_ENV);
  if (isShutdownSignal(reloadSignal)) runtime.onSignal(reloadSignal, () => {});
  const portText = runtime.env(PORT_ENV);
  const pending = new Set<Promise<void>>();
  return {
    slot: Number(slot),
    port: portText === undefined ? undefined : Number(portText),
    pid: runtime.workers.pid(),
    channel,
    raw: runtime,
    log: undefined,
    send(message) {
      // `listening` and `draining` unconfirmed: every exit sends a confirmed message after them (the
      // report, or the start failure), and its confirmation covers them, written before it.
      const sent = channel.send(message, message.sg !== "listening" && message.sg !== "draining");
      pending.add(sent);
      void sent.finally(() => pending.delete(sent));
    },
    sent: () => Promise.all(pending).then(() => {}),
  };
}

/** The runtime with the primary's orders as signals, no PID 1 check of its own, and an exit that lets the report out first. */
export function workerRuntime(runtime: RuntimeAdapter, role: WorkerRole, clock: Clock = systemClock): RuntimeAdapter {
  const listeners = new Map<ShutdownSignal, Set<() => void>>();
  const forceListeners = new Set<(signal: ShutdownSignal) => void>();
  // The first drain order wins, from the primary or the process group; the others are the same event.
  let drainStarted = false;
  // Set by a reload's order (it says how long the hold waits); gone once the whole service drains.
  let replacement: { holdQuietMs: number } | undefined;
  // The primary's signals start every worker's drain: a worker whose entry listens for others (a
  // reload's new code with other `signals`) takes the order as its own first signal. It ignored the
  // order, and the primary killed it at the deadline (exit 1).
  const taken = (signal: ShutdownSignal): ShutdownSignal | undefined =>
    (listeners.get(signal)?.size ?? 0) > 0 ? signal : [...listeners].find(([, set]) => set.size > 0)?.[0];
  const deliver = (signal: ShutdownSignal) => {
    for (const listener of [...(listeners.get(signal) ?? [])]) listener();
  };
  // The primary hears that this worker's drain began, from whichever side: a worker still starting
  // that drains on a process-group signal must not get a stop signal from it too (a second signal).
  let saidDraining = false;
  const sayDraining = () => {
    if (saidDraining) return;
    saidDraining = true;
    role.send({ sg: "draining" });
  };
  const begin = () => {
    if (drainStarted) return;
    drainStarted = true;
    sayDraining();
  };
  let exitOk: (() => void) | undefined;
  const allClosed = new Set<() => void>();
  role.channel.onMessage((message) => {
    if (!isToWorker(message)) return;
    if (message.sg === "exit-ok") return exitOk?.();
    if (message.sg === "all-closed") return [...allClosed].forEach((resolve) => resolve());
    if (message.sg === "force") {
      for (const listener of [...forceListeners]) listener(message.signal);
    } else if (!drainStarted && taken(message.signal) !== undefined) {
      // An order that comes before anything listens (the entry still loading) is not taken: the
      // primary sends it again once this worker listens.
      begin();
      replacement = message.holdQuietMs === undefined ? undefined : { holdQuietMs: message.holdQuietMs };
      deliver(taken(message.signal)!);
    } else if (message.holdQuietMs === undefined) {
      // The whole service drains (the primary's signal during a reload): no longer a replacement.
      replacement = undefined;
    }
  });
  role.channel.onClose(() => {
    replacement = undefined; // without its primary, the service ends here
    if (drainStarted) return;
    begin();
    const signal = listeners.keys().next().value as ShutdownSignal | undefined;
    role.log?.(events.primaryGone(signal));
    if (signal !== undefined) deliver(signal);
    else runtime.exit(1); // nothing listens for a drain: nothing to drain
  });
  return {
    ...runtime,
    onSignal(signal, listener) {
      const set = listeners.get(signal) ?? new Set();
      listeners.set(signal, set);
      set.add(listener);
      const off = runtime.onSignal(signal, () => {
        replacement = undefined; // a signal of its own (the process group's): the service drains
        // Once draining, the primary decides: a second signal reaches this worker as its "force".
        // The process group's copy of the first one is no second signal, however late it comes
        // (Deno delivered it 190-320 ms after the primary's order, past SIGNAL_REPEAT_WINDOW_MS).
        if (drainStarted && !role.channel.closed) return;
        begin();
        listener();
      });
      return () => {
        off();
        set.delete(listener);
      };
    },
    replacement: () => replacement,
    // Said in every drain, so that the primary waits for no worker that will not say it.
    listenersClosed(wholeService) {
      if (role.channel.closed) return Promise.resolve();
      role.send({ sg: "closed" });
      if (!wholeService) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const cancel = clock.setTimer(() => done(), ALL_CLOSED_WAIT_MS);
        const done = () => {
          cancel();
          allClosed.delete(done);
          resolve();
        };
        allClosed.add(done);
        role.channel.onClose(done);
      });
    },
    onForce(listener) {
      forceListeners.add(listener);
      return () => forceListeners.delete(listener);
    },
    // While its primary lives, the primary is this worker's backstop: told that this worker drains
    // (a drain of its own too: a fatal error), it kills it if it still runs KILL_GRACE_MS past the
    // deadline (supervisor.ts). A watchdog thread of its own held Deno's event loop ~40 ms at the
    // drain's first moment (a new isolate: the drain began 22-56 ms after the primary's, serving
    // nothing meanwhile), so one is armed only once the primary is gone.
    exitWatchdog: runtime.exitWatchdog === undefined ? undefined : (ms, flushingLogger) => {
      const armedAt = clock.now();
      const arm = () => runtime.exitWatchdog!(Math.max(0, ms - (clock.now() - armedAt)), flushingLogger);
      if (role.channel.closed) return arm();
      sayDraining();
      let disarm: (() => void) | undefined;
      let disarmed = false;
      role.channel.onClose(() => {
        if (!disarmed) disarm = arm();
      });
      return () => {
        disarmed = true;
        disarm?.();
      };
    },
    // The primary checks who started it; a worker's answer would repeat it once per worker.
    processOrigin: undefined,
    exitPollsIo: true,
    exit(code) {
      // The primary answers once it has read everything this worker sent, its servers' stop among
      // it (Node's primary hands a worker connections until it has read that stop: adapters/node-handoff.ts
      // answers it after the last one, and this answer comes after that).
      const answered = new Promise<void>((resolve) => (exitOk = resolve));
      if (!role.channel.closed) role.send({ sg: "exiting" });
      void sentBeforeExit(role, runtime, clock, answered).then(() => runtime.exit(code));
    },
  };
}

/**
 * Resolves once what the worker sent has been handed to the primary (and `answered`, when given,
 * has resolved), or after EXIT_SEND_LIMIT_MS; at once when the channel is closed.
 */
function sentBeforeExit(role: WorkerRole, runtime: RuntimeAdapter, clock: Clock, answered?: Promise<void>): Promise<void> {
  let cancel = () => {};
  const limit = new Promise<void>((resolve) => (cancel = withExitTimer(clock, runtime).setTimer(resolve, EXIT_SEND_LIMIT_MS)));
  const closed = new Promise<void>((resolve) => (role.channel.closed ? resolve() : role.channel.onClose(resolve)));
  const done = Promise.all([role.sent(), answered ?? Promise.resolve()]).then(() => {});
  return Promise.race([done, closed, limit]).then(() => cancel());
}

/**
 * The command's entry failed in a worker (it threw, or is gone from disk at a reload): the
 * primary's `start.failed` or `reload.failed` line says why, not only the worker's exit code.
 * Resolves once the message is out (within EXIT_SEND_LIMIT_MS), for the exit that follows.
 */
export function tellStartFailed(role: WorkerRole, error: string, clock: Clock = systemClock): Promise<void> {
  if (role.channel.closed) return Promise.resolve();
  role.send({ sg: "start-failed", error });
  return sentBeforeExit(role, role.raw, clock);
}

/**
 * The worker's logger: its start failure, its `listening` line and its report go to the primary,
 * which says them once for all workers; every other line is the worker's own, with its pid.
 * When the primary is gone, everything is logged here.
 */
export function workerLogger(
  role: WorkerRole,
  option: LoggerOption | undefined,
  toLog: (option: LoggerOption | undefined, fields: Record<string, unknown>) => Log,
): Log {
  const out = toLog(option, { pid: role.pid });
  let listened = false;
  const log: Log = (record: LogRecord) => {
    if (!role.channel.closed) {
      if (record.event === "listening") return void (listened = true);
      // A drain before this worker listened is a failed start's: the primary's start.failed says it.
      if (record.event === "drain.start" && !listened) return;
      if (record.event === "start.failed") return role.send({ sg: "start-failed", error: String(record.error ?? record.msg) });
      if (record.event === "drain.end") return role.send({ sg: "report", report: reportOf(record) });
    }
    out(record);
  };
  role.log ??= out;
  return log;
}

function reportOf(record: LogRecord): ShutdownReport {
  const { level: _level, event: _event, msg: _msg, time: _time, ...report } = record;
  return report as unknown as ShutdownReport;
}
