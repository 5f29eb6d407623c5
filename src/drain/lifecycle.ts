/**
 * One process, one lifecycle: parts start in registration order, one signal drains every server
 * together, then the other parts stop in reverse order, all within one deadline, and one report
 * says what happened. The drain algorithm is `#shutdown`, read top to bottom.
 */
import { type Clock, sleep, systemClock, unlessCancelled } from "../time/clock.ts";
import { cutWhatIsLeft } from "./cut.ts";
import { deadlineBudget, describeWaiting, DrainWaits } from "./forced.ts";
import * as events from "../log/events.ts";
import type { ForcedFacts } from "../log/events.ts";
import { HOLD_MAX_MS, holdResponses, waitForQuiet } from "./hold.ts";
import {
  LIFECYCLE_BRAND,
  LIFECYCLE_PROTOCOL,
  type LifecycleSetup,
  type LifecycleState,
  type ServerLifecycle,
  type ServerSettings,
} from "./lifecycle-types.ts";
import { flushBudget, flushWithin } from "../log/flush.ts";
import { errorMessage, type Log, toLog } from "../log/logger.ts";
import {
  checkPart,
  type HookPart,
  LifecycleError,
  type Part,
  type PartOptions,
  type ServerPart,
  skipUnstarted,
  startPart,
  stopParts,
  stopReserve,
} from "./parts.ts";
import { ProcessWatch, signalMeaning } from "../process/process-watch.ts";
import { Readiness } from "./readiness.ts";
import { ReportErrors } from "./report-errors.ts";
import { buildReport, countsSince, emptyReport, serverReports, snapshot } from "./report.ts";
import { type LifecycleSettings, mergeSettings, settingsWithoutServers, willExit } from "./settings.ts";
import { type DrainableStream, endStreamOnAbort, type SSEMessage } from "./streams.ts";
import { TaskTracker } from "./tasks.ts";
import type { DeadlineBudget, RuntimeAdapter, ShutdownReport, ShutdownSignal, WaitingFor } from "../types.ts";

type Reason = ShutdownReport["reason"];

/** The one implementation of `Lifecycle`; users only see the interface. */
export class LifecycleController implements ServerLifecycle {
  readonly #runtime: RuntimeAdapter;
  readonly #clock: Clock;
  readonly #fatalErrors: boolean;
  #state: LifecycleState = "idle";
  #parts: Part[] = [];
  #started: Part[] = [];
  #tasks!: TaskTracker;
  #controller = new AbortController();
  /** Aborted once the listeners have closed: endOnDrain ends streams then (see endOnDrain). */
  #listenersClosed = new AbortController();
  #settings: LifecycleSettings | undefined;
  readonly #processWatch: ProcessWatch;
  #startSequence: Promise<void> = Promise.resolve();
  #shutdownStarted: { signal?: string; at: number; signalledLater?: boolean } | undefined;
  #forcedBy: ShutdownReport["forcedBy"];
  /** What a forced drain says: the budget that ran out, and what it was waiting for. */
  #forcing: { budget: DeadlineBudget; waitingFor: () => WaitingFor } | undefined;
  #forced: ForcedFacts | undefined;
  #force: () => void = () => {};
  #errors = new ReportErrors();
  #warnedLateTask = false;
  #finished!: Promise<ShutdownReport>;
  #resolveFinished!: (report: ShutdownReport) => void;
  /** What every server's /readyz reads: the startup gate and the parts' checks. */
  readonly readiness: Readiness;

  constructor(options: LifecycleSetup) {
    // The brand that serveGracefully checks (of this copy or another): not instanceof, see asServerLifecycle.
    Object.defineProperty(this, LIFECYCLE_BRAND, { value: LIFECYCLE_PROTOCOL });
    this.#runtime = options.runtime;
    this.#clock = options.clock ?? systemClock;
    this.#fatalErrors = options.fatalErrors ?? true;
    // The startup gate: /readyz is 503 until every part registered in this run has started.
    this.readiness = new Readiness(this.#clock, (record) => this.log(record), () => ({
      running: this.#state === "running",
      stopping: this.#state === "stopping" || this.#state === "stopped",
      parts: this.#parts,
      started: this.#started,
    }));
    this.#processWatch = new ProcessWatch(this.#runtime, {
      onSignal: (signal) => this.#onSignal(signal),
      onFatalError: (message) => {
        this.#errors.add(message);
        this.#begin("error");
      },
      log: (record) => this.log(record),
    });
    this.#reset();
  }

  /** Aborted the moment the drain starts: streaming handlers and consumers watch it to end cleanly. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The report of the current (or last) run, however its shutdown started. */
  get finished(): Promise<ShutdownReport> {
    return this.#finished;
  }

  /** Where the lifecycle is: idle, starting, running, stopping, stopped. */
  get state(): LifecycleState {
    return this.#state;
  }

  /** Register a part; it starts after every part registered before it (servers included). */
  add(part: PartOptions): this {
    const checked = checkPart(part);
    if (this.#shutdownStarted !== undefined) {
      const where = this.#state === "stopped" ? "has shut down" : "is shutting down";
      throw new LifecycleError(`cannot add "${checked.name}": the lifecycle ${where}; use createLifecycle() for a new one`);
    }
    this.#register(checked);
    return this;
  }

  /**
   * End a stream once the listeners close (after the drain delay, like WebSockets): send `last`
   * (an SSE message) if given, then close it. Not at the signal: an EventSource reconnects 3 s
   * after the end, and during the drain delay the balancer may still route it back here.
   */
  endOnDrain(stream: DrainableStream, last?: SSEMessage): void {
    endStreamOnAbort(this.#listenersClosed.signal, stream, last);
  }

  /** Keep the drain waiting for background work that belongs to no request. */
  waitUntil(promise: Promise<unknown>): void {
    this.#tasks.add(promise);
    // After the stop nothing waits for it. Said once per run, not thrown: the caller is often a
    // timer or a stream callback, where a throw would crash a process that meant to keep running.
    // The task still runs, and a rejection is still logged.
    if (this.#state === "stopped" && !this.#warnedLateTask) {
      this.#warnedLateTask = true;
      this.log(events.taskAfterShutdown());
    }
  }

  /** The same drain a signal starts; idempotent; resolves to the report. */
  shutdown(): Promise<ShutdownReport> {
    this.#begin("shutdown");
    return this.#finished;
  }

  /** The tracker every server's `executionCtx.waitUntil` feeds. */
  get tasks(): TaskTracker {
    return this.#tasks;
  }

  /** Used by serveGracefully: joins a server and merges its settings into the lifecycle's. */
  addServer(part: ServerPart, settings: ServerSettings): void {
    this.#register(part);
    this.#settings = mergeSettings(this.#settings, settings);
    this.#processWatch.watch(this.#settings.signals, this.#fatalErrors && this.#settings.fatalErrors);
  }

  /** Logs through the first server's logger (console JSON when there is none). */
  log: Log = (record) => (this.#settings?.log ?? toLog(undefined))(record);

  #register(part: Part): void {
    if (this.#state === "stopping") throw new LifecycleError(`cannot add "${part.name}": the lifecycle is shutting down`);
    if (this.#state === "stopped") this.#reset();
    if (part.kind === "part" && this.#parts.some((p) => p.name === part.name)) {
      throw new LifecycleError(`cannot add "${part.name}": a part with that name is already registered`);
    }
    if (part.kind === "server") {
      // What `ready` rejects with was logged and reported here: it must not come back as fatal.
      const reject = part.rejectReady;
      part.rejectReady = (error) => (this.#processWatch.answered(error), reject(error));
    }
    this.#parts.push(part);
    if (this.#state === "idle" || this.#state === "running") {
      this.#state = "starting";
      // The start sequence runs right after the synchronous calls that registered the parts.
      this.#startSequence = Promise.resolve().then(() => this.#runStarts());
    }
  }

  /** Start every registered part in order; a failure rolls back through the shutdown path. */
  async #runStarts(): Promise<void> {
    for (let i = this.#started.length; i < this.#parts.length; i = this.#started.length) {
      if (this.#state !== "starting") return;
      const part = this.#parts[i]!;
      try {
        const info = await startPart(part, this.#clock);
        this.#started.push(part);
        if (part.kind === "part") this.log(events.partStarted(part.name));
        else {
          this.log(events.listening(part.name, this.#runtime.name, info!, part.startup));
          part.onListen(info!);
          part.resolveReady(info!);
        }
      } catch (error) {
        if (part.kind === "server") part.rejectReady(error);
        this.#errors.add(`${part.name}: ${errorMessage(error)}`);
        this.log(events.startFailed(part.name, error));
        this.#begin("start-failed");
        return;
      }
    }
    if (this.#state === "starting") this.#state = "running";
  }

  #begin(reason: Reason, signal?: string): void {
    if (this.#shutdownStarted !== undefined) return;
    this.#shutdownStarted = { signal, at: this.#clock.now() };
    if (this.#state === "idle" && this.#tasks.pending === 0) {
      // Nothing was ever registered and no work is pending: nothing to drain.
      this.#state = "stopped";
      return this.#resolveFinished(emptyReport(reason, signal, this.#clock.wallTime()));
    }
    this.#state = "stopping";
    this.#shutdown(reason, signal).catch((error) => {
      // The drain itself must never fail; if it does, say so and still end.
      this.log(events.drainCrashed(error));
      this.#runtime.exit(1);
    });
  }

  async #shutdown(reason: Reason, signal: string | undefined): Promise<ShutdownReport> {
    const clock = this.#clock;
    const settings = this.#settings ?? settingsWithoutServers(this.log);
    const startedAt = clock.wallTime();
    const t0 = clock.now();
    const forced = new Promise<void>((resolve) => (this.#force = resolve));
    const hookParts = () => this.#started.filter((p): p is HookPart => p.kind === "part");
    const drainDelay = reason === "start-failed" ? 0 : settings.drainDelay;
    // The stops' reserve comes out of the time after the drain delay, so the delay never eats it.
    const budget = deadlineBudget(settings.timeout, stopReserve(hookParts(), settings.timeout - drainDelay));
    const waits = new DrainWaits();
    const startedServers = () => this.#started.filter((p): p is ServerPart => p.kind === "server");
    this.#forcing = { budget, waitingFor: () => waits.now(startedServers(), this.#tasks) };
    const cancelDeadline = clock.setTimer(() => this.#forceNow("deadline"), budget.budgetMs);

    // 1. Announce: parts not yet started never start; streams and consumers see lifecycle.signal;
    //    every server (even one still starting) answers /readyz with 503 and closes each
    //    connection after its response. Then wait for a start in progress to end.
    const registered = () => this.#parts.filter((p): p is ServerPart => p.kind === "server");
    for (const server of registered()) server.state.draining = true;
    this.#controller.abort();
    const atStart = snapshot(registered(), this.#tasks);
    // A failed start already said so (start.failed): a rollback is not announced as a drain.
    if (reason !== "start-failed") {
      const facts = { requestsInFlight: atStart.inFlight, tasksPending: atStart.tasksPending, drainDelayMs: drainDelay };
      this.log(events.drainStart({ reason, signal, ...facts, timeoutMs: settings.timeout }));
    }
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
    //    longer delay has rotated the busy clients already, so the listeners close as it ends.
    const release = holdResponses(servers);
    if (servers.length > 0) await waitForQuiet(clock, servers, forced, tAnnounced + HOLD_MAX_MS);

    // 4. Stop accepting: close every listener (Bun and Deno close the idle connections too). When
    //    the process ends right after and nothing is left to do (no request, response, task or part
    //    to stop), servers that say they are idle are left to the exit, which closes listeners and
    //    connections at once; no I/O is polled before it, so nothing new arrives meanwhile.
    const ending = willExit(settings, this.#exitReason(reason));
    const leftToExit = ending && this.#forcedBy === undefined && hookParts().length === 0 && this.#tasks.pending === 0 &&
      servers.every((s) => s.state.idle && s.listening!.idleForExit?.() === true);
    const closed = leftToExit ? [] : servers.map((server) => waits.closing(server.name, server.listening!.close()));

    // 5. Release the held responses, each with `Connection: close`: its connection closes after it.
    //    A runtime whose close acts later (Deno) gets that moment first. Streams given to endOnDrain
    //    end now: a client that reconnects can no longer reach this instance.
    if (!leftToExit) await Promise.race([Promise.all(servers.map((s) => s.listening!.closeActed?.())), forced]);
    this.#listenersClosed.abort();
    release();

    // 6. Wait, until the deadline, for running handlers and waitUntil tasks; then close the
    //    connections left idle; then wait for open streams to end. When the process ends right
    //    after, idle connections are left to the exit, which closes them all at once.
    const exiting = ending && servers.every((s) => s.listening!.responsesDone);
    const drained = leftToExit || await unlessCancelled(forced, async () => {
      await Promise.all([...servers.map((s) => s.state.whenIdle()), this.#tasks.idle()]);
      if (exiting) {
        await Promise.all(servers.map((s) => s.listening!.responsesDone!()));
      } else {
        for (const server of servers) server.listening!.closeIdle();
        await Promise.all(closed);
      }
      // A request served on a connection that was still open may have added a task.
      await this.#tasks.idle();
    });
    const t2 = clock.now();

    // 7. Cut what is left: the deadline passed or a second signal came.
    const { cut, leftOpen } = drained ? { cut: undefined, leftOpen: false } : cutWhatIsLeft(servers, this.#tasks);
    if (leftOpen && !settings.exit) this.log(events.drainLeftOpen(this.#runtime.name));

    // 8. Stop the other parts in reverse start order, each within its timeout and the time left.
    cancelDeadline();
    const [onError, secondSignal] = [(message: string) => this.#errors.add(message), () => this.#forcedBy === "second-signal"];
    const stops = { clock, deadline: t0 + settings.timeout, secondSignal, log: this.log, onError, during: waits.during.bind(waits) };
    const parts = [...(await stopParts(hookParts().reverse(), stops)), ...skipUnstarted(this.#parts, this.#started)];

    // 9. Report once, stop listening to the process, and exit when the process is ours to end.
    const timings = { startedAt, durationMs: clock.now() - t0, drainDelayMs: t1 - tAnnounced, drainMs: t2 - t1 };
    const counts = countsSince(atStart, snapshot(servers, this.#tasks), cut);
    const allParts = [...serverReports(servers, drained, this.#forcedBy, t2 - t0), ...parts];
    const report = buildReport({
      reason,
      signal,
      ...timings,
      counts,
      parts: allParts,
      ...this.#errors.forReport,
      forcedBy: this.#forcedBy,
      forced: this.#forced,
    });
    const exits = willExit(settings, this.#exitReason(reason));
    // A failed start said so in its one start.failed line; its rollback logs each part it stops.
    if (reason !== "start-failed") this.log(events.drainEnd(report, exits));
    this.#state = "stopped";
    this.#processWatch.stop();
    this.#resolveFinished(report);
    if (exits) {
      // A few promise turns first, so code awaiting `finished` runs before the process ends (not a
      // timer: with 1,000 sockets just closed, a timer waits behind their close events).
      for (let turn = 0; turn < 3; turn++) await Promise.resolve();
      // The report is the last line: a logger that writes asynchronously (pino) gets it out first.
      await flushWithin(clock, settings.flush, flushBudget(t0 + settings.timeout - clock.now()));
      this.#runtime.exit(report.exitCode);
    }
    return report;
  }

  #forceNow(by: NonNullable<ShutdownReport["forcedBy"]>, signal?: ShutdownSignal): void {
    if (this.#forcedBy !== undefined) return;
    this.#forcedBy = by;
    // Before the drain ran (a lifecycle that never had a part), only tasks can be pending.
    const waitingFor = this.#forcing?.waitingFor() ?? new DrainWaits().now([], this.#tasks);
    const budget = by === "deadline" ? this.#forcing?.budget : undefined;
    this.#forced = { budget, waitingFor, waiting: describeWaiting(waitingFor) };
    this.log(events.drainForced(by, this.#forced, signal));
    this.#force();
  }

  /** A drain that shutdown() or an error started becomes signal-managed when a signal comes during it. */
  #exitReason(reason: Reason): Reason {
    return this.#shutdownStarted?.signalledLater ? "signal" : reason;
  }

  #onSignal(signal: ShutdownSignal): void {
    const meaning = signalMeaning(this.#shutdownStarted, signal, this.#clock.now());
    if (meaning === "begin") this.#begin("signal", signal);
    else if (meaning === "adopt") Object.assign(this.#shutdownStarted!, { signal, at: this.#clock.now(), signalledLater: true });
    else if (meaning === "force") this.#forceNow("second-signal", signal);
  }

  #newTaskTracker(): TaskTracker {
    return new TaskTracker((error) => {
      // Kept for the report from the drain's start only (as tasks.failed); earlier ones are logged.
      if (this.#controller.signal.aborted) this.#errors.add(`waitUntil task: ${errorMessage(error)}`);
      this.log(events.taskFailed(error));
    });
  }

  /** A new run: at construction, and when a stopped lifecycle gets a new part. */
  #reset(): void {
    this.#state = "idle";
    this.#parts = [];
    this.#started = [];
    this.#tasks = this.#newTaskTracker();
    this.#controller = new AbortController();
    this.#listenersClosed = new AbortController();
    this.#settings = undefined;
    this.#shutdownStarted = undefined;
    this.#forcedBy = undefined;
    this.#forcing = undefined;
    this.#forced = undefined;
    this.#errors = new ReportErrors();
    this.#warnedLateTask = false;
    this.#finished = new Promise((resolve) => (this.#resolveFinished = resolve));
  }
}
