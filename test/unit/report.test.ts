/** What the report and the drain's lines say: bounded errors, and messages that match what happened. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { QUIET_MS } from "../../src/drain/hold.ts";
import { MAX_LOG_LINE_BYTES } from "../../src/log/log-bounds.ts";
import { MAX_ERROR_CHARS, MAX_REPORTED_ERRORS } from "../../src/drain/report-errors.ts";
import type { LogRecord } from "../../src/types.ts";
import { fakeWorld, settle } from "./fakes.ts";

function world(options: Record<string, unknown> = {}, configure?: Parameters<typeof fakeWorld>[0]) {
  const w = fakeWorld(configure);
  const logs: LogRecord[] = [];
  const server = w.serve({ fetch: () => new Response() }, { port: 0, logger: (r: LogRecord) => logs.push(r), ...options });
  return { ...w, server, logs };
}

const rejections = (n: number, message = "background write failed") =>
  Array.from({ length: n }, (_, i) => Promise.reject(new Error(`${message} #${i}`)));

describe("report", () => {
  it("KeepsNoErrorsFromBeforeTheDrainOnlyLogsThem", async () => {
    const { runtime, clock, lifecycle, server, logs } = world();
    await server.ready;
    for (const task of rejections(20_000)) lifecycle.waitUntil(task);
    await settle();
    assert.equal(logs.filter((l) => l.event === "task.failed").length, 20_000, "each one logged as it happened");
    runtime.signal("SIGTERM");
    await clock.advance(QUIET_MS);
    const report = await server.finished;
    assert.deepEqual(report.errors, []);
    assert.equal(report.errorsOmitted, 0);
    assert.equal(report.tasks.failed, 0, "counted from the drain's start, as errors are");
  });

  it("KeepsTenErrorsAndCountsTheRest", async () => {
    const { runtime, clock, lifecycle, server, logs } = world();
    await server.ready;
    runtime.signal("SIGTERM");
    await settle();
    for (const task of rejections(25)) lifecycle.waitUntil(task);
    await clock.advance(QUIET_MS);
    const report = await server.finished;
    assert.equal(report.tasks.failed, 25);
    assert.equal(report.errors.length, 10);
    assert.equal(report.errorsOmitted, 15);
    assert.equal(report.errors[0], "waitUntil task: background write failed #0");
    const end = logs.find((l) => l.event === "drain.end")!;
    assert.equal(end.errorsOmitted, 15);
  });

  it("KeepsTheReportBoundedAndTheDrainEndLineWithinOnePipeWriteWhateverTheErrorsSay", async () => {
    const { runtime, clock, lifecycle, server, logs } = world();
    await server.ready;
    runtime.signal("SIGTERM");
    await settle();
    for (const task of rejections(50, "x".repeat(1_000_000))) lifecycle.waitUntil(task);
    await clock.advance(QUIET_MS);
    const report = await server.finished;
    assert.equal(report.errors.length, 10);
    assert.ok(report.errors.every((e) => e.length < 1_100), "each message cut");
    // The report object keeps ten messages of at most MAX_ERROR_CHARS; its log line is cut further.
    const reportChars = JSON.stringify(report).length;
    assert.ok(reportChars < MAX_REPORTED_ERRORS * (MAX_ERROR_CHARS + 100) + 2_000, `report ${reportChars} chars`);
    for (const line of logs.map((l) => JSON.stringify(l))) {
      assert.ok(Buffer.byteLength(line) < MAX_LOG_LINE_BYTES, `a ${Buffer.byteLength(line)}-byte line`);
    }
  });

  it("SaysShutdownLeavesTheProcessRunningAndExitOnlyWhenItExits", async () => {
    const { clock, server, logs, runtime } = world();
    await server.ready;
    const report = server.shutdown();
    await clock.advance(QUIET_MS);
    await report;
    const end = logs.find((l) => l.event === "drain.end")!;
    assert.doesNotMatch(end.msg, /exit/);
    assert.match(end.msg, /^drain complete in \d+ ms, process left running$/);
    assert.deepEqual(runtime.exitCodes, []);

    const signalled = world();
    await signalled.server.ready;
    signalled.runtime.signal("SIGTERM");
    await signalled.clock.advance(QUIET_MS);
    await signalled.server.finished;
    await settle();
    assert.match(signalled.logs.find((l) => l.event === "drain.end")!.msg, /^drain complete in \d+ ms, exit 0$/);
    assert.deepEqual(signalled.runtime.exitCodes, [0]);
  });

  it("LogsOneLineWhenThePortIsInUse", async () => {
    const { clock, server, logs, runtime } = world({ port: 8080 }, (r) => {
      r.listenError = Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE" });
    });
    await assert.rejects(server.ready);
    await server.finished;
    await clock.advance(0);
    await settle();
    assert.deepEqual(logs.map((l) => l.event), ["start.failed"], JSON.stringify(logs));
    assert.match(logs[0]!.msg, /cannot listen on 0\.0\.0\.0:8080: port 8080 is already in use/);
    assert.deepEqual(runtime.exitCodes, [1]);
  });

  it("RollsBackPartsThatHadStartedWithOneErrorLineAndTheReportInFinished", async () => {
    const w = fakeWorld((r) => (r.listenError = Object.assign(new Error("in use"), { code: "EADDRINUSE" })));
    const logs: LogRecord[] = [];
    w.lifecycle.add({ name: "db", start() {}, stop() {} });
    const server = w.serve({ fetch: () => new Response() }, { port: 8080, logger: (r: LogRecord) => logs.push(r) });
    const report = await server.finished;
    await settle();
    // The stop it undid is said; no drain.end line: start.failed is the one line about the failure.
    assert.deepEqual(logs.map((l) => l.event), ["part.started", "start.failed", "part.stopped"]);
    assert.deepEqual(logs.filter((l) => l.level === "error").map((l) => l.event), ["start.failed"]);
    assert.equal(report.reason, "start-failed");
    assert.deepEqual(report.parts.map((p) => `${p.name}:${p.outcome}`), ["db:stopped", "server:8080:failed"]);
    assert.match(String(report.parts[1]!.error), /in use/);
    assert.deepEqual(w.runtime.exitCodes, [1]);
  });

  it("TheRejectionReadyCarriesIsNotAFatalErrorWhenItReachesTheProcess", async () => {
    // `await server.ready` at a module's top level: the runtime hands the same error to the
    // process's uncaught-exception (Node) or unhandled-rejection (Deno) handlers.
    const w = fakeWorld((r) => (r.listenError = Object.assign(new Error("in use"), { code: "EADDRINUSE" })));
    const logs: LogRecord[] = [];
    const server = w.serve({ fetch: () => new Response() }, { port: 8080, logger: (r: LogRecord) => logs.push(r) });
    const rejection = await server.ready.then(() => undefined, (error: unknown) => error);
    for (const listener of w.runtime.fatalListeners) listener(rejection, "uncaughtException");
    for (const listener of w.runtime.fatalListeners) listener(rejection, "unhandledRejection");
    const report = await server.finished;
    await settle();
    assert.deepEqual(logs.map((l) => l.event), ["start.failed"]);
    assert.equal(report.errors.length, 1, report.errors.join("; "));
    // Another error still is fatal.
    const w2 = fakeWorld();
    const logs2: LogRecord[] = [];
    const running = w2.serve({ fetch: () => new Response() }, { port: 1, logger: (r: LogRecord) => logs2.push(r) });
    await running.ready;
    for (const listener of w2.runtime.fatalListeners) listener(new Error("in use"), "uncaughtException");
    await w2.clock.advance(1_000);
    assert.equal((await running.finished).reason, "error");
    assert.ok(logs2.some((l) => l.event === "uncaughtException"));
  });

  it("NamesTheSecondSignalAndMarksWhatItCut", async () => {
    const w = fakeWorld();
    const logs: LogRecord[] = [];
    w.lifecycle.add({ name: "db", stop() {} });
    const server = w.serve({ fetch: () => new Promise<Response>(() => {}) }, { port: 0, logger: (r: LogRecord) => logs.push(r) });
    await server.ready;
    void w.runtime.servers[0]!.fetch("/");
    w.runtime.signal("SIGTERM");
    await w.clock.advance(1_000);
    w.runtime.signal("SIGINT");
    const report = await server.finished;
    const forced = logs.find((l) => l.event === "drain.forced")!;
    assert.equal(forced.signal, "SIGINT");
    assert.match(forced.msg, /^second signal SIGINT: stopping now; it was waiting for 1 request in flight/);
    assert.equal((forced.waitingFor as { requests: number }).requests, 1);
    assert.equal(report.waitingFor?.requests, 1, "the report names it too");
    assert.equal(report.budget, undefined, "no budget ran out: a signal forced it");
    assert.deepEqual(report.parts.map((p) => `${p.name}:${p.outcome}`), ["server:40000:cut", "db:cut"]);
    assert.equal(report.exitCode, 1);
  });
});
