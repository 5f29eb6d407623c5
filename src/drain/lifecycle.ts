/**
 * One process, one lifecycle: parts start in registration order, one signal drains every server
 * together, then the other parts stop in reverse order, all within one deadline, and one report
 * says what happened. The drain algorithm is `#shutdown`, read top to bottom.
 */
import { type Clock, sleep, systemClock, unlessCancelled, withExitTimer } from "../time/clock.ts";
import { cutWhatIsLeft } from "./cut.ts";
import { deadlineBudget, DrainWaits, forcedFacts } from "./forced.ts";
import type { ExitGate } from "../process/process-exit.ts";
import * as events from "../log/events.ts";
import { flushBudget, flushWithin } from "../log/flush.ts";
import { endAfterCrash } from "./crash.ts";
import { holdEnd, holdResponses, waitForQuiet } from "./hold.ts";
import { LIFECYCLE_BRAND, LIFECYCLE_PROTOCOL } from "./lifecycle-types.ts";
import type {
  Drain,
  LifecycleSetup,
  LifecycleState,
  PrimaryRun,
  Run,
  ServerLifecycle,
  ServerRefusal,
  ServerSettings,
} from "./lifecycle-types.ts";
import { errorMessage, type Log, toLog } from "../log/logger.ts";
import { announceStart, announceStartFailed, checkPart, LifecycleError, refuseDuplicate, skipUnstarted, type StartEnd } from "./parts.ts";
import { startPart, stopParts, stopReserve } from "./parts.ts";
import type { HookPart, Part, PartOptions, ServerPart, StartedPart, StartedServer } from "./parts.ts";
import { ProcessWatch, signalMeaning } from "../process/process-watch.ts";
import { Readiness } from "./readiness.ts";
import { ReportErrors } from "./report-errors.ts";
import { buildReport, countsSince, emptyReport, serverReports, snapshot } from "./report.ts";
import { type LifecycleSettings, mergeSettings, settingsWithoutServers, willExit } from "./settings.ts";
import { checkDrainable, type DrainableStream, endStreamOnAbort, type SSEMessage } from "./streams.ts";
import { TaskTracker } from "./tasks.ts";
import type { DeadlineBudget, LoggerOption, RuntimeAdapter, ShutdownReport, ShutdownSignal, WaitingFor } from "../types.ts";

/** The moves a run may make (as fx checks its state in Start and Stop); anything else is a bug here. */
const MOVES: Record<LifecycleState, readonly LifecycleState[]> = {
  idle: ["starting", "stopping", "stopped"],
  starting: ["running", "stopping"],
  running: ["starting", "stopping"],
  stopping: ["stopping", "stopped"], // a signal during the drain is adopted or forces it: still stopping
  stopped: ["starting"], // a server joining a stopped lifecycle begins a new run
};

/**
 * The exit watchdog fires this long after the deadline: the drain's own path (the stops within the
 * timeout, the logger's flush within 250 ms) has ended the process well before, unless it is blocked.
 */
export const WATCHDOG_GRACE_MS = 2_000;

/** The one implementation of `Lifecycle` (members documented there and on `ServerLifecycle`); users only see the interface. */
export class LifecycleController implements ServerLifecycle {
  readonly #runtime: RuntimeAdapter;
  readonly #clock: Clock;
  readonly #fatalErrors: boolean;
  #run: Run = { state: "idle" };
  #parts: Part[] = [];
  #started: StartedPart[] = [];
  /** Parts whose start failed in this run, with why: reported failed, not skipped. */
  #failedStarts = new Map<Part, StartEnd>();
  /** The part whose start is running, since when: cut, not skipped, if a forced drain ends first. */
  #starting: { part: Part; at: number } | undefined;
  #tasks!: TaskTracker;
  #controller!: AbortController;
  #listenersClosed!: AbortController; // aborted once the listeners have closed: endOnDrain ends streams then
  #settings: LifecycleSettings | undefined;
  /** Set by holdStarts(): parts are registered but not started, until a server joins. */
  #startsHeld = false;
  readonly #logFields: Record<string, unknown> | undefined;
  /** Where lines go before a server has joined (its logger speaks for the lifecycle after). */
  #logBeforeServers: Log;
  readonly #processWatch: ProcessWatch;
  #startSequence: Promise<void> = Promise.resolve();
  #force: () => void = () => {};
  /** What a forced drain will say: the budget that runs out, and what it is waiting for. */
  #forcing: { budget: DeadlineBudget; waitingFor: () => WaitingFor } | undefined;
  #errors = new ReportErrors();
  #lateTasks = 0; // waitUntil calls after the stop in this run: the first one is said
  #finished!: Promise<ShutdownReport>;
  #resolveFinished!: (report: ShutdownReport) => void;
  /** Set in the primary of `workers`: its drain and report stand for this lifecycle's. */
  #primary: PrimaryRun | undefined;
  /** What every server's /readyz reads: the startup gate and the parts' checks. */
  readonly readiness: Readiness;
  readonly #tellPrimaryStartFailed: ((error: string) => Promise<void>) | undefined;
  readonly #exitGate: ExitGate | undefined;

  constructor(options: LifecycleSetup) {
    // The brand that serveGracefully checks (of this copy or another): not instanceof, see asServerLifecycle.
    Object.defineProperty(this, LIFECYCLE_BRAND, { value: LIFECYCLE_PROTOCOL });
    this.#runtime = options.runtime;
    this.#clock = options.clock ?? systemClock;
    this.#fatalErrors = options.fatalErrors ?? true;
    this.#logFields = options.logFields;
    this.#tellPrimaryStartFailed = options.tellPrimaryStartFailed;
    this.#exitGate = options.exitGate;
    this.#logBeforeServers = toLog(undefined, this.#logFields);
    // The startup gate: /readyz is 503 until every part registered in this run has started.
    const gate = () => ({
      running: this.#run.state === "running",
      stopping: "drain" in this.#run,
      parts: this.#parts,
      started: this.#started,
    });
    this.readiness = new Readiness(this.#clock, (record) => this.log(record), gate);
    this.#processWatch = new ProcessWatch(this.#runtime, {
      onSignal: (signal) => this.#onSignal(signal),
      onForce: (signal) => (this.#begin("signal", signal), this.#forceNow("second-signal", signal)),
      onFatalError: (message) => this.#onFatalError(message),
      log: (record) => this.log(record),
    });
    this.#newRun();
  }

  get signal(): AbortSignal {
    return this.#primary?.signal ?? this.#controller.signal;
  }

  get finished(): Promise<ShutdownReport> {
    return this.#primary?.finished ?? this.#finished;
  }

  get state(): LifecycleState {
    return this.#run.state;
  }

  /** See ServerRefusal. */
  serverRefusal: ServerRefusal | undefined;

  add(part: PartOptions): this {
    this.#register(checkPart(part));
    return this;
  }

  endOnDrain(stream: DrainableStream, last?: SSEMessage): void {
    checkDrainable(stream, last);
    endStreamOnAbort(this.#listenersClosed.signal, stream, last);
  }

  waitUntil(promise: Promise<unknown>): void {
    this.#tasks.add(promise);
    // After the stop nothing waits for it (it runs, a rejection is logged). Said once per run, not thrown:
    // the caller is often a timer or a stream callback, where a throw would crash a running process.
    if (this.#run.state === "stopped" && this.#lateTasks++ === 0) this.log(events.taskAfterShutdown());
  }

  shutdown(): Promise<ShutdownReport> {
    if (this.#primary !== undefined) return this.#primary.shutdown();
    this.#begin("shutdown");
    return this.#finished;
  }

  becomePrimary(primary: PrimaryRun): void {
    this.#primary = primary;
    // Its lines (the parts it stops here) carry the primary's pid, as every other primary line does.
    if (primary.log !== undefined) this.#logBeforeServers = primary.log;
    // Parts registered so far never start here: the start sequence finds the run already running.
    if (this.#run.state === "idle") this.#moveTo({ state: "starting" });
    if (this.#run.state === "starting") this.#moveTo({ state: "running" });
    void this.#stopPartsStartedHere().catch(() => {});
  }

  /**
   * Parts registered from now on wait instead of starting, until a server joins (then they start
   * before it, in order): the command holds them before it imports the entry when this process will
   * be the primary of workers, which runs none, or only --check it.
   */
  holdStarts(): void {
    this.#startsHeld = true;
  }

  /**
   * The command could not get to serveGracefully (its entry threw, or is gone): in a worker of
   * `workers`, the primary's start.failed or reload.failed line says why. Nothing elsewhere.
   */
  startFailedBeforeServing(error: string): Promise<void> {
    return this.#tellPrimaryStartFailed?.(error) ?? Promise.resolve();
  }

  /**
   * Parts that started before this process became the primary (registered a turn before
   * serveGracefully: an await between them) are stopped, in reverse order: each worker runs them,
   * the primary none. One that is starting is let finish first.
   */
  async #stopPartsStartedHere(): Promise<void> {
    await this.#startSequence;
    const started = this.#started.filter((p): p is HookPart => p.kind === "hook");
    if (started.length === 0) return;
    this.#started = this.#started.filter((p) => p.kind !== "hook");
    this.log(events.partsInPrimary(started.map((p) => p.name)));
    const stops = { clock: this.#clock, deadline: Infinity, secondSignal: () => false, log: this.log, onError: () => {} };
    await stopParts(started.reverse(), stops);
  }

  get tasks(): TaskTracker {
    return this.#tasks;
  }

  addServer(part: ServerPart, settings: ServerSettings): void {
    this.#register(part);
    this.#settings = mergeSettings(this.#settings, settings);
    this.#processWatch.watch(this.#settings.signals, this.#fatalErrors && this.#settings.fatalErrors);
  }

  log: Log = (record) => (this.#settings?.log ?? this.#logBeforeServers)(record);

  /**
   * The logger for the lines said before a server joins: the command's --log-format, set before it
   * imports the entry, whose top-level parts start (and say so) while it is imported.
   */
  logBeforeServers(logger: LoggerOption | undefined): void {
    this.#logBeforeServers = toLog(logger, this.#logFields);
  }

  /**
   * Nothing joins a lifecycle while it stops. Once it has stopped, a server that joins begins a new
   * run (serveGracefully again after shutdown()); a part is refused, pointing to createLifecycle().
   */
  #register(part: Part): void {
    const { state } = this.#run;
    if (state === "stopping" || (state === "stopped" && part.kind === "hook")) {
      const where = state === "stopped" ? "has shut down" : "is shutting down";
      throw new LifecycleError(`cannot add "${part.name}": the lifecycle ${where}; use createLifecycle() for a new one`);
    }
    if (state === "stopped") this.#newRun();
    refuseDuplicate(part, this.#parts);
    // What `ready` rejects with was logged and reported here: it must not come back as fatal.
    if (part.kind === "server") part.rejectReady = this.#processWatch.answering(part.rejectReady);
    this.#parts.push(part);
    // A server that joins means this process serves: parts held for a primary start after all.
    if (part.kind === "server") this.#startsHeld = false;
    if (this.#primary !== undefined || this.#startsHeld) return; // the primary of `workers` starts no part: each worker does
    if (state !== "starting") {
      this.#moveTo({ state: "starting" });
      // The start sequence runs right after the synchronous calls that registered the parts.
      this.#startSequence = Promise.resolve().then(() => this.#runStarts());
    }
  }

  /** Start every registered part in order; a failure rolls back through the shutdown path. */
  async #runStarts(): Promise<void> {
    for (let i = this.#started.length; i < this.#parts.length; i = this.#started.length) {
      if (this.#run.state !== "starting") return;
      const part = this.#parts[i]!;
      const starting = (this.#starting = { part, at: this.#clock.now() });
      try {
        const started = await startPart(part, this.#clock);
        this.#starting = undefined;
        this.#started.push(started);
        announceStart(started, this.log, this.#runtime.name);
      } catch (error) {
        this.#starting = undefined;
        announceStartFailed(part, error, this.log);
        this.#errors.add(`${part.name}: ${errorMessage(error)}`);
        this.#failedStarts.set(part, { outcome: "failed", error: errorMessage(error), durationMs: this.#clock.now() - starting.at });
        this.#begin("start-failed");
        return;
      }
    }
    if (this.#run.state === "starting") this.#moveTo({ state: "running" });
  }

  /** The one place the run's state changes; a move the table does not allow is a bug here. */
  #moveTo(next: Run): void {
    if (!MOVES[this.#run.state].includes(next.state)) {
      throw new Error(`serve-gracefully: internal error: lifecycle moved from ${this.#run.state} to ${next.state}`);
    }
    this.#run = next;
  }

  /** The drain under way (or done), if it has begun. */
  get #drain(): Drain | undefined {
    return "drain" in this.#run ? this.#run.drain : undefined;
  }

  #begin(reason: Drain["reason"], signal?: ShutdownSignal): void {
    if (this.#drain !== undefined) return;
    const drain: Drain = { reason, signal, at: this.#clock.now(), signalledLater: false, forcedBy: undefined };
    if (this.#run.state === "idle" && this.#tasks.pending === 0) {
      // Nothing was ever registered and no work is pending: nothing to drain.
      this.#moveTo({ state: "stopped", drain });
      return this.#resolveFinished(emptyReport(reason, signal, this.#clock.wallTime()));
    }
    this.#moveTo({ state: "stopping", drain });
    this.#exitGate?.enter(this);
    // The drain itself must never fail; if it does, say so and still end.
    this.#shutdown(reason, signal).catch((error) => endAfterCrash(error, this.log, this.#clock, this.#settings?.flush, this.#runtime));
  }

  async #shutdown(reason: Drain["reason"], signal: ShutdownSignal | undefined): Promise<ShutdownReport> {
    const settings = this.#settings ?? settingsWithoutServers(this.log);
    // A drain that will end the process (none stops doing so midway) may take the runtime's exit
    // timers: the exit ends any it left pending.
    const clock = willExit(settings, reason) ? withExitTimer(this.#clock, this.#runtime) : this.#clock;
    // The drain's time counts from here, the signal, before the watchdog below takes its share.
    const startedAt = clock.wallTime();
    const t0 = clock.now();
    // A backstop past the deadline, on its own thread: an event loop blocked by a write to a full
    // log pipe (Bun's and Deno's console write synchronously) runs none of the timers below. Armed
    // before the first write; making its thread holds the event loop (Deno: ~40 ms, more on a busy
    // machine), so the deadline below is counted from t0, not from after it.
    const disarmWatchdog = willExit(settings, reason)
      ? this.#runtime.exitWatchdog?.(settings.timeout + WATCHDOG_GRACE_MS, settings.flush !== undefined)
      : undefined;
    const forced = new Promise<void>((resolve) => (this.#force = resolve));
    const hookParts = () => this.#started.filter((p): p is HookPart => p.kind === "hook");
    // A worker that a reload replaces: the service goes on (a new worker serves beside it), so a
    // balancer has nothing to notice: no drain delay, and /readyz keeps passing.
    const replacement = reason === "signal" ? this.#runtime.replacement?.() : undefined;
    const drainDelay = reason === "start-failed" || replacement !== undefined ? 0 : settings.drainDelay;
    // The stops' reserve comes out of the time after the drain delay, so the delay never eats it.
    const budget = deadlineBudget(settings.timeout, stopReserve(hookParts(), settings.timeout - drainDelay));
    const waits = new DrainWaits();
    const startedServers = () => this.#started.filter((p): p is StartedServer => p.kind === "server");
    this.#forcing = { budget, waitingFor: () => waits.now(startedServers(), this.#tasks) };
    const cancelDeadline = clock.setTimer(() => this.#forceNow("deadline"), Math.max(0, budget.budgetMs - (clock.now() - t0)));
    // Whether the process ends after the drain: a signal during a drain that shutdown() began makes it so.
    const endsProcess = () => willExit(settings, this.#drain!.signalledLater || this.#drain!.fatalLater ? "signal" : reason);
    // Whether it ends right after: not while another lifecycle drains (its listeners would stay open
    // meanwhile), and not when the exit itself waits on I/O (a worker's, for its primary's answer): a
    // request read meanwhile on a connection left open would run and be cut by the exit (a reload's
    // old worker: pooled keep-alive clients reset as it exited). Parts to stop and a logger to flush
    // poll I/O too, but closing 10,000 idle connections one by one costs ~0.5 s: see workers.md.
    const endsRightAfter = () => endsProcess() && (this.#exitGate?.alone(this) ?? true) && this.#runtime.exitPollsIo !== true;

    // 1. Announce: parts not yet started never start; streams and consumers see lifecycle.signal;
    //    every server (even one still starting) answers /readyz with 503 (unless a reload replaces
    //    this worker) and closes each connection after its response. Then wait for a start in
    //    progress to end.
    const registered = () => this.#parts.filter((p): p is ServerPart => p.kind === "server");
    const inService = () => this.#runtime.replacement?.() !== undefined;
    for (const server of registered()) {
      server.traffic.draining = true;
      if (replacement !== undefined) server.traffic.inService = inService;
    }
    this.#controller.abort();
    const atStart = snapshot(registered(), this.#tasks);
    // A failed start already said so (start.failed): a rollback is not announced as a drain.
    const startFacts = { requestsInFlight: atStart.inFlight, tasksPending: atStart.tasksPending, drainDelayMs: drainDelay };
    const replaced = replacement === undefined ? {} : { replaced: true as const };
    if (reason !== "start-failed") this.log(events.drainStart({ reason, signal, ...startFacts, timeoutMs: settings.timeout, ...replaced }));
    const starting = this.#parts[this.#started.length];
    await Promise.race([waits.during(starting && `start of "${starting.name}"`, this.#startSequence), forced]);
    const servers = startedServers();

    // 2. Drain delay: keep serving while load balancers notice the 503 and stop routing here.
    const tAnnounced = clock.now();
    await waits.during(drainDelay > 0 ? "drain delay" : undefined, sleep(clock, drainDelay, forced));
    const t1 = clock.now();

    // 3. Hold: responses wait until no kept-alive request has arrived for QUIET_MS. A busy keep-alive
    //    client sends the request it was about to send and waits for its answer, so any connection
    //    still idle after that is truly idle and closing it cuts nobody (not even a request the
    //    runtime has not read yet). It ends HOLD_MAX_MS after the delay began at the latest: a
    //    longer delay has rotated the busy clients already, so the listeners close as it ends. Where
    //    the close ends idle connections at once (Bun, Deno), quiet counts only from REQUEST_GRACE_MS
    //    after the last answer before the drain: that client's next request comes into the hold.
    const release = holdResponses(servers);
    const lastAnsweredAt = Math.max(-Infinity, ...servers.map((s) => s.traffic.lastAnsweredAt));
    const end = holdEnd(tAnnounced, t1, lastAnsweredAt);
    if (servers.length > 0) await waitForQuiet(clock, servers, forced, end, replacement?.holdQuietMs);

    // 4. Stop accepting: close every listener (Bun and Deno close the idle connections too). When
    //    the process ends right after and nothing is left to do (no request, response, task or part
    //    to stop), servers that say they are idle are left to the exit, which closes listeners and
    //    connections at once; no I/O is polled before it, so nothing new arrives meanwhile.
    const processEnds = endsRightAfter();
    const leaveServersToExit = processEnds && this.#drain?.forcedBy === undefined && hookParts().length === 0 &&
      this.#tasks.pending === 0 && servers.every((s) => s.traffic.idle && s.listening.idleForExit?.() === true);
    const closed = leaveServersToExit ? [] : servers.map((server) => waits.closing(server.name, server.listening.close()));

    // 5. Release the held responses, each with `Connection: close`: its connection closes after it.
    //    A runtime whose close acts later (Deno) gets that moment first. Streams given to endOnDrain
    //    end now: a client that reconnects can no longer reach this instance.
    if (!leaveServersToExit) await Promise.race([Promise.all(servers.map((s) => s.listening.stoppedAccepting?.())), forced]);
    //    A worker in a drain of the whole service, holding answers: once every worker's listeners
    //    have closed (a worker with none to release goes on: an idle drain's exit pays nothing).
    if (servers.length > 0 && this.#runtime.listenersClosed !== undefined) {
      const wholeService = reason === "signal" && this.#runtime.replacement?.() === undefined; // read again: a SIGTERM during a reload
      const holding = servers.some((s) => !s.traffic.idle);
      await Promise.race([this.#runtime.listenersClosed(wholeService && holding), forced]);
    }
    this.#listenersClosed.abort();
    // Clients blocked on a held answer sent nothing meanwhile: their idle connections are no proof.
    const answersHeld = servers.some((s) => s.traffic.answersHeld > 0);
    release();

    // 6. Wait, until the deadline, for running handlers and waitUntil tasks; then close the
    //    connections left idle; then wait for open streams to end. When the process ends right
    //    after, idle connections are left to the exit, which closes them all at once.
    const leaveIdleConnectionsToExit = processEnds && servers.every((s) => s.listening.responsesDone);
    const drained = leaveServersToExit || await unlessCancelled(forced, async () => {
      await Promise.all([...servers.map((s) => s.traffic.whenIdle()), this.#tasks.idle()]);
      if (leaveIdleConnectionsToExit) await Promise.all(servers.map((s) => s.listening.responsesDone!(answersHeld)));
      else await Promise.all([...servers.map((s) => s.listening.closeIdle(answersHeld)), ...closed]); // every closeIdle first, then the wait
      // A request served on a connection that was still open may have added a task.
      await this.#tasks.idle();
    });
    const t2 = clock.now();

    // 7. Cut what is left: the deadline passed or a second signal came.
    const { cut, leftOpen } = drained ? { cut: undefined, leftOpen: false } : cutWhatIsLeft(servers, this.#tasks);
    if (leftOpen && !settings.exit) this.log(events.drainLeftOpen(this.#runtime.name));

    // 8. Stop the other parts in reverse start order, each within its timeout and the time left.
    //    The whole timeout is the budget now: a stop it cuts, or leaves no time, forces the drain.
    cancelDeadline();
    this.#forcing = { budget: deadlineBudget(settings.timeout, 0), waitingFor: this.#forcing.waitingFor };
    const [onError, secondSignal] = [(message: string) => this.#errors.add(message), () => this.#drain?.forcedBy === "second-signal"];
    const deadlineReached = (step: string | undefined) => this.#forceNow("deadline", undefined, step);
    const stops = {
      clock,
      deadline: t0 + settings.timeout,
      secondSignal,
      log: this.log,
      onError,
      during: waits.during.bind(waits),
      deadlineReached,
    };
    const stopped = await stopParts(hookParts().reverse(), stops);
    const parts = [...stopped, ...skipUnstarted(this.#parts, this.#started, this.#startEnds(clock.now()))];

    // 9. Report once, stop listening to the process, and exit when the process is ours to end.
    const timings = { startedAt, durationMs: clock.now() - t0, drainDelayMs: t1 - tAnnounced, drainMs: t2 - t1 };
    const counts = countsSince(atStart, snapshot(servers, this.#tasks), cut);
    const { forcedBy, forced: whyForced } = this.#drain!;
    const allParts = [...serverReports(servers, drained, forcedBy, t2 - t0), ...parts];
    const facts = { counts, parts: allParts, ...this.#errors.forReport, forcedBy, forced: whyForced, fatal: this.#drain!.fatalLater };
    const report = buildReport({ reason, signal, ...timings, ...facts });
    // Asked again, not taken from phase 4: a signal during a drain that shutdown() began ends the process too.
    const exitNow = endsProcess();
    // A failed start said so in its one start.failed line; its rollback logs each part it stops.
    if (reason !== "start-failed") this.log(events.drainEnd(report, exitNow));
    this.#moveTo({ state: "stopped", drain: this.#drain! });
    // Watched until the exit: a rejected `ready` awaited at a module's top comes after it on Node 22+.
    if (!exitNow) this.#processWatch.stop();
    this.#resolveFinished(report);
    if (exitNow) {
      // Code awaiting `finished` runs first: a few promise turns (a timer waits behind 1,000 sockets' close events).
      for (let turn = 0; turn < 3; turn++) await Promise.resolve();
      // The report is the last line: a logger that writes asynchronously (pino) gets it out first.
      await flushWithin(clock, settings.flush, flushBudget(t0 + settings.timeout - clock.now()));
    }
    // Not ours to end the process now: another lifecycle's drain still runs, with its own deadline.
    if (!exitNow || !(this.#exitGate?.alone(this) ?? true)) disarmWatchdog?.();
    // Another lifecycle still draining in this process (a createLifecycle() beside this one) ends it.
    const exit = exitNow ? (code: number) => this.#runtime.exit(code) : undefined;
    if (this.#exitGate === undefined) exit?.(report.exitCode);
    else this.#exitGate.leave(this, report.exitCode, exit);
    return report;
  }

  /** How the starts that did not start a part ended: failed, or (at a forced end) still running. */
  #startEnds(now: number): ReadonlyMap<Part, StartEnd> {
    const starting = this.#starting;
    if (starting === undefined) return this.#failedStarts;
    const by = this.#drain?.forcedBy ?? "deadline";
    const error = `its start had not finished when the drain was forced (${by}); its stop was not run`;
    return new Map([...this.#failedStarts, [starting.part, { outcome: "cut", error, durationMs: now - starting.at }]]);
  }

  /** `step`: what it waited for when the caller knows better than the waits (a stop that just timed out). */
  #forceNow(by: NonNullable<Drain["forcedBy"]>, signal?: ShutdownSignal, step?: string): void {
    const drain = this.#drain;
    if (this.#run.state !== "stopping" || drain === undefined || drain.forcedBy !== undefined) return;
    const waiting = this.#forcing!.waitingFor();
    if (step !== undefined) waiting.step = step;
    const forced = forcedFacts(by, this.#forcing!.budget, waiting);
    this.#moveTo({ state: "stopping", drain: { ...drain, forcedBy: by, forced } });
    this.log(events.drainForced(by, forced, signal));
    this.#force();
  }

  /**
   * An uncaught exception or unhandled rejection (logged already): it begins the drain, or, during
   * one begun otherwise, makes its exit 1 and its end the process's, as the runtime would have.
   */
  #onFatalError(message: string): void {
    this.#errors.add(message);
    const drain = this.#drain;
    if (drain !== undefined && this.#run.state === "stopping") this.#moveTo({ state: "stopping", drain: { ...drain, fatalLater: true } });
    this.#begin("error");
  }

  #onSignal(signal: ShutdownSignal): void {
    const drain = this.#drain;
    const meaning = signalMeaning(drain, signal, this.#clock.now());
    if (meaning === "begin") this.#begin("signal", signal);
    else if (meaning === "adopt" && this.#run.state === "stopping") {
      this.#moveTo({ state: "stopping", drain: { ...drain!, signal, at: this.#clock.now(), signalledLater: true } });
    } else if (meaning === "force") this.#forceNow("second-signal", signal);
  }

  /** A new run's parts, tasks and report: at construction, and when a stopped lifecycle gets a new server. */
  #newRun(): void {
    this.#parts = [];
    this.#started = [];
    this.#failedStarts = new Map();
    this.#starting = undefined;
    this.#tasks = new TaskTracker((error) => {
      // Kept for the report from the drain's start only (as tasks.failed); earlier ones are logged.
      if (this.#drain !== undefined) this.#errors.add(`waitUntil task: ${errorMessage(error)}`);
      this.log(events.taskFailed(error));
    });
    this.#controller = new AbortController();
    this.#listenersClosed = new AbortController();
    this.#settings = undefined;
    this.#forcing = undefined;
    this.#errors = new ReportErrors();
    this.#lateTasks = 0;
    this.#finished = new Promise((resolve) => (this.#resolveFinished = resolve));
  }
}
