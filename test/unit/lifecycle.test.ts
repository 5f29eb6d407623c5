/** fx-style lifecycle rules on the injected clock: order, rollback, per-part timeouts, errors. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QUIET_MS } from "../../src/drain/hold.ts";
import { LifecycleError } from "../../src/drain/parts.ts";
import { fakeWorld, settle } from "./fakes.ts";
import type { LogRecord } from "../../src/types.ts";

function setup() {
  const { clock, runtime, lifecycle, serve } = fakeWorld();
  const events: string[] = [];
  const part = (name: string, behaviour: { failStart?: boolean; failStop?: boolean; hangStop?: boolean; timeout?: number } = {}) => ({
    name,
    timeout: behaviour.timeout,
    start: async () => {
      events.push(`start:${name}`);
      runtime.calls.push(`start:${name}`);
      if (behaviour.failStart) throw new Error(`${name} refused`);
    },
    stop: async () => {
      events.push(`stop:${name}`);
      if (behaviour.hangStop) await new Promise(() => {});
      if (behaviour.failStop) throw new Error(`${name} stop failed`);
    },
  });
  return { clock, runtime, lifecycle, serve, events, part };
}

describe("lifecycle", () => {
  it("StartsInRegistrationOrderServersIncluded", async () => {
    const { lifecycle, serve, events, part, runtime } = setup();
    lifecycle.add(part("db"));
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false });
    lifecycle.add(part("queue"));
    await server.ready;
    await settle();
    // Parts record their starts in the runtime's call log, so the listen is ordered among them.
    assert.deepEqual(runtime.calls.filter((c) => c.startsWith("start:") || c.startsWith("listen:")), [
      "start:db",
      "listen:1",
      "start:queue",
    ]);
    assert.deepEqual(events, ["start:db", "start:queue"]);
    assert.equal(lifecycle.state, "running");
  });

  it("StopsInReverseOrderAfterTheServersDrained", async () => {
    const { lifecycle, serve, events, part, runtime, clock } = setup();
    lifecycle.add(part("db"));
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false });
    lifecycle.add(part("cache"));
    await server.ready;
    await settle();
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    const report = await lifecycle.finished;
    assert.deepEqual(events.slice(2), ["stop:cache", "stop:db"]);
    assert.deepEqual(report.parts.map((p) => `${p.name}:${p.outcome}`), ["server:1:stopped", "cache:stopped", "db:stopped"]);
    assert.equal(report.exitCode, 0);
  });

  it("RollsBackAFailedStartInReverseAndStartsNothingAfterIt", async () => {
    const { lifecycle, serve, events, part, clock, runtime } = setup();
    lifecycle.add(part("db"));
    lifecycle.add(part("cache"));
    lifecycle.add(part("queue", { failStart: true }));
    const late = serve({ fetch: () => new Response() }, { port: 2, logger: false });
    lifecycle.add(part("jobs"));
    await assert.rejects(late.ready, LifecycleError);
    const report = await lifecycle.finished;
    await clock.advance(0);
    assert.deepEqual(events, ["start:db", "start:cache", "start:queue", "stop:cache", "stop:db"]);
    assert.equal(report.reason, "start-failed");
    assert.equal(report.exitCode, 1);
    assert.deepEqual(report.parts.filter((p) => p.outcome === "skipped").map((p) => p.name), ["server:2", "jobs"]);
    assert.deepEqual(report.parts.filter((p) => p.outcome === "failed").map((p) => [p.name, p.error]), [["queue", "queue refused"]]);
    assert.ok(report.errors.some((e) => e.includes("queue refused")));
    assert.deepEqual(runtime.exitCodes, [1], "a signal-managed process exits 1");
  });

  it("AStartThatFailsDuringASignalDrainIsReportedFailedAndTheExitIs1", async () => {
    const { lifecycle, runtime, clock } = setup();
    let refuse!: (error: Error) => void;
    lifecycle.add({ name: "db", start: () => new Promise<void>((_, reject) => (refuse = reject)), timeout: 10_000 });
    await settle();
    runtime.signal("SIGTERM");
    await settle();
    refuse(new Error("db refused"));
    await clock.advance(1_000);
    const report = await lifecycle.finished;
    assert.deepEqual(report.parts.map((p) => [p.name, p.outcome, p.error]), [["db", "failed", "db refused"]]);
    assert.equal(report.exitCode, 1);
  });

  it("TimesOutAStartThatHangs", async () => {
    const { lifecycle, events, clock } = setup();
    lifecycle.add({ name: "slow", start: () => new Promise(() => {}), timeout: 1_000 });
    lifecycle.add({ name: "never", start: () => events.push("never") });
    await clock.advance(999);
    assert.equal(lifecycle.state, "starting");
    await clock.advance(1);
    const report = await lifecycle.finished;
    assert.match(report.errors[0]!, /start of "slow" did not finish within 1000 ms/);
    assert.deepEqual(events, []);
  });

  it("GivesEachStopItsOwnTimeoutAndGathersAllErrors", async () => {
    const { lifecycle, serve, events, part, runtime, clock } = setup();
    lifecycle.add(part("a", { failStop: true }));
    lifecycle.add(part("b", { hangStop: true, timeout: 2_000 }));
    lifecycle.add(part("c"));
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    await clock.advance(2_000);
    const report = await lifecycle.finished;
    assert.deepEqual(events.filter((e) => e.startsWith("stop")), ["stop:c", "stop:b", "stop:a"]);
    assert.deepEqual(report.parts.map((p) => `${p.name}:${p.outcome}`), ["server:1:stopped", "c:stopped", "b:timeout", "a:failed"]);
    assert.equal(report.errors.length, 2);
    assert.equal(report.exitCode, 1);
  });

  it("KeepsStopsWithinWhatIsLeftOfTheBudget", async () => {
    const { lifecycle, serve, part, runtime, clock } = setup();
    lifecycle.add(part("db", { hangStop: true, timeout: 60_000 }));
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false, timeout: 10_000 });
    await server.ready;
    let finishedAt: number | undefined;
    void lifecycle.finished.then(() => (finishedAt = clock.now()));
    runtime.signal("SIGTERM");
    // Time runs well past the budget: the report must have come at the deadline, not later.
    await clock.advance(60_000);
    assert.ok(finishedAt !== undefined && finishedAt <= 10_000, `never past the overall deadline (finished at ${finishedAt})`);
    const report = await lifecycle.finished;
    assert.equal(report.parts.find((p) => p.name === "db")!.outcome, "timeout");
  });

  it("AStopThatRunsIntoTheDeadlineForcesTheDrainAndTheStopsAfterItAreCut", async () => {
    // Fly.io's 3 s timeout under the parts' default 5 s: the hanging stop gets all that is left.
    const { lifecycle, serve, events, part, runtime, clock } = setup();
    lifecycle.add(part("db"));
    lifecycle.add(part("queue", { hangStop: true }));
    const logs: LogRecord[] = [];
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: (r: LogRecord) => logs.push(r), timeout: 3_000 });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(3_000);
    const report = await lifecycle.finished;
    assert.deepEqual(events.filter((e) => e.startsWith("stop")), ["stop:queue"]);
    assert.deepEqual(report.parts.map((p) => `${p.name}:${p.outcome}`), ["server:1:stopped", "queue:timeout", "db:cut"]);
    assert.equal(report.parts.find((p) => p.name === "db")!.error, "not run: the deadline came first");
    // It said "drain complete" with forced: false, though the deadline ended it.
    assert.equal(report.forcedBy, "deadline");
    const forced = logs.filter((l) => l.event === "drain.forced");
    assert.equal(forced.length, 1);
    assert.match(String(forced[0]!.msg), /the stop of "queue"/);
    assert.equal(report.exitCode, 1);
  });

  it("APartStillStartingWhenTheDeadlineForcesTheDrainIsCutNotSkipped", async () => {
    const { lifecycle, serve, runtime, clock } = setup();
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false, timeout: 3_000 });
    let stopped = false;
    lifecycle.add({ name: "cache", start: () => new Promise(() => {}), stop: () => void (stopped = true), timeout: 60_000 });
    await server.ready;
    await clock.advance(500);
    runtime.signal("SIGTERM");
    await clock.advance(3_000);
    const report = await lifecycle.finished;
    const cache = report.parts.find((p) => p.name === "cache")!;
    assert.equal(cache.outcome, "cut");
    assert.match(cache.error!, /its start had not finished when the drain was forced \(deadline\); its stop was not run/);
    assert.equal(cache.durationMs, 3_500, "from its start");
    assert.equal(stopped, false, "a start that never finished is not stopped");
    assert.equal(report.exitCode, 1);
  });

  it("AFailedStartReportsHowLongItTook", async () => {
    const { lifecycle, clock } = setup();
    lifecycle.add({
      name: "bad",
      start: () => new Promise((_, reject) => clock.setTimer(() => reject(new Error("boom")), 100)),
    });
    await clock.advance(100);
    const report = await lifecycle.finished;
    assert.deepEqual(report.parts.map((p) => [p.name, p.outcome, p.durationMs]), [["bad", "failed", 100]]);
  });

  it("ReservesTimeForStopsWhenAStreamHangs", async () => {
    const { lifecycle, serve, events, part, runtime, clock } = setup();
    lifecycle.add(part("db", { timeout: 2_000 }));
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false, timeout: 10_000 });
    await server.ready;
    runtime.servers[0]!.open = 1; // a stream that never ends
    runtime.signal("SIGTERM");
    await clock.advance(8_000);
    const report = await lifecycle.finished;
    assert.equal(report.forcedBy, "deadline");
    assert.deepEqual(events.slice(-1), ["stop:db"], "db still got its stop");
    assert.equal(report.parts.find((p) => p.name === "db")!.outcome, "stopped");
  });

  it("RunsLifecycleWaitUntilBeforeStops", async () => {
    const { lifecycle, serve, events, part, runtime, clock } = setup();
    lifecycle.add(part("db"));
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false });
    await server.ready;
    lifecycle.waitUntil(
      new Promise<void>((resolve) =>
        clock.setTimer(() => {
          events.push("job done");
          resolve();
        }, 500)
      ),
    );
    runtime.signal("SIGTERM");
    await clock.advance(500);
    await lifecycle.finished;
    assert.deepEqual(events.slice(-2), ["job done", "stop:db"]);
  });

  it("AbortsItsSignalTheMomentTheDrainStarts", async () => {
    const { lifecycle, serve, runtime, clock } = setup();
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false, drainDelay: 1_000 });
    await server.ready;
    assert.equal(lifecycle.signal.aborted, false);
    runtime.signal("SIGTERM");
    await clock.advance(1);
    assert.equal(lifecycle.signal.aborted, true);
    assert.equal(server.signal, lifecycle.signal);
  });

  it("EndsAStreamWithALastEventOnDrain", async () => {
    const { lifecycle, serve, runtime, clock } = setup();
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false });
    await server.ready;
    const written: string[] = [];
    const stream = {
      closed: false,
      aborted: false,
      async writeSSE(m: { event?: string; data: string }) {
        written.push(`${m.event}:${m.data}`);
      },
      async close() {
        this.closed = true;
      },
    };
    lifecycle.endOnDrain(stream, { event: "bye", data: "later" });
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    assert.deepEqual(written, ["bye:later"]);
    assert.equal(stream.closed, true);
  });

  it("EndsAStreamWhenTheListenersCloseNotAtTheSignal", async () => {
    // An EventSource reconnects 3 s after its stream ends: ended at the signal, it came back into
    // this instance during a 5 s drain delay (issue 21). Ended once the listener is closed, it cannot.
    const { lifecycle, serve, runtime, clock } = setup();
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false, drainDelay: 5_000 });
    await server.ready;
    const written: string[] = [];
    const stream = {
      closed: false,
      aborted: false,
      async writeSSE(m: { event?: string; data: string }) {
        written.push(`${m.event}:${m.data}@${runtime.calls.includes("close") ? "closed" : "listening"}`);
      },
      async close() {
        this.closed = true;
      },
    };
    lifecycle.endOnDrain(stream, { event: "bye", data: "draining" });
    runtime.signal("SIGTERM");
    await clock.advance(4_999);
    assert.equal(lifecycle.signal.aborted, true, "the drain started");
    assert.deepEqual(written, [], "the stream keeps flowing through the drain delay");
    assert.equal(stream.closed, false);
    await clock.advance(1 + QUIET_MS);
    assert.deepEqual(written, ["bye:draining@closed"], "the last event comes after the listener closed");
    assert.equal(stream.closed, true);
    assert.equal((await lifecycle.finished).exitCode, 0);
  });

  it("RefusesAServerNamedLikeAnotherPartButLetsOurOwnServerNamesRepeat", async () => {
    const { lifecycle, serve, part } = setup();
    lifecycle.add(part("api"));
    assert.throws(() => serve({ fetch: () => new Response() }, { name: "api", port: 1, logger: false }), {
      name: "LifecycleError",
      message: 'cannot add "api": a part with that name is already registered',
    });
    serve({ fetch: () => new Response() }, { name: "public", port: 2, logger: false });
    assert.throws(() => serve({ fetch: () => new Response() }, { name: "public", port: 3, logger: false }), LifecycleError);
    // Two servers we name alike (both on port 0 until they listen) are fine.
    serve({ fetch: () => new Response() }, { port: 0, logger: false });
    serve({ fetch: () => new Response() }, { port: 0, logger: false });
  });

  it("RejectsMisuseWithClearErrors", async () => {
    const { lifecycle, part, clock } = setup();
    lifecycle.add(part("db"));
    assert.throws(() => lifecycle.add(part("db")), {
      name: "LifecycleError",
      message: 'cannot add "db": a part with that name is already registered',
    });
    assert.throws(() => lifecycle.add({ name: "" }), TypeError);
    assert.throws(() => lifecycle.add({ name: "x", stop: "no" as never }), /"stop" must be a function/);
    assert.throws(() => lifecycle.add({ name: "x", timeout: -1 }), /"timeout" must be a positive number/);
    assert.throws(() => lifecycle.waitUntil("job" as never), /waitUntil: expected a promise/);
    const done = lifecycle.shutdown();
    assert.throws(() => lifecycle.add(part("late")), /cannot add "late": the lifecycle is shutting down/);
    await clock.advance(2 * QUIET_MS);
    await done;
    assert.throws(() => lifecycle.add(part("later")), /has shut down; use createLifecycle\(\)/);
  });

  it("WarnsOnceAboutWaitUntilAfterTheShutdownAndStillLogsItsFailure", async () => {
    const logs: Record<string, unknown>[] = [];
    const { lifecycle, serve, clock } = setup();
    const server = serve({ fetch: () => new Response() }, { logger: (r) => void logs.push(r), signals: false });
    await server.ready;
    const done = server.shutdown();
    await clock.advance(QUIET_MS);
    await done;
    // Not thrown: the caller may be a timer in a process that keeps running (exit: false).
    lifecycle.waitUntil(Promise.reject(new Error("late write failed")));
    lifecycle.waitUntil(Promise.resolve());
    await settle();
    assert.equal(logs.filter((l) => l.event === "task.after-shutdown").length, 1, "said once");
    assert.ok(logs.some((l) => l.event === "task.failed" && String(l.msg).includes("late write failed")));
  });

  it("WaitsForWaitUntilWorkEvenWithoutParts", async () => {
    const { lifecycle, clock } = setup();
    let written = false;
    lifecycle.waitUntil(new Promise<void>((resolve) => clock.setTimer(() => resolve(void (written = true)), 1_000)));
    const done = lifecycle.shutdown();
    let reported = false;
    void done.then(() => (reported = true));
    await clock.advance(999);
    assert.equal(reported, false, "the shutdown waits for the task");
    await clock.advance(1);
    const report = await done;
    assert.equal(written, true);
    assert.deepEqual(report.tasks, { pendingAtStart: 1, completed: 1, failed: 0, cut: 0 });
    assert.equal(report.exitCode, 0);
  });

  it("ServesAgainOnAStoppedLifecycleAsANewRun", async () => {
    const { serve, clock } = setup();
    for (let i = 0; i < 3; i++) {
      const server = serve({ fetch: () => new Response() }, { port: 1, logger: false, signals: false });
      await server.ready;
      const report = server.shutdown();
      await clock.advance(QUIET_MS);
      assert.equal((await report).exitCode, 0);
    }
  });
});

describe("server names", () => {
  it("NamesAPort0ServerAfterTheRealPortButKeepsANameTheUserGave", async () => {
    const { serve, lifecycle, clock } = fakeWorld();
    const unnamed = serve({ fetch: () => new Response() }, { port: 0, logger: false });
    const named = serve({ fetch: () => new Response() }, { port: 0, logger: false, name: "server:0" });
    await Promise.all([unnamed.ready, named.ready]);
    const finished = lifecycle.shutdown();
    await clock.advance(QUIET_MS);
    const report = await finished;
    assert.deepEqual(report.parts.map((p) => p.name), ["server:40000", "server:0"]);
  });
});

describe("review fixes", () => {
  it("KeepsTheDrainDelayOutOfTheStopsReserve", async () => {
    const { lifecycle, serve, part, runtime, clock } = setup();
    lifecycle.add(part("db"));
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false, timeout: 10_000, drainDelay: 5_000 });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(5_000 + QUIET_MS);
    const report = await lifecycle.finished;
    assert.equal(report.forcedBy, undefined, "the reserve left the drain its time after the delay");
    assert.equal(report.exitCode, 0);
  });

  it("TreatsASignalDuringAShutdownCallAsTheOrderToExitNotAsASecondSignal", async () => {
    const { lifecycle, serve, runtime, clock } = setup();
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false });
    await server.ready;
    const report = lifecycle.shutdown();
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    assert.equal((await report).forcedBy, undefined);
    await settle();
    assert.deepEqual(runtime.exitCodes, [0], "the process ends when the drain does");
  });

  it("AnnouncesTheDrainWhileAPartIsStillStarting", async () => {
    const { lifecycle, serve, runtime, clock } = setup();
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false });
    await server.ready;
    lifecycle.add({ name: "cache", start: () => new Promise((resolve) => clock.setTimer(() => resolve(undefined), 2_000)) });
    await settle();
    runtime.signal("SIGTERM");
    await settle();
    assert.equal(lifecycle.signal.aborted, true, "lifecycle.signal aborts at the signal, not after the start");
    const response = await runtime.servers[0]!.fetch("/");
    assert.equal(response.headers.get("connection"), "close");
    await clock.advance(2_000 + QUIET_MS);
    await lifecycle.finished;
  });
});

describe("fatal errors across servers", () => {
  it("StopsWatchingFatalErrorsWhenALaterServerSaysNo", async () => {
    for (const order of [[true, false], [false, true]]) {
      const { serve, runtime, lifecycle, clock } = setup();
      const first = serve({ fetch: () => new Response() }, { port: 1, logger: false, fatalErrors: order[0] });
      const second = serve({ fetch: () => new Response() }, { port: 2, logger: false, fatalErrors: order[1] });
      await Promise.all([first.ready, second.ready]);
      assert.equal(runtime.fatalListeners.size, 0, `fatalErrors ${order.join(", ")}: no handler once any server says no`);
      const report = lifecycle.shutdown();
      await clock.advance(QUIET_MS);
      await report;
    }
  });
});

describe("a second signal during the stops", () => {
  it("RunsNoStopAfterTheOneThatWasRunning", async () => {
    const { lifecycle, serve, part, runtime, clock, events } = setup();
    lifecycle.add(part("a"));
    lifecycle.add({ name: "b", stop: () => new Promise((resolve) => clock.setTimer(() => resolve(undefined), 1_000)) });
    const server = serve({ fetch: () => new Response() }, { port: 1, logger: false });
    await server.ready;
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS + 100);
    runtime.signal("SIGINT");
    await clock.advance(1_000);
    const report = await lifecycle.finished;
    assert.deepEqual(events.filter((e) => e.startsWith("stop")), [], "a's stop never ran");
    assert.equal(report.parts.find((p) => p.name === "a")!.outcome, "cut");
  });
});

describe("the command's refusal while its primary imports the entry", () => {
  it("RefusesServeGracefullyWithTheReasonAndSaysItWasHit", async () => {
    const { runtime, serve, lifecycle } = fakeWorld();
    const refusal = { reason: "app.js calls serveGracefully itself as it loads", hit: false };
    lifecycle.serverRefusal = refusal;
    assert.throws(() => serve({ fetch: () => new Response() }, { logger: false }), {
      name: "TypeError",
      message: "serveGracefully: app.js calls serveGracefully itself as it loads",
    });
    assert.equal(refusal.hit, true);
    assert.deepEqual(runtime.calls, [], "nothing listened");
    // Lifted after the import: the command's own call serves.
    lifecycle.serverRefusal = undefined;
    const server = serve({ fetch: () => new Response() }, { logger: false });
    await server.ready;
    assert.deepEqual(runtime.calls, ["listen:3000"]);
    await settle();
  });
});
