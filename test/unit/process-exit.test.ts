/** One exit per process: lifecycles that drain on one signal end the process once, after the last. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QUIET_MS } from "../../src/drain/hold.ts";
import { LifecycleController } from "../../src/drain/lifecycle.ts";
import { createExitGate, processExitGate } from "../../src/process/process-exit.ts";
import { createServeGracefully } from "../../src/serve/serve.ts";
import { FakeClock, FakeRuntime, settle } from "./fakes.ts";
import type { LogRecord } from "../../src/types.ts";

/** The process lifecycle and a createLifecycle() beside it, on one runtime, clock and gate. */
function twoLifecycles() {
  const clock = new FakeClock();
  const runtime = new FakeRuntime();
  const exitGate = createExitGate();
  const own = new LifecycleController({ runtime, clock, exitGate });
  const other = new LifecycleController({ runtime, clock, exitGate });
  const serveOwn = createServeGracefully<object>(runtime, own, []);
  const serveOther = createServeGracefully<object>(runtime, other, []);
  return { clock, runtime, own, other, serveOwn, serveOther };
}

const ok = { fetch: () => new Response("ok") };

describe("process exit", () => {
  it("TheFirstDrainToEndWaitsForTheOthersThenTheProcessEndsOnceWithTheWorstCode", async () => {
    const { clock, runtime, own, other, serveOwn, serveOther } = twoLifecycles();
    own.add({ name: "db", stop: () => Promise.reject(new Error("db stop failed")) });
    const api = serveOwn(ok, { port: 1, logger: false });
    let queueStopped = false;
    other.add({
      name: "queue",
      stop: () => new Promise<void>((resolve) => clock.setTimer(() => resolve(void (queueStopped = true)), 1_000)),
    });
    const admin = serveOther(ok, { port: 2, logger: false });
    await Promise.all([api.ready, admin.ready]);
    await settle();
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    assert.equal((await api.finished).exitCode, 1);
    await clock.advance(0);
    // Before: exit 1 here, at the end of the first drain; the other's stop never ran to its end.
    assert.deepEqual(runtime.exitCodes, [], "no exit while the other lifecycle drains");
    await clock.advance(1_000);
    assert.equal((await admin.finished).exitCode, 0);
    await clock.advance(0);
    assert.ok(queueStopped);
    assert.deepEqual(runtime.exitCodes, [1], "one exit, with the worst code");
  });

  it("ADrainThatDoesNotEndTheProcessStillHoldsTheExitUntilItEnds", async () => {
    const { clock, runtime, other, serveOwn, serveOther } = twoLifecycles();
    const api = serveOwn(ok, { port: 1, logger: false });
    let stopped = false;
    other.add({ name: "cache", stop: () => new Promise<void>((resolve) => clock.setTimer(() => resolve(void (stopped = true)), 500)) });
    const admin = serveOther(ok, { port: 2, logger: false, exit: false });
    await Promise.all([api.ready, admin.ready]);
    await settle();
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    await api.finished;
    await clock.advance(0);
    assert.deepEqual(runtime.exitCodes, []);
    await clock.advance(500);
    await admin.finished;
    await clock.advance(0);
    assert.ok(stopped);
    assert.deepEqual(runtime.exitCodes, [0]);
  });

  it("ADrainWhoseExitWaitsClosesItsListenersInsteadOfLeavingThemToTheExit", async () => {
    const { clock, runtime, other, serveOwn, serveOther } = twoLifecycles();
    runtime.tellsIdleForExit = true; // an idle server the drain may leave to an exit that comes at once
    const api = serveOwn(ok, { port: 1, logger: false });
    other.add({ name: "cache", stop: () => new Promise<void>((resolve) => clock.setTimer(resolve, 500)) });
    const admin = serveOther(ok, { port: 2, logger: false });
    await Promise.all([api.ready, admin.ready]);
    await settle();
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    await api.finished;
    // Both servers closed: the first drain's exit is not at once, its listener must not stay open meanwhile.
    assert.equal(runtime.calls.filter((c) => c === "close").length, 2, runtime.calls.join(" "));
    await clock.advance(500);
    await admin.finished;
    await clock.advance(0);
    assert.deepEqual(runtime.exitCodes, [0]);
  });

  it("OneFatalErrorIsSaidOnceThoughEveryLifecycleDrainsOnIt", async () => {
    const { clock, runtime, serveOwn, serveOther } = twoLifecycles();
    const lines: LogRecord[] = [];
    const logger = (r: LogRecord) => void lines.push(r);
    const api = serveOwn(ok, { port: 1, logger });
    const admin = serveOther(ok, { port: 2, logger });
    await Promise.all([api.ready, admin.ready]);
    for (const error of [new Error("boom"), "a thrown string"]) {
      for (const listener of runtime.fatalListeners) listener(error, "uncaughtException");
    }
    await clock.advance(QUIET_MS);
    await Promise.all([api.finished, admin.finished]);
    // It was one line per lifecycle (and per lifecycle already finished).
    assert.deepEqual(lines.filter((l) => l.event === "uncaughtException").map((l) => l.msg), [
      "uncaughtException: boom",
      "uncaughtException: a thrown string",
    ]);
    assert.equal((await api.finished).reason, "error");
    assert.equal((await admin.finished).reason, "error", "each lifecycle drains on it");
    await settle();
    // Another turn: the same string thrown again is another error, said again.
    for (const listener of runtime.fatalListeners) listener("a thrown string", "uncaughtException");
    assert.equal(lines.filter((l) => l.event === "uncaughtException").length, 3);
  });

  it("IsOnePerProcessForEveryCopy", () => {
    const registry = {};
    assert.equal(processExitGate(registry), processExitGate(registry));
  });

  it("ExitsAtOnceWithNoOtherDrainAndForgetsTheCodeAfterwards", () => {
    const gate = createExitGate();
    const exits: number[] = [];
    const a = {};
    gate.enter(a);
    gate.leave(a, 1, undefined); // a shutdown() drain that failed, long before
    const b = {};
    gate.enter(b);
    gate.leave(b, 0, (code) => exits.push(code));
    assert.deepEqual(exits, [0], "an earlier drain's code, once its own exit was settled, does not count");
  });
});
