/**
 * One process, one lifecycle: parts start in registration order, one signal drains every server
 * together, then the other parts stop in reverse order, all within one deadline, and one report
 * says what happened. The drain algorithm is `#shutdown`, read top to bottom.
 */
import { type Clock, sleep, systemClock } from "./clock.ts";
import { errorMessage, errorStack, type Log, toLog } from "./logger.ts";
import {
  LIFECYCLE_BRAND,
  LIFECYCLE_PROTOCOL,
  type LifecycleOptions,
  type LifecycleState,
  type ServerLifecycle,
  type ServerSettings,
} from "./lifecycle-types.ts";
import { type LifecycleSettings, mergeSettings, settingsWithoutServers } from "./settings.ts";
import {
  callWithin,
  checkPart,
  type HookPart,
  LifecycleError,
  type Part,
  type PartOptions,
  PartTimeoutError,
  type ServerPart,
} from "./parts.ts";
import { ProcessWatch } from "./process-watch.ts";
import { type DrainableStream, endStreamOnAbort, type SSEMessage } from "./streams.ts";
import { Readiness } from "./readiness.ts";
import { ReportErrors } from "./report-errors.ts";
import { buildReport, type DrainCounts } from "./report.ts";
import { TaskTracker } from "./tasks.ts";
import type { ListenInfo, PartReport, RuntimeAdapter, ShutdownReport, ShutdownSignal } from "./types.ts";

/**
 * The hold before the listeners close: it ends once no request arrived for QUIET_MS (a timer that
 * spans at least one I/O poll, so requests already sent are read first), and lasts HOLD_MAX_MS at most.
 */
export const QUIET_MS = 5;
export const HOLD_MAX_MS = 250;

/** The same signal again within this window is the same event (npm and a terminal both pass on one Ctrl+C). */
export const SIGNAL_REPEAT_WINDOW_MS = 250;

interface Snapshot {
  inFlight: number;
  served: number;
  cut: number;
  tasksPending: number;
  tasksSettled: number;
  tasksFailed: number;
}

type Reason = ShutdownReport["reason"];

export type { ServerSettings };

/** What the core builds a lifecycle from: the public options plus the runtime and a clock. */
export interface LifecycleSetup extends LifecycleOptions {
  /** The runtime's signals, exit and servers; adapters pass theirs. */
  runtime: RuntimeAdapter;
  /** @default the system clock */
  clock?: Clock;
}

/** The one implementation of `Lifecycle`; users only see the interface. */
export class LifecycleController implements ServerLifecycle {
  readonly #runtime: RuntimeAdapter;
  readonly #clock: Clock;
  readonly #fatalErrors: boolean;
  #state: LifecycleState = "idle";
  #parts: Part[] = [];
  #started: Part[] = [];
  #tasks: TaskTracker;
  #controller = new AbortController();
  #settings: LifecycleSettings | undefined;
  readonly #processWatch: ProcessWatch;
  #startSequence: Promise<void> = Promise.resolve();
  #shutdownStarted: { signal?: string; at: number } | undefined;
  #forcedBy: ShutdownReport["forcedBy"];
  #force: () => void = () => {};
  #errors = new ReportErrors();
  #finished!: Promise<ShutdownReport>;
  #resolveFinished!: (report: ShutdownReport) => void;
  readonly #readiness: Readiness;

  constructor(options: LifecycleSetup) {
    // The brand that serveGracefully checks (of this copy or another): not instanceof, see asServerLifecycle.
    Object.defineProperty(this, LIFECYCLE_BRAND, { value: LIFECYCLE_PROTOCOL });
    this.#runtime = options.runtime;
    this.#clock = options.clock ?? systemClock;
    this.#fatalErrors = options.fatalErrors ?? true;
    // The startup gate: /readyz is 503 until every part registered in this run has started.
    this.#readiness = new Readiness(this.#clock, (record) => this.log(record), () => ({
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
    this.#tasks = this.#newTaskTracker();
    this.#newFinished();
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
      throw new LifecycleError(
        `cannot add "${checked.name}": the lifecycle ${this.#state === "stopped" ? "has shut down" : "is shutting down"}; use createLifecycle() for a new one`,
      );
    }
    this.#register(checked);
    return this;
  }

  /**
   * End a stream when the drain starts: send `last` (an SSE message) if given, then close it, so
   * the client sees a clean end instead of a cut at the deadline. Works with hono/streaming's
   * `streamSSE` stream (or anything with writeSSE/close/closed/aborted).
   */
  endOnDrain(stream: DrainableStream, last?: SSEMessage): void {
    endStreamOnAbort(this.#controller.signal, stream, last);
  }

  /** Keep the drain waiting for background work that belongs to no request. */
  waitUntil(promise: Promise<unknown>): void {
    this.#tasks.add(promise);
  }

  /** The same drain a signal starts; idempotent; resolves to the report. */
  shutdown(): Promise<ShutdownReport> {
    this.#begin("shutdown");
    return this.#finished;
  }

  /** What every server's /readyz reads: the startup gate and the parts' checks. */
  get readiness(): Readiness {
    return this.#readiness;
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
    if (this.#state === "stopping") {
      throw new LifecycleError(`cannot add "${part.name}": the lifecycle is shutting down`);
    }
    if (this.#state === "stopped") this.#reset();
    if (part.kind === "part" && this.#parts.some((p) => p.name === part.name)) {
      throw new LifecycleError(`cannot add "${part.name}": a part with that name is already registered`);
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
        if (part.kind === "server") {
          part.listening = await part.listen();
          const info: ListenInfo = { port: part.listening.port, hostname: part.listening.hostname };
          // A server named after port 0 takes the port it got.
          if (part.renameOnListen) part.name = `server:${info.port}`;
          this.#started.push(part);
          // Our fields never take a name a logger writes itself (pino: hostname, name, pid).
          this.log({ level: "info", event: "listening", msg: `${part.name} listening on ${info.hostname}:${info.port}`, part: part.name, runtime: this.#runtime.name, address: info.hostname, port: info.port, ...part.startup });
          part.onListen(info);
          part.resolveReady(info);
        } else {
          if (part.start) await callWithin(this.#clock, `start of "${part.name}"`, part.start, part.timeout);
          this.#started.push(part);
          this.log({ level: "info", event: "part.started", msg: `${part.name} started`, part: part.name });
        }
      } catch (error) {
        if (part.kind === "server") part.rejectReady(error);
        this.#errors.add(`${part.name}: ${errorMessage(error)}`);
        this.log({ level: "error", event: "start.failed", msg: `${part.name} failed to start: ${errorMessage(error)}`, part: part.name, error: errorMessage(error) });
        this.#begin("start-failed");
        return;
      }
    }
    if (this.#state === "starting") this.#state = "running";
  }

  #begin(reason: Reason, signal?: string): void {
    if (this.#shutdownStarted !== undefined) return;
    this.#shutdownStarted = { signal, at: this.#clock.now() };
    if (this.#state === "idle") {
      // Nothing was ever registered: nothing to drain.
      this.#state = "stopped";
      this.#resolveFinished(buildReport({ reason, signal, startedAt: this.#clock.wallTime(), durationMs: 0, drainDelayMs: 0, drainMs: 0, counts: emptyCounts(), parts: [], errors: [], errorsOmitted: 0, forcedBy: undefined }));
      return;
    }
    this.#state = "stopping";
    this.#shutdown(reason, signal).catch((error) => {
      // The drain itself must never fail; if it does, say so and still end.
      this.log({ level: "error", event: "drain.crashed", msg: errorMessage(error) });
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
    // Hooks keep a slice of the budget for their stops, so a stuck stream cannot starve them.
    const stopReserve = Math.min(hookParts().reduce((sum, p) => sum + (p.stop ? p.timeout : 0), 0), settings.timeout / 2);
    const cancelDeadline = clock.setTimer(() => this.#forceNow("deadline"), settings.timeout - stopReserve);

    // 1. Announce: parts not yet started never start; streams and consumers see lifecycle.signal;
    //    every server answers /readyz with 503 and closes each connection after its response.
    await Promise.race([this.#startSequence, forced]);
    const servers = this.#started.filter((p): p is ServerPart => p.kind === "server");
    for (const server of servers) server.state.draining = true;
    this.#controller.abort();
    const atStart = this.#snapshot(servers);
    const drainDelay = reason === "start-failed" ? 0 : settings.drainDelay;
    // A failed start already said so (start.failed): a rollback is not announced as a drain.
    if (reason !== "start-failed") {
      this.log({
        level: "info", event: "drain.start", msg: `drain started (${signal ?? reason})`, reason, signal,
        requestsInFlight: atStart.inFlight, tasksPending: this.#tasks.pending, drainDelayMs: drainDelay, timeoutMs: settings.timeout,
      });
    }

    // 2. Drain delay: keep serving while load balancers notice the 503 and stop routing here.
    const tAnnounced = clock.now();
    await sleep(clock, drainDelay, forced);
    const t1 = clock.now();

    // 3. Hold: responses wait until no request has arrived for QUIET_MS. A busy keep-alive client
    //    sends the request it was about to send and waits for its answer, so any connection still
    //    idle after that is truly idle and closing it cuts nobody (not even a request the runtime
    //    has not read yet).
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    for (const server of servers) server.state.held = held;
    if (servers.length > 0) await this.#quiet(servers, forced);

    // 4. Stop accepting: close every listener (Bun and Deno close the idle connections too).
    const closed = servers.map((server) => server.listening!.close());

    // 5. Release the held responses, each with `Connection: close`: its connection closes after it.
    //    A runtime whose close acts later (Deno) gets that moment first.
    await Promise.race([Promise.all(servers.map((s) => s.listening!.closeActed?.())), forced]);
    for (const server of servers) server.state.held = undefined;
    release();

    // 6. Wait, until the deadline, for running handlers and waitUntil tasks; then close the
    //    connections left idle; then wait for open streams to end. When the process ends right
    //    after, idle connections are left to the exit, which closes them all at once.
    const exiting = this.#willExit(settings, reason) && servers.every((s) => s.listening!.responsesDone);
    const drained = await Promise.race([
      Promise.all([...servers.map((s) => s.state.whenIdle()), this.#tasks.idle()])
        .then(() => {
          if (exiting) return Promise.all(servers.map((s) => s.listening!.responsesDone!()));
          for (const server of servers) server.listening!.closeIdle();
          return Promise.all(closed);
        })
        // A request served on a connection that was still open may have added a task.
        .then(() => this.#tasks.idle())
        .then(() => true),
      forced.then(() => false),
    ]);
    const t2 = clock.now();

    // 7. Cut what is left: the deadline passed or a second signal came.
    const cut = drained ? undefined : this.#cutServers(servers);

    // 8. Stop the other parts in reverse start order, each within its timeout and the time left.
    cancelDeadline();
    const deadline = t0 + settings.timeout;
    const parts = await this.#stopParts(hookParts().reverse(), deadline);
    const skipped = this.#parts.filter((p) => !this.#started.includes(p));
    for (const part of skipped) {
      if (part.kind === "server") part.rejectReady(new LifecycleError(`"${part.name}" did not start: the lifecycle shut down first`));
      parts.push({ name: part.name, kind: part.kind, outcome: "skipped", durationMs: 0 });
    }

    // 9. Report once, stop listening to the process, and exit when the process is ours to end.
    const counts = this.#counts(servers, atStart, cut);
    const report = buildReport({
      reason, signal, startedAt, durationMs: clock.now() - t0, drainDelayMs: t1 - tAnnounced, drainMs: t2 - t1, counts,
      parts: [...servers.map((s): PartReport => ({ name: s.name, kind: "server", outcome: drained ? "stopped" : this.#forcedBy === "second-signal" ? "cut" : "timeout", durationMs: t2 - t0 })), ...parts],
      errors: this.#errors.messages, errorsOmitted: this.#errors.omitted, forcedBy: this.#forcedBy,
    });
    const exits = this.#willExit(settings, reason);
    // A failed start with nothing to roll back has said all in its start.failed line.
    if (reason !== "start-failed" || this.#started.length > 0) {
      const outcome = report.forced ? `forced (${report.forcedBy})` : reason === "start-failed" ? "rolled back" : "complete";
      this.log({ level: report.exitCode === 0 ? "info" : "error", event: "drain.end", msg: `drain ${outcome} in ${Math.round(report.durationMs)} ms, ${exits ? `exit ${report.exitCode}` : "process left running"}`, ...report });
    }
    this.#state = "stopped";
    this.#processWatch.stop();
    this.#resolveFinished(report);
    if (exits) {
      // A few promise turns first, so code awaiting `finished` runs before the process ends (not a
      // timer: with 1,000 sockets just closed, a timer waits behind their close events).
      for (let turn = 0; turn < 3; turn++) await Promise.resolve();
      this.#runtime.exit(report.exitCode);
    }
    return report;
  }

  /** Whether this process ends when the drain is done: signal-managed, and not a shutdown() call. */
  #willExit(settings: { exit: boolean; signals: Set<ShutdownSignal> }, reason: Reason): boolean {
    return settings.exit && settings.signals.size > 0 && reason !== "shutdown";
  }

  /** Resolves once no request has arrived on any server for QUIET_MS (at most HOLD_MAX_MS). */
  #quiet(servers: ServerPart[], forced: Promise<void>): Promise<void> {
    const arrived = () => servers.reduce((n, s) => n + s.state.arrived, 0);
    const clock = this.#clock;
    const until = clock.now() + HOLD_MAX_MS;
    return new Promise((resolve) => {
      let cancel = () => {};
      void forced.then(() => {
        cancel();
        resolve();
      });
      // A check that runs late means the event loop was busy: connections that arrived meanwhile
      // may wait unread (or unaccepted), so the silence proves nothing; look again.
      const check = (seen: number, due: number) => {
        const now = arrived();
        const late = clock.now() - due > QUIET_MS;
        if ((now === seen && !late) || clock.now() >= until) return resolve();
        cancel = clock.setTimer(() => check(now, clock.now() + QUIET_MS), QUIET_MS);
      };
      const first = arrived();
      const due = clock.now() + QUIET_MS;
      cancel = clock.setTimer(() => check(first, due), QUIET_MS);
    });
  }

  #cutServers(servers: ServerPart[]): { requests: number; tasks: number; connections: number; at: Snapshot } {
    const cut = {
      // Requests as they stood when the cut came: a handler that returns later is not counted twice.
      at: this.#snapshot(servers),
      requests: servers.reduce((n, s) => n + s.state.inFlight, 0),
      tasks: this.#tasks.pending,
      connections: servers.reduce((n, s) => n + (s.listening!.openConnections() ?? 0), 0),
    };
    let leftOpen = false;
    for (const server of servers) leftOpen = !server.listening!.forceClose() || leftOpen;
    if (leftOpen && !(this.#settings?.exit ?? false)) {
      this.log({ level: "warn", event: "drain.left-open", msg: `${this.#runtime.name} cannot cut connections while the process lives; they end with it` });
    }
    return cut;
  }

  async #stopParts(parts: HookPart[], deadline: number): Promise<PartReport[]> {
    const reports: PartReport[] = [];
    for (const part of parts) {
      const left = deadline - this.#clock.now();
      const began = this.#clock.now();
      if (!part.stop) {
        reports.push({ name: part.name, kind: "part", outcome: "stopped", durationMs: 0 });
        continue;
      }
      if (this.#forcedBy === "second-signal") {
        reports.push({ name: part.name, kind: "part", outcome: "cut", durationMs: 0, error: "not run: a second signal stopped the process at once" });
        continue;
      }
      if (left <= 0) {
        reports.push({ name: part.name, kind: "part", outcome: "timeout", durationMs: 0, error: "no time left before the deadline" });
        continue;
      }
      try {
        await callWithin(this.#clock, `stop of "${part.name}"`, part.stop, Math.min(part.timeout, left));
        reports.push({ name: part.name, kind: "part", outcome: "stopped", durationMs: this.#clock.now() - began });
        this.log({ level: "info", event: "part.stopped", msg: `${part.name} stopped`, part: part.name });
      } catch (error) {
        const timedOut = error instanceof PartTimeoutError;
        this.#errors.add(`${part.name}: ${errorMessage(error)}`);
        reports.push({ name: part.name, kind: "part", outcome: timedOut ? "timeout" : "failed", durationMs: this.#clock.now() - began, error: errorMessage(error) });
        this.log({ level: "error", event: "part.stop-failed", msg: `${part.name} failed to stop: ${errorMessage(error)}`, part: part.name, error: errorMessage(error) });
      }
    }
    return reports;
  }

  #snapshot(servers: ServerPart[]): Snapshot {
    return {
      inFlight: servers.reduce((n, s) => n + s.state.inFlight, 0),
      served: servers.reduce((n, s) => n + s.state.served, 0),
      // Responses still held or unconfirmed when the report is made never reached their client.
      cut: servers.reduce((n, s) => n + s.state.cut + s.state.sending, 0),
      tasksPending: this.#tasks.pending,
      tasksSettled: this.#tasks.settled,
      tasksFailed: this.#tasks.failed,
    };
  }

  #counts(
    servers: ServerPart[],
    atStart: Snapshot,
    cut: { requests: number; tasks: number; connections: number; at: Snapshot } | undefined,
  ): DrainCounts {
    const now = this.#snapshot(servers);
    const requests = cut?.at ?? now;
    return {
      requestsInFlightAtStart: atStart.inFlight,
      requestsServed: requests.served - atStart.served,
      requestsCut: requests.cut - atStart.cut + (cut?.requests ?? 0),
      tasksPendingAtStart: atStart.tasksPending,
      tasksCompleted: now.tasksSettled - atStart.tasksSettled,
      tasksFailed: now.tasksFailed - atStart.tasksFailed,
      tasksCut: cut?.tasks ?? 0,
      connectionsCut: cut?.connections ?? 0,
    };
  }

  #forceNow(by: NonNullable<ShutdownReport["forcedBy"]>, signal?: ShutdownSignal): void {
    if (this.#forcedBy !== undefined) return;
    this.#forcedBy = by;
    this.log(by === "deadline"
      ? { level: "warn", event: "drain.forced", msg: "deadline reached: cutting what is still open", forcedBy: by }
      : { level: "warn", event: "drain.forced", msg: `second signal ${signal}: stopping now`, forcedBy: by, signal });
    this.#force();
  }

  #onSignal(signal: ShutdownSignal): void {
    const first = this.#shutdownStarted;
    if (first === undefined) return this.#begin("signal", signal);
    if (first.signal === signal && this.#clock.now() - first.at < SIGNAL_REPEAT_WINDOW_MS) return;
    this.#forceNow("second-signal", signal);
  }

  #newTaskTracker(): TaskTracker {
    return new TaskTracker((error) => {
      // The report counts failures from the start of the drain, as tasks.failed does; earlier ones
      // are logged here and not kept, so a long-lived process does not accumulate them.
      if (this.#controller.signal.aborted) this.#errors.add(`waitUntil task: ${errorMessage(error)}`);
      this.log({ level: "warn", event: "task.failed", msg: `a waitUntil task rejected: ${errorMessage(error)}`, error: errorMessage(error), stack: errorStack(error) });
    });
  }

  #newFinished(): void {
    this.#finished = new Promise((resolve) => (this.#resolveFinished = resolve));
  }

  /** A stopped lifecycle that gets a new part begins a new run. */
  #reset(): void {
    this.#state = "idle";
    this.#parts = [];
    this.#started = [];
    this.#tasks = this.#newTaskTracker();
    this.#controller = new AbortController();
    this.#settings = undefined;
    this.#shutdownStarted = undefined;
    this.#forcedBy = undefined;
    this.#errors = new ReportErrors();
    this.#newFinished();
  }
}

function emptyCounts(): DrainCounts {
  return {
    requestsInFlightAtStart: 0, requestsServed: 0, requestsCut: 0, tasksPendingAtStart: 0, tasksCompleted: 0,
    tasksFailed: 0, tasksCut: 0, connectionsCut: 0,
  };
}
