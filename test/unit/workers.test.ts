/**
 * The primary of `workers` with fake processes and a fake clock: start, one drain, one report,
 * restarts with backoff outside a drain, none during it, the crash loop, reload one at a time; and
 * the CPU count of `"auto"` from real file contents.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { FakeClock, settle } from "./fakes.ts";
import { affinityFromStatus, availableCpus, cgroupLimit, parseCfsQuota, parseCpuList, parseCpuMax } from "../../src/workers/cpus.ts";
import {
  KILL_GRACE_MS,
  MAX_QUICK_CRASHES,
  RESTART_BACKOFF_MS,
  STABLE_AFTER_MS,
  STRAGGLER_GRACE_MS,
  Supervisor,
  type SupervisorSetup,
} from "../../src/workers/supervisor.ts";
import { type AskedSettings, PORT_ENV } from "../../src/workers/messages.ts";
import { ignoredSettings, type RunningSettings } from "../../src/workers/supervisor.ts";
import { RELOAD_HOLD_QUIET_MS, SIGNAL_SETTLE_MS } from "../../src/workers/supervisor.ts";
import { resolveOptions } from "../../src/options/options.ts";
import { FLUSH_MAX_MS } from "../../src/log/flush.ts";
import type { LogRecord, RuntimeAdapter, ShutdownReport, ShutdownSignal, WorkerChannel, WorkerEvents } from "../../src/types.ts";

class FakeWorker {
  readonly sent: unknown[] = [];
  readonly killed: string[] = [];
  exited = false;
  constructor(readonly pid: number, readonly env: Record<string, string>, readonly events: WorkerEvents) {}
  listen(port = 40_000, asked?: AskedSettings): void {
    this.events.message({ sg: "listening", port, hostname: "127.0.0.1", ...(asked && { asked }) });
  }
  /** Says its drain began (the primary's order taken, or a signal of its own). */
  draining(): void {
    this.events.message({ sg: "draining" });
  }
  failToStart(error: string): void {
    this.events.message({ sg: "start-failed", error });
    this.exit(1, null);
  }
  /** Drains clean: sends its report, exits 0. */
  drainClean(served = 1): void {
    this.events.message({ sg: "report", report: workerReport(served) });
    this.exit(0, null);
  }
  exit(code: number | null, signal: string | null): void {
    this.exited = true;
    this.events.exit(code, signal);
  }
  get drainOrders(): unknown[] {
    return this.sent.filter((m) => (m as { sg: string }).sg === "drain");
  }
}

function workerReport(served: number): ShutdownReport {
  return {
    reason: "signal",
    signal: "SIGTERM",
    startedAt: 0,
    durationMs: 10,
    drainDelayMs: 0,
    drainMs: 5,
    requests: { inFlightAtStart: served, served, cut: 0 },
    tasks: { pendingAtStart: 0, completed: 1, failed: 0, cut: 0 },
    connectionsCut: 0,
    parts: [{ name: "server:40000", kind: "server", outcome: "stopped", durationMs: 5 }],
    forced: false,
    errors: [],
    errorsOmitted: 0,
    exitCode: 0,
  };
}

function world(overrides: Partial<SupervisorSetup> = {}) {
  const clock = new FakeClock();
  const workers: FakeWorker[] = [];
  const logs: LogRecord[] = [];
  const exits: number[] = [];
  const signalListeners = new Map<ShutdownSignal, () => void>();
  const fatalListeners = new Set<(error: unknown, kind: "uncaughtException" | "unhandledRejection") => void>();
  let nextPid = 100;
  const supervisor = new Supervisor({
    spawn(env, events) {
      const worker = new FakeWorker(nextPid++, env, events);
      workers.push(worker);
      return { pid: worker.pid, send: (m) => worker.sent.push(m), kill: (s) => worker.killed.push(s) };
    },
    sharesPortZero: true,
    own: {
      onSignal(signal, listener) {
        signalListeners.set(signal, listener);
        return () => signalListeners.delete(signal);
      },
      onFatalError(listener) {
        fatalListeners.add(listener);
        return () => fatalListeners.delete(listener);
      },
      exit: (code) => void exits.push(code),
      env: () => undefined,
    },
    clock,
    log: (record) => void logs.push(record),
    runtime: "node",
    mode: "cluster",
    count: 2,
    countFrom: "the workers option",
    port: 0,
    hostname: "127.0.0.1",
    timeout: 5_000,
    signals: ["SIGTERM", "SIGINT"],
    reloadSignal: "SIGHUP",
    exit: true,
    startup: {},
    ...overrides,
  });
  const signal = (name: ShutdownSignal) => signalListeners.get(name)!();
  const crash = (error: unknown) => [...fatalListeners].forEach((listener) => listener(error, "uncaughtException"));
  const events = (name: string) => logs.filter((l) => l.event === name);
  const live = () => workers.filter((w) => !w.exited);
  return { clock, workers, logs, exits, supervisor, signal, crash, events, live };
}

/** Running workers, a reload begun: its first new worker spawned (w.workers[2]), not listening yet. */
async function reloadBegun() {
  const w = world();
  await running(w);
  w.signal("SIGHUP");
  await settle();
  return w;
}

/** A reload begun, then SIGTERM. */
async function drainDuringReload() {
  const w = await reloadBegun();
  w.signal("SIGTERM");
  await settle();
  return w;
}

/** A reload whose first new worker listens: the first old one is told to drain. */
async function firstOneReplaced() {
  const w = await reloadBegun();
  w.workers[2]!.listen();
  await settle();
  assert.equal(w.workers[0]!.drainOrders.length, 1, "slot 0 replaced");
  return w;
}

async function running(w: ReturnType<typeof world>) {
  w.supervisor.start();
  await settle();
  for (const worker of w.workers) worker.listen();
  await settle();
  assert.equal(w.events("listening").length, 1);
}

describe("workers: the primary", () => {
  it("FlushesAnAsynchronousLoggerBeforeItExitsSoDrainEndIsTheLastLine", async () => {
    // pino's asynchronous destination: the primary's drain.end is held until written; an exit
    // before that lost it (Bun, workers: 2, a second signal: 2-3 drain.end lines lost in 10 runs).
    let written: (() => void) | undefined;
    let flushes = 0;
    const w = world({ flush: () => (flushes++, new Promise<void>((resolve) => (written = resolve))) });
    await running(w);
    w.signal("SIGTERM");
    await settle();
    for (const worker of w.workers) worker.drainClean();
    await settle();
    assert.equal(w.events("drain.end").length, 1);
    assert.equal(flushes, 1, "the logger is flushed after drain.end");
    assert.deepEqual(w.exits, [], "not before the logger wrote drain.end");
    written!();
    await settle();
    assert.deepEqual(w.exits, [0]);
  });

  it("ExitsAfterTheFlushBudgetWhenTheLoggerNeverFinishes", async () => {
    const w = world({ flush: () => new Promise<void>(() => {}) });
    await running(w);
    w.signal("SIGTERM");
    await settle();
    for (const worker of w.workers) worker.drainClean();
    await settle();
    assert.deepEqual(w.exits, []);
    await w.clock.advance(FLUSH_MAX_MS);
    await settle();
    assert.deepEqual(w.exits, [0], "a stuck output holds the exit at most FLUSH_MAX_MS");
  });

  it("ListensOnceAfterEveryWorkerListens", async () => {
    const w = world();
    w.supervisor.start();
    await settle();
    assert.equal(w.workers.length, 2);
    w.workers[0]!.listen();
    await settle();
    assert.equal(w.events("listening").length, 0, "not before the second one listens");
    w.workers[1]!.listen();
    await settle();
    const line = w.events("listening")[0]!;
    assert.equal(line.workers, 2);
    assert.equal(line.workersFrom, "the workers option");
    assert.deepEqual(line.pids, [100, 101]);
    assert.deepEqual(await w.supervisor.ready, { port: 40_000, hostname: "127.0.0.1" });
  });

  it("WithReusePortThePortTheFirstWorkerGotGoesToTheOthers", async () => {
    const w = world({ sharesPortZero: false, count: 3 });
    w.supervisor.start();
    await settle();
    assert.equal(w.workers.length, 1, "the others wait for the first one's port");
    w.workers[0]!.listen(41_234);
    await settle();
    assert.equal(w.workers.length, 3);
    assert.deepEqual(w.workers.slice(1).map((x) => x.env[PORT_ENV]), ["41234", "41234"]);
  });

  it("AnswersAWorkerThatSaysItIsExitingOnItsOwnChannelInOrder", async () => {
    const w = world();
    await running(w);
    w.workers[0]!.events.message({ sg: "exiting" });
    assert.deepEqual(w.workers[0]!.sent.at(-1), { sg: "exit-ok" });
  });

  it("TellsEveryWorkerThatAllListenersClosedOnceEachOneSaidSoOrExited", async () => {
    const w = world({ count: 3 });
    await running(w);
    const allClosed = (worker: FakeWorker) => worker.sent.filter((m) => (m as { sg: string }).sg === "all-closed").length;
    w.signal("SIGTERM");
    await settle();
    w.workers[0]!.events.message({ sg: "closed" });
    w.workers[1]!.events.message({ sg: "closed" });
    assert.deepEqual(w.workers.map(allClosed), [0, 0, 0], "the third one's listeners are still open");
    w.workers[2]!.exit(1, "SIGKILL"); // it will not close them now
    assert.deepEqual(w.workers.map(allClosed), [1, 1, 0]);
    w.workers[0]!.events.message({ sg: "closed" }); // said again (a second server of its own): answered at once
    assert.deepEqual(w.workers.map(allClosed), [2, 1, 0]);
  });

  it("AnswersClosedListenersAtOnceOutsideADrainAndCountsThemInALaterOne", async () => {
    const w = world();
    await running(w);
    const allClosed = (worker: FakeWorker) => worker.sent.filter((m) => (m as { sg: string }).sg === "all-closed").length;
    w.workers[0]!.events.message({ sg: "closed" }); // a worker signalled alone, or a reload's old one
    assert.deepEqual(w.workers.map(allClosed), [1, 0], "the service goes on: nothing to wait for");
    w.signal("SIGTERM"); // then the whole service drains: the first one's listeners are closed already
    await settle();
    w.workers[1]!.events.message({ sg: "closed" });
    assert.deepEqual(w.workers.map(allClosed), [1, 1]);
  });

  it("OneSignalDrainsEveryWorkerOnceAndReportsOnceWithEveryPid", async () => {
    const w = world();
    await running(w);
    w.signal("SIGTERM");
    w.signal("SIGTERM"); // the same signal again at once (a process group and a terminal): one event
    await settle();
    for (const worker of w.workers) assert.deepEqual(worker.drainOrders, [{ sg: "drain", signal: "SIGTERM" }]);
    w.workers[0]!.drainClean(3);
    await settle();
    assert.equal(w.events("drain.end").length, 0, "not before every worker exited");
    w.workers[1]!.drainClean(4);
    await settle();
    const [end] = w.events("drain.end");
    assert.equal((end!.requests as { served: number }).served, 7);
    assert.deepEqual(end!.workers, [{ pid: 100, outcome: "stopped", exitCode: 0 }, { pid: 101, outcome: "stopped", exitCode: 0 }]);
    assert.equal(end!.exitCode, 0);
    assert.deepEqual(w.exits, [0]);
    assert.equal(w.events("drain.forced").length, 0);
  });

  it("TheReportLastsAtLeastAsLongAsTheLongestWorkersDrain", async () => {
    // The workers' reports say 10 ms (drainMs 5); no time passes on the primary's clock here, as
    // when a process-group signal reaches the workers before the primary's busy loop takes it.
    const w = world();
    await running(w);
    w.signal("SIGTERM");
    await settle();
    for (const worker of w.workers) worker.drainClean();
    await settle();
    const [end] = w.events("drain.end");
    assert.equal(end!.drainMs, 5);
    assert.equal(end!.durationMs, 10, "not shorter than a worker's own drain");
  });

  it("AnUncaughtErrorInThePrimaryDrainsEveryWorkerAndExits1", async () => {
    const w = world();
    await running(w);
    // It ended the primary at once: no drain, no report (and on Deno its workers died with it).
    w.crash(new Error("primary timer threw"));
    await settle();
    assert.equal(w.events("uncaughtException").length, 1);
    assert.equal(w.events("drain.start")[0]!.reason, "error");
    for (const worker of w.workers) assert.equal(worker.drainOrders.length, 1);
    for (const worker of w.live()) worker.drainClean();
    await settle();
    const [end] = w.events("drain.end");
    assert.equal(end!.exitCode, 1);
    assert.ok((end!.errors as string[]).some((e) => e.includes("primary timer threw")));
    assert.deepEqual(w.exits, [1]);
  });

  it("AnUncaughtErrorInThePrimaryDuringASignalsDrainMakesTheExit1", async () => {
    const w = world();
    await running(w);
    w.signal("SIGTERM");
    await settle();
    w.crash(new Error("late"));
    for (const worker of w.live()) worker.drainClean();
    await settle();
    assert.equal(w.events("drain.start").length, 1, "one drain");
    assert.equal(w.events("drain.end")[0]!.exitCode, 1);
    assert.deepEqual(w.exits, [1]);
  });

  it("AForcedDrainsReportSaysTheBudgetAndWhatTheWorkersWaitedFor", async () => {
    const w = world();
    await running(w);
    w.signal("SIGTERM");
    await settle();
    const forced = (requests: number, step?: string): ShutdownReport => ({
      ...workerReport(0),
      forced: true,
      forcedBy: "deadline",
      exitCode: 1,
      budget: "stop-reserve",
      waitingFor: { requests, responses: 0, tasks: 1, connections: 2, serversClosing: [], ...(step && { step }) },
    });
    w.workers[0]!.events.message({ sg: "report", report: forced(1) });
    w.workers[0]!.exit(1, null);
    w.workers[1]!.events.message({ sg: "report", report: forced(2, 'stop of "db"') });
    w.workers[1]!.exit(1, null);
    await settle();
    const [end] = w.events("drain.end");
    // It had forced and forcedBy, but not what logging.md promises with them.
    assert.equal(end!.budget, "stop-reserve");
    assert.deepEqual(end!.waitingFor, { requests: 3, responses: 0, tasks: 2, connections: 4, serversClosing: [], step: 'stop of "db"' });
  });

  it("ASecondSignalLaterForcesEveryWorker", async () => {
    const w = world();
    await running(w);
    w.signal("SIGTERM");
    await w.clock.advance(1_000);
    w.signal("SIGTERM");
    await settle();
    for (const worker of w.workers) assert.deepEqual(worker.sent.at(-1), { sg: "force", signal: "SIGTERM" });
    assert.equal(w.events("drain.forced").length, 1);
  });

  it("TheSecondSignalsLineNamesTheWorkersStillDraining", async () => {
    const w = world();
    await running(w);
    w.signal("SIGTERM");
    await settle();
    w.workers[0]!.drainClean();
    await w.clock.advance(1_000);
    w.signal("SIGTERM");
    await settle();
    const [line] = w.events("drain.forced");
    assert.deepEqual(line!.waitingForWorkers, [101]);
    assert.match(String(line!.msg), /\(1 worker still draining: 101\)/);
  });

  it("ACrashOutsideADrainIsRestartedWithABackoffThatDoublesForQuickCrashes", async () => {
    const w = world();
    await running(w);
    w.workers[0]!.exit(null, "SIGKILL");
    await settle();
    assert.equal(w.events("worker.exited")[0]!.restartInMs, RESTART_BACKOFF_MS);
    assert.equal(w.workers.length, 2, "not at once");
    await w.clock.advance(RESTART_BACKOFF_MS);
    assert.equal(w.workers.length, 3);
    w.workers[2]!.listen();
    await settle();
    assert.equal(w.events("worker.restarted")[0]!.worker, 102);
    // It dies again right after its start: twice the wait.
    w.workers[2]!.exit(1, null);
    await settle();
    assert.equal(w.events("worker.exited")[1]!.restartInMs, RESTART_BACKOFF_MS * 2);
    // A worker that served long enough before dying starts the count over.
    await w.clock.advance(RESTART_BACKOFF_MS * 2);
    w.workers[3]!.listen();
    await w.clock.advance(STABLE_AFTER_MS);
    w.workers[3]!.exit(1, null);
    await settle();
    assert.equal(w.events("worker.exited")[2]!.restartInMs, RESTART_BACKOFF_MS);
  });

  it("AWorkerThatKeepsCrashingRightAfterItsStartMakesThePrimaryGiveUp", async () => {
    const w = world();
    await running(w);
    for (let crash = 1; crash < MAX_QUICK_CRASHES; crash++) {
      w.workers.at(-1 - (crash === 1 ? 1 : 0))!.exit(1, null);
      await w.clock.advance(60_000);
    }
    assert.equal(w.events("workers.crash-loop").length, 0);
    w.workers.at(-1)!.exit(3, null);
    await settle();
    const loop = w.events("workers.crash-loop");
    assert.equal(loop.length, 1);
    // How the last one ended: the crash that gave up had no worker.exited line to say it.
    assert.match(String(loop[0]!.msg), /\(the last exited with code 3\): giving up/);
    assert.equal(loop[0]!.exitCode, 3);
    // Gives up: drains the rest, exit 1.
    for (const worker of w.live()) worker.drainClean();
    await settle();
    assert.deepEqual(w.exits, [1]);
    assert.ok(w.workers.length <= 2 + MAX_QUICK_CRASHES, "bounded restarts");
  });

  it("ARestartedWorkerThatCannotStartSaysWhyAndACrashWhileServingKeepsItsDrainsCounts", async () => {
    const w = world();
    await running(w);
    // A crash while serving: the worker drains first (its own report), then exits 1.
    const crashed: ShutdownReport = { ...workerReport(2), reason: "error", exitCode: 1, errors: ["uncaughtException: boom"] };
    w.workers[0]!.events.message({ sg: "report", report: crashed });
    w.workers[0]!.exit(1, null);
    await settle();
    const [first] = w.events("worker.exited");
    assert.match(String(first!.msg), /exited with code 1 \(uncaughtException: boom\); restart in/);
    assert.equal((first!.report as ShutdownReport).requests.served, 2, "its drain's counts were dropped");
    // The restart cannot start (a part's start throws there now): every line said only "code 1".
    for (let crash = 2; crash <= MAX_QUICK_CRASHES; crash++) {
      await w.clock.advance(60_000);
      w.workers.at(-1)!.failToStart("db: connection refused");
      await settle();
    }
    assert.match(String(w.events("worker.exited").at(-1)!.msg), /\(db: connection refused\)/);
    const [loop] = w.events("workers.crash-loop");
    assert.match(String(loop!.msg), /giving up \(last: db: connection refused\)/);
    for (const worker of w.live()) worker.drainClean();
    await settle();
    const errors = w.events("drain.end")[0]!.errors as string[];
    assert.ok(
      errors.some((e) => e.endsWith("right after starting, the last exited with code 1: db: connection refused")),
      errors.join("\n"),
    );
  });

  it("NoRestartDuringADrainAndAWorkerThatDiesInItMakesTheExit1", async () => {
    const w = world();
    await running(w);
    w.signal("SIGTERM");
    await settle();
    w.workers[0]!.exit(null, "SIGKILL");
    await w.clock.advance(60_000);
    assert.equal(w.workers.length, 2, "no new worker");
    w.workers[1]!.drainClean();
    await settle();
    const [end] = w.events("drain.end");
    assert.deepEqual((end!.workers as { outcome: string }[]).map((x) => x.outcome), ["killed", "stopped"]);
    assert.deepEqual(w.exits, [1]);
  });

  it("AWorkerThatCannotStartFailsTheWholeStartInOneLineWithoutARestart", async () => {
    const w = world();
    w.supervisor.start();
    await settle();
    w.workers[1]!.listen();
    w.workers[0]!.failToStart("cannot listen on 127.0.0.1:80: port 80 is already in use (EADDRINUSE)");
    await settle();
    assert.equal(w.events("start.failed").length, 1);
    await assert.rejects(w.supervisor.ready, /EADDRINUSE/);
    assert.deepEqual(w.workers[1]!.drainOrders.length, 1, "the one that started drains");
    w.workers[1]!.drainClean();
    await w.clock.advance(60_000);
    assert.equal(w.workers.length, 2, "no restart");
    assert.deepEqual(w.exits, [1]);
    assert.deepEqual(w.logs.map((l) => l.event), ["start.failed"], "one line");
  });

  it("AWorkerThatListenedAndDiedBeforeEveryWorkerListenedFailsTheStart", async () => {
    const w = world();
    w.supervisor.start();
    await settle();
    w.workers[0]!.listen();
    await settle();
    w.workers[0]!.exit(3, null);
    await settle();
    const [failed] = w.events("start.failed");
    assert.match(String(failed?.msg), /worker 100 exited with code 3 after it listened, before every worker listened/);
    await assert.rejects(w.supervisor.ready, /after it listened/);
    assert.equal(w.events("listening").length, 0, "a dead worker is never announced");
    // The other one never listened: nothing to drain, stopped soon rather than at the deadline.
    await w.clock.advance(STRAGGLER_GRACE_MS);
    assert.deepEqual(w.workers[1]!.killed, ["SIGTERM"]);
    w.workers[1]!.exit(null, "SIGTERM");
    await w.clock.advance(60_000);
    assert.equal(w.workers.length, 2, "no restart");
    assert.deepEqual(w.exits, [1]);
  });

  it("NodeClusterWorkersAskForThePortTheListeningOnesAskedAndForTheAnnouncedOneWhenNoneIsLeft", async () => {
    const w = world(); // sharesPortZero, port 0: node:cluster shares the socket of the port asked for
    await running(w);
    w.workers[0]!.exit(null, "SIGKILL");
    await w.clock.advance(RESTART_BACKOFF_MS);
    assert.equal(w.workers[2]!.env[PORT_ENV], undefined, "asks port 0 like the one still listening, so it joins its socket");
    w.workers[2]!.listen();
    // Every worker dies: the socket of port 0 is gone, and a new one would get a new random port.
    w.workers[1]!.exit(null, "SIGKILL");
    w.workers[2]!.exit(null, "SIGKILL");
    await w.clock.advance(RESTART_BACKOFF_MS * 2);
    assert.deepEqual(w.workers.slice(3).map((x) => x.env[PORT_ENV]), ["40000", "40000"], "the port the listening line said");
    w.workers[3]!.listen();
    await settle();
    w.workers[4]!.exit(1, null);
    await w.clock.advance(RESTART_BACKOFF_MS * 4);
    assert.equal(w.workers[5]!.env[PORT_ENV], "40000", "what the listening one asked");
  });

  it("WorkersStillAliveAfterTheDeadlineAreKilled", async () => {
    const w = world();
    await running(w);
    w.signal("SIGTERM");
    await settle();
    w.workers[0]!.drainClean();
    await w.clock.advance(5_000 + KILL_GRACE_MS);
    assert.deepEqual(w.workers[1]!.killed, ["SIGKILL"]);
    w.workers[1]!.exit(null, "SIGKILL");
    await settle();
    assert.equal(w.events("drain.end")[0]!.forcedBy, "deadline");
    assert.deepEqual(w.exits, [1]);
  });

  it("AWorkerDrainingOnItsOwnIsKilledOnceItRunsPastTheDeadline", async () => {
    // Its backstop while the primary lives: a worker arms no watchdog thread of its own then.
    const w = world();
    await running(w);
    w.workers[0]!.draining(); // a signal to it alone, or a fatal error
    await w.clock.advance(5_000 + KILL_GRACE_MS - 1);
    assert.deepEqual(w.workers[0]!.killed, []);
    await w.clock.advance(1);
    assert.deepEqual(w.workers[0]!.killed, ["SIGKILL"]);
    w.workers[1]!.draining();
    await w.clock.advance(1_000);
    w.workers[1]!.exit(0, null);
    await w.clock.advance(5_000 + KILL_GRACE_MS);
    assert.deepEqual(w.workers[1]!.killed, [], "one that exited in time is left alone");
  });

  it("AWorkerAReloadWasReplacingAddsItsCountsButNotItsEarlierDrainTime", async () => {
    const w = await firstOneReplaced();
    await w.clock.advance(600);
    w.signal("SIGTERM");
    await settle();
    await w.clock.advance(100);
    // The retired worker's own drain began 700 ms ago; the others' with the service's.
    w.workers[0]!.events.message({ sg: "report", report: { ...workerReport(2), durationMs: 700, drainMs: 690 } });
    w.workers[0]!.exit(0, null);
    for (const worker of [w.workers[1]!, w.workers[2]!]) worker.drainClean();
    await settle();
    const [end] = w.events("drain.end");
    assert.equal(end!.durationMs, 100, "counted from the signal, not from the reload's drain");
    assert.equal(end!.drainMs, 5);
    assert.deepEqual(end!.requests, { inFlightAtStart: 4, served: 4, cut: 0 }, "its counts still add up");
    assert.equal(end!.exitCode, 0);
  });

  it("ReloadStartsEachNewWorkerBeforeTheOldOneDrainsOneAtATime", async () => {
    const w = await reloadBegun();
    assert.equal(w.workers.length, 3, "one new worker");
    assert.equal(w.workers[0]!.drainOrders.length, 0, "the old one serves until the new one listens");
    w.workers[2]!.listen();
    await settle();
    assert.equal(w.workers[0]!.drainOrders.length, 1);
    assert.equal(
      (w.workers[0]!.drainOrders[0] as { holdQuietMs?: number }).holdQuietMs,
      RELOAD_HOLD_QUIET_MS,
      "a reload's drain waits longer for quiet",
    );
    assert.equal(w.workers.length, 3, "the next one waits for the old one's exit");
    w.workers[0]!.drainClean();
    await settle();
    assert.equal(w.workers.length, 4);
    assert.equal(w.workers[1]!.drainOrders.length, 0);
    w.workers[3]!.listen();
    await settle();
    // The second old worker's drain is forced at its deadline (a WebSocket that never closed).
    const forced: ShutdownReport = { ...workerReport(1), forced: true, forcedBy: "deadline", connectionsCut: 2, exitCode: 1 };
    w.workers[1]!.events.message({ sg: "report", report: forced });
    w.workers[1]!.exit(1, null);
    await settle();
    const [line] = w.events("reload");
    assert.deepEqual(line!.replaced, [{ from: 100, to: 102 }, { from: 101, to: 103 }]);
    // Said by the reload's own line, not only by the old worker's drain.forced.
    assert.equal(line!.level, "warn");
    assert.match(String(line!.msg), /old workers not clean: worker 101 exited with code 1 \(forced: 0 requests and 2 connections cut\)/);
    assert.deepEqual(line!.notClean, [{ worker: 101, exitCode: 1, forced: true, requestsCut: 0, connectionsCut: 2 }]);
    assert.equal(w.events("worker.exited").length, 0, "retired workers are not crashes");
    assert.deepEqual(w.supervisor.pids, [102, 103]);
  });

  it("AReloadsNewCodeAskingForSettingsOnlyThePrimaryAppliesIsOneWarningPerReloadWithTheOldAndNewValues", async () => {
    // The new code's port, workers, a longer timeout, signals and reload signal: the running service
    // keeps the primary's until a restart. It used to say nothing.
    const w = world({ port: 3000 });
    await running(w);
    const same: AskedSettings = { port: 3000, workers: 2, timeout: 5_000, signals: ["SIGINT", "SIGTERM"], reloadSignal: "SIGHUP" };
    const changed: AskedSettings = { port: 4000, workers: 3, timeout: 9_000, signals: ["SIGINT"], reloadSignal: "SIGUSR2" };
    const reload = async (asked: AskedSettings | undefined) => {
      const before = w.workers.length;
      w.signal("SIGHUP");
      await settle();
      for (let slot = 0; slot < 2; slot++) {
        w.workers[before + slot]!.listen(3000, asked);
        await settle();
        w.workers[before + slot - 2]!.drainClean();
        await settle();
      }
      assert.equal(w.events("reload").length, before / 2, "the reload ended");
    };
    await reload(changed);
    const [line] = w.events("reload.settings-ignored");
    assert.equal(line!.level, "warn");
    assert.deepEqual(line!.ignored, [
      { setting: "port", from: 3000, to: 4000 },
      { setting: "workers", from: 2, to: 3 },
      { setting: "timeout", from: 5_000, to: 9_000 },
      { setting: "signals", from: ["SIGTERM", "SIGINT"], to: ["SIGINT"] },
      { setting: "reloadSignal", from: "SIGHUP", to: "SIGUSR2" },
    ]);
    assert.equal(
      line!.msg,
      "reload: the new code asks for settings that the running service keeps until a restart: port 3000 -> 4000, workers 2 -> 3, " +
        "timeout 5000 -> 9000, signals [SIGTERM, SIGINT] -> [SIGINT], reloadSignal SIGHUP -> SIGUSR2",
    );
    // Each reload says it again, once, the same: the primary still runs with its own.
    await reload(changed);
    assert.equal(w.events("reload.settings-ignored").length, 2);
    assert.deepEqual(w.events("reload.settings-ignored")[1], line);
    // The same settings, or a worker that says none (an older version): nothing said.
    await reload(same);
    await reload(undefined);
    assert.equal(w.events("reload.settings-ignored").length, 2);
    assert.deepEqual(w.supervisor.pids.length, 2, "still two workers");
    assert.equal(w.events("reload.failed").length, 0, "no failed reload for it");
  });

  it("OnlyWhatTheRunningServiceCannotTakeIsCountedAsIgnored", () => {
    const running: RunningSettings = {
      workers: 2,
      workersAsked: "auto",
      timeout: 5_000,
      signals: ["SIGTERM", "SIGINT"],
      reloadSignal: "SIGHUP",
    };
    const asked: AskedSettings = { port: 3000, workers: "auto", timeout: 5_000, signals: ["SIGTERM", "SIGINT"], reloadSignal: "SIGHUP" };
    assert.deepEqual(ignoredSettings(running, asked, 3000), []);
    // Port 0 asks for no port in particular; a shorter timeout each worker applies itself; "auto"
    // or the same count is no other count; the signals in another order are the same.
    assert.deepEqual(ignoredSettings(running, { ...asked, port: 0, timeout: 1_000, workers: 2, signals: ["SIGINT", "SIGTERM"] }, 3000), []);
    assert.deepEqual(ignoredSettings(running, { ...asked, port: 3001 }, 3000), [{ setting: "port", from: 3000, to: 3001 }]);
    assert.deepEqual(ignoredSettings(running, { ...asked, workers: 4 }, 3000), [{ setting: "workers", from: 2, to: 4 }]);
    assert.deepEqual(ignoredSettings({ ...running, workersAsked: 2 }, asked, 3000), [{ setting: "workers", from: 2, to: "auto" }]);
    assert.deepEqual(ignoredSettings(running, { ...asked, signals: [] }, 3000), [{
      setting: "signals",
      from: ["SIGTERM", "SIGINT"],
      to: [],
    }]);
    assert.deepEqual(ignoredSettings(running, { ...asked, reloadSignal: false }, 3000), [{
      setting: "reloadSignal",
      from: "SIGHUP",
      to: false,
    }]);
  });

  it("AListeningMessageWithMalformedSettingsStillListensAndSaysNothingOfThem", async () => {
    const { isAskedSettings, isFromWorker } = await import("../../src/workers/messages.ts");
    const good = { port: 1, workers: "auto", timeout: 5, signals: ["SIGTERM"], reloadSignal: false };
    assert.equal(isAskedSettings(good), true);
    for (const bad of [null, 3, { ...good, workers: "all" }, { ...good, signals: ["SIGKILL"] }, { ...good, reloadSignal: "SIGKILL" }]) {
      assert.equal(isAskedSettings(bad), false, JSON.stringify(bad));
      assert.equal(isFromWorker({ sg: "listening", port: 1, hostname: "h", asked: bad }), true);
    }
  });

  it("TheAdapterHearsThatTheWholeServiceDrainsBeforeAnyDrainOrderButNotAtAReload", async () => {
    // Node's primary then closes a stopping worker's idle connections instead of moving them.
    const told: number[] = [];
    const orders = () => w.workers.reduce((n, worker) => n + worker.drainOrders.length, 0);
    const w = world({ serviceDraining: () => void told.push(orders()) });
    await running(w);
    w.signal("SIGHUP");
    await settle();
    w.workers[2]!.listen();
    await settle();
    assert.equal(w.workers[0]!.drainOrders.length, 1, "a reload's drain order went out");
    assert.deepEqual(told, [], "a reload is no drain of the service");
    w.signal("SIGTERM");
    await settle();
    assert.deepEqual(told, [1], "told once, before the drain's own orders (only the reload's had gone out)");
    w.signal("SIGTERM"); // the second signal forces: not a second drain
    await settle();
    assert.deepEqual(told, [1]);
  });

  it("ANewWorkerThatFailsStopsTheReloadAndTheOldOnesKeepServing", async () => {
    const w = await reloadBegun();
    w.workers[2]!.failToStart("SyntaxError: Unexpected token");
    await w.clock.advance(60_000);
    assert.equal(w.events("reload.failed").length, 1);
    assert.match(String(w.events("reload.failed")[0]!.msg), /SyntaxError/);
    assert.equal(w.workers.length, 3, "no further new worker, no restart of the failed one");
    assert.equal(w.workers[0]!.drainOrders.length + w.workers[1]!.drainOrders.length, 0);
    assert.deepEqual(w.supervisor.pids, [100, 101]);
  });

  it("ANewWorkerThatDiesAfterItListenedStopsTheReload", async () => {
    const w = await firstOneReplaced();
    w.workers[2]!.exit(3, null); // the new code crashes a moment after it listened
    w.workers[0]!.drainClean();
    await settle();
    const [failed] = w.events("reload.failed");
    assert.match(String(failed?.msg), /worker 102 exited with code 3 after it listened/);
    assert.equal(w.events("reload").length, 0);
    assert.equal(w.workers[1]!.drainOrders.length, 0, "the old worker of slot 1 keeps serving");
    assert.equal(w.workers.length, 3, "no new worker for slot 1");
  });

  it("ANewWorkerThatDiesRightAfterItsListeningMessageLeavesTheOldOneInItsSlot", async () => {
    const w = await reloadBegun();
    w.workers[2]!.listen();
    w.workers[2]!.exit(3, null); // before the reload has taken its listening message in
    await settle();
    assert.match(String(w.events("reload.failed")[0]?.msg), /worker 102 exited with code 3 after it listened/);
    assert.equal(w.workers[0]!.drainOrders.length, 0, "the old worker keeps serving");
    assert.deepEqual(w.supervisor.pids, [100, 101], "and keeps its slot");
    // Its later crash is a slot holder's: restarted.
    w.workers[0]!.exit(1, null);
    await w.clock.advance(RESTART_BACKOFF_MS);
    assert.equal(w.workers.length, 4);
  });

  it("ADrainDoesNotWaitForAReloadsNewWorkerThatNeverListens", async () => {
    const w = await drainDuringReload();
    // Said at the drain's start: the drain may end the process before the reload runs again.
    assert.equal(w.events("reload.stopped").length, 1);
    w.workers[0]!.drainClean();
    w.workers[1]!.drainClean();
    await settle();
    // The new worker still loads its entry (it may never finish): stopped soon, not at the deadline.
    assert.deepEqual(w.workers[2]!.killed, [], "given its grace to say its drain began");
    await w.clock.advance(STRAGGLER_GRACE_MS);
    assert.deepEqual(w.workers[2]!.killed, ["SIGTERM"]);
    await w.clock.advance(KILL_GRACE_MS);
    assert.deepEqual(w.workers[2]!.killed, ["SIGTERM", "SIGKILL"], "killed if the stop signal does not end it");
    w.workers[2]!.exit(null, "SIGKILL");
    await settle();
    const [end] = w.events("drain.end");
    assert.deepEqual((end!.workers as { outcome: string }[]).map((x) => x.outcome), ["stopped", "stopped", "skipped"]);
    assert.deepEqual(end!.errors, []);
    assert.deepEqual(w.exits, [0], "it served nothing: the drain is clean");
    // The reload the drain cut short leaves a trace of its own.
    const [stopped] = w.events("reload.stopped");
    assert.match(String(stopped!.msg), /reload stopped by the drain after 0 workers replaced/);
    assert.equal(w.events("reload").length, 0);
  });

  it("AProcessGroupSignalThatEndsAReloadsNewWorkerFirstIsNoFailedReload", async () => {
    const w = await reloadBegun();
    // The group's SIGTERM ends the new worker, still loading, before the primary's handler runs.
    w.workers[2]!.exit(null, "SIGTERM");
    await settle();
    await w.clock.advance(50);
    w.signal("SIGTERM");
    await settle();
    w.workers[0]!.drainClean();
    w.workers[1]!.drainClean();
    await w.clock.advance(SIGNAL_SETTLE_MS);
    assert.equal(w.events("reload.failed").length, 0, "not a failed reload: every worker drains");
    assert.equal(w.events("reload.stopped").length, 1);
    const [end] = w.events("drain.end");
    assert.deepEqual((end!.workers as { pid: number; outcome: string }[]).map((x) => `${x.pid} ${x.outcome}`), [
      "100 stopped",
      "101 stopped",
      "102 skipped",
    ]);
    assert.deepEqual(w.exits, [0]);
  });

  it("ANewWorkerKilledByADrainSignalWithoutADrainFailsTheReloadAfterAWhile", async () => {
    const w = await reloadBegun();
    w.workers[2]!.exit(null, "SIGTERM"); // someone killed that one process only
    await settle();
    assert.equal(w.events("reload.failed").length, 0, "waits for the primary's own copy first");
    await w.clock.advance(SIGNAL_SETTLE_MS);
    assert.equal(w.events("reload.failed").length, 1);
  });

  it("AWorkerStillStartingThatSaysItsDrainBeganGetsNoStopSignalFromThePrimary", async () => {
    const w = world();
    w.supervisor.start();
    await settle();
    // Ctrl+C before any worker listens: worker 100 (its parts starting) takes the group's SIGINT
    // itself, and says so a moment after the primary's drain began; worker 101 is still loading
    // its entry and says nothing.
    w.signal("SIGINT");
    await settle();
    w.workers[0]!.draining();
    await w.clock.advance(STRAGGLER_GRACE_MS);
    assert.deepEqual(w.workers[0]!.killed, [], "a signal from the primary would be its second: forced");
    assert.deepEqual(w.workers[1]!.killed, ["SIGTERM"]);
    w.workers[1]!.exit(null, "SIGTERM");
    w.workers[0]!.drainClean();
    await settle();
    assert.deepEqual(w.exits, [0]);
  });

  it("ANewWorkerThatNeverListenedIsSkippedWhateverItsOwnDrainSaid", async () => {
    // A reload's new worker whose part still started when the drain came: its own drain waited for
    // that start until its deadline and was forced. It served nothing: not a reason to exit 1.
    const w = await drainDuringReload();
    w.workers[2]!.draining();
    w.workers[0]!.drainClean();
    w.workers[1]!.drainClean();
    const forced: ShutdownReport = {
      ...workerReport(0),
      forced: true,
      forcedBy: "deadline",
      exitCode: 1,
      parts: [{ name: "db", kind: "part", outcome: "cut", durationMs: 5_000, error: "its start had not finished" }],
      errors: ['start of "db" still running'],
    };
    w.workers[2]!.events.message({ sg: "report", report: forced });
    w.workers[2]!.exit(1, null);
    await settle();
    const [end] = w.events("drain.end");
    assert.deepEqual((end!.workers as { outcome: string }[]).map((x) => x.outcome), ["stopped", "stopped", "skipped"]);
    assert.equal(end!.forced, false);
    assert.deepEqual(w.exits, [0], "it was exit 1, the new worker counted as timeout");
    assert.deepEqual(end!.errors, ['worker 102 (never listened): start of "db" still running'], "why it never served is said");
  });

  it("ADrainDuringAReloadDrainsTheNewWorkerToo", async () => {
    const w = await drainDuringReload();
    for (const worker of w.workers) assert.equal(worker.drainOrders.length, 1);
    for (const worker of w.workers) worker.drainClean();
    await settle();
    assert.deepEqual(w.exits, [0]);
  });
});

describe("workers: options", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  it("WorkersComesFromTheOptionThenWEB_CONCURRENCYElse1", () => {
    assert.deepEqual(resolveOptions({}, env({})).workers, { requested: 1, from: "default" });
    assert.deepEqual(resolveOptions({}, env({ WEB_CONCURRENCY: "3" })).workers, { requested: 3, from: "WEB_CONCURRENCY" });
    assert.deepEqual(resolveOptions({ workers: 2 }, env({ WEB_CONCURRENCY: "3" })).workers, { requested: 2, from: "option" });
    assert.deepEqual(resolveOptions({ workers: "auto" }, env({})).workers, { requested: "auto", from: "option" });
  });
  it("BadWorkersAreATypeError", () => {
    for (const bad of [0, -1, 1.5, "2", "all", 100_000, Number.NaN]) {
      assert.throws(() => resolveOptions({ workers: bad }, env({})), /"workers" must be a whole number from 1 to 1024 or "auto"/);
    }
    assert.throws(() => resolveOptions({}, env({ WEB_CONCURRENCY: "two" })), /WEB_CONCURRENCY/);
  });
  it("OneProcessOfWorkersSkipsTheReloadSignalInsteadOfDyingByIt", async () => {
    // `workers: 1` ("auto" on one CPU, WEB_CONCURRENCY=1): systemctl reload's SIGHUP used to end the
    // process by the signal's default action, cutting what was in flight.
    const { fakeWorld } = await import("./fakes.ts");
    for (
      const [options, environment, listens] of [
        [{ workers: 1 }, {}, true],
        [{}, { WEB_CONCURRENCY: "1" }, true],
        [{}, {}, false], // workers never asked for: the process as before, no listener
        [{ workers: 1, reloadSignal: false }, {}, false],
      ] as const
    ) {
      const { runtime, serve, clock } = fakeWorld((r) => Object.assign(r.environment, environment));
      const lines: LogRecord[] = [];
      const server = serve({ fetch: () => new Response("ok") }, { port: 0, logger: (l) => void lines.push(l), ...options });
      await server.ready;
      assert.equal(runtime.signalListeners.get("SIGHUP")?.size ?? 0, listens ? 1 : 0, JSON.stringify(options));
      if (!listens) continue;
      runtime.signal("SIGHUP");
      assert.equal(lines.at(-1)?.event, "reload.skipped");
      assert.match(String(lines.at(-1)?.msg), /one process .* restart it to run new code/);
      assert.equal(runtime.calls.includes("close"), false, "still serving");
      runtime.signal("SIGTERM");
      await clock.advance(100);
      await server.finished;
      assert.equal(runtime.signalListeners.get("SIGHUP")?.size ?? 0, 0, "let go after the drain");
    }
  });

  it("ReloadSignalIsSIGHUPUnlessSIGHUPDrains", () => {
    assert.equal(resolveOptions({}, env({})).reloadSignal, "SIGHUP");
    assert.equal(resolveOptions({ signals: ["SIGTERM", "SIGHUP"] }, env({})).reloadSignal, false);
    assert.throws(() => resolveOptions({ reloadSignal: "SIGTERM" }, env({})), /"reloadSignal" must be a signal not in "signals"/);
  });
});

describe("workers: every message about a count from WEB_CONCURRENCY says so", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const SAID = "(from the WEB_CONCURRENCY environment variable)";
  /** The message `fn` throws (a TypeError), or fails. */
  const thrown = (fn: () => unknown): string => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof TypeError, String(error));
      return error.message;
    }
    assert.fail("did not throw");
  };
  const once = (message: string, what: string) => assert.equal(message.split(SAID).length, 2, `${what}: ${message}`);
  const never = (message: string, what: string) => assert.equal(message.includes(SAID), false, `${what}: ${message}`);
  const fakeRuntime = (workers: RuntimeAdapter["workers"]): RuntimeAdapter => ({
    name: "node",
    listen: () => Promise.reject(),
    onSignal: () => () => {},
    onFatalError: () => () => {},
    exit: () => {},
    env: () => undefined,
    workers,
  });
  const adapter = (overrides: Partial<NonNullable<RuntimeAdapter["workers"]>>): RuntimeAdapter["workers"] => ({
    mode: "reusePort",
    sharesPortZero: false,
    unsupported: () => undefined,
    spawn: () => ({ pid: 1, send: () => {}, kill: () => {} }),
    connect: () => ({ closed: true, send: async () => {}, onMessage: () => {}, onClose: () => {} }),
    readText: () => undefined,
    cpuCount: () => 2,
    pid: () => 1,
    ...overrides,
  });

  it("AnInvalidValueTooFewOrTooMany", () => {
    for (const bad of ["two", "0", "2000", "2.0", "-1", "1e1"]) {
      const message = thrown(() => resolveOptions({}, env({ WEB_CONCURRENCY: bad })));
      assert.match(message, /^serveGracefully: "workers" must be a whole number from 1 to 1024 or "auto"/);
      once(message, bad);
    }
    never(thrown(() => resolveOptions({ workers: 2000 }, env({}))), "the option");
  });

  it("TheCommandsUsageErrorForTheVariableAsTheLibrarySaysIt", async () => {
    const { readFlags, UsageError } = await import("../../src/cli/settings.ts");
    for (const bad of ["two", "0", "2000", "2.0"]) {
      assert.throws(() => readFlags({}, env({ WEB_CONCURRENCY: bad })), (error: Error) => {
        assert.ok(error instanceof UsageError);
        assert.equal(
          error.message,
          `WEB_CONCURRENCY: "workers" must be a whole number from 1 to 1024 or "auto" ${SAID}, got ${JSON.stringify(bad)}`,
        );
        return true;
      });
    }
    assert.throws(() => readFlags({ workers: "two" }, env({})), (error: Error) => (never(error.message, "--workers"), true));
    assert.equal(readFlags({}, env({ WEB_CONCURRENCY: " 3 " })).given[0]!.value, 3);
  });

  it("ARuntimeOrSystemThatCannotRunWorkersAndWorkersWithoutSignals", async () => {
    const { startPrimary } = await import("../../src/workers/primary.ts");
    const count = { count: 2, from: "WEB_CONCURRENCY" };
    const cases: [string, RuntimeAdapter, Record<string, unknown>, RegExp][] = [
      ["no workers on this runtime", fakeRuntime(undefined), {}, /"workers" is not supported on node/],
      [
        "an OS that does not balance",
        fakeRuntime(adapter({ unsupported: () => "darwin does not balance connections over reusePort listeners" })),
        {},
        /"workers": darwin does not balance/,
      ],
      ["Deno without permissions", fakeRuntime(adapter({ unsupported: () => "Deno needs --allow-env" })), {}, /"workers": Deno needs/],
      ["signals: false", fakeRuntime(adapter({})), { signals: false }, /"workers" needs "signals"/],
    ];
    for (const [what, runtime, options, expected] of cases) {
      const fromEnv = thrown(() => startPrimary(runtime, resolveOptions(options, env({ WEB_CONCURRENCY: "2" })), count));
      assert.match(fromEnv, expected);
      assert.ok(fromEnv.endsWith(SAID), `${what}: ${fromEnv}`);
      once(fromEnv, what);
      never(thrown(() => startPrimary(runtime, resolveOptions({ ...options, workers: 2 }, env({})), count)), `${what}, the option`);
    }
  });

  it("AutoWhereTheRuntimeCannotCount", async () => {
    const { workerCount } = await import("../../src/workers/primary.ts");
    const noBuiltins = fakeRuntime(adapter({
      readText: () => {
        throw new TypeError('serveGracefully: "workers" needs Node >= 20.16 (process.getBuiltinModule), this is v20.15.0');
      },
    }));
    const fromEnv = thrown(() => workerCount(resolveOptions({}, env({ WEB_CONCURRENCY: "auto" })).workers, noBuiltins));
    assert.match(fromEnv, /needs Node >= 20.16/);
    once(fromEnv, "auto");
    never(thrown(() => workerCount(resolveOptions({ workers: "auto" }, env({})).workers, noBuiltins)), "the option");
    // Counted, "auto" says where it came from in the listening line's workersFrom.
    const counted = workerCount(resolveOptions({}, env({ WEB_CONCURRENCY: "auto" })).workers, fakeRuntime(adapter({})));
    assert.match(counted.from, /^WEB_CONCURRENCY "auto": /);
  });

  it("NodeWithoutGetBuiltinModuleIsRefusedAtTheCall", async () => {
    const { nodeWorkers } = await import("../../adapters/node-workers.ts");
    const p = process as { getBuiltinModule?: unknown };
    const saved = p.getBuiltinModule;
    assert.equal(nodeWorkers.unsupported(), undefined);
    try {
      delete p.getBuiltinModule;
      assert.match(nodeWorkers.unsupported() ?? "", /^needs Node >= 20\.16 \(process\.getBuiltinModule\), this is v/);
    } finally {
      p.getBuiltinModule = saved;
    }
  });

  it("AReloadSignalToOneProcessThatTheVariableMade", async () => {
    const { fakeWorld } = await import("./fakes.ts");
    for (const [options, environment, said] of [[{}, { WEB_CONCURRENCY: "1" }, true], [{ workers: 1 }, {}, false]] as const) {
      const { runtime, serve, clock } = fakeWorld((r) => Object.assign(r.environment, environment));
      const lines: LogRecord[] = [];
      const server = serve({ fetch: () => new Response("ok") }, { port: 0, logger: (l) => void lines.push(l), ...options });
      await server.ready;
      runtime.signal("SIGHUP");
      const skipped = String(lines.find((l) => l.event === "reload.skipped")?.msg);
      assert.match(skipped, /workers came to 1/);
      if (said) once(skipped, "reload.skipped");
      else never(skipped, "reload.skipped, the option");
      runtime.signal("SIGTERM");
      await clock.advance(100);
      await server.finished;
    }
  });
});

describe('workers: the CPUs of "auto"', () => {
  it("ParsesCgroupV2CpuMax", () => {
    assert.equal(parseCpuMax("max 100000\n"), undefined);
    assert.equal(parseCpuMax("200000 100000\n"), 2);
    assert.equal(parseCpuMax("150000 100000\n"), 1.5);
    assert.equal(parseCpuMax("50000 100000"), 0.5);
    assert.equal(parseCpuMax("garbage"), undefined);
  });
  it("ParsesCgroupV1Quota", () => {
    assert.equal(parseCfsQuota("-1\n", "100000\n"), undefined);
    assert.equal(parseCfsQuota("400000\n", "100000\n"), 4);
  });
  it("ParsesTheAffinityListAsTasksetSetsIt", () => {
    assert.equal(parseCpuList("0-3,8-11"), 8);
    assert.equal(parseCpuList("0"), 1);
    assert.equal(parseCpuList("1,3"), 2);
    assert.equal(parseCpuList("3-1"), undefined);
    let pinned: string | undefined;
    try {
      pinned = execFileSync("taskset", ["-c", "0", "cat", "/proc/self/status"], { encoding: "utf8" });
    } catch {
      // no taskset or no /proc: the parser is still checked on the text below
    }
    assert.equal(affinityFromStatus(pinned ?? "Name:\tcat\nCpus_allowed:\t1\nCpus_allowed_list:\t0\n"), 1);
    const own = (() => {
      try {
        return readFileSync("/proc/self/status", "utf8");
      } catch {
        return undefined;
      }
    })();
    if (own !== undefined) assert.ok(affinityFromStatus(own)! >= 1);
  });
  it("TakesTheSmallestQuotaOfTheCgroupAndItsParentsRoundedUp", () => {
    const files: Record<string, string> = {
      "/proc/self/cgroup": "0::/kubepods/pod1/container1\n",
      "/sys/fs/cgroup/kubepods/pod1/container1/cpu.max": "max 100000\n",
      "/sys/fs/cgroup/kubepods/pod1/cpu.max": "150000 100000\n",
      "/sys/fs/cgroup/kubepods/cpu.max": "max 100000\n",
      "/proc/self/status": "Cpus_allowed_list:\t0-63\n",
    };
    const read = (path: string) => files[path];
    assert.deepEqual(cgroupLimit(read), { cpus: 1.5, from: "cgroup cpu.max 150000 100000" });
    assert.deepEqual(availableCpus(read, 64), { cpus: 2, from: "cgroup cpu.max 150000 100000" });
  });
  it("ReadsCgroupV1AndFallsBackToTheRuntimeCount", () => {
    const v1: Record<string, string> = {
      "/proc/self/cgroup": "4:memory:/x\n1:cpu,cpuacct:/\n0::/\n",
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "300000\n",
      "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
    };
    assert.deepEqual(availableCpus((p) => v1[p], 8), { cpus: 3, from: "cgroup cpu.cfs_quota_us 300000/100000" });
    assert.deepEqual(availableCpus(() => undefined, 6), { cpus: 6, from: "the runtime's CPU count" });
    assert.deepEqual(
      availableCpus((p) => ({ "/sys/fs/cgroup/cpu.max": "10000 100000" } as Record<string, string>)[p], 4).cpus,
      1,
      "at least 1",
    );
  });
});

/** A worker's runtime over a fake channel: what it sends, the messages it is given, its exits. */
async function workerSide() {
  const { workerRuntime } = await import("../../src/workers/worker.ts");
  let onMessage: (m: unknown) => void = () => {};
  const closeListeners: (() => void)[] = [];
  const signalListeners: (() => void)[] = [];
  const sent: unknown[] = [];
  const exits: number[] = [];
  const channel = {
    closed: false,
    send: async () => {},
    onMessage: (l: (m: unknown) => void) => void (onMessage = l),
    onClose: (l: () => void) => void closeListeners.push(l),
  };
  const role = {
    slot: 0,
    port: undefined,
    pid: 7,
    channel,
    raw: undefined as never,
    log: undefined,
    send: (m: unknown) => void sent.push(m),
    sent: async () => {},
  };
  const watchdogs: { ms: number; disarmed: boolean }[] = [];
  const base = {
    name: "node" as const,
    exitWatchdog: (ms: number) => {
      const watchdog = { ms, disarmed: false };
      watchdogs.push(watchdog);
      return () => void (watchdog.disarmed = true);
    },
    listen: () => Promise.reject(),
    onSignal: (_signal: string, listener: () => void) => (signalListeners.push(listener), () => {}),
    onFatalError: () => () => {},
    exit: (code: number) => void exits.push(code),
    env: () => undefined,
  };
  const clock = new FakeClock();
  return {
    runtime: workerRuntime(base, role, clock),
    deliver: (m: unknown) => onMessage(m),
    /** The runtime's own signal (the process group's), to every listener. */
    signal: (_signal: string) => signalListeners.forEach((l) => l()),
    closeChannel: () => ((channel.closed = true), closeListeners.splice(0).forEach((l) => l())),
    sent,
    exits,
    clock,
    watchdogs,
  };
}

describe("workers: the worker side", () => {
  it("ADrainOrderBeforeAnythingListensIsTakenWhenItComesAgain", async () => {
    const { runtime, deliver } = await workerSide();
    deliver({ sg: "drain", signal: "SIGTERM" }); // the entry is still loading: nothing listens
    let drains = 0;
    runtime.onSignal("SIGTERM", () => drains++);
    deliver({ sg: "drain", signal: "SIGTERM", holdQuietMs: 100 }); // sent again once the worker listens
    assert.deepEqual(runtime.replacement?.(), { holdQuietMs: 100 }, "a reload's order: the hold waits as long as it said");
    deliver({ sg: "drain", signal: "SIGTERM", holdQuietMs: 100 }); // and a third time: the same drain
    assert.equal(drains, 1);
    assert.deepEqual(runtime.replacement?.(), { holdQuietMs: 100 });
  });

  it("AReplacedWorkerDrainsForTheWholeServiceOnceThePrimaryOrSignalSaysSo", async () => {
    for (const end of ["order", "signal", "primary gone"] as const) {
      const { runtime, deliver, signal, closeChannel } = await workerSide();
      runtime.onSignal("SIGTERM", () => {});
      deliver({ sg: "drain", signal: "SIGTERM", holdQuietMs: 100 });
      assert.deepEqual(runtime.replacement?.(), { holdQuietMs: 100 }, end);
      if (end === "order") deliver({ sg: "drain", signal: "SIGTERM" }); // the primary's own drain, during the reload
      else if (end === "signal") signal("SIGTERM"); // the process group's
      else closeChannel();
      assert.equal(runtime.replacement?.(), undefined, `${end}: no longer a replacement`);
    }
  });

  it("ItsOwnSignalAfterThePrimarysOrderIsNoSecondSignal", async () => {
    // A process-group signal: the primary's order can come first, and the worker's own copy later
    // (Deno: 190-320 ms), which the lifecycle would take as a second signal and force the drain.
    const { runtime, deliver, signal, closeChannel } = await workerSide();
    let heard = 0;
    runtime.onSignal("SIGTERM", () => heard++);
    deliver({ sg: "drain", signal: "SIGTERM" });
    signal("SIGTERM");
    signal("SIGTERM");
    assert.equal(heard, 1, "one drain: the primary decides on forcing");
    closeChannel();
    signal("SIGTERM");
    assert.equal(heard, 2, "without a primary, a signal of its own reaches the drain again");
  });

  it("ExitsOnceThePrimaryHasReadEverythingItSent", async () => {
    // node:cluster keeps a connection it handed to a worker open, unanswered, if the worker exits
    // before taking it: the worker waits until the primary has read its listener's close.
    const { runtime, deliver, sent, exits } = await workerSide();
    runtime.exit(0);
    await settle();
    assert.deepEqual(sent, [{ sg: "exiting" }]);
    assert.deepEqual(exits, [], "not before the primary answered");
    deliver({ sg: "exit-ok" });
    await settle();
    assert.deepEqual(exits, [0]);
  });

  it("ExitsAtTheSendLimitWhenThePrimaryNeverAnswers", async () => {
    const { EXIT_SEND_LIMIT_MS } = await import("../../src/workers/worker.ts");
    const { runtime, exits, clock } = await workerSide();
    runtime.exit(1);
    await clock.advance(EXIT_SEND_LIMIT_MS);
    assert.deepEqual(exits, [1]);
  });

  it("ArmsNoWatchdogOfItsOwnWhileThePrimaryLivesButSaysItDrainsAndArmsOneIfThePrimaryGoes", async () => {
    // Deno's watchdog thread held the worker's event loop ~40 ms at the drain's first moment; the
    // primary kills a worker that says it drains once it runs past the deadline (tested above).
    const { runtime, sent, closeChannel, clock, watchdogs } = await workerSide();
    const disarm = runtime.exitWatchdog!(7_000, false);
    assert.equal(watchdogs.length, 0, "none while the primary lives");
    assert.deepEqual(sent, [{ sg: "draining" }], "a drain of its own (a fatal error) is said too: the primary guards it");
    await clock.advance(3_000);
    closeChannel();
    assert.deepEqual(watchdogs, [{ ms: 4_000, disarmed: false }], "the primary gone: its own, for what is left of the time");
    disarm();
    assert.equal(watchdogs[0]!.disarmed, true);
    runtime.exitWatchdog!(7_000, false);
    assert.deepEqual(sent, [{ sg: "draining" }], "said once");

    const disarmed = await workerSide();
    disarmed.runtime.exitWatchdog!(7_000, false)();
    disarmed.closeChannel();
    assert.deepEqual(disarmed.watchdogs, [], "disarmed before the primary went: never armed");

    const orphan = await workerSide();
    orphan.closeChannel();
    orphan.runtime.exitWatchdog!(7_000, false);
    assert.deepEqual(orphan.watchdogs, [{ ms: 7_000, disarmed: false }], "no primary: armed at once");
  });

  it("TakesThePrimarysDrainOrderWhenItsEntryListensForOtherSignals", async () => {
    // A reload's new code with `signals: ["SIGINT"]` under a primary that drains on SIGTERM: the
    // order was not taken, and the primary killed the worker at the deadline (exit 1).
    const { runtime, deliver, sent } = await workerSide();
    let drains = 0;
    runtime.onSignal("SIGINT", () => drains++);
    deliver({ sg: "drain", signal: "SIGTERM", holdQuietMs: 100 });
    assert.equal(drains, 1);
    assert.deepEqual(sent, [{ sg: "draining" }]);
    deliver({ sg: "drain", signal: "SIGTERM" });
    assert.equal(drains, 1, "one drain");
  });

  it("TakesNoDrainOrderWithAHoldQuietOutOfRange", async () => {
    const { isToWorker } = await import("../../src/workers/messages.ts");
    assert.equal(isToWorker({ sg: "drain", signal: "SIGTERM", holdQuietMs: 100 }), true);
    for (const holdQuietMs of [-1, 1.5, 1_001, "100", null]) {
      assert.equal(isToWorker({ sg: "drain", signal: "SIGTERM", holdQuietMs }), false, String(holdQuietMs));
    }
    assert.equal(isToWorker({ sg: "force", signal: "SIGTERM", holdQuietMs: 100 }), false);
  });
});

/** A runtime whose environment says it is worker 1 of `workers`, with `channel` to its primary. */
function workerProcess(channel: WorkerChannel): RuntimeAdapter {
  return {
    name: "node",
    listen: () => Promise.reject(),
    onSignal: () => () => {},
    onFatalError: () => () => {},
    exit: () => {},
    env: (name: string) => (name === "SERVE_GRACEFULLY_WORKER" ? "1" : undefined),
    workers: {
      mode: "cluster",
      sharesPortZero: true,
      unsupported: () => undefined,
      spawn: () => ({ pid: 1, send: () => {}, kill: () => {} }),
      connect: () => channel,
      readText: () => undefined,
      cpuCount: () => 2,
      pid: () => 9,
    },
  };
}

describe("workers: who is a worker", () => {
  it("AProcessThatInheritedTheVariableWithoutAChannelIsNoWorker", async () => {
    const { workerRole } = await import("../../src/workers/worker.ts");
    const channel = (closed: boolean) => ({ closed, send: async () => {}, onMessage: () => {}, onClose: () => {} });
    assert.equal(workerRole(workerProcess(channel(false)))?.slot, 1);
    // A worker's own child process inherits the variable but has no channel: it serves as usual.
    assert.equal(workerRole(workerProcess(channel(true))), undefined);
  });
});

describe("workers: what a worker sends", () => {
  it("ListeningGoesUnconfirmedAndTheReportIsWaitedForBeforeTheExit", async () => {
    const { workerRole } = await import("../../src/workers/worker.ts");
    // Bun confirms a send through process.nextTick, ~0.5 MiB per worker on its first use: only the
    // messages an exit waits for ask for it (adapters/ipc-workers.ts).
    const sends: { sg: unknown; confirm: boolean | undefined; confirmed: () => void }[] = [];
    const channel = {
      closed: false,
      send: (message: unknown, confirm?: boolean) =>
        new Promise<void>((confirmed) => sends.push({ sg: (message as { sg: unknown }).sg, confirm, confirmed })),
      onMessage: () => {},
      onClose: () => {},
    };
    const role = workerRole(workerProcess(channel))!;
    role.send({ sg: "listening", port: 40_000, hostname: "127.0.0.1" });
    role.send({ sg: "start-failed", error: "boom" });
    assert.deepEqual(sends.map(({ sg, confirm }) => [sg, confirm]), [["listening", false], ["start-failed", true]]);
    let allSent = false;
    void role.sent().then(() => (allSent = true));
    await settle();
    assert.equal(allSent, false, "sent() waits for the confirmed message");
    sends[0]!.confirmed();
    sends[1]!.confirmed();
    await settle();
    assert.equal(allSent, true);
  });
});

describe("workers: the primary's lifecycle", () => {
  it("StartsNoPartAndHandsShutdownAndFinishedToThePrimary", async () => {
    const { fakeWorld } = await import("./fakes.ts");
    const { lifecycle } = fakeWorld();
    const started: string[] = [];
    lifecycle.add({ name: "db", start: () => void started.push("db"), stop: () => {} });
    const report = { exitCode: 0 } as ShutdownReport;
    const controller = new AbortController();
    let shutdowns = 0;
    lifecycle.becomePrimary({ finished: Promise.resolve(report), signal: controller.signal, shutdown: async () => (shutdowns++, report) });
    lifecycle.add({ name: "cache", start: () => void started.push("cache"), stop: () => {} });
    await settle();
    assert.deepEqual(started, [], "parts run in the workers, never in the primary");
    assert.equal(lifecycle.state, "running");
    assert.equal(await lifecycle.shutdown(), report);
    assert.equal(shutdowns, 1);
    assert.equal(await lifecycle.finished, report);
    assert.equal(lifecycle.signal, controller.signal);
  });

  /** A lifecycle that records its lines and what its parts do, and makes its process the primary on demand. */
  async function primaryToBe(partNames: string[], hold = false) {
    const { fakeWorld } = await import("./fakes.ts");
    const { lifecycle } = fakeWorld();
    const records: LogRecord[] = [];
    lifecycle.logBeforeServers((record) => void records.push(record));
    if (hold) lifecycle.holdStarts();
    const calls: string[] = [];
    for (const name of partNames) {
      lifecycle.add({ name, start: () => void calls.push(`start ${name}`), stop: () => void calls.push(`stop ${name}`) });
    }
    await settle();
    const report = { exitCode: 0 } as ShutdownReport;
    const primaryLines: LogRecord[] = [];
    const becomePrimary = async () => {
      const log = (record: LogRecord) => void primaryLines.push({ pid: 4242, ...record });
      lifecycle.becomePrimary({
        finished: Promise.resolve(report),
        signal: new AbortController().signal,
        shutdown: async () => report,
        log,
      });
      await settle();
    };
    return { lifecycle, records, primaryLines, calls, becomePrimary };
  }

  it("PartsThatStartedBeforeTheProcessBecameThePrimaryAreStoppedInReverseWithOneWarning", async () => {
    // An await between lifecycle.add and serveGracefully({ workers }) lets the parts start first.
    const { records, primaryLines, calls, becomePrimary } = await primaryToBe(["db", "cache"]);
    assert.deepEqual(calls, ["start db", "start cache"]);
    await becomePrimary();
    assert.deepEqual(calls, ["start db", "start cache", "stop cache", "stop db"]);
    // Said through the primary's log, with its pid (they were the only primary lines without it).
    const warning = primaryLines.find((r) => r.event === "workers.parts-in-primary");
    assert.equal(warning?.level, "warn");
    assert.equal(warning?.pid, 4242);
    assert.deepEqual(warning?.parts, ["db", "cache"]);
    assert.deepEqual(primaryLines.filter((r) => r.event === "part.stopped").map((r) => r.part), ["cache", "db"]);
    assert.deepEqual(records.filter((r) => r.event === "part.started").map((r) => r.part), ["db", "cache"], "before, not known yet");
  });

  it("PartsHeldBeforeTheEntryIsImportedNeverStartInThePrimary", async () => {
    const { lifecycle, records, calls, becomePrimary } = await primaryToBe(["db"], true);
    await becomePrimary();
    assert.deepEqual(calls, []);
    assert.deepEqual(records, [], "nothing started, nothing to stop or warn about");
    assert.equal(lifecycle.state, "running");
  });

  it("HeldPartsStartBeforeTheServerWhenTheProcessServesAfterAll", async () => {
    // The command guessed a primary, serveGracefully decided otherwise: held parts must not stay unstarted.
    const { fakeWorld } = await import("./fakes.ts");
    const { lifecycle, runtime, serve } = fakeWorld();
    const calls: string[] = [];
    lifecycle.holdStarts();
    lifecycle.add({ name: "db", start: () => void calls.push("start db") });
    await settle();
    assert.deepEqual(calls, []);
    serve({ fetch: () => new Response("ok") }, { port: 0, logger: false });
    await settle();
    assert.deepEqual([...calls, ...runtime.calls], ["start db", "listen:0"]);
    assert.equal(lifecycle.state, "running");
  });
});
