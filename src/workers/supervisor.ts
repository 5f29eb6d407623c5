/**
 * The primary: starts the workers, waits until every one listens, passes one drain on to all of
 * them, restarts crashed ones outside a drain (with a bounded backoff, giving up on a crash loop),
 * replaces them one at a time on a reload, and reports once for all. It serves nothing and runs
 * none of the user's parts. Time and processes are injected: unit tests drive it with fakes.
 * gunicorn's arbiter is the model (TERM drains, HUP spawns new workers before the old ones stop,
 * restarts only while running).
 */
import type { Clock } from "../time/clock.ts";
import type { Log } from "../log/logger.ts";
import { type Flush, flushBudget, flushWithin } from "../log/flush.ts";
import { signalMeaning } from "../process/process-watch.ts";
import { signalDeliveryWarning } from "../process/platform.ts";
import { REQUEST_GRACE_MS } from "../drain/request-grace.ts";
import * as events from "./events.ts";
import type { IgnoredSetting, RetiredUnclean } from "./events.ts";
import { aggregateReports, type WorkerEnd, workerOutcome } from "./aggregate.ts";
import {
  type AskedSettings,
  type FromWorker,
  isAskedSettings,
  isFromWorker,
  PORT_ENV,
  RELOAD_SIGNAL_ENV,
  type ToWorker,
  WORKER_ENV,
} from "./messages.ts";
import type { ListenInfo, LogRecord, ProcessAdapter, ShutdownReport, ShutdownSignal, WorkerEvents, WorkerProcess } from "../types.ts";
import { fatalError } from "../log/events.ts";
import { WATCHDOG_GRACE_MS } from "../drain/lifecycle.ts";

/** The first restart waits this long; each quick crash in a row doubles it. */
export const RESTART_BACKOFF_MS = 100;
/** The longest wait before a restart. */
export const RESTART_BACKOFF_MAX_MS = 10_000;
/** How long a reload waits, after its new worker died of a drain signal, for the primary's own copy of it. */
export const SIGNAL_SETTLE_MS = 1_000;
/** A worker that served this long before it died was not crash-looping: its slot starts over. */
export const STABLE_AFTER_MS = 10_000;
/** This many quick crashes in a row of one slot make the primary give up (exit 1). */
export const MAX_QUICK_CRASHES = 5;
/** A worker that does not listen within this is a failed start. */
export const WORKER_START_LIMIT_MS = 60_000;
/** After the deadline, workers get this long to exit on their own before SIGKILL. */
export const KILL_GRACE_MS = 2_000;
/**
 * In a drain, once the workers left have never listened, they get this long to say their drain
 * began before they are sent SIGTERM (a worker still loading its entry cannot take the order).
 * Generous: on a loaded machine the message can be late, and a SIGTERM to a worker that is
 * draining already would be its second signal (forced).
 */
export const STRAGGLER_GRACE_MS = 2_000;
/**
 * A worker replaced by a reload holds its responses until no kept-alive request has come for this
 * long (5 ms in a drain): its clients, stalled by a loaded machine, send the request they were about
 * to send into the hold, not into the connection its close ends (its new worker serves meanwhile).
 */
export const RELOAD_HOLD_QUIET_MS: number = REQUEST_GRACE_MS;

/** What the supervisor is given: the processes it may start, the primary's process, and the settings. */
export interface SupervisorSetup {
  spawn(env: Record<string, string>, events: WorkerEvents): WorkerProcess;
  /** Told as the whole service's drain begins (Node's primary then closes, not moves, a stopping worker's idle connections). */
  serviceDraining?(): void;
  /** Workers asked for port 0 share one port without help (node:cluster). */
  sharesPortZero: boolean;
  /** The primary's own process: its signals, its exit, who started it. */
  own: ProcessAdapter;
  clock: Clock;
  log: Log;
  /**
   * Writes what the logger holds (pino's asynchronous destination), awaited before the exit so the
   * primary's `drain.end` is the last line, as in one process. Undefined for loggers that write at once.
   */
  flush?: Flush;
  runtime: string;
  mode: string;
  count: number;
  countFrom: string;
  /** What the entry asked for (`"auto"`, or a number): a reload's new code asking for the same count asks for nothing new. @default count */
  workersAsked?: number | "auto";
  port: number;
  hostname: string;
  timeout: number;
  signals: readonly ShutdownSignal[];
  reloadSignal: ShutdownSignal | false;
  exit: boolean;
  /**
   * Uncaught exceptions and unhandled rejections in the primary start the drain of every worker
   * (exit 1), as in one process. @default true
   */
  fatalErrors?: boolean;
  /** Extra fields of the `listening` line (the workers' drain settings). */
  startup: Record<string, unknown>;
  onListen?: (info: ListenInfo) => void;
}

type State = "starting" | "running" | "draining" | "stopped";

interface Worker {
  slot: number;
  proc: WorkerProcess;
  listenedAt: number | undefined;
  listening: Promise<ListenInfo>;
  exited: Promise<void>;
  exit: { code: number | null; signal: string | null } | undefined;
  report: ShutdownReport | undefined;
  startError: string | undefined;
  /** Told to drain (by the drain or a reload). */
  drainSent: boolean;
  /** The port it was told to listen on (PORT_ENV), 0 for none. */
  askedPort: number;
  /** What its entry asked for of the settings only this primary applies (said with its listening message). */
  asked: AskedSettings | undefined;
  /** Said its drain began (the primary's order, or a signal it got itself). */
  draining: boolean;
  /** Said its listeners closed (every drain does); told so when every worker's had, or at once outside a drain. */
  listenersClosed: "no" | "yes" | "told";
}

interface Drain {
  reason: ShutdownReport["reason"];
  signal: ShutdownSignal | undefined;
  /** A fatal error in the primary came during it: never a clean exit. */
  fatal?: boolean;
  at: number;
  wallTime: number;
  workers: Worker[];
  /** The workers a reload had told to drain already when this drain began. */
  drainingBefore: Set<Worker>;
}

type Replaced = { from: number | undefined; to: number }[];

export class Supervisor {
  readonly #setup: SupervisorSetup;
  #state: State = "starting";
  /** The worker serving each slot (undefined while it waits for a restart). */
  readonly #slots: (Worker | undefined)[];
  /** Every worker process alive: slot holders, reload candidates, retiring ones. */
  readonly #live = new Set<Worker>();
  readonly #crashes: number[];
  readonly #restartTimers: ((() => void) | undefined)[];
  #port: number;
  /** The port the `listening` line said, once every worker listened. */
  #announcedPort: number | undefined;
  /** Fails the start when a worker that listened exits before every worker listens. */
  #failStart: (error: Error) => void = () => {};
  #drain: Drain | undefined;
  #forcedBy: ShutdownReport["forcedBy"];
  #errors: string[] = [];
  #reloading = false;
  /** The reload under way: the workers it has replaced so far (said by reload.stopped if a drain cuts it short). */
  #reloadReplaced: Replaced | undefined;
  /** A reload's new worker that a drain signal ended as it loaded, while the primary's own copy is on its way. */
  #lostToSignal: Worker | undefined;
  /** The drain's workers that never listened are being given their grace (once per drain). */
  #stragglersWatched = false;
  #cancelStragglers = () => {};
  #cancelGuard = () => {};
  #unsubscribe: (() => void)[] = [];
  readonly #controller = new AbortController();
  #resolveReady!: (info: ListenInfo) => void;
  #rejectReady!: (error: Error) => void;
  #resolveFinished!: (report: ShutdownReport) => void;
  /** Resolves once every worker listens; rejects when one could not start. */
  readonly ready: Promise<ListenInfo>;
  /** The one report, once every worker has exited. */
  readonly finished: Promise<ShutdownReport>;

  constructor(setup: SupervisorSetup) {
    this.#setup = setup;
    this.#port = setup.port;
    this.#slots = Array.from({ length: setup.count }, () => undefined);
    this.#crashes = Array.from({ length: setup.count }, () => 0);
    this.#restartTimers = Array.from({ length: setup.count }, () => undefined);
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {});
    this.finished = new Promise((resolve) => (this.#resolveFinished = resolve));
  }

  /** Aborted the moment the drain starts. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The pids of the workers now serving, by slot. */
  /** The primary's lines, with its pid (the process lifecycle says its own through it). */
  get log(): Log {
    return this.#setup.log;
  }

  get pids(): number[] {
    return this.#slots.flatMap((w) => (w ? [w.proc.pid] : []));
  }

  /** Watch the signals and start the workers. */
  start(): void {
    const { own, signals, reloadSignal } = this.#setup;
    for (const signal of signals) this.#unsubscribe.push(own.onSignal(signal, () => this.#onSignal(signal)));
    if (reloadSignal) this.#unsubscribe.push(own.onSignal(reloadSignal, () => void this.reload()));
    // Unwatched, the primary's own crash would end it at once: no report, and on Deno its workers with it.
    if (this.#setup.fatalErrors !== false) {
      this.#unsubscribe.push(own.onFatalError((error, kind) => this.#onFatalError(fatalError(kind, error))));
    }
    void this.#startAll();
    // The primary is PID 1 in a container: say so when a shell or package manager may swallow SIGTERM.
    void Promise.resolve(own.processOrigin?.()).then((origin) => {
      const warning = signalDeliveryWarning(origin);
      if (warning !== undefined) this.#setup.log({ level: "warn", event: "signals.unreachable", msg: warning });
    }, () => {});
  }

  /** The drain a signal starts, as a call (reason "shutdown"); resolves to the one report. */
  shutdown(): Promise<ShutdownReport> {
    this.#begin("shutdown", undefined);
    return this.finished;
  }

  /**
   * Replace the workers one at a time: a new worker (the entry as it is on disk now) must listen
   * before the old one of its slot drains. A new worker that fails stops the reload; the old ones
   * keep serving.
   */
  async reload(): Promise<void> {
    if (this.#state !== "running") return this.#setup.log(events.reloadSkipped(`the primary is ${this.#state}`));
    if (this.#reloading) return this.#setup.log(events.reloadSkipped("a reload is in progress"));
    this.#reloading = true;
    const t0 = this.#setup.clock.now();
    const replaced: Replaced = [];
    this.#reloadReplaced = replaced;
    const notClean: RetiredUnclean[] = [];
    // The new code's settings that this primary keeps are said once per reload, by its first new worker.
    let settingsChecked = false;
    try {
      const fresh: Worker[] = [];
      // A new worker that died after it listened (its slot restarts it) stops the reload too: the
      // entry on disk crashes, and the old workers left are the ones that serve.
      const died = () => {
        const dead = fresh.find((w) => w.exit !== undefined);
        if (dead !== undefined) {
          this.#setup.log(events.reloadFailed(`worker ${dead.proc.pid} exited ${exitedHow(dead)} after it listened`, replaced));
        }
        return dead !== undefined;
      };
      // A drain that began meanwhile (state not "running") took every worker in, new ones too; its
      // start said reload.stopped.
      for (let slot = 0; slot < this.#setup.count; slot++) {
        if (this.#state !== "running" || died()) return;
        // A slot waiting for its restart gets the new worker now.
        this.#restartTimers[slot]?.();
        this.#restartTimers[slot] = undefined;
        const old = this.#slots[slot];
        const candidate = this.#spawn(slot);
        let info: ListenInfo;
        try {
          info = await this.#listened(candidate);
        } catch (error) {
          // A process-group signal kills a new worker still loading its entry as it reaches this
          // primary, whose own handler may run after that exit: no failed reload if a drain follows,
          // and the drain counts the worker (skipped: it never listened).
          if (this.#state === "running" && diedOf(candidate, this.#setup.signals)) {
            this.#lostToSignal = candidate;
            await new Promise<void>((resolve) => this.#setup.clock.setTimer(resolve, SIGNAL_SETTLE_MS));
            this.#lostToSignal = undefined;
          }
          if (this.#state !== "running") return;
          if (candidate.exit === undefined) this.#tellToDrain(candidate);
          return this.#setup.log(events.reloadFailed((error as Error).message, replaced));
        }
        if (this.#state !== "running") return; // the drain took the new worker in
        if (!settingsChecked && candidate.asked !== undefined) {
          settingsChecked = true;
          const ignored = ignoredSettings(this.#running(), candidate.asked, info.port);
          if (ignored.length > 0) this.#setup.log(events.reloadSettingsIgnored(ignored));
        }
        // Died between its listening message and now: the old worker keeps its slot.
        if (candidate.exit !== undefined) {
          return this.#setup.log(
            events.reloadFailed(`worker ${candidate.proc.pid} exited ${exitedHow(candidate)} after it listened`, replaced),
          );
        }
        this.#slots[slot] = candidate;
        this.#crashes[slot] = 0;
        fresh.push(candidate);
        replaced.push({ from: old?.proc.pid, to: candidate.proc.pid });
        if (old !== undefined && old.exit === undefined) {
          this.#tellToDrain(old, RELOAD_HOLD_QUIET_MS);
          await this.#exitedWithin(old, this.#setup.timeout + KILL_GRACE_MS);
          const end = uncleanEnd(old);
          if (end !== undefined) notClean.push(end);
        }
      }
      if (died() || this.#state !== "running") return;
      this.#setup.log(events.reloadDone(replaced, this.#setup.clock.now() - t0, notClean));
    } finally {
      this.#reloading = false;
      this.#reloadReplaced = undefined;
    }
  }

  async #startAll(): Promise<void> {
    const died = new Promise<never>((_, reject) => (this.#failStart = reject));
    died.catch(() => {});
    try {
      // With reusePort, port 0 would give each worker its own port: the first one picks it for all.
      const first = this.#spawn(0);
      this.#slots[0] = first;
      if (this.#port === 0 && !this.#setup.sharesPortZero) this.#port = (await this.#listened(first)).port;
      for (let slot = 1; slot < this.#setup.count && this.#state === "starting"; slot++) this.#slots[slot] = this.#spawn(slot);
      // A worker that listened and died before the others did is a failed start, not a restart:
      // the `listening` line would count a dead worker (and node:cluster would lose port 0 with it).
      const infos = await Promise.race([Promise.all(this.#slots.map((w) => this.#listened(w!))), died]);
      if (this.#state !== "starting") return;
      this.#state = "running";
      const info = { port: infos[0]!.port, hostname: this.#setup.hostname };
      this.#announcedPort = info.port;
      const { runtime, count, countFrom, mode, startup } = this.#setup;
      this.#setup.log(events.listening({ runtime, info, workers: count, workersFrom: countFrom, mode, pids: this.pids, startup }));
      this.#setup.onListen?.(info);
      this.#resolveReady(info);
    } catch (error) {
      if (this.#state !== "starting") return; // a drain began meanwhile: it ends the start
      const message = (error as Error).message;
      this.#errors.push(message);
      this.#setup.log(events.startFailed(message));
      this.#rejectReady(new Error(`serveGracefully: a worker failed to start: ${message}`));
      this.#begin("start-failed", undefined);
    }
  }

  #spawn(slot: number): Worker {
    let resolveListening!: (info: ListenInfo) => void;
    let rejectListening!: (error: Error) => void;
    let resolveExited!: () => void;
    const listening = new Promise<ListenInfo>((resolve, reject) => {
      resolveListening = resolve;
      rejectListening = reject;
    });
    listening.catch(() => {});
    const worker: Worker = {
      slot,
      proc: undefined as unknown as WorkerProcess,
      listenedAt: undefined,
      listening,
      exited: new Promise<void>((resolve) => (resolveExited = resolve)),
      exit: undefined,
      report: undefined,
      startError: undefined,
      drainSent: false,
      askedPort: this.#portToAsk(),
      asked: undefined,
      draining: false,
      listenersClosed: "no",
    };
    const env: Record<string, string> = { [WORKER_ENV]: String(slot) };
    if (worker.askedPort !== 0) env[PORT_ENV] = String(worker.askedPort);
    // Always set: empty, it overrides one this primary inherited (a primary started by a worker).
    env[RELOAD_SIGNAL_ENV] = this.#setup.reloadSignal || "";
    const cancelLimit = this.#setup.clock.setTimer(
      () => rejectListening(new Error(`worker ${worker.proc.pid} did not listen within ${WORKER_START_LIMIT_MS} ms`)),
      WORKER_START_LIMIT_MS,
    );
    worker.proc = this.#setup.spawn(env, {
      message: (message) => {
        if (!isFromWorker(message)) return;
        this.#onMessage(worker, message, () => {
          cancelLimit();
          resolveListening({ port: (message as { port: number }).port, hostname: (message as { hostname: string }).hostname });
        });
        if (message.sg === "start-failed") rejectListening(new Error(message.error));
      },
      exit: (code, signal) => {
        cancelLimit();
        worker.exit = { code, signal };
        this.#live.delete(worker);
        rejectListening(new Error(worker.startError ?? `worker ${worker.proc.pid} exited ${exitedHow(worker)} before it listened`));
        resolveExited();
        this.#onExit(worker);
      },
    });
    this.#live.add(worker);
    // Spawned during a drain (a reload's candidate cannot be: the reload stops first): drain it too.
    if (this.#state === "draining") this.#tellToDrain(worker);
    return worker;
  }

  #onMessage(worker: Worker, message: FromWorker, listened: () => void): void {
    if (message.sg === "listening") {
      worker.listenedAt = this.#setup.clock.now();
      worker.asked = isAskedSettings(message.asked) ? message.asked : undefined;
      listened();
      // A worker that listens after the drain started may have missed the first message: again.
      if (this.#state === "draining") this.#send(worker, { sg: "drain", signal: this.#drainSignal() });
    } else if (message.sg === "draining") {
      worker.draining = true;
      // Its backstop while this primary lives (the worker arms no watchdog of its own then): a
      // drain of its own (a signal to it alone, a fatal error) blocked past its deadline ends here.
      void this.#exitedWithin(worker, this.#setup.timeout + KILL_GRACE_MS);
    } else if (message.sg === "closed") {
      // Outside a drain of the service (a worker signalled alone, a reload's), or told already
      // (its second server): nothing to wait for.
      if (this.#state !== "draining" || worker.listenersClosed === "told") {
        worker.listenersClosed = "told";
        return this.#send(worker, { sg: "all-closed" });
      }
      worker.listenersClosed = "yes";
      this.#tellIfEveryListenerClosed();
    } else if (message.sg === "exiting") {
      // Read in order: its servers' stop (Node's handoff.stop) came before.
      this.#send(worker, { sg: "exit-ok" });
    } else if (message.sg === "start-failed") worker.startError = message.error;
    else worker.report = message.report;
  }

  /** The settings only this primary applies, as it runs with them. */
  #running(): RunningSettings {
    const { count, workersAsked, timeout, signals, reloadSignal } = this.#setup;
    return { workers: count, workersAsked: workersAsked ?? count, timeout, signals, reloadSignal };
  }

  #listened(worker: Worker): Promise<ListenInfo> {
    return worker.listening;
  }

  /**
   * The port a new worker is told. With reusePort, the first worker's (port 0 would give each its
   * own). node:cluster shares one listening socket per port asked for: a new worker asks what the
   * listening ones asked (another number would bind beside them: EADDRINUSE), and with none left
   * (every worker died) the port the `listening` line said, not a new random one.
   */
  #portToAsk(): number {
    if (!this.#setup.sharesPortZero) return this.#port;
    const listening = [...this.#live].find((w) => w.listenedAt !== undefined && w.exit === undefined);
    return listening?.askedPort ?? this.#announcedPort ?? this.#port;
  }

  /**
   * In a drain: once every worker that listened has said its listeners closed (or has exited), each
   * of them hears it and releases its held answers (worker.ts, listenersClosed).
   */
  #tellIfEveryListenerClosed(): void {
    if (this.#state !== "draining") return;
    const listened = [...this.#live].filter((w) => w.listenedAt !== undefined);
    if (listened.some((w) => w.listenersClosed === "no")) return;
    for (const worker of listened.filter((w) => w.listenersClosed === "yes")) {
      worker.listenersClosed = "told";
      this.#send(worker, { sg: "all-closed" });
    }
  }

  #onExit(worker: Worker): void {
    if (this.#state === "draining") {
      this.#tellIfEveryListenerClosed();
      return this.#finishIfDone();
    }
    if (this.#state === "starting" && this.#slots[worker.slot] === worker && worker.listenedAt !== undefined) {
      return this.#failStart(
        new Error(`worker ${worker.proc.pid} exited ${exitedHow(worker)} after it listened, before every worker listened`),
      );
    }
    // A reload's candidate or a retiring worker is the reload's business; a failed start, the start's.
    if (this.#state !== "running" || this.#slots[worker.slot] !== worker) return;
    this.#slots[worker.slot] = undefined;
    const now = this.#setup.clock.now();
    const quick = worker.listenedAt === undefined || now - worker.listenedAt < STABLE_AFTER_MS;
    const crashes = this.#crashes[worker.slot] = quick ? this.#crashes[worker.slot]! + 1 : 1;
    const { code, signal } = worker.exit!;
    // What the worker said of its end: it could not start, or its own drain (a crash drains first).
    const cause = worker.startError ?? worker.report?.errors[0];
    if (crashes >= MAX_QUICK_CRASHES) {
      this.#setup.log(events.crashLoop(worker.proc.pid, crashes, code, signal, cause));
      this.#errors.push(
        `worker ${worker.proc.pid} crashed ${crashes} times in a row right after starting, the last exited ${exitedHow(worker)}${
          cause === undefined ? "" : `: ${cause}`
        }`,
      );
      return this.#begin("error", undefined);
    }
    const delay = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MS * 2 ** (crashes - 1));
    this.#setup.log(events.workerExited(worker.proc.pid, code, signal, delay, crashes, { cause, report: worker.report }));
    this.#restartTimers[worker.slot] = this.#setup.clock.setTimer(() => {
      this.#restartTimers[worker.slot] = undefined;
      if (this.#state !== "running" || this.#slots[worker.slot] !== undefined) return;
      const fresh = this.#spawn(worker.slot);
      this.#slots[worker.slot] = fresh;
      this.#listened(fresh).then(() => this.#setup.log(events.workerRestarted(fresh.proc.pid, worker.proc.pid)), () => {});
    }, delay);
  }

  /** An uncaught exception or unhandled rejection in the primary: said, then every worker drains (exit 1). */
  #onFatalError(record: LogRecord): void {
    this.#setup.log(record);
    this.#errors.push(String(record.msg));
    if (this.#drain !== undefined) this.#drain.fatal = true;
    this.#begin("error", undefined);
  }

  #onSignal(signal: ShutdownSignal): void {
    const started = this.#drain && { signal: this.#drain.signal, at: this.#drain.at };
    const meaning = signalMeaning(started, signal, this.#setup.clock.now());
    if (meaning === "begin") this.#begin("signal", signal);
    else if (meaning === "adopt") Object.assign(this.#drain!, { signal, reason: "signal" });
    else if (meaning === "force") this.#force(signal);
  }

  /** One drain for every worker: each gets the signal once, nothing restarts from now on. */
  #begin(reason: ShutdownReport["reason"], signal: ShutdownSignal | undefined): void {
    if (this.#drain !== undefined || this.#state === "stopped") return;
    const clock = this.#setup.clock;
    this.#state = "draining";
    const lost = this.#lostToSignal === undefined ? [] : [this.#lostToSignal];
    const workers = [...this.#live, ...lost];
    const drainingBefore = new Set(workers.filter((w) => w.drainSent));
    this.#drain = { reason, signal, at: clock.now(), wallTime: clock.wallTime(), workers, drainingBefore };
    this.#controller.abort();
    for (const cancel of this.#restartTimers) cancel?.();
    // Said now: the drain may end the process before the reload's own code runs again.
    if (this.#reloadReplaced !== undefined) this.#setup.log(events.reloadStopped(this.#reloadReplaced));
    if (reason !== "start-failed") {
      this.#setup.log({
        level: "info",
        event: "drain.start",
        msg: `drain started (${signal ?? reason}) in ${events.workersText(this.#live.size)}`,
        reason,
        signal,
        pids: [...this.#live].map((w) => w.proc.pid),
        timeoutMs: this.#setup.timeout,
      });
    }
    this.#setup.serviceDraining?.();
    for (const worker of this.#live) this.#tellToDrain(worker);
    this.#tellIfEveryListenerClosed(); // a process-group signal may have closed them before this one came
    // The workers keep their own deadline; one still alive this long after it is killed.
    this.#cancelGuard = clock.setTimer(() => this.#killTheRest(), this.#setup.timeout + KILL_GRACE_MS);
    // The backstop of a primary whose own event loop is blocked (a write to a full log pipe).
    if (this.#exits(reason)) this.#setup.own.exitWatchdog?.(this.#setup.timeout + KILL_GRACE_MS + WATCHDOG_GRACE_MS, false);
    this.#finishIfDone();
  }

  #force(signal: ShutdownSignal): void {
    if (this.#forcedBy !== undefined) return;
    this.#forcedBy = "second-signal";
    // What it was waiting for: the workers still draining (each one's own drain.forced says its waits).
    const pids = [...this.#live].map((w) => w.proc.pid);
    this.#setup.log({
      level: "warn",
      event: "drain.forced",
      msg: `second signal ${signal}: stopping every worker now (${events.workersText(pids.length)} still draining: ${pids.join(", ")})`,
      forcedBy: "second-signal",
      signal,
      waitingForWorkers: pids,
    });
    for (const worker of this.#live) this.#send(worker, { sg: "force", signal });
  }

  #killTheRest(): void {
    const left = [...this.#live];
    if (left.length === 0) return;
    this.#forcedBy ??= "deadline";
    this.#setup.log(events.workerKilled(left.map((w) => w.proc.pid)));
    for (const worker of left) worker.proc.kill("SIGKILL");
  }

  #drainSignal(): ShutdownSignal {
    return this.#drain?.signal ?? this.#setup.signals[0] ?? "SIGTERM";
  }

  #tellToDrain(worker: Worker, holdQuietMs?: number): void {
    worker.drainSent = true;
    this.#send(worker, { sg: "drain", signal: this.#drainSignal(), ...(holdQuietMs === undefined ? {} : { holdQuietMs }) });
  }

  #send(worker: Worker, message: ToWorker): void {
    if (worker.exit === undefined) worker.proc.send(message);
  }

  /** Waits for a worker's exit; kills it when it takes longer than `ms`. */
  #exitedWithin(worker: Worker, ms: number): Promise<void> {
    const cancel = this.#setup.clock.setTimer(() => worker.proc.kill("SIGKILL"), ms);
    return worker.exited.then(cancel);
  }

  #finishIfDone(): void {
    if (this.#state !== "draining") return;
    // Every worker that listened is done; the ones left never listened (a reload's candidate still
    // loading its entry, a restart): nothing of theirs to drain, no reason to wait for the deadline.
    // One that says its drain began (a part still starting took the order or a process-group
    // signal) ends by itself: a signal from here would be its second, and force it. It is given
    // STRAGGLER_GRACE_MS to say so: a process-group signal reaches it and the primary at once.
    const left = [...this.#live];
    if (left.length > 0 && left.every((w) => w.listenedAt === undefined) && !this.#stragglersWatched) {
      this.#stragglersWatched = true;
      this.#cancelStragglers = this.#setup.clock.setTimer(() => {
        for (const worker of [...this.#live].filter((w) => w.listenedAt === undefined && !w.draining)) {
          worker.proc.kill("SIGTERM");
          void this.#exitedWithin(worker, KILL_GRACE_MS);
        }
      }, STRAGGLER_GRACE_MS);
    }
    if (this.#live.size > 0) return;
    this.#state = "stopped";
    this.#cancelGuard();
    this.#cancelStragglers();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    const drain = this.#drain!;
    const ends: WorkerEnd[] = drain.workers.map((w) => ({
      pid: w.proc.pid,
      report: w.report,
      code: w.exit!.code,
      signal: w.exit!.signal,
      listened: w.listenedAt !== undefined,
      drainingBefore: drain.drainingBefore.has(w),
    }));
    const report = aggregateReports({
      reason: drain.reason,
      signal: drain.signal,
      startedAt: drain.wallTime,
      durationMs: this.#setup.clock.now() - drain.at,
      forcedBy: this.#forcedBy,
      fatal: drain.fatal === true,
      // A failed start reports on the workers that did start; the start.failed line said the rest.
      workers: drain.reason === "start-failed" ? ends.filter((e) => e.report !== undefined) : ends,
      errors: this.#errors,
    });
    if (drain.reason !== "start-failed") this.#setup.log(drainEnd(report, this.#exits(drain.reason)));
    this.#resolveFinished(report);
    if (!this.#exits(drain.reason)) return;
    const { flush, clock, timeout, own } = this.#setup;
    if (flush === undefined) return own.exit(report.exitCode);
    // The report is the last line: a logger that writes asynchronously (pino) gets it out first,
    // within the same bounded wait as one process's drain.
    void flushWithin(clock, flush, flushBudget(drain.at + timeout - clock.now())).then(() => own.exit(report.exitCode));
  }

  #exits(reason: ShutdownReport["reason"]): boolean {
    // As with one process: a shutdown() call leaves the process running; a signal ends it.
    return this.#setup.exit && reason !== "shutdown";
  }
}

function drainEnd(report: ShutdownReport, exits: boolean) {
  const outcome = report.forced ? `forced (${report.forcedBy})` : "complete";
  const next = exits ? `exit ${report.exitCode}` : "process left running";
  const workers = report.workers ?? [];
  const msg = `drain ${outcome} in ${Math.round(report.durationMs)} ms over ${events.workersText(workers.length)} (${
    workers.map((w) => `${w.pid} ${w.outcome}`).join(", ")
  }), ${next}`;
  return { level: report.exitCode === 0 ? "info" as const : "error" as const, event: "drain.end", msg, ...report };
}

/** The settings only the primary applies, as it runs with them. */
export interface RunningSettings {
  workers: number;
  workersAsked: number | "auto";
  timeout: number;
  signals: readonly ShutdownSignal[];
  reloadSignal: ShutdownSignal | false;
}

/**
 * What a reload's new worker asked for that the running service does not take until a restart:
 * another port than the one it was given (`listenedPort`; port 0 asks for none in particular),
 * another workers count, a longer timeout (the primary kills a worker still running at its own
 * timeout + KILL_GRACE_MS; a shorter one each worker applies itself), other drain signals (the
 * primary's start every worker's drain), another reload signal. Its hostname, drain delay,
 * keep-alive timeout, health paths and the runtime's own options are the worker's and apply.
 */
export function ignoredSettings(running: RunningSettings, asked: AskedSettings, listenedPort: number): IgnoredSetting[] {
  const ignored: IgnoredSetting[] = [];
  if (asked.port !== 0 && asked.port !== listenedPort) ignored.push({ setting: "port", from: listenedPort, to: asked.port });
  if (asked.workers !== running.workersAsked && asked.workers !== running.workers) {
    ignored.push({ setting: "workers", from: running.workers, to: asked.workers });
  }
  if (asked.timeout > running.timeout) ignored.push({ setting: "timeout", from: running.timeout, to: asked.timeout });
  const sameSignals = asked.signals.length === running.signals.length && asked.signals.every((s) => running.signals.includes(s));
  if (!sameSignals) ignored.push({ setting: "signals", from: [...running.signals], to: [...asked.signals] });
  if (asked.reloadSignal !== running.reloadSignal) {
    ignored.push({ setting: "reloadSignal", from: running.reloadSignal, to: asked.reloadSignal });
  }
  return ignored;
}

/** How a worker's process ended: `with code 3`, `by SIGKILL`. */
function exitedHow(worker: Worker): string {
  const { code, signal } = worker.exit!;
  return signal !== null ? `by ${signal}` : `with code ${code}`;
}

/** How an old worker a reload replaced ended, when its drain was not clean; undefined when it was. */
function uncleanEnd(worker: Worker): RetiredUnclean | undefined {
  const { code, signal } = worker.exit ?? { code: null, signal: null };
  const report = worker.report;
  if (workerOutcome({ pid: worker.proc.pid, report, code, signal, listened: true }) === "stopped") return undefined;
  return {
    worker: worker.proc.pid,
    exitCode: code,
    ...(signal !== null && { signal }),
    forced: report?.forced ?? false,
    requestsCut: report?.requests.cut ?? 0,
    connectionsCut: report?.connectionsCut ?? 0,
  };
}

/** Whether the worker ended by one of the drain signals (a process group's, most likely). */
function diedOf(worker: Worker, signals: readonly ShutdownSignal[]): boolean {
  const signal = worker.exit?.signal;
  return signal != null && (signals as readonly string[]).includes(signal);
}
